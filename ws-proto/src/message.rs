//! Messages: what applications send and receive.

#[allow(unused_imports)]
use crate::prelude::*;
use core::{fmt, ops::Deref, str};

use bytes::Bytes;

use crate::CloseFrame;

/// Immutable bytes that are valid UTF-8: a text payload handed out without
/// copying it out of the read buffer.
///
/// ```
/// use ws_proto::Utf8Bytes;
/// let text = Utf8Bytes::from("héllo");
/// assert_eq!(text.as_str(), "héllo");
/// assert!(Utf8Bytes::try_from(bytes::Bytes::from_static(b"\xff")).is_err());
/// ```
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Utf8Bytes(Bytes);

impl Utf8Bytes {
    /// Wraps `bytes` the caller has already validated.
    ///
    /// # Safety
    /// `bytes` must be valid UTF-8.
    pub(crate) unsafe fn from_bytes_unchecked(bytes: Bytes) -> Self {
        Self(bytes)
    }

    /// A text from a `'static` string, without copying.
    ///
    /// ```
    /// # use ws_proto::Utf8Bytes;
    /// assert_eq!(Utf8Bytes::from_static("hi").len(), 2);
    /// ```
    pub const fn from_static(text: &'static str) -> Self {
        Self(Bytes::from_static(text.as_bytes()))
    }

    /// The text.
    ///
    /// ```
    /// # use ws_proto::Utf8Bytes;
    /// assert_eq!(Utf8Bytes::from(String::from("x")).as_str(), "x");
    /// ```
    #[inline]
    pub fn as_str(&self) -> &str {
        // SAFETY: every constructor either validates the bytes
        // (`TryFrom<Bytes>`), takes them from a `str`/`String`, or is
        // `from_bytes_unchecked`, whose callers validated them.
        unsafe { str::from_utf8_unchecked(&self.0) }
    }

    /// The underlying bytes.
    ///
    /// ```
    /// # use ws_proto::Utf8Bytes;
    /// assert_eq!(&Utf8Bytes::from("ab").into_bytes()[..], b"ab");
    /// ```
    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

impl Deref for Utf8Bytes {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<[u8]> for Utf8Bytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<str> for Utf8Bytes {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<String> for Utf8Bytes {
    fn from(s: String) -> Self {
        Self(Bytes::from(s))
    }
}

impl From<&str> for Utf8Bytes {
    fn from(s: &str) -> Self {
        Self(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl From<&String> for Utf8Bytes {
    fn from(s: &String) -> Self {
        Self::from(s.as_str())
    }
}

impl TryFrom<Bytes> for Utf8Bytes {
    type Error = str::Utf8Error;
    fn try_from(bytes: Bytes) -> Result<Self, Self::Error> {
        if crate::utf8::validate(&bytes).is_err() {
            // The fast check says no; std's says where.
            str::from_utf8(&bytes)?;
        }
        Ok(Self(bytes))
    }
}

impl TryFrom<Vec<u8>> for Utf8Bytes {
    type Error = str::Utf8Error;
    fn try_from(bytes: Vec<u8>) -> Result<Self, Self::Error> {
        Self::try_from(Bytes::from(bytes))
    }
}

impl PartialEq<str> for Utf8Bytes {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Utf8Bytes {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// Whether a data message is text or binary.
///
/// ```
/// use ws_proto::MessageKind;
/// assert_ne!(MessageKind::Text, MessageKind::Binary);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// UTF-8 text (opcode 0x1).
    Text,
    /// Binary data (opcode 0x2).
    Binary,
}

/// A whole message, as applications send and receive it.
///
/// ```
/// use ws_proto::Message;
/// let m = Message::text("hello");
/// assert!(matches!(m, Message::Text(ref t) if t == "hello"));
/// assert_eq!(Message::binary(vec![1, 2]).len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message.
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
    /// A ping (at most 125 bytes).
    Ping(Bytes),
    /// A pong (at most 125 bytes).
    Pong(Bytes),
    /// A close frame: sent, it starts (or answers) the close handshake;
    /// received, the peer's close frame, or code 1006 if the transport
    /// dropped without one.
    Close(CloseFrame),
    /// A piece of a data message: received only when the connection was
    /// built with [`Config::deliver_fragments`](crate::Config::deliver_fragments);
    /// sent, it goes out as one frame with the rules of
    /// [`Connection::send_fragment`](crate::Connection::send_fragment).
    /// Proxies forward pieces this way without holding whole messages.
    Fragment(Fragment),
}

impl Message {
    /// A text message.
    ///
    /// ```
    /// # use ws_proto::Message;
    /// let _ = Message::text(String::from("owned"));
    /// ```
    pub fn text(text: impl Into<Utf8Bytes>) -> Self {
        Self::Text(text.into())
    }

    /// A binary message.
    ///
    /// ```
    /// # use ws_proto::Message;
    /// let _ = Message::binary(&b"static"[..]);
    /// ```
    pub fn binary(data: impl Into<Bytes>) -> Self {
        Self::Binary(data.into())
    }

    /// The payload length in bytes (for a close, its encoded payload).
    ///
    /// ```
    /// # use ws_proto::Message;
    /// assert_eq!(Message::text("abc").len(), 3);
    /// ```
    pub fn len(&self) -> usize {
        match self {
            Self::Text(t) => t.len(),
            Self::Binary(b) | Self::Ping(b) | Self::Pong(b) => b.len(),
            Self::Close(c) if c.code == crate::CloseCode::NO_STATUS_RECEIVED => 0,
            Self::Close(c) => 2 + c.reason.len(),
            Self::Fragment(f) => f.data.len(),
        }
    }

    /// Whether the payload is empty.
    ///
    /// ```
    /// # use ws_proto::Message;
    /// assert!(Message::binary(Vec::new()).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether this is a text or binary message, or a piece of one.
    ///
    /// ```
    /// # use ws_proto::Message;
    /// assert!(!Message::Ping(Default::default()).is_data());
    /// ```
    pub fn is_data(&self) -> bool {
        matches!(self, Self::Text(_) | Self::Binary(_) | Self::Fragment(_))
    }
}

/// A piece of a data message, handed out as it arrives when the connection is
/// configured for streaming ([`Config::deliver_fragments`](crate::Config::deliver_fragments)),
/// and accepted by [`Connection::send_fragment`](crate::Connection::send_fragment).
///
/// Pieces do not follow the peer's frame boundaries: one frame may arrive as
/// several pieces. A text piece has been validated as far as it goes, but may
/// end in the middle of a code point that the next piece completes.
///
/// ```
/// use ws_proto::{Fragment, MessageKind};
/// let f = Fragment { kind: MessageKind::Binary, data: vec![1, 2, 3].into(), is_first: true, is_last: false };
/// assert_eq!(f.data.len(), 3);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment {
    /// The message's kind (from its first frame).
    pub kind: MessageKind,
    /// Payload bytes, unmasked.
    pub data: Bytes,
    /// This piece starts a message.
    pub is_first: bool,
    /// This piece ends the message.
    pub is_last: bool,
}
