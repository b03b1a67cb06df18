//! Connection settings.

#[allow(unused_imports)]
use crate::prelude::*;
use core::time::Duration;

use crate::handshake::{HandshakeConfig, Limits};
use crate::Randomness;

/// Settings for a [`Connection`](crate::Connection). Start from
/// [`Config::default`] and change what you need; every setter takes any value
/// without panicking (out-of-range values are clamped as documented).
///
/// ```
/// use ws_proto::Config;
/// use std::time::Duration;
/// let config = Config::default()
///     .max_message_size(1 << 20)
///     .max_frame_size(1 << 16)
///     .close_timeout(Duration::from_secs(2));
/// assert_eq!(config.get_max_message_size(), 1 << 20);
/// ```
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) max_frame_size: usize,
    pub(crate) max_message_size: usize,
    pub(crate) auto_pong: bool,
    pub(crate) auto_close_reply: bool,
    pub(crate) auto_failure_close: bool,
    pub(crate) deliver_fragments: bool,
    /// Frame mode's chunk size; 0 when off.
    pub(crate) frame_chunk: usize,
    pub(crate) max_send_frame_size: usize,
    pub(crate) close_timeout: Duration,
    pub(crate) ping_interval: Option<Duration>,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) randomness: Randomness,
    /// The opening handshake's own settings (timeout, limits, deflate
    /// preferences): used while the connection is
    /// [`Connecting`](crate::ReadyState::Connecting), dropped once it opens.
    pub(crate) handshake: HandshakeConfig,
}

/// What a [`Connection`](crate::Connection) still consults after it is built:
/// the frame and message limits went to the decoder, the keepalive durations to the
/// keepalive timers (only allocated when configured) and the rest is only read
/// at construction. Keeping this subset instead of the whole `Config` saves
/// every connection about 70 bytes.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) max_send_frame_size: usize,
    pub(crate) close_timeout: Duration,
    pub(crate) randomness: Randomness,
    pub(crate) auto_pong: bool,
    pub(crate) auto_close_reply: bool,
    pub(crate) auto_failure_close: bool,
}

impl From<Config> for Settings {
    fn from(config: Config) -> Self {
        Self {
            max_send_frame_size: config.max_send_frame_size,
            close_timeout: config.close_timeout,
            randomness: config.randomness,
            auto_pong: config.auto_pong,
            auto_close_reply: config.auto_close_reply,
            auto_failure_close: config.auto_failure_close,
        }
    }
}

#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
impl Default for Config {
    /// 16 MiB frames, 64 MiB messages, automatic pongs, whole messages,
    /// unfragmented sends, a 5 s close timeout, no keepalive pings, no idle
    /// timeout, a 10 s handshake timeout, OS randomness, and
    /// permessage-deflate offered (client) and accepted (server) with its defaults.
    fn default() -> Self {
        Self::new(Randomness::os())
    }
}

impl Config {
    /// The default settings with an explicit source of randomness; what
    /// [`Config::default`] uses with the OS generator, and the constructor
    /// for `no_std` targets, which must bring their own.
    ///
    /// ```
    /// let c = ws_proto::Config::new(ws_proto::Randomness::seeded(7));
    /// assert_eq!(c.get_max_frame_size(), 16 << 20);
    /// ```
    pub fn new(randomness: Randomness) -> Self {
        Self {
            max_frame_size: 16 << 20,
            max_message_size: 64 << 20,
            auto_pong: true,
            auto_close_reply: true,
            auto_failure_close: true,
            deliver_fragments: false,
            frame_chunk: 0,
            max_send_frame_size: usize::MAX,
            close_timeout: Duration::from_secs(5),
            ping_interval: None,
            idle_timeout: None,
            randomness,
            handshake: HandshakeConfig::default(),
        }
    }

    /// The largest frame payload accepted from the peer; a larger one is
    /// refused with 1009 as soon as its header arrives.
    ///
    /// ```
    /// let c = ws_proto::Config::default().max_frame_size(4096);
    /// assert_eq!(c.get_max_frame_size(), 4096);
    /// ```
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.max_frame_size = bytes;
        self
    }

    /// The largest message accepted from the peer (after decompression, with
    /// permessage-deflate); checked before the bytes are buffered, 1009 if exceeded.
    ///
    /// ```
    /// let c = ws_proto::Config::default().max_message_size(1 << 20);
    /// assert_eq!(c.get_max_message_size(), 1 << 20);
    /// ```
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Answer every ping with a pong automatically (default `true`).
    ///
    /// ```
    /// let c = ws_proto::Config::default().auto_pong(false);
    /// # let _ = c;
    /// ```
    pub fn auto_pong(mut self, enabled: bool) -> Self {
        self.auto_pong = enabled;
        self
    }

    /// Answer the peer's close frame with one of ours automatically (default
    /// `true`), echoing its code and reason (RFC 6455 section 5.5.1). Turn
    /// it off to choose the answer yourself, as a proxy does that forwards
    /// the close to the other side and relays that side's answer: the
    /// connection is then [`Closing`](crate::ReadyState::Closing) until you
    /// send a close frame ([`Connection::close`](crate::Connection::close)
    /// or [`Connection::send_frame`](crate::Connection::send_frame)), and
    /// the close timeout ends it if you never do.
    ///
    /// ```
    /// let c = ws_proto::Config::default().auto_close_reply(false);
    /// # let _ = c;
    /// ```
    pub fn auto_close_reply(mut self, enabled: bool) -> Self {
        self.auto_close_reply = enabled;
        self
    }

    /// Send the close frame of a protocol error at once (default `true`):
    /// the peer broke the protocol, so the connection fails with the
    /// error's code (RFC 6455 section 7.1.7). Turn it off in a relay, which
    /// first passes the failure on to the other side and hands the peer
    /// what that side still sends, then the other side's close: on a
    /// protocol error the error is reported once and nothing more is read,
    /// as if the peer's close frame had come; the connection is
    /// [`Closing`](crate::ReadyState::Closing), frames can still be sent,
    /// and it ends when you send a close frame (with the error's
    /// [`close_code`](crate::ProtocolError::close_code), or the one the
    /// other side answered with), or at the close timeout if you never do.
    ///
    /// ```
    /// use ws_proto::{frame::OpCode, Config, Connection, Frame, ReadyState, Role};
    /// let mut relay_leg = Connection::new(Role::Server, Config::default().auto_failure_close(false));
    /// relay_leg.receive(b"\x81\x02hi"); // unmasked: a protocol error
    /// let err = relay_leg.poll_event().unwrap_err();
    /// assert_eq!(relay_leg.poll_transmit(), None, "no close frame yet");
    /// assert_eq!(relay_leg.ready_state(), ReadyState::Closing);
    /// relay_leg.send_frame(Frame::new(true, OpCode::Text, "still in flight")).unwrap();
    /// relay_leg.close(err.close_code().unwrap(), "").unwrap();
    /// assert_eq!(relay_leg.ready_state(), ReadyState::Closed);
    /// assert!(relay_leg.should_close_transport());
    /// ```
    pub fn auto_failure_close(mut self, enabled: bool) -> Self {
        self.auto_failure_close = enabled;
        self
    }

    /// Frame mode: hand out every frame as the peer sent it, as
    /// [`Event::Frame`](crate::Event::Frame) (FIN, reserved bits, opcode,
    /// unmasked payload; control frames between fragments where they came),
    /// instead of messages. A frame longer than `max_chunk` bytes comes in
    /// pieces of `max_chunk` bytes (the last one shorter), each handed out
    /// once it is all there, so at most about `max_chunk` bytes of a frame
    /// are held; control frames (at most 125 bytes) always come whole.
    /// `max_chunk` below 1 is treated as 1. Overrides
    /// [`deliver_fragments`](Self::deliver_fragments).
    ///
    /// Everything message mode checks is checked (masking, reserved bits,
    /// opcodes, control frames, fragmentation order, both size limits,
    /// close codes, UTF-8 of text across its frames) with the same errors
    /// and close codes, with one difference: compressed messages
    /// (permessage-deflate's RSV1) are handed out compressed, as sent, with
    /// RSV1 set, and so their text is not checked and `max_message_size`
    /// counts their compressed bytes. Pings are answered as configured with
    /// [`auto_pong`](Self::auto_pong) and close frames as configured with
    /// [`auto_close_reply`](Self::auto_close_reply); a proxy turns both off
    /// and forwards them. Frames are sent with
    /// [`Connection::send_frame`](crate::Connection::send_frame) (in any mode).
    ///
    /// ```
    /// let proxy_leg = ws_proto::Config::default()
    ///     .deliver_frames(64 * 1024)
    ///     .auto_pong(false)
    ///     .auto_close_reply(false);
    /// # let _ = proxy_leg;
    /// ```
    pub fn deliver_frames(mut self, max_chunk: usize) -> Self {
        self.frame_chunk = max_chunk.max(1);
        self
    }

    /// Hand out data as [`Event::Fragment`](crate::Event::Fragment)s as soon as
    /// bytes arrive, instead of whole messages (default `false`). For proxies
    /// and messages too large to buffer. The message size limit still applies.
    ///
    /// ```
    /// let c = ws_proto::Config::default().deliver_fragments(true);
    /// # let _ = c;
    /// ```
    pub fn deliver_fragments(mut self, enabled: bool) -> Self {
        self.deliver_fragments = enabled;
        self
    }

    /// Split outgoing messages into frames of at most this many payload bytes
    /// (default: never split). Values below 1 are treated as 1.
    ///
    /// ```
    /// let c = ws_proto::Config::default().max_send_frame_size(64 * 1024);
    /// # let _ = c;
    /// ```
    pub fn max_send_frame_size(mut self, bytes: usize) -> Self {
        self.max_send_frame_size = bytes.max(1);
        self
    }

    /// How long to wait for the peer's close frame after sending ours, and
    /// (client) for the server to close the transport after the handshake
    /// (default 5 s). See [`Connection::poll_timeout`](crate::Connection::poll_timeout).
    ///
    /// ```
    /// let c = ws_proto::Config::default().close_timeout(std::time::Duration::from_millis(500));
    /// # let _ = c;
    /// ```
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }

    /// Send a ping whenever nothing has arrived from the peer for this long
    /// (default: never). Keeps NAT and proxy mappings alive and, with
    /// [`idle_timeout`](Self::idle_timeout), detects a dead peer.
    ///
    /// ```
    /// let c = ws_proto::Config::default().ping_interval(Some(std::time::Duration::from_secs(20)));
    /// # let _ = c;
    /// ```
    pub fn ping_interval(mut self, every: Option<Duration>) -> Self {
        self.ping_interval = every.filter(|d| !d.is_zero());
        self
    }

    /// Give up on a peer from which nothing (not even a pong) has arrived for
    /// this long (default: never): the peer is sent close code 1001, and the
    /// application sees [`Event::Close`](crate::Event::Close) with code 1006.
    ///
    /// ```
    /// let c = ws_proto::Config::default().idle_timeout(Some(std::time::Duration::from_secs(60)));
    /// # let _ = c;
    /// ```
    pub fn idle_timeout(mut self, limit: Option<Duration>) -> Self {
        self.idle_timeout = limit.filter(|d| !d.is_zero());
        self
    }

    /// How long the opening handshake may take (default 10 s), enforced by
    /// the connection itself with the time it is given: a client that opens
    /// a connection and sends nothing, or sends its headers a byte a minute,
    /// does not hold a server's socket. See [`HandshakeConfig::timeout`].
    ///
    /// ```
    /// let c = ws_proto::Config::default().handshake_timeout(std::time::Duration::from_secs(3));
    /// assert_eq!(c.get_handshake_timeout(), std::time::Duration::from_secs(3));
    /// ```
    pub fn handshake_timeout(mut self, limit: Duration) -> Self {
        self.handshake.timeout = limit;
        self
    }

    /// The opening-handshake timeout.
    ///
    /// ```
    /// assert_eq!(ws_proto::Config::default().get_handshake_timeout(), std::time::Duration::from_secs(10));
    /// ```
    pub fn get_handshake_timeout(&self) -> Duration {
        self.handshake.timeout
    }

    /// The size limits on a client's request head (server role; default
    /// 16 KiB and 64 headers). A larger head is answered with 431.
    ///
    /// ```
    /// use ws_proto::{handshake::Limits, Config};
    /// let c = Config::default().handshake_limits(Limits { max_header_bytes: 4096, max_headers: 32 });
    /// assert_eq!(c.handshake_config().get_limits().max_header_bytes, 4096);
    /// ```
    pub fn handshake_limits(mut self, limits: Limits) -> Self {
        self.handshake.limits = limits;
        self
    }

    /// All of the opening handshake's settings.
    ///
    /// ```
    /// let c = ws_proto::Config::default();
    /// assert_eq!(c.handshake_config().get_timeout(), c.get_handshake_timeout());
    /// ```
    pub fn handshake_config(&self) -> &HandshakeConfig {
        &self.handshake
    }

    /// The close-handshake timeout.
    ///
    /// ```
    /// assert_eq!(ws_proto::Config::default().get_close_timeout(), std::time::Duration::from_secs(5));
    /// ```
    pub fn get_close_timeout(&self) -> Duration {
        self.close_timeout
    }

    /// The source of masking keys (default: the OS generator). Inject
    /// [`Randomness::seeded`] for repeatable tests.
    ///
    /// ```
    /// let c = ws_proto::Config::default().randomness(ws_proto::Randomness::seeded(1));
    /// # let _ = c;
    /// ```
    pub fn randomness(mut self, randomness: Randomness) -> Self {
        self.randomness = randomness;
        self
    }

    /// permessage-deflate preferences: what a client offers and what a server
    /// accepts; `None` turns compression off. The connection itself uses what
    /// the handshake agreed ([`Extensions`](crate::Extensions)).
    ///
    /// ```
    /// use ws_proto::{Config, DeflateConfig};
    /// let off = Config::default().deflate(None);
    /// let frugal = Config::default().deflate(Some(DeflateConfig::default().server_no_context_takeover(true)));
    /// # let _ = (off, frugal);
    /// ```
    #[cfg(feature = "deflate")]
    #[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
    pub fn deflate(mut self, deflate: Option<crate::DeflateConfig>) -> Self {
        self.handshake.deflate = deflate;
        self
    }

    /// Adds an extension a client offers and a server accepts, after
    /// permessage-deflate and those added before it; see
    /// [`NegotiateExtension`](crate::NegotiateExtension) and the
    /// [`extensions`](crate::extensions) module for a whole example.
    ///
    /// ```
    /// use ws_proto::{Config, DeflateConfig};
    /// // permessage-deflate registered as any other extension would be.
    /// let config = Config::default().deflate(None).extension(DeflateConfig::default());
    /// # let _ = config;
    /// ```
    pub fn extension(mut self, extension: impl crate::NegotiateExtension + 'static) -> Self {
        self.handshake = self.handshake.extension(extension);
        self
    }

    /// The permessage-deflate preferences.
    ///
    /// ```
    /// assert!(ws_proto::Config::default().get_deflate().is_some());
    /// ```
    #[cfg(feature = "deflate")]
    #[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
    pub fn get_deflate(&self) -> Option<&crate::DeflateConfig> {
        self.handshake.deflate.as_ref()
    }

    /// The source of randomness, for the opening handshake's key (so a seeded
    /// configuration makes the whole exchange repeatable).
    ///
    /// ```
    /// use ws_proto::{handshake::ClientRequest, Config, Randomness};
    /// let mut config = Config::default().randomness(Randomness::seeded(9));
    /// let (bytes, _) = ClientRequest::from_url("ws://h/").unwrap().into_handshake(config.randomness_mut());
    /// # let _ = bytes;
    /// ```
    pub fn randomness_mut(&mut self) -> &mut Randomness {
        &mut self.randomness
    }

    /// The configured maximum frame size.
    ///
    /// ```
    /// assert_eq!(ws_proto::Config::default().get_max_frame_size(), 16 << 20);
    /// ```
    pub fn get_max_frame_size(&self) -> usize {
        self.max_frame_size
    }

    /// The configured maximum message size.
    ///
    /// ```
    /// assert_eq!(ws_proto::Config::default().get_max_message_size(), 64 << 20);
    /// ```
    pub fn get_max_message_size(&self) -> usize {
        self.max_message_size
    }
}

impl AsRef<HandshakeConfig> for Config {
    fn as_ref(&self) -> &HandshakeConfig {
        &self.handshake
    }
}
