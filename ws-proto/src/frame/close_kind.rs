//! What kind of ending a close code stands for.

use super::{CloseCode, CloseFrame};

/// The kinds of connection endings an application usually handles
/// differently, so it can tell them apart without reading reason strings.
/// The classification is the core's ([`CloseCode::is_clean`],
/// [`CloseCode::is_protocol_failure`], [`CloseCode::is_application`]); this
/// type only names the outcome.
///
/// ```
/// use ws_proto::{CloseCode, CloseFrame, CloseKind};
/// assert_eq!(CloseKind::of(CloseCode::GOING_AWAY), CloseKind::Clean);
/// assert_eq!(CloseKind::of(CloseCode::INVALID_PAYLOAD), CloseKind::ProtocolError);
/// assert_eq!(CloseKind::of(CloseCode(4000)), CloseKind::Application);
/// assert_eq!(CloseKind::of(CloseCode::ABNORMAL), CloseKind::Abnormal);
/// assert_eq!(CloseKind::of(CloseCode::INTERNAL_ERROR), CloseKind::Other);
/// let frame = CloseFrame::new(CloseCode::NORMAL, "bye");
/// assert!(CloseKind::from(&frame).is_clean());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseKind {
    /// 1000 or 1001: the connection ended as intended.
    Clean,
    /// 1002, 1003, 1007, 1009, 1010: one side broke the protocol or sent
    /// what the other cannot take.
    ProtocolError,
    /// 4000-4999: a code the application defined.
    Application,
    /// 1006: the transport dropped (or a timeout gave up) without a close
    /// frame; no code came from the peer.
    Abnormal,
    /// Anything else: 1005 (no code in the frame), 1008 (policy), 1011
    /// (server error), 1012-1014 (restart, try later, gateway), 3000-3999.
    Other,
}

impl CloseKind {
    /// The kind of `code`.
    ///
    /// ```
    /// use ws_proto::{CloseCode, CloseKind};
    /// assert_eq!(CloseKind::of(CloseCode::MESSAGE_TOO_BIG), CloseKind::ProtocolError);
    /// ```
    pub fn of(code: CloseCode) -> Self {
        if code == CloseCode::ABNORMAL {
            Self::Abnormal
        } else if code.is_clean() {
            Self::Clean
        } else if code.is_protocol_failure() {
            Self::ProtocolError
        } else if code.is_application() {
            Self::Application
        } else {
            Self::Other
        }
    }

    /// Whether this is [`Clean`](Self::Clean).
    ///
    /// ```
    /// assert!(ws_proto::CloseKind::Clean.is_clean());
    /// ```
    pub fn is_clean(self) -> bool {
        self == Self::Clean
    }

    /// Whether this is [`Abnormal`](Self::Abnormal).
    ///
    /// ```
    /// use ws_proto::{CloseCode, CloseKind};
    /// assert!(CloseKind::of(CloseCode::ABNORMAL).is_abnormal());
    /// ```
    pub fn is_abnormal(self) -> bool {
        self == Self::Abnormal
    }
}

impl From<CloseCode> for CloseKind {
    fn from(code: CloseCode) -> Self {
        Self::of(code)
    }
}

impl From<&CloseFrame> for CloseKind {
    fn from(frame: &CloseFrame) -> Self {
        Self::of(frame.code)
    }
}
