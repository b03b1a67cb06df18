//! Close codes and close frame payloads (RFC 6455 sections 5.5.1 and 7.4).

#[allow(unused_imports)]
use crate::prelude::*;
use core::fmt;

use bytes::{BufMut, Bytes, BytesMut};

use crate::{ProtocolError, Utf8Bytes};

/// A close status code (RFC 6455 section 7.4).
///
/// Codes 1005 and 1006 never travel on the wire; they describe what happened
/// locally (no code in the peer's close frame, or no close frame at all), as a
/// browser's `CloseEvent.code` does.
///
/// ```
/// use ws_proto::CloseCode;
/// assert!(CloseCode::NORMAL.is_sendable());
/// assert!(!CloseCode::ABNORMAL.is_sendable());
/// assert!(CloseCode(4000).is_application());
/// assert_eq!(CloseCode::from(1001), CloseCode::GOING_AWAY);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: the purpose of the connection has been fulfilled.
    pub const NORMAL: Self = Self(1000);
    /// 1001: the endpoint is going away (server shutdown, page navigation).
    pub const GOING_AWAY: Self = Self(1001);
    /// 1002: protocol error.
    pub const PROTOCOL_ERROR: Self = Self(1002);
    /// 1003: a data type the endpoint cannot accept.
    pub const UNSUPPORTED_DATA: Self = Self(1003);
    /// 1005: local only; the peer's close frame carried no code.
    pub const NO_STATUS_RECEIVED: Self = Self(1005);
    /// 1006: local only; the connection dropped without a close frame.
    pub const ABNORMAL: Self = Self(1006);
    /// 1007: message data inconsistent with its type (for example invalid UTF-8).
    pub const INVALID_PAYLOAD: Self = Self(1007);
    /// 1008: policy violation.
    pub const POLICY_VIOLATION: Self = Self(1008);
    /// 1009: a message too big to process.
    pub const MESSAGE_TOO_BIG: Self = Self(1009);
    /// 1010: the client expected the server to negotiate an extension.
    pub const MANDATORY_EXTENSION: Self = Self(1010);
    /// 1011: the server met an unexpected condition.
    pub const INTERNAL_ERROR: Self = Self(1011);
    /// 1012: the service is restarting.
    pub const SERVICE_RESTART: Self = Self(1012);
    /// 1013: try again later.
    pub const TRY_AGAIN_LATER: Self = Self(1013);
    /// 1014: a gateway got an invalid response upstream.
    pub const BAD_GATEWAY: Self = Self(1014);
    /// 1015: local only; the TLS handshake failed.
    pub const TLS_HANDSHAKE: Self = Self(1015);

    /// Whether a peer may put this code in a close frame: 1000-1003, 1007-1014
    /// and 3000-4999 (section 7.4.1 and the IANA registry).
    ///
    /// ```
    /// # use ws_proto::CloseCode;
    /// assert!(CloseCode(3000).is_sendable());
    /// assert!(!CloseCode(1004).is_sendable());
    /// assert!(!CloseCode(2999).is_sendable());
    /// ```
    pub const fn is_sendable(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }

    /// 1000 or 1001: the connection ended as intended.
    ///
    /// ```
    /// # use ws_proto::CloseCode;
    /// assert!(CloseCode::GOING_AWAY.is_clean());
    /// ```
    pub const fn is_clean(self) -> bool {
        matches!(self.0, 1000 | 1001)
    }

    /// 4000-4999: reserved for applications' private use.
    ///
    /// ```
    /// # use ws_proto::CloseCode;
    /// assert!(CloseCode(4999).is_application());
    /// ```
    pub const fn is_application(self) -> bool {
        matches!(self.0, 4000..=4999)
    }

    /// What kind of ending this code stands for (clean, protocol error,
    /// application, abnormal, other).
    ///
    /// ```
    /// # use ws_proto::{CloseCode, CloseKind};
    /// assert_eq!(CloseCode(4000).kind(), CloseKind::Application);
    /// ```
    pub fn kind(self) -> super::CloseKind {
        super::CloseKind::of(self)
    }

    /// A failure in the protocol or payload: 1002, 1003, 1007, 1009 or 1010.
    ///
    /// ```
    /// # use ws_proto::CloseCode;
    /// assert!(CloseCode::MESSAGE_TOO_BIG.is_protocol_failure());
    /// ```
    pub const fn is_protocol_failure(self) -> bool {
        matches!(self.0, 1002 | 1003 | 1007 | 1009 | 1010)
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> Self {
        Self(code)
    }
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> Self {
        code.0
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.0 {
            1000 => "normal closure",
            1001 => "going away",
            1002 => "protocol error",
            1003 => "unsupported data",
            1005 => "no status received",
            1006 => "abnormal closure",
            1007 => "invalid payload data",
            1008 => "policy violation",
            1009 => "message too big",
            1010 => "mandatory extension",
            1011 => "internal error",
            1012 => "service restart",
            1013 => "try again later",
            1014 => "bad gateway",
            1015 => "TLS handshake failure",
            3000..=3999 => "registered",
            4000..=4999 => "application",
            _ => "reserved",
        };
        write!(f, "{} ({name})", self.0)
    }
}

/// A close frame's content: a code and a UTF-8 reason of at most 123 bytes.
///
/// ```
/// use ws_proto::{CloseCode, CloseFrame};
/// let frame = CloseFrame::new(CloseCode::NORMAL, "bye");
/// let payload = frame.encode();
/// assert_eq!(&payload[..], b"\x03\xe8bye");
/// assert_eq!(CloseFrame::decode(payload).unwrap(), frame);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseFrame {
    /// The status code; [`CloseCode::NO_STATUS_RECEIVED`] for an empty close payload.
    pub code: CloseCode,
    /// The reason, possibly empty.
    pub reason: Utf8Bytes,
}

impl CloseFrame {
    /// A close frame with `code` and `reason`.
    ///
    /// ```
    /// # use ws_proto::{CloseCode, CloseFrame};
    /// let f = CloseFrame::new(CloseCode(4000), "rejected");
    /// assert_eq!(f.reason.as_str(), "rejected");
    /// ```
    pub fn new(code: CloseCode, reason: impl Into<Utf8Bytes>) -> Self {
        Self {
            code,
            reason: reason.into(),
        }
    }

    /// Parses and validates a received close payload (section 5.5.1): empty, or
    /// a sendable code followed by a UTF-8 reason.
    ///
    /// ```
    /// use ws_proto::{CloseCode, CloseFrame, ProtocolError};
    /// assert_eq!(CloseFrame::decode(Default::default()).unwrap().code, CloseCode::NO_STATUS_RECEIVED);
    /// assert_eq!(CloseFrame::decode(vec![3].into()), Err(ProtocolError::CloseFrameTooShort));
    /// assert_eq!(CloseFrame::decode(vec![3, 237].into()), Err(ProtocolError::InvalidCloseCode(1005)));
    /// ```
    pub fn decode(mut payload: Bytes) -> Result<Self, ProtocolError> {
        match payload.len() {
            0 => Ok(Self::new(CloseCode::NO_STATUS_RECEIVED, "")),
            1 => Err(ProtocolError::CloseFrameTooShort),
            _ => {
                let code = CloseCode(u16::from_be_bytes([payload[0], payload[1]]));
                if !code.is_sendable() {
                    return Err(ProtocolError::InvalidCloseCode(code.0));
                }
                let reason = Utf8Bytes::try_from(payload.split_off(2))
                    .map_err(|_| ProtocolError::InvalidUtf8)?;
                Ok(Self { code, reason })
            }
        }
    }

    /// The wire payload: nothing for [`CloseCode::NO_STATUS_RECEIVED`], else
    /// the code and the reason.
    ///
    /// ```
    /// # use ws_proto::{CloseCode, CloseFrame};
    /// assert!(CloseFrame::new(CloseCode::NO_STATUS_RECEIVED, "").encode().is_empty());
    /// ```
    pub fn encode(&self) -> Bytes {
        if self.code == CloseCode::NO_STATUS_RECEIVED {
            return Bytes::new();
        }
        let mut out = BytesMut::with_capacity(2 + self.reason.len());
        out.put_u16(self.code.0);
        out.put_slice(self.reason.as_bytes());
        out.freeze()
    }
}

impl Default for CloseFrame {
    /// The close an application sends when it does not choose a code
    /// (dropping a stream, closing a sink): 1000 with no reason. Every
    /// adapter uses this one, so a bare close means the same everywhere.
    ///
    /// ```
    /// use ws_proto::{CloseCode, CloseFrame};
    /// assert_eq!(CloseFrame::default(), CloseFrame::new(CloseCode::NORMAL, ""));
    /// ```
    fn default() -> Self {
        Self::new(CloseCode::NORMAL, "")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sendable_codes_table() {
        for code in 0..=u16::MAX {
            let expected = matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999);
            assert_eq!(CloseCode(code).is_sendable(), expected, "{code}");
        }
    }

    #[test]
    fn decode_rules() {
        assert_eq!(
            CloseFrame::decode(Bytes::from_static(b"\x03\xe8")).unwrap(),
            CloseFrame::new(CloseCode::NORMAL, "")
        );
        assert_eq!(
            CloseFrame::decode(Bytes::from_static(b"\x0f\xa0ok")).unwrap(),
            CloseFrame::new(CloseCode(4000), "ok")
        );
        for bad in [
            999u16, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535,
        ] {
            let payload = Bytes::copy_from_slice(&bad.to_be_bytes());
            assert_eq!(
                CloseFrame::decode(payload),
                Err(ProtocolError::InvalidCloseCode(bad))
            );
        }
        assert_eq!(
            CloseFrame::decode(Bytes::from_static(b"\x03\xe8\xff")),
            Err(ProtocolError::InvalidUtf8)
        );
    }
}
