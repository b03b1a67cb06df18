//! What a connection reports.

#[allow(unused_imports)]
use crate::prelude::*;
use bytes::Bytes;

use crate::frame::OpCode;
use crate::handshake::{Request, Response};
use crate::{CloseCode, CloseFrame, Fragment, Frame, Message, MessageKind, Utf8Bytes};

/// Something the peer did, returned by [`Connection::poll_event`](crate::Connection::poll_event).
///
/// ```
/// use ws_proto::{Event, Message};
/// let event = Event::Text("hi".into());
/// assert_eq!(event.into_message(), Some(Message::text("hi")));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A whole text message, validated as UTF-8.
    Text(Utf8Bytes),
    /// A whole binary message.
    Binary(Bytes),
    /// A ping; with `auto_pong` (the default) the pong is already queued.
    Ping(Bytes),
    /// A pong.
    Pong(Bytes),
    /// The connection ended: the peer's close frame (its reply is already
    /// queued, unless [`Config::auto_close_reply`](crate::Config::auto_close_reply)
    /// is off), or code [`CloseCode::ABNORMAL`](crate::CloseCode::ABNORMAL) if
    /// the transport ended or timed out without one. Reported once; nothing follows.
    Close(CloseFrame),
    /// A piece of a data message (only with
    /// [`Config::deliver_fragments`](crate::Config::deliver_fragments)).
    Fragment(Fragment),
    /// A frame or a piece of one, as the peer sent it (only with
    /// [`Config::deliver_frames`](crate::Config::deliver_frames), where
    /// every frame comes this way: data, ping, pong and close). The peer's
    /// close frame is the last event, as [`Event::Close`] is in message
    /// mode; an end without one is still reported as [`Event::Close`] with
    /// [`CloseCode::ABNORMAL`](crate::CloseCode::ABNORMAL).
    ///
    /// Boxed: unboxed, the frame's fields would change the layout of every
    /// event and cost message mode about 2% (measured with callgrind);
    /// [`Connection::poll_event_ref`](crate::Connection::poll_event_ref)
    /// lends frames out without allocating.
    Frame(Box<Frame>),
    /// Server, while [`Connecting`](crate::ReadyState::Connecting): the
    /// client's opening request, checked against section 4.2.1. Answer it
    /// with [`Connection::respond`](crate::Connection::respond).
    Request(Box<Request>),
    /// Client: the server accepted the opening handshake (101, checked
    /// against section 4.1); the connection is now open. Holds the chosen
    /// subprotocol, the negotiated extensions and the headers.
    Response(Box<Response>),
}

impl Event {
    /// The event as a [`Message`] (a fragment as [`Message::Fragment`]);
    /// `None` for the opening handshake's events and for frames.
    ///
    /// ```
    /// use ws_proto::Event;
    /// assert!(Event::Ping(Default::default()).into_message().is_some());
    /// ```
    #[inline]
    pub fn into_message(self) -> Option<Message> {
        Some(match self {
            Self::Text(t) => Message::Text(t),
            Self::Binary(b) => Message::Binary(b),
            Self::Ping(b) => Message::Ping(b),
            Self::Pong(b) => Message::Pong(b),
            Self::Close(c) => Message::Close(c),
            Self::Fragment(f) => Message::Fragment(f),
            Self::Frame(_) | Self::Request(_) | Self::Response(_) => return None,
        })
    }

    /// Whether this is the connection's last event: [`Event::Close`], or in
    /// frame mode the peer's close frame. Adapters stop reading after it.
    ///
    /// ```
    /// use ws_proto::{frame::OpCode, CloseCode, CloseFrame, Event, Frame};
    /// assert!(Event::Close(CloseFrame::new(CloseCode::NORMAL, "")).ends_connection());
    /// assert!(Event::Frame(Box::new(Frame::close(CloseCode::NORMAL, ""))).ends_connection());
    /// assert!(!Event::Frame(Box::new(Frame::new(true, OpCode::Ping, ""))).ends_connection());
    /// ```
    #[inline]
    pub fn ends_connection(&self) -> bool {
        match self {
            Self::Close(_) => true,
            Self::Frame(frame) => frame.opcode == OpCode::Close,
            _ => false,
        }
    }

    /// The event as a frame, for code that relays frames: a frame as it
    /// came (frame mode), or in message mode each message as one frame (a
    /// fragment as one frame: the frame boundaries are then the core's, not
    /// the peer's, and compressed messages come inflated). `None` for the
    /// opening handshake's events and for an end without a close frame
    /// (code [`CloseCode::ABNORMAL`], which is never sent).
    ///
    /// ```
    /// use ws_proto::{frame::OpCode, Event, Frame};
    /// assert_eq!(Event::Text("hi".into()).into_frame(), Some(Frame::new(true, OpCode::Text, "hi")));
    /// ```
    pub fn into_frame(self) -> Option<Frame> {
        let data_opcode = |kind| match kind {
            MessageKind::Text => OpCode::Text,
            MessageKind::Binary => OpCode::Binary,
        };
        Some(match self {
            Self::Frame(frame) => *frame,
            Self::Text(text) => Frame::new(true, OpCode::Text, text.into_bytes()),
            Self::Binary(data) => Frame::new(true, OpCode::Binary, data),
            Self::Ping(data) => Frame::new(true, OpCode::Ping, data),
            Self::Pong(data) => Frame::new(true, OpCode::Pong, data),
            Self::Fragment(piece) => {
                let opcode = if piece.is_first {
                    data_opcode(piece.kind)
                } else {
                    OpCode::Continuation
                };
                Frame::new(piece.is_last, opcode, piece.data)
            }
            Self::Close(frame) if frame.code == CloseCode::ABNORMAL => return None,
            Self::Close(frame) => Frame::new(true, OpCode::Close, frame.encode()),
            Self::Request(_) | Self::Response(_) => return None,
        })
    }
}
