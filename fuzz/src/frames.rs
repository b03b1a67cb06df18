//! Builds raw frames as a peer would send them, with full control over every
//! header field (including illegal ones), for the structured targets.

/// How the payload length is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LengthForm {
    /// The shortest form (what RFC 6455 section 5.2 requires of senders).
    Minimal,
    /// Always the 16-bit form (non-minimal for short payloads; too small for huge ones).
    Extended16,
    /// Always the 64-bit form.
    Extended64,
}

/// Encodes one frame. `mask` masks the payload with that key.
pub fn encode_frame(
    fin: bool,
    rsv: u8,
    opcode: u8,
    mask: Option<[u8; 4]>,
    payload: &[u8],
    form: LengthForm,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 14);
    out.push((u8::from(fin) << 7) | ((rsv & 7) << 4) | (opcode & 0x0f));
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    let len = payload.len();
    let form = match form {
        LengthForm::Extended16 if len > 0xffff => LengthForm::Extended64,
        f => f,
    };
    match form {
        LengthForm::Minimal if len <= 125 => out.push(mask_bit | len as u8),
        LengthForm::Minimal if len <= 0xffff => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        LengthForm::Extended16 => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        LengthForm::Minimal | LengthForm::Extended64 => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    match mask {
        Some(key) => {
            out.extend_from_slice(&key);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    out
}
