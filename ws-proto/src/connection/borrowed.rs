//! Events whose payloads borrow the connection: the zero-copy output.

#[allow(unused_imports)]
use crate::prelude::*;

use super::receive::Ready;
use super::{Connection, Event};
use crate::frame::FrameRef;
use crate::handshake::{Request, Response};
use crate::{CloseFrame, Error, Fragment, MessageKind, Utf8Bytes};

/// An event whose payload is lent out by the connection, returned by
/// [`Connection::poll_event_ref`]: the same events as [`Event`], with
/// payloads as slices that stay valid until the next call on the connection.
///
/// ```
/// use ws_proto::{Config, Connection, EventRef, Role};
/// let mut server = Connection::new(Role::Server, Config::default());
/// server.receive(&[0x82, 0x82, 1, 2, 3, 4, 1 ^ 9, 2 ^ 9]); // masked binary [9, 9]
/// assert_eq!(server.poll_event_ref(), Ok(Some(EventRef::Binary(&[9, 9]))));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventRef<'a> {
    /// A whole text message, validated as UTF-8.
    Text(&'a str),
    /// A whole binary message.
    Binary(&'a [u8]),
    /// A ping; with `auto_pong` (the default) the pong is already queued.
    Ping(&'a [u8]),
    /// A pong.
    Pong(&'a [u8]),
    /// The connection ended, as [`Event::Close`] says.
    Close(CloseFrame),
    /// A piece of a data message (only with
    /// [`Config::deliver_fragments`](crate::Config::deliver_fragments)).
    Fragment(FragmentRef<'a>),
    /// A frame or a piece of one, as [`Event::Frame`] says.
    Frame(FrameRef<'a>),
    /// Server: the client's opening request, as [`Event::Request`] says.
    Request(Box<Request>),
    /// Client: the server's 101 response, as [`Event::Response`] says.
    Response(Box<Response>),
}

/// A piece of a data message, as [`Fragment`] but lent out.
///
/// ```
/// use ws_proto::{FragmentRef, MessageKind};
/// let piece = FragmentRef { kind: MessageKind::Text, data: b"hi", is_first: true, is_last: true };
/// assert_eq!(piece.to_fragment().data, &b"hi"[..]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragmentRef<'a> {
    /// The message's kind (from its first frame).
    pub kind: MessageKind,
    /// Payload bytes, unmasked.
    pub data: &'a [u8],
    /// This piece starts a message.
    pub is_first: bool,
    /// This piece ends the message.
    pub is_last: bool,
}

impl FragmentRef<'_> {
    /// An owned copy.
    ///
    /// ```
    /// use ws_proto::{FragmentRef, MessageKind};
    /// let piece = FragmentRef { kind: MessageKind::Binary, data: &[1], is_first: false, is_last: true };
    /// assert!(piece.to_fragment().is_last);
    /// ```
    pub fn to_fragment(&self) -> Fragment {
        Fragment {
            kind: self.kind,
            data: self.data.to_vec().into(),
            is_first: self.is_first,
            is_last: self.is_last,
        }
    }
}

impl EventRef<'_> {
    /// An owned copy, equal to what [`Connection::poll_event`] would have
    /// returned.
    ///
    /// ```
    /// use ws_proto::{Event, EventRef};
    /// assert_eq!(EventRef::Text("hi").to_event(), Event::Text("hi".into()));
    /// ```
    pub fn to_event(&self) -> Event {
        match self {
            Self::Text(text) => Event::Text(Utf8Bytes::from(*text)),
            Self::Binary(data) => Event::Binary(data.to_vec().into()),
            Self::Ping(data) => Event::Ping(data.to_vec().into()),
            Self::Pong(data) => Event::Pong(data.to_vec().into()),
            Self::Close(frame) => Event::Close(frame.clone()),
            Self::Fragment(piece) => Event::Fragment(piece.to_fragment()),
            Self::Frame(piece) => Event::Frame(Box::new(piece.to_frame())),
            Self::Request(request) => Event::Request(request.clone()),
            Self::Response(response) => Event::Response(response.clone()),
        }
    }
}

impl Connection {
    /// The next event with its payload lent out rather than handed over: the
    /// zero-copy twin of [`poll_event`](Self::poll_event). Same events, same
    /// rules, same errors, in the same order (both share one path); only the
    /// payload differs: a slice, unmasked in place in the read buffer (or, for
    /// a message that came in several frames, in the connection), valid until
    /// the next call on the connection. The two can be mixed freely.
    ///
    /// Use it when the payload is consumed on the spot (parsed, copied
    /// elsewhere, forwarded); use `poll_event` to keep it, as `Bytes`,
    /// without copying.
    ///
    /// ```
    /// # use ws_proto::{Config, Connection, EventRef, Role};
    /// let mut server = Connection::new(Role::Server, Config::default());
    /// // A masked text frame "Hello" from RFC 6455 section 5.7, twice.
    /// let hello = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
    /// server.receive(&[hello, hello].concat());
    /// let mut total = 0;
    /// while let Some(event) = server.poll_event_ref().unwrap() {
    ///     if let EventRef::Text(text) = event {
    ///         assert_eq!(text, "Hello");
    ///         total += text.len();
    ///     }
    /// }
    /// assert_eq!(total, 10);
    /// ```
    // Always inlined: the common case is a few checks, and returning the
    // event through memory from an out-of-line call costs as much again.
    #[inline(always)]
    pub fn poll_event_ref(&mut self) -> Result<Option<EventRef<'_>>, Error> {
        let Some(ready) = self.poll_ready()? else {
            return Ok(None);
        };
        let decoder = &mut self.decoder;
        let buf = &self.read_buf[..];
        Ok(Some(match ready {
            Ready::Message { kind, payload } => {
                let data = decoder.lend(buf, payload);
                match kind {
                    // SAFETY: the decoder validated every byte of an
                    // uncompressed text message, and `inflate` every byte of
                    // a compressed one.
                    MessageKind::Text => {
                        EventRef::Text(unsafe { core::str::from_utf8_unchecked(data) })
                    }
                    MessageKind::Binary => EventRef::Binary(data),
                }
            }
            Ready::Fragment {
                kind,
                data,
                is_first,
                is_last,
            } => EventRef::Fragment(FragmentRef {
                kind,
                data: decoder.lend(buf, data),
                is_first,
                is_last,
            }),
            Ready::Ping(payload) => EventRef::Ping(decoder.hold(payload)),
            Ready::Pong(payload) => EventRef::Pong(decoder.hold(payload)),
            Ready::Close(frame) => EventRef::Close(frame),
            Ready::Frame {
                fin,
                rsv,
                opcode,
                is_first,
                remaining,
                data,
            } => EventRef::Frame(FrameRef {
                fin,
                rsv,
                opcode,
                is_first,
                remaining,
                data: decoder.lend(buf, data),
            }),
            Ready::Request(request) => EventRef::Request(request),
            Ready::Response(response) => EventRef::Response(response),
        }))
    }
}
