//! The connection state machine (RFC 6455 sections 5 to 7).

#[allow(unused_imports)]
use crate::prelude::*;
mod borrowed;
mod config;
mod error;
mod event;
mod fanout;
mod frames_out;
mod keepalive;
mod opening;
mod outbound;
mod prepared;
mod read_buffer;
mod receive;
mod send;
mod state;

use crate::Instant;

use bytes::{Bytes, BytesMut};

pub use borrowed::{EventRef, FragmentRef};
pub use config::Config;
use config::Settings;
pub use error::Error;
pub use event::Event;
pub use fanout::{
    Delivery, DeliveryCounts, QueueLimit, WhenFull, GOING_AWAY_REASON, SLOW_MEMBER_REASON,
};
pub use prepared::PreparedMessage;
pub use read_buffer::ReadBufferPool;
pub use send::SendOptions;
pub use state::ReadyState;

use crate::decode::{Decoder, DecoderRules};
use crate::extensions::Codecs;
use crate::frame::OpCode;
use crate::{CloseCode, CloseFrame, Extensions, MessageKind};
use frames_out::FramesOut;
use keepalive::{Keepalive, KeepaliveAction};
use opening::Opening;
use outbound::Outbound;
use state::CloseState;

use crate::Role;

/// A WebSocket connection after the opening handshake, with no I/O of its own.
///
/// Its methods come in four kinds, as in other sans-IO protocol cores:
///
/// * **inputs**: [`receive`](Self::receive) (or [`receive_buffer`](Self::receive_buffer)),
///   [`receive_eof`](Self::receive_eof), [`handle_timeout`](Self::handle_timeout);
/// * **commands**: [`send`](Self::send), [`send_text`](Self::send_text),
///   [`send_binary`](Self::send_binary), [`send_ping`](Self::send_ping),
///   [`send_pong`](Self::send_pong), [`send_fragment`](Self::send_fragment),
///   [`send_frame`](Self::send_frame), [`close`](Self::close);
/// * **outputs**, drained until they return `None`: [`poll_event`](Self::poll_event)
///   (or its zero-copy twin [`poll_event_ref`](Self::poll_event_ref)),
///   [`poll_transmit`](Self::poll_transmit) (or [`transmit_slices`](Self::transmit_slices)
///   or [`lend_transmit_chunks`](Self::lend_transmit_chunks), plus
///   [`advance_transmit`](Self::advance_transmit)), [`poll_timeout`](Self::poll_timeout);
/// * **getters**: [`ready_state`](Self::ready_state),
///   [`should_close_transport`](Self::should_close_transport),
///   [`buffered_amount`](Self::buffered_amount), [`role`](Self::role).
///
/// A driver loops: feed what the transport read, drain `poll_event`, write
/// what `poll_transmit` gives, sleep until `poll_timeout`, and once
/// `should_close_transport` is true and nothing is left to write, close the
/// transport. The crate documentation shows the loop in full.
///
/// ```
/// use ws_proto::{Config, Connection, Event, Role};
/// let mut server = Connection::new(Role::Server, Config::default());
/// // A masked text frame "Hello" from RFC 6455 section 5.7.
/// server.receive(&[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
/// assert_eq!(server.poll_event(), Ok(Some(Event::Text("Hello".into()))));
/// server.send_text("Hi").unwrap();
/// assert_eq!(&server.poll_transmit().unwrap()[..], b"\x81\x02Hi");
/// ```
#[derive(Debug)]
pub struct Connection {
    role: Role,
    /// The size of the next read (see [`read_buffer`]).
    read_growth: read_buffer::ReadGrowth,
    /// The part of the [`Config`] consulted after construction.
    config: Settings,
    read_buf: BytesMut,
    decoder: Decoder,
    outbound: Outbound,
    close: CloseState,
    /// The failure, once there is one (sticky; boxed: rare and large).
    error: Option<Box<Error>>,
    /// The opening handshake, while it runs (boxed: most of a connection's
    /// life comes after it).
    opening: Option<Box<Opening>>,
    /// The kind of the fragmented message being sent with `send_fragment`.
    sending_fragmented: Option<MessageKind>,
    /// Validates text sent piece by piece with `send_fragment` or `send_frame`.
    sending_utf8: crate::Utf8Validator,
    /// Frames sent with `send_frame` (boxed: only frame-level senders need it).
    frames_out: Option<Box<FramesOut>>,
    /// Keepalive timers, only when configured (most connections have none).
    keepalive: Option<Box<Keepalive>>,
    /// The negotiated extensions' codecs (boxed: most connections have
    /// none, and then pay nothing on any message).
    extensions: Option<Box<Codecs>>,
}

impl Connection {
    /// A connection in the open state, for a transport whose opening
    /// handshake happened elsewhere (hyper, axum, an RFC 8441 stream). Pass
    /// any bytes that arrived after the handshake to [`receive`](Self::receive).
    /// To run the handshake in the connection, use [`server`](Self::server)
    /// or [`client`](Self::client).
    ///
    /// ```
    /// use ws_proto::{Config, Connection, ReadyState, Role};
    /// let conn = Connection::new(Role::Server, Config::default());
    /// assert_eq!(conn.ready_state(), ReadyState::Open);
    /// ```
    pub fn new(role: Role, config: Config) -> Self {
        Self::with_extensions(role, config, Extensions::none())
    }

    /// A connection using the extensions the opening handshake agreed on
    /// (see [`handshake`](crate::handshake)).
    ///
    /// ```
    /// use ws_proto::{Config, Connection, DeflateConfig, Event, Extensions, Role};
    /// let agreed = DeflateConfig::default().negotiate(["permessage-deflate"].into_iter());
    /// let mut server = Connection::with_extensions(Role::Server, Config::default(), Extensions::deflate(agreed.clone()));
    /// let mut client = Connection::with_extensions(Role::Client, Config::default(), Extensions::deflate(agreed));
    /// client.send_text("hello hello hello hello hello hello hello").unwrap();
    /// let wire: Vec<u8> = client.transmit_slices().flatten().copied().collect();
    /// assert!(wire.len() < 20 && wire[0] & 0x40 != 0, "compressed, RSV1 set");
    /// server.receive(&wire);
    /// assert_eq!(server.poll_event(), Ok(Some(Event::Text("hello hello hello hello hello hello hello".into()))));
    /// ```
    pub fn with_extensions(role: Role, config: Config, extensions: Extensions) -> Self {
        let decoder = Decoder::new(DecoderRules {
            role,
            max_frame_size: config.max_frame_size,
            max_message_size: config.max_message_size,
            deliver_fragments: config.deliver_fragments,
            frame_chunk: config.frame_chunk,
            rsv_owned: 0,
        });
        let keepalive = (config.ping_interval.is_some() || config.idle_timeout.is_some())
            .then(|| Box::new(Keepalive::new(config.ping_interval, config.idle_timeout)));
        let mut conn = Self {
            role,
            read_growth: read_buffer::ReadGrowth::default(),
            config: Settings::from(config),
            read_buf: BytesMut::new(),
            decoder,
            outbound: Outbound::default(),
            close: CloseState::default(),
            error: None,
            opening: None,
            sending_fragmented: None,
            sending_utf8: crate::Utf8Validator::new(),
            frames_out: None,
            keepalive,
            extensions: None,
        };
        conn.use_extensions(extensions);
        conn
    }

    /// Sets up what the handshake agreed on: the decoder accepts the
    /// extensions' reserved bits, and each codec learns the role.
    fn use_extensions(&mut self, extensions: Extensions) {
        if extensions.is_empty() {
            return;
        }
        self.decoder.set_rsv_owned(extensions.rsv_bits());
        let mut list = extensions.into_codecs();
        for codec in &mut list {
            codec.set_role(self.role);
        }
        self.extensions = Some(Box::new(Codecs {
            list,
            utf8: crate::Utf8Validator::new(),
        }));
    }

    /// The reserved bits the negotiated extensions own.
    pub(super) fn rsv_owned(&self) -> u8 {
        self.extensions
            .as_ref()
            .map_or(0, |e| e.list.iter().fold(0, |bits, c| bits | c.rsv_bits()))
    }

    /// This end's role.
    ///
    /// ```
    /// # use ws_proto::{Config, Connection, Role};
    /// assert_eq!(Connection::new(Role::Client, Config::default()).role(), Role::Client);
    /// ```
    pub fn role(&self) -> Role {
        self.role
    }

    /// Connecting (the opening handshake runs), open, closing or closed.
    ///
    /// ```
    /// # use ws_proto::{Config, Connection, ReadyState, Role, CloseCode};
    /// let mut conn = Connection::new(Role::Client, Config::default());
    /// conn.close(CloseCode::NORMAL, "done").unwrap();
    /// assert_eq!(conn.ready_state(), ReadyState::Closing);
    /// ```
    pub fn ready_state(&self) -> ReadyState {
        if self.is_connecting() {
            return ReadyState::Connecting;
        }
        self.close.ready_state()
    }

    /// `true` when every running timer is one that only fires while the
    /// peer is quiet (keepalive pings and the idle timeout of an open
    /// connection): a driver may then check [`poll_timeout`](Self::poll_timeout)
    /// only when a read finds nothing, saving a timer check per read while
    /// data flows. `false` while connecting or closing: the handshake and
    /// close timers must be checked before every read, so a peer that keeps
    /// sending cannot hold them off.
    ///
    /// ```
    /// # use ws_proto::{CloseCode, Config, Connection, Role};
    /// let mut conn = Connection::new(Role::Server, Config::default());
    /// assert!(conn.timers_wait_for_quiet());
    /// conn.close(CloseCode::NORMAL, "").unwrap();
    /// assert!(!conn.timers_wait_for_quiet());
    /// assert!(!Connection::server(Config::default()).timers_wait_for_quiet());
    /// ```
    pub fn timers_wait_for_quiet(&self) -> bool {
        self.ready_state() == ReadyState::Open
    }

    /// `true` when the adapter should write out what is queued and then close
    /// the transport: the server right after the close handshake, the client
    /// when the server has closed, after the close timeout, or after a protocol
    /// error (section 7.1.1).
    ///
    /// ```
    /// # use ws_proto::{Config, Connection, Role};
    /// let conn = Connection::new(Role::Server, Config::default());
    /// assert!(!conn.should_close_transport());
    /// ```
    pub fn should_close_transport(&self) -> bool {
        self.close.should_close_transport(self.role)
    }

    // ----- inputs -----

    /// Feeds bytes read from the transport, in any chunking. Bytes arriving
    /// after the peer's close frame or after a failure are discarded.
    ///
    /// ```
    /// # use ws_proto::{Config, Connection, Event, Role};
    /// let mut client = Connection::new(Role::Client, Config::default());
    /// client.receive(&[0x8a]);
    /// assert_eq!(client.poll_event(), Ok(None)); // half a header
    /// client.receive(&[0x00]);
    /// assert_eq!(client.poll_event(), Ok(Some(Event::Pong(Default::default()))));
    /// ```
    pub fn receive(&mut self, data: &[u8]) {
        if self.accepts_input() {
            self.read_buf.extend_from_slice(data);
        }
    }

    /// The read buffer, for adapters that read straight into it (for example
    /// with `tokio::io::AsyncReadExt::read_buf`). Append only: bytes already
    /// in it belong to frames being decoded. After the peer's close frame or a
    /// failure, whatever was appended is discarded at the next call.
    ///
    /// ```
    /// # use ws_proto::{Config, Connection, Event, Role};
    /// let mut client = Connection::new(Role::Client, Config::default());
    /// client.receive_buffer().extend_from_slice(b"\x82\x01\xff");
    /// assert_eq!(client.poll_event(), Ok(Some(Event::Binary(vec![0xff].into()))));
    /// ```
    pub fn receive_buffer(&mut self) -> &mut BytesMut {
        if !self.accepts_input() {
            // Input after the end is discarded, as with `receive`: the buffer
            // never holds more than one read.
            self.read_buf.clear();
        }
        &mut self.read_buf
    }

    /// How many more bytes the frame being read still needs (0 when unknown):
    /// a hint for sizing the next read so a large frame is not read in many
    /// small pieces.
    ///
    /// ```
    /// # use ws_proto::{Config, Connection, Role};
    /// let mut client = Connection::new(Role::Client, Config::default());
    /// client.receive(&[0x82, 0x7e, 0x10, 0x00]); // a 4096-byte frame starts
    /// let _ = client.poll_event();
    /// assert_eq!(client.receive_size_hint(), 4096);
    /// ```
    pub fn receive_size_hint(&self) -> usize {
        self.decoder.bytes_wanted(self.read_buf.len())
    }

    /// The transport's read side ended (the peer closed TCP). If no close
    /// frame came first, [`poll_event`](Self::poll_event) reports
    /// [`Event::Close`] with [`CloseCode::ABNORMAL`] once the buffered frames
    /// have been handed out.
    ///
    /// ```
    /// # use ws_proto::{CloseCode, Config, Connection, Event, Role};
    /// let mut client = Connection::new(Role::Client, Config::default());
    /// client.receive_eof();
    /// match client.poll_event() {
    ///     Ok(Some(Event::Close(frame))) => assert_eq!(frame.code, CloseCode::ABNORMAL),
    ///     other => panic!("{other:?}"),
    /// }
    /// assert!(client.should_close_transport());
    /// ```
    pub fn receive_eof(&mut self) {
        self.close.eof = true;
        self.close.deadline = None;
    }

    /// Tells the connection the time is `now`: an expired close timer ends
    /// the connection (reported as [`CloseCode::ABNORMAL`] if the peer's close
    /// frame never came). Calling it early does nothing.
    ///
    /// ```
    /// # use ws_proto::{CloseCode, Config, Connection, Event, Role, ReadyState};
    /// # use std::time::{Duration, Instant};
    /// let mut conn = Connection::new(Role::Server, Config::default());
    /// let start = Instant::now();
    /// conn.close(CloseCode::NORMAL, "").unwrap();
    /// let deadline = conn.poll_timeout(start).unwrap();
    /// conn.handle_timeout(deadline);
    /// assert_eq!(conn.ready_state(), ReadyState::Closed);
    /// assert!(matches!(conn.poll_event(), Ok(Some(Event::Close(f))) if f.code == CloseCode::ABNORMAL));
    /// ```
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.is_connecting() {
            return self.opening_timeout(now);
        }
        if self.ready_state() == ReadyState::Open {
            let action = match &mut self.keepalive {
                Some(k) => k.on_timeout(now),
                None => KeepaliveAction::None,
            };
            match action {
                KeepaliveAction::None => {}
                KeepaliveAction::SendPing(number) => {
                    let payload = Bytes::copy_from_slice(&number.to_be_bytes());
                    self.push_control(OpCode::Ping, payload);
                }
                KeepaliveAction::GiveUp => {
                    // The peer is gone or stuck: tell it we are leaving (it
                    // may never read this) and end without waiting for a reply.
                    let payload = CloseFrame::new(CloseCode::GOING_AWAY, "idle timeout").encode();
                    self.push_control(OpCode::Close, payload);
                    self.close.sent = true;
                    self.close.timed_out = true;
                    self.close.abnormal_reason = "idle timeout: nothing received from the peer";
                    self.read_buf = BytesMut::new();
                    return;
                }
            }
        }
        let Some(deadline) = self.close.deadline else {
            return;
        };
        if now < deadline {
            return;
        }
        self.close.deadline = None;
        if self.close.timer_wanted(self.role) {
            self.close.timed_out = true;
            if !self.close.received {
                self.close.abnormal_reason =
                    "close timeout: the peer did not answer our close frame";
            }
            self.read_buf = BytesMut::new();
        }
        if self.should_close_transport() {
            // The peer has not taken our last frames within the close timeout:
            // give up on them so the transport can be closed.
            self.outbound.clear();
        }
    }

    // ----- outputs -----

    /// The next event, or `Ok(None)` when the buffered bytes hold no complete
    /// one. Call it until it returns `Ok(None)` after every input.
    ///
    /// On a protocol violation the close frame with the matching code is
    /// queued, the connection becomes [`ReadyState::Closed`], and the error is
    /// returned from now on.
    ///
    /// ```
    /// # use ws_proto::{CloseCode, Config, Connection, Error, ProtocolError, Role};
    /// let mut server = Connection::new(Role::Server, Config::default());
    /// server.receive(&[0x81, 0x00]); // unmasked: servers require masks
    /// let err = server.poll_event().unwrap_err();
    /// assert_eq!(err, Error::Protocol(ProtocolError::UnmaskedFrameFromClient));
    /// let close = server.poll_transmit().unwrap();
    /// assert_eq!((close[0], &close[2..4]), (0x88, &1002u16.to_be_bytes()[..]));
    /// assert!(server.should_close_transport());
    /// ```
    #[inline]
    pub fn poll_event(&mut self) -> Result<Option<Event>, Error> {
        match self.poll_ready()? {
            Some(ready) => Ok(Some(self.owned_event(ready))),
            None => Ok(None),
        }
    }

    /// Takes the next chunk of bytes to write to the transport.
    ///
    /// ```
    /// # use ws_proto::{Config, Connection, Role};
    /// let mut server = Connection::new(Role::Server, Config::default());
    /// server.send_binary(vec![1, 2, 3]).unwrap();
    /// assert_eq!(&server.poll_transmit().unwrap()[..], &[0x82, 3, 1, 2, 3]);
    /// assert_eq!(server.poll_transmit(), None);
    /// ```
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.outbound.pop()
    }

    /// The bytes waiting to be written, as slices in order, for a vectored
    /// write; follow it with [`advance_transmit`](Self::advance_transmit).
    ///
    /// ```
    /// # use ws_proto::{Config, Connection, Role};
    /// let mut server = Connection::new(Role::Server, Config::default());
    /// server.send_text("a").unwrap();
    /// server.send_text("b").unwrap();
    /// let pending: Vec<u8> = server.transmit_slices().flatten().copied().collect();
    /// assert_eq!(pending, b"\x81\x01a\x81\x01b");
    /// server.advance_transmit(3);
    /// assert_eq!(server.buffered_amount(), 3);
    /// ```
    pub fn transmit_slices(&self) -> impl Iterator<Item = &[u8]> {
        self.outbound.slices()
    }

    /// Lends the front of the queue as owned chunks, without copying, for
    /// drivers whose writes complete later (io_uring, IOCP): pushes onto
    /// `out`, oldest first, clones of the queued chunks (reference-counted,
    /// not copied), at most `max_bytes` in all (the last one possibly cut)
    /// and at most `max_chunks` of them, and returns how many bytes it lent.
    ///
    /// Nothing leaves the queue: the lent bytes are still queued, counted by
    /// [`buffered_amount`](Self::buffered_amount) (and by the linger timer),
    /// and lent again by the next call, until
    /// [`advance_transmit`](Self::advance_transmit) marks them written, so
    /// call it with the count the write reports (a partial write included).
    /// Keep one write in flight at a time.
    ///
    /// The lent bytes never move: what is queued after this call goes into
    /// fresh room, and the chunks stay valid while `out` holds them, even
    /// if the queue advances past them or is dropped.
    ///
    /// ```
    /// # use ws_proto::{Config, Connection, Role};
    /// let mut server = Connection::new(Role::Server, Config::default());
    /// server.send_text("a").unwrap();
    /// let mut lent = Vec::new();
    /// assert_eq!(server.lend_transmit_chunks(usize::MAX, 64, &mut lent), 3);
    /// server.send_text("b").unwrap(); // not lent, and does not move `lent`
    /// assert_eq!(&lent[0][..], b"\x81\x01a");
    /// assert_eq!(server.buffered_amount(), 6);
    /// // The write completes: it took 2 of the 3 bytes.
    /// server.advance_transmit(2);
    /// lent.clear();
    /// server.lend_transmit_chunks(usize::MAX, 64, &mut lent);
    /// let rest: Vec<u8> = lent.iter().flat_map(|c| c.iter().copied()).collect();
    /// assert_eq!(rest, b"a\x81\x01b");
    /// ```
    pub fn lend_transmit_chunks(
        &mut self,
        max_bytes: usize,
        max_chunks: usize,
        out: &mut Vec<Bytes>,
    ) -> usize {
        self.outbound.lend(max_bytes, max_chunks, out)
    }

    /// Marks the first `n` bytes of [`transmit_slices`](Self::transmit_slices) as written.
    ///
    /// ```
    /// # use ws_proto::{Config, Connection, Role};
    /// let mut server = Connection::new(Role::Server, Config::default());
    /// server.send_text("abc").unwrap();
    /// server.advance_transmit(5);
    /// assert_eq!(server.buffered_amount(), 0);
    /// ```
    pub fn advance_transmit(&mut self, n: usize) {
        self.outbound.advance(n);
    }

    /// Bytes queued for the transport and not yet taken, for backpressure
    /// (like the browser's `WebSocket.bufferedAmount`).
    ///
    /// ```
    /// # use ws_proto::{Config, Connection, Role};
    /// let mut server = Connection::new(Role::Server, Config::default());
    /// server.send_binary(vec![0; 10]).unwrap();
    /// assert_eq!(server.buffered_amount(), 12);
    /// ```
    pub fn buffered_amount(&self) -> usize {
        self.outbound.buffered()
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called,
    /// given that it is `now`; `None` when no timer runs. A timer starts at the
    /// first call that finds it needed, so call this after every round of
    /// inputs and commands. Two timers use the close timeout: waiting for the
    /// peer's close frame (or, as a client, for the server to close the
    /// transport), and lingering while the last queued bytes are written once
    /// the transport should close; when the latter expires the queue is dropped.
    ///
    /// ```
    /// # use ws_proto::{CloseCode, Config, Connection, Role};
    /// # use std::time::{Duration, Instant};
    /// let mut conn = Connection::new(Role::Client, Config::default().close_timeout(Duration::from_secs(1)));
    /// let now = Instant::now();
    /// assert_eq!(conn.poll_timeout(now), None);
    /// conn.close(CloseCode::NORMAL, "").unwrap();
    /// assert_eq!(conn.poll_timeout(now), Some(now + Duration::from_secs(1)));
    /// ```
    pub fn poll_timeout(&mut self, now: Instant) -> Option<Instant> {
        if self.is_connecting() {
            return self.opening_deadline(now);
        }
        // The close timer, or the linger timer: the transport should close
        // but the peer has not yet taken what is queued.
        let lingering = self.should_close_transport() && self.outbound.buffered() > 0;
        let close = if self.close.timer_wanted(self.role) || lingering {
            // A timeout past the end of time (`Duration::MAX`) never fires.
            if self.close.deadline.is_none() {
                self.close.deadline = crate::time::later(now, self.config.close_timeout);
            }
            self.close.deadline
        } else {
            self.close.deadline = None;
            None
        };
        let open = self.ready_state() == ReadyState::Open;
        let keepalive = match &mut self.keepalive {
            Some(k) if open => k.deadline(now),
            _ => None,
        };
        match (close, keepalive) {
            (Some(c), Some(k)) => Some(c.min(k)),
            (c, k) => c.or(k),
        }
    }

    // ----- internals -----

    /// Whether received bytes can still matter: not after the peer's close
    /// frame, a failure, a timeout, or the abnormal-close event after EOF
    /// (frames buffered before EOF are still decoded until then).
    fn accepts_input(&self) -> bool {
        self.error.is_none()
            && !self.close.received
            && !self.close.timed_out
            && !self.close.reported
    }
}

#[cfg(test)]
mod size_guard {
    /// Servers hold many idle connections: what is not needed until a rare
    /// feature is used (compression, keepalive, fragmented messages, masking
    /// randomness) is boxed, so an idle connection stays small.
    #[test]
    fn an_idle_connection_stays_small() {
        let size = core::mem::size_of::<super::Connection>();
        assert!(size <= 320, "Connection grew to {size} bytes");
    }

    /// Events are returned by value on the hot path: a larger event (or a
    /// variant whose fields move the tag into a niche, as an unboxed
    /// `Event::Frame` did) costs message mode instructions per message.
    #[test]
    fn events_stay_small() {
        use core::mem::size_of;
        type Polled<T> = Result<Option<T>, super::Error>;
        assert!(size_of::<Polled<super::Event>>() <= 48);
        assert!(size_of::<Polled<super::EventRef<'static>>>() <= 48);
        assert!(size_of::<super::receive::Ready>() <= 48);
    }
}
