//! Errors, split by who is at fault.
//!
//! * [`ProtocolError`]: the peer broke RFC 6455. Each variant knows the
//!   [`CloseCode`] the peer is sent ([`ProtocolError::close_code`]), and the
//!   [`Connection`](crate::Connection) has already queued that close frame by the
//!   time the error is returned.
//! * [`SendError`]: the caller asked for something the protocol does not allow
//!   (sending after close, an oversized control frame, ...). Nothing was queued.
//!
//! [`Error`](crate::Error), defined with the connection (it names the
//! handshake's errors too), is what a failed connection reports: a
//! [`ProtocolError`] after the opening handshake, a
//! [`HandshakeError`](crate::handshake::HandshakeError) during it. Adapters
//! wrap these types instead of defining their own.

#[allow(unused_imports)]
use crate::prelude::*;
use core::fmt;

use crate::CloseCode;

/// The peer violated the WebSocket protocol.
///
/// Errors are sticky: once a [`Connection`](crate::Connection) has failed, every
/// later [`poll_event`](crate::Connection::poll_event) returns the same error.
///
/// ```
/// use ws_proto::{CloseCode, ProtocolError};
/// let err = ProtocolError::InvalidUtf8;
/// assert_eq!(err.close_code(), CloseCode::INVALID_PAYLOAD);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// RSV1, RSV2 or RSV3 was set but no extension gives it a meaning (section 5.2).
    ReservedBitsSet {
        /// The three reserved bits, RSV1 as `0b100`.
        bits: u8,
    },
    /// The opcode is one of the reserved values 3-7 or 0xB-0xF (section 5.2).
    ReservedOpcode(u8),
    /// A client sent a frame without a mask (section 5.1).
    UnmaskedFrameFromClient,
    /// A server sent a masked frame (section 5.1).
    MaskedFrameFromServer,
    /// A 64-bit payload length had its most significant bit set (section 5.2).
    LengthTopBitSet,
    /// A control frame announced more than 125 bytes of payload (section 5.5).
    ControlFrameTooLong {
        /// The announced payload length.
        len: u64,
    },
    /// A control frame had FIN clear (section 5.5).
    FragmentedControlFrame,
    /// A continuation frame arrived while no fragmented message was in progress (section 5.4).
    UnexpectedContinuation,
    /// A new text or binary frame arrived while a fragmented message was still in progress (section 5.4).
    ExpectedContinuation,
    /// A text message or a close reason is not valid UTF-8 (sections 5.6 and 8.1).
    InvalidUtf8,
    /// A close frame carried a one-byte payload (section 5.5.1).
    CloseFrameTooShort,
    /// A close frame carried a code a peer may not send (section 7.4).
    InvalidCloseCode(u16),
    /// A frame announced a payload larger than the configured `max_frame_size`.
    FrameTooLarge {
        /// The announced payload length.
        len: u64,
        /// The configured limit.
        max: usize,
    },
    /// A message grew beyond the configured `max_message_size`.
    MessageTooLarge {
        /// The size the message would reach (at least).
        len: u64,
        /// The configured limit.
        max: usize,
    },
    /// A compressed message could not be inflated (RFC 7692 section 7.2.2).
    InvalidCompressedData,
    /// A negotiated extension could not decode a message (its data breaks
    /// the extension's rules; closes with 1007, as for bad compressed data).
    ExtensionFailed {
        /// Why, in words, naming the extension (boxed: keeps every event
        /// as small as before).
        reason: Box<str>,
    },
}

impl ProtocolError {
    /// The close frame that fails a connection for this error: its
    /// [`close_code`](Self::close_code) and the error in words, cut to the
    /// 123 bytes a close frame allows (what the connection sends; a relay
    /// that sends it itself, with
    /// [`Config::auto_failure_close`](crate::Config::auto_failure_close)
    /// off, sends the same).
    ///
    /// ```
    /// use ws_proto::{CloseCode, ProtocolError};
    /// let frame = ProtocolError::ReservedOpcode(3).close_frame();
    /// assert_eq!(frame.code, CloseCode::PROTOCOL_ERROR);
    /// assert!(frame.reason.len() <= 123 && !frame.reason.is_empty());
    /// ```
    pub fn close_frame(&self) -> crate::CloseFrame {
        let mut text = self.to_string();
        if let Some(cut) = text.find("; closing with") {
            text.truncate(cut);
        }
        if text.len() > 123 {
            let mut end = 123;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
        }
        crate::CloseFrame::new(self.close_code(), text)
    }

    /// The close code sent to the peer for this error (RFC 6455 section 7.4.1).
    ///
    /// ```
    /// use ws_proto::{CloseCode, ProtocolError};
    /// assert_eq!(ProtocolError::ReservedOpcode(3).close_code(), CloseCode::PROTOCOL_ERROR);
    /// assert_eq!(
    ///     ProtocolError::MessageTooLarge { len: 10, max: 1 }.close_code(),
    ///     CloseCode::MESSAGE_TOO_BIG
    /// );
    /// ```
    pub fn close_code(&self) -> CloseCode {
        match self {
            Self::InvalidUtf8 | Self::InvalidCompressedData | Self::ExtensionFailed { .. } => {
                CloseCode::INVALID_PAYLOAD
            }
            Self::FrameTooLarge { .. } | Self::MessageTooLarge { .. } => CloseCode::MESSAGE_TOO_BIG,
            Self::ReservedBitsSet { .. }
            | Self::ReservedOpcode(_)
            | Self::UnmaskedFrameFromClient
            | Self::MaskedFrameFromServer
            | Self::LengthTopBitSet
            | Self::ControlFrameTooLong { .. }
            | Self::FragmentedControlFrame
            | Self::UnexpectedContinuation
            | Self::ExpectedContinuation
            | Self::CloseFrameTooShort
            | Self::InvalidCloseCode(_) => CloseCode::PROTOCOL_ERROR,
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ReservedBitsSet { bits } => write!(
                f,
                "peer set reserved bits {bits:#05b} that no negotiated extension defines"
            ),
            Self::ReservedOpcode(op) => write!(f, "peer used reserved opcode {op:#x}"),
            Self::UnmaskedFrameFromClient => f.write_str("client sent an unmasked frame"),
            Self::MaskedFrameFromServer => f.write_str("server sent a masked frame"),
            Self::LengthTopBitSet => {
                f.write_str("peer sent a 64-bit payload length with the top bit set")
            }
            Self::ControlFrameTooLong { len } => write!(
                f,
                "peer sent a control frame of {len} bytes (at most 125 allowed)"
            ),
            Self::FragmentedControlFrame => f.write_str("peer sent a fragmented control frame"),
            Self::UnexpectedContinuation => {
                f.write_str("peer sent a continuation frame with no message in progress")
            }
            Self::ExpectedContinuation => {
                f.write_str("peer started a new message before finishing the previous one")
            }
            Self::InvalidUtf8 => f.write_str("peer sent text that is not valid UTF-8"),
            Self::CloseFrameTooShort => {
                f.write_str("peer sent a close frame with a 1-byte payload")
            }
            Self::InvalidCloseCode(code) => write!(f, "peer sent invalid close code {code}"),
            Self::FrameTooLarge { len, max } => write!(
                f,
                "peer announced a {len}-byte frame, over the {max}-byte frame limit"
            ),
            Self::MessageTooLarge { len, max } => write!(
                f,
                "peer's message reached {len} bytes, over the {max}-byte message limit"
            ),
            Self::InvalidCompressedData => {
                f.write_str("peer sent a compressed message that does not inflate")
            }
            Self::ExtensionFailed { reason } => {
                write!(f, "an extension could not decode a message: {reason}")
            }
        }?;
        write!(f, "; closing with {}", self.close_code())
    }
}

impl core::error::Error for ProtocolError {}

/// The caller asked the [`Connection`](crate::Connection) for something the
/// protocol does not allow. Nothing was queued.
///
/// ```
/// use ws_proto::{Config, Connection, Role, SendError};
/// let mut conn = Connection::new(Role::Server, Config::default());
/// assert_eq!(conn.send_ping(vec![0; 126]), Err(SendError::ControlPayloadTooLong { len: 126 }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendError {
    /// A close frame has already been sent; no more frames may follow (section 5.5.1).
    CloseSent,
    /// The connection failed or the transport closed; nothing can be sent.
    Closed,
    /// Ping, pong and close payloads are limited to 125 bytes (section 5.5).
    ControlPayloadTooLong {
        /// The payload length asked for.
        len: usize,
    },
    /// The close code may not be sent on the wire (section 7.4), for example 1005 or 1006.
    InvalidCloseCode(u16),
    /// A fragment was sent out of order: a continuation with no message started,
    /// or a new message before the previous one was finished.
    FragmentOutOfOrder,
    /// A text fragment is not valid UTF-8 (or the last one ends inside a code point).
    InvalidUtf8,
    /// The opening handshake has not completed yet
    /// ([`ReadyState::Connecting`](crate::ReadyState::Connecting)): nothing can be sent.
    Connecting,
    /// [`Connection::respond`](crate::Connection::respond) was called when no
    /// request waits for an answer (a client, a request not yet received,
    /// or one already answered).
    NoRequestToAnswer,
    /// A frame sent in pieces with [`Connection::send_frame`](crate::Connection::send_frame)
    /// is not finished: only its next piece can be sent (a frame cannot be
    /// cut by another).
    FrameInProgress,
    /// A piece does not continue the frame being sent: its header fields
    /// differ, its offset is not where the previous piece ended, or it
    /// starts a new frame at an offset other than 0.
    PieceOutOfOrder,
    /// A piece runs past its frame's announced length, or a frame's length
    /// is beyond 2^63 - 1 bytes (section 5.2).
    PieceTooLong,
    /// A control frame was not sent whole (its data shorter than its length).
    ControlFrameInPieces,
    /// A control frame had FIN clear; control frames cannot be fragmented (section 5.5).
    FragmentedControlFrame,
    /// Reserved bits were set that no negotiated extension defines (section
    /// 5.2); RSV1 is allowed on the first frame of a data message when
    /// permessage-deflate was negotiated.
    ReservedBitsNotNegotiated {
        /// The reserved bits asked for, RSV1 as `0b100`.
        bits: u8,
    },
    /// A close frame's payload was a single byte (section 5.5.1).
    CloseFrameTooShort,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CloseSent => f.write_str("a close frame was already sent; nothing may follow it"),
            Self::Closed => f.write_str("the connection is closed"),
            Self::ControlPayloadTooLong { len } => write!(
                f,
                "control frame payload of {len} bytes exceeds the 125-byte limit"
            ),
            Self::InvalidCloseCode(code) => {
                write!(f, "close code {code} may not be sent on the wire")
            }
            Self::InvalidUtf8 => f.write_str("text fragment is not valid UTF-8"),
            Self::Connecting => {
                f.write_str("the opening handshake has not completed; nothing can be sent yet")
            }
            Self::NoRequestToAnswer => {
                f.write_str("no opening request is waiting for an answer")
            }
            Self::FragmentOutOfOrder => {
                f.write_str("fragment sent out of order (continuation without a start, or a new message mid-way)")
            }
            Self::FrameInProgress => f.write_str(
                "a frame sent in pieces is not finished; only its next piece can be sent",
            ),
            Self::PieceOutOfOrder => f.write_str(
                "piece does not continue the frame being sent (other header or offset)",
            ),
            Self::PieceTooLong => f.write_str("piece runs past its frame's announced length"),
            Self::ControlFrameInPieces => {
                f.write_str("control frames must be sent whole, not in pieces")
            }
            Self::FragmentedControlFrame => {
                f.write_str("control frames cannot be fragmented (FIN must be set)")
            }
            Self::ReservedBitsNotNegotiated { bits } => write!(
                f,
                "reserved bits {bits:#05b} are not defined by any negotiated extension"
            ),
            Self::CloseFrameTooShort => {
                f.write_str("a close payload cannot be a single byte")
            }
        }
    }
}

impl core::error::Error for SendError {}
