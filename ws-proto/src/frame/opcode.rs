use core::fmt;

/// A frame opcode (RFC 6455 section 5.2). Reserved values are not representable:
/// [`OpCode::from_u8`] returns `None` for them.
///
/// ```
/// use ws_proto::frame::OpCode;
/// assert_eq!(OpCode::from_u8(0x1), Some(OpCode::Text));
/// assert_eq!(OpCode::from_u8(0x3), None);
/// assert!(OpCode::Ping.is_control());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum OpCode {
    /// `0x0`: a continuation of a fragmented message.
    Continuation = 0x0,
    /// `0x1`: the first frame of a text message.
    Text = 0x1,
    /// `0x2`: the first frame of a binary message.
    Binary = 0x2,
    /// `0x8`: close.
    Close = 0x8,
    /// `0x9`: ping.
    Ping = 0x9,
    /// `0xA`: pong.
    Pong = 0xA,
}

impl OpCode {
    /// Parses the low four bits of the first header byte; `None` for reserved opcodes.
    ///
    /// ```
    /// # use ws_proto::frame::OpCode;
    /// assert_eq!(OpCode::from_u8(0xA), Some(OpCode::Pong));
    /// assert_eq!(OpCode::from_u8(0xB), None);
    /// ```
    #[inline]
    pub const fn from_u8(value: u8) -> Option<Self> {
        Some(match value {
            0x0 => Self::Continuation,
            0x1 => Self::Text,
            0x2 => Self::Binary,
            0x8 => Self::Close,
            0x9 => Self::Ping,
            0xA => Self::Pong,
            _ => return None,
        })
    }

    /// The wire value.
    ///
    /// ```
    /// # use ws_proto::frame::OpCode;
    /// assert_eq!(OpCode::Close.as_u8(), 8);
    /// ```
    #[inline]
    pub const fn as_u8(self) -> u8 {
        self as u8
    }

    /// Close, ping and pong are control frames (section 5.5).
    ///
    /// ```
    /// # use ws_proto::frame::OpCode;
    /// assert!(OpCode::Close.is_control());
    /// assert!(!OpCode::Binary.is_control());
    /// ```
    #[inline]
    pub const fn is_control(self) -> bool {
        (self as u8) & 0x8 != 0
    }
}

impl fmt::Display for OpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_round_trips_or_is_reserved() {
        for v in 0u8..16 {
            match OpCode::from_u8(v) {
                Some(op) => assert_eq!(op.as_u8(), v),
                None => assert!((3..=7).contains(&v) || (0xB..=0xF).contains(&v), "{v}"),
            }
        }
    }
}
