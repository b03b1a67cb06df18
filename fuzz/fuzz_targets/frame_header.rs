//! `FrameHeader::decode` on arbitrary bytes, and masking against its scalar twin.
//!
//! Invariants:
//! * `Ok(Some((h, n)))`: `n <= len`, every shorter prefix decodes to
//!   `Ok(None)`, extra bytes change nothing, `encode(h)` writes
//!   `h.encoded_len()` bytes and `decode(encode(h)) == h`. When the input used
//!   the shortest length form, `n == h.encoded_len()` and `encode(h)`
//!   reproduces the input's first `n` bytes exactly; a non-minimal length
//!   form (accepted, as most implementations do) makes `n` larger.
//! * The decoded header obeys section 5.5: control frames have FIN and at
//!   most 125 bytes; the 64-bit length has its top bit clear.
//! * `Err(e)`: every prefix is `Ok(None)` or the same error.
//! * `apply_mask` equals `apply_mask_scalar` on the rest of the input at any
//!   offset, returns the same next offset, masks piecewise like at once, and
//!   masking twice is the identity.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ws_proto::frame::{apply_mask, apply_mask_scalar, FrameHeader, MAX_HEADER_LEN};
use ws_proto_fuzz::wire::parse_frame;

fuzz_target!(|data: &[u8]| {
    let result = FrameHeader::decode(data);
    match &result {
        Ok(Some((h, n))) => {
            let n = *n;
            assert!(n <= data.len() && n <= MAX_HEADER_LEN);
            let minimal_input = length_is_minimal(data);
            if minimal_input {
                assert_eq!(n, h.encoded_len(), "decoded length != encoded_len");
            } else {
                // A longer length form than needed: accepted, re-encoded shorter.
                assert!(
                    n > h.encoded_len(),
                    "non-minimal input not longer than encoded_len"
                );
            }
            for cut in 0..n {
                assert_eq!(FrameHeader::decode(&data[..cut]), Ok(None), "prefix {cut}");
            }
            assert_eq!(FrameHeader::decode(&data[..n]), Ok(Some((*h, n))));
            assert!(h.payload_len >> 63 == 0, "top bit of the length set");
            if h.opcode.is_control() {
                assert!(h.fin && h.payload_len <= 125, "bad control header accepted");
            }
            assert!(h.rsv <= 7);

            let mut out = [0u8; MAX_HEADER_LEN];
            let written = h.encode(&mut out);
            assert_eq!(written, h.encoded_len(), "encode length != encoded_len");
            assert_eq!(
                FrameHeader::decode(&out[..written]),
                Ok(Some((*h, written)))
            );
            // The independent parser agrees on every field it sees.
            let mut frame_bytes = out[..written].to_vec();
            frame_bytes.resize(written + h.payload_len.min(256) as usize, 0);
            if let Some((wire, _)) = parse_frame(&frame_bytes) {
                assert_eq!(
                    (
                        wire.fin,
                        wire.rsv,
                        wire.opcode,
                        wire.mask,
                        wire.minimal_length
                    ),
                    (h.fin, h.rsv, h.opcode.as_u8(), h.mask, true)
                );
            }
            if minimal_input {
                assert_eq!(
                    &out[..n],
                    &data[..n],
                    "re-encoding differs from a minimal input"
                );
            }
        }
        Ok(None) => {
            // Incomplete: a longer header would be needed.
            assert!(data.len() < MAX_HEADER_LEN);
        }
        Err(e) => {
            for cut in 0..data.len().min(MAX_HEADER_LEN) {
                match FrameHeader::decode(&data[..cut]) {
                    Ok(None) => {}
                    Err(e2) => assert_eq!(&e2, e, "prefix {cut} gave another error"),
                    Ok(Some(_)) => panic!("prefix {cut} decodes but the whole input fails"),
                }
            }
        }
    }

    // Masking: the key and offset come from the input, the buffer is the rest.
    if data.len() >= 5 {
        let key = [data[0], data[1], data[2], data[3]];
        let offset = usize::from(data[4]);
        let rest = &data[5..];
        let mut fast = rest.to_vec();
        let mut slow = rest.to_vec();
        let a = apply_mask(&mut fast, key, offset);
        let b = apply_mask_scalar(&mut slow, key, offset);
        assert_eq!(fast, slow, "apply_mask != apply_mask_scalar");
        assert_eq!(a, b, "next offsets differ");
        assert_eq!(a, (offset + rest.len()) & 3);
        // Piecewise: split where the key says.
        let split = usize::from(key[0]) % (rest.len() + 1);
        let mut pieces = rest.to_vec();
        let (x, y) = pieces.split_at_mut(split);
        let next = apply_mask(x, key, offset);
        apply_mask(y, key, next);
        assert_eq!(pieces, fast, "piecewise masking differs");
        // Unaligned start: mask a sub-slice starting at an odd address.
        if rest.len() > 1 {
            let mut shifted = rest.to_vec();
            apply_mask(&mut shifted[1..], key, offset + 1);
            apply_mask_scalar(&mut shifted[1..], key, offset + 1);
            assert_eq!(
                &shifted[1..],
                &rest[1..],
                "masking twice is not the identity"
            );
        }
        apply_mask(&mut fast, key, offset);
        assert_eq!(fast, rest, "masking twice is not the identity");
    }
});

/// Whether the input's length field uses the shortest form (then re-encoding
/// must reproduce the input byte for byte).
fn length_is_minimal(data: &[u8]) -> bool {
    match data[1] & 0x7f {
        126 => u16::from_be_bytes([data[2], data[3]]) >= 126,
        127 => {
            let mut be = [0u8; 8];
            be.copy_from_slice(&data[2..10]);
            u64::from_be_bytes(be) > 0xffff
        }
        _ => true,
    }
}
