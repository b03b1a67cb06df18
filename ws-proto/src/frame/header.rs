//! The frame header codec (RFC 6455 section 5.2).

use super::OpCode;
use crate::ProtocolError;

/// The longest possible header: 2 bytes, an 8-byte length and a 4-byte mask.
pub const MAX_HEADER_LEN: usize = 14;

/// A decoded frame header.
///
/// ```
/// use ws_proto::frame::{FrameHeader, OpCode};
/// // RFC 6455 section 5.7: a single-frame unmasked text message "Hello".
/// let bytes = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
/// let (header, len) = FrameHeader::decode(&bytes).unwrap().unwrap();
/// assert_eq!(len, 2);
/// assert_eq!(header, FrameHeader::new(true, OpCode::Text, None, 5));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// FIN: this is the last frame of its message.
    pub fin: bool,
    /// RSV1, RSV2, RSV3 as the three low bits (RSV1 is `0b100`).
    pub rsv: u8,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, present on every client-to-server frame.
    pub mask: Option<[u8; 4]>,
    /// The payload length announced by the header.
    pub payload_len: u64,
}

impl FrameHeader {
    /// A header with the reserved bits clear.
    ///
    /// ```
    /// use ws_proto::frame::{FrameHeader, OpCode};
    /// let h = FrameHeader::new(true, OpCode::Binary, Some([1, 2, 3, 4]), 70_000);
    /// assert_eq!(h.encoded_len(), 14);
    /// ```
    pub const fn new(fin: bool, opcode: OpCode, mask: Option<[u8; 4]>, payload_len: u64) -> Self {
        Self {
            fin,
            rsv: 0,
            opcode,
            mask,
            payload_len,
        }
    }

    /// Decodes a header from the start of `buf`.
    ///
    /// Returns `Ok(None)` when `buf` does not yet hold the whole header (nothing
    /// is consumed; call again with more bytes), and `Ok(Some((header, n)))`
    /// with the header's length `n` otherwise. Rules that hold for every frame
    /// regardless of role or extensions are checked here: reserved opcodes, the
    /// top bit of a 64-bit length, and control frames that are fragmented or
    /// longer than 125 bytes (section 5.5).
    ///
    /// ```
    /// use ws_proto::{frame::FrameHeader, ProtocolError};
    /// assert_eq!(FrameHeader::decode(&[0x82]), Ok(None));
    /// assert_eq!(FrameHeader::decode(&[0x83, 0x00]), Err(ProtocolError::ReservedOpcode(3)));
    /// ```
    #[inline]
    pub fn decode(buf: &[u8]) -> Result<Option<(Self, usize)>, ProtocolError> {
        let [b0, b1, ..] = *buf else {
            return Ok(None);
        };
        let opcode = OpCode::from_u8(b0 & 0x0f).ok_or(ProtocolError::ReservedOpcode(b0 & 0x0f))?;
        let fin = b0 & 0x80 != 0;
        let masked = b1 & 0x80 != 0;
        let (payload_len, len_bytes) = match b1 & 0x7f {
            126 => match buf.get(2..4) {
                Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 2),
                None => return Ok(None),
            },
            127 => match buf.get(2..10) {
                Some(b) => {
                    let mut be = [0u8; 8];
                    be.copy_from_slice(b);
                    let len = u64::from_be_bytes(be);
                    if len >> 63 != 0 {
                        return Err(ProtocolError::LengthTopBitSet);
                    }
                    (len, 8)
                }
                None => return Ok(None),
            },
            n => (u64::from(n), 0),
        };
        if opcode.is_control() {
            if !fin {
                return Err(ProtocolError::FragmentedControlFrame);
            }
            if payload_len > 125 {
                return Err(ProtocolError::ControlFrameTooLong { len: payload_len });
            }
        }
        let mut len = 2 + len_bytes;
        let mask = if masked {
            let Some(k) = buf.get(len..len + 4) else {
                return Ok(None);
            };
            len += 4;
            Some([k[0], k[1], k[2], k[3]])
        } else {
            None
        };
        let header = Self {
            fin,
            rsv: (b0 >> 4) & 0x7,
            opcode,
            mask,
            payload_len,
        };
        Ok(Some((header, len)))
    }

    /// The number of bytes [`encode`](Self::encode) writes.
    ///
    /// ```
    /// use ws_proto::frame::{FrameHeader, OpCode};
    /// assert_eq!(FrameHeader::new(true, OpCode::Text, None, 125).encoded_len(), 2);
    /// assert_eq!(FrameHeader::new(true, OpCode::Text, None, 126).encoded_len(), 4);
    /// assert_eq!(FrameHeader::new(true, OpCode::Text, None, 65_536).encoded_len(), 10);
    /// ```
    #[inline]
    pub const fn encoded_len(&self) -> usize {
        let len = match self.payload_len {
            0..=125 => 2,
            126..=0xffff => 4,
            _ => 10,
        };
        if self.mask.is_some() {
            len + 4
        } else {
            len
        }
    }

    /// Encodes the header into `out` using the shortest length form and returns
    /// the number of bytes written.
    ///
    /// ```
    /// use ws_proto::frame::{FrameHeader, OpCode};
    /// let mut out = [0u8; 14];
    /// let n = FrameHeader::new(true, OpCode::Ping, None, 5).encode(&mut out);
    /// assert_eq!(&out[..n], &[0x89, 0x05]);
    /// ```
    #[inline]
    pub fn encode(&self, out: &mut [u8; MAX_HEADER_LEN]) -> usize {
        out[0] = (u8::from(self.fin) << 7) | ((self.rsv & 0x7) << 4) | self.opcode.as_u8();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let mut n = match self.payload_len {
            len @ 0..=125 => {
                out[1] = mask_bit | len as u8;
                2
            }
            len @ 126..=0xffff => {
                out[1] = mask_bit | 126;
                out[2..4].copy_from_slice(&(len as u16).to_be_bytes());
                4
            }
            len => {
                out[1] = mask_bit | 127;
                out[2..10].copy_from_slice(&len.to_be_bytes());
                10
            }
        };
        if let Some(key) = self.mask {
            out[n..n + 4].copy_from_slice(&key);
            n += 4;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(bytes: &[u8]) -> (FrameHeader, usize) {
        FrameHeader::decode(bytes).unwrap().unwrap()
    }

    #[test]
    fn rfc_5_7_examples() {
        // Unmasked "Hello".
        let (h, n) = decode_all(&[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        assert_eq!(
            (h.fin, h.opcode, h.mask, h.payload_len, n),
            (true, OpCode::Text, None, 5, 2)
        );
        // Masked "Hello".
        let (h, n) = decode_all(&[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f]);
        assert_eq!(h.mask, Some([0x37, 0xfa, 0x21, 0x3d]));
        assert_eq!(n, 6);
        // First fragment "Hel" and continuation "lo".
        let (h, _) = decode_all(&[0x01, 0x03, 0x48, 0x65, 0x6c]);
        assert_eq!((h.fin, h.opcode), (false, OpCode::Text));
        let (h, _) = decode_all(&[0x80, 0x02, 0x6c, 0x6f]);
        assert_eq!((h.fin, h.opcode), (true, OpCode::Continuation));
        // 256 bytes binary in one unmasked frame.
        let (h, n) = decode_all(&[0x82, 0x7E, 0x01, 0x00]);
        assert_eq!((h.payload_len, n), (256, 4));
        // 64 KiB binary in one unmasked frame.
        let (h, n) = decode_all(&[0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00]);
        assert_eq!((h.payload_len, n), (65536, 10));
    }

    #[test]
    fn partial_input_is_none_at_every_prefix() {
        let h = FrameHeader::new(false, OpCode::Binary, Some([9, 9, 9, 9]), 1 << 40);
        let mut out = [0; MAX_HEADER_LEN];
        let n = h.encode(&mut out);
        for cut in 0..n {
            assert_eq!(FrameHeader::decode(&out[..cut]), Ok(None), "cut {cut}");
        }
        assert_eq!(FrameHeader::decode(&out[..n]), Ok(Some((h, n))));
    }

    #[test]
    fn encode_decode_round_trip_at_length_boundaries() {
        for len in [0, 1, 125, 126, 127, 0xffff, 0x10000, u64::MAX >> 1] {
            for mask in [None, Some([1, 2, 3, 4])] {
                for rsv in 0..8 {
                    let mut h = FrameHeader::new(len % 2 == 0, OpCode::Binary, mask, len);
                    h.rsv = rsv;
                    let mut out = [0; MAX_HEADER_LEN];
                    let n = h.encode(&mut out);
                    assert_eq!(n, h.encoded_len());
                    assert_eq!(FrameHeader::decode(&out[..n]), Ok(Some((h, n))));
                }
            }
        }
    }

    #[test]
    fn violations_are_reported() {
        assert_eq!(
            FrameHeader::decode(&[0x8B, 0]),
            Err(ProtocolError::ReservedOpcode(0xB))
        );
        assert_eq!(
            FrameHeader::decode(&[0x87, 0]),
            Err(ProtocolError::ReservedOpcode(7))
        );
        assert_eq!(
            FrameHeader::decode(&[0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0]),
            Err(ProtocolError::LengthTopBitSet)
        );
        assert_eq!(
            FrameHeader::decode(&[0x09, 0]),
            Err(ProtocolError::FragmentedControlFrame)
        );
        assert_eq!(
            FrameHeader::decode(&[0x89, 126, 0, 126]),
            Err(ProtocolError::ControlFrameTooLong { len: 126 })
        );
    }

    #[test]
    fn huge_length_does_not_need_the_payload() {
        // A header announcing 2^62 bytes decodes without allocating anything.
        let bytes = [0x82, 0x7f, 0x40, 0, 0, 0, 0, 0, 0, 0];
        let (h, n) = decode_all(&bytes);
        assert_eq!((h.payload_len, n), (1 << 62, 10));
    }
}
