//! Messages encoded once and sent to many connections (fan-out).
//!
//! A server sends frames unmasked, so one encoding of a message serves
//! every connection that sends it the same way. [`PreparedMessage`] holds
//! that encoding, shared by reference count: queueing it on a connection
//! ([`Connection::send_prepared`]) neither re-encodes the frame nor, from
//! 512 bytes on, copies it (shorter frames are copied into the connection's
//! write buffer, which costs less than a reference and keeps a connection's
//! small messages in one contiguous write; measured on the broadcast
//! example at 1,000 clients, sharing 20-byte frames cost 2.7 times the
//! server CPU of copying them, and copying 1 KiB frames 3 times that of
//! sharing them).
//!
//! [`PreparedMessage`]'s documentation weighs sharing compressed copies
//! against context takeover.

#[allow(unused_imports)]
use crate::prelude::*;
use alloc::sync::Arc;

use bytes::{Bytes, BytesMut};

use super::{Connection, Role, SendOptions};
use crate::frame::{FrameHeader, OpCode, MAX_HEADER_LEN};
use crate::{Message, MessageKind, SendError, Utf8Bytes};

/// Prepared frames at least this long are queued by reference; shorter ones
/// are copied into the connection's write buffer, which is cheaper than a
/// reference for a few dozen bytes and lets every small message queued for
/// a connection go out in one contiguous write.
pub(crate) const SHARED_FRAME_MIN: usize = 512;

/// A text or binary message framed once, to send to many connections.
///
/// Cloning is cheap (a reference count). Sending it to a server-role
/// connection queues the shared frame; a client-role connection masks every
/// frame with its own key, so there it is sent like any message.
///
/// # permessage-deflate
///
/// A compressed message can be shared only between connections whose server
/// side starts every message from a fresh context
/// (`server_no_context_takeover`): with context takeover each connection's
/// output depends on what it sent before. So:
///
/// * connections that negotiated `server_no_context_takeover` share one
///   compressed copy per distinct window size and compression level; the
///   prepared message compresses at most once for each such pair, on first
///   use;
/// * connections with context takeover compress the message for themselves,
///   as for any send.
///
/// The trade-off: context takeover compresses a stream of similar messages
/// far better, since each message can refer to the ones before it (on the
/// chat-like JSON lines of `examples/deflate-ratio.rs`, about 180 bytes
/// each: 8.6 times smaller with context takeover, 1.02 times without), but
/// costs one compression per connection per message and a compressor per
/// connection (about 256 KiB with the default 15-bit window). Without it a
/// broadcast costs one compression in all and connections keep no
/// compressor between messages; it pays off for large messages (each one
/// compressible on its own) and costs little for small ones, which gain
/// little. A server that mostly broadcasts should ask for it with
/// [`DeflateConfig::server_no_context_takeover`](crate::DeflateConfig::server_no_context_takeover):
/// the server may require it whether or not the client offered it (RFC 7692
/// section 7.1.1.1).
///
/// # Example
///
/// ```
/// use ws_proto::{Config, Connection, PreparedMessage, Role};
/// let news = PreparedMessage::text("market open");
/// let mut a = Connection::new(Role::Server, Config::default());
/// let mut b = Connection::new(Role::Server, Config::default());
/// a.send_prepared(&news).unwrap();
/// b.send_prepared(&news).unwrap();
/// assert_eq!(&a.poll_transmit().unwrap()[..], b"\x81\x0bmarket open");
/// assert_eq!(a.buffered_amount(), 0);
/// assert_eq!(b.buffered_amount(), 13);
/// ```
#[derive(Clone)]
pub struct PreparedMessage {
    inner: Arc<Inner>,
}

struct Inner {
    kind: MessageKind,
    payload: Bytes,
    compress: bool,
    /// The whole unmasked frame, header and payload, when it is short
    /// enough to be built once and copied or shared from one buffer.
    frame: Option<Bytes>,
    /// Encoded payloads and their reserved bits, one per extensions' shared
    /// key asked for so far ([`Extension::shared_encoding_key`](crate::Extension::shared_encoding_key)).
    #[cfg(feature = "std")]
    compressed: std::sync::Mutex<Vec<(SharedKey, Bytes, u8)>>,
}

/// Payloads up to this many bytes are framed together with their header.
/// Longer ones are shared as they are, after a header of their own.
const WHOLE_FRAME_MAX: usize = 64 * 1024;

impl PreparedMessage {
    /// A text message.
    ///
    /// ```
    /// let m = ws_proto::PreparedMessage::text("hello");
    /// assert_eq!(m.len(), 5);
    /// ```
    pub fn text(text: impl Into<Utf8Bytes>) -> Self {
        Self::build(
            MessageKind::Text,
            text.into().into_bytes(),
            SendOptions::default(),
        )
    }

    /// A binary message.
    ///
    /// ```
    /// let m = ws_proto::PreparedMessage::binary(vec![1, 2, 3]);
    /// assert_eq!(m.kind(), ws_proto::MessageKind::Binary);
    /// ```
    pub fn binary(data: impl Into<Bytes>) -> Self {
        Self::build(MessageKind::Binary, data.into(), SendOptions::default())
    }

    /// A text or binary [`Message`] with per-message options (for example
    /// without compression). Any other message is given back: control
    /// frames are short and fragments belong to one connection.
    ///
    /// ```
    /// use ws_proto::{Message, PreparedMessage, SendOptions};
    /// let raw = PreparedMessage::new(Message::binary(vec![0; 100]), SendOptions::default().compress(false));
    /// assert!(raw.is_ok());
    /// assert!(PreparedMessage::new(Message::Ping(Default::default()), SendOptions::default()).is_err());
    /// ```
    pub fn new(message: Message, options: SendOptions) -> Result<Self, Message> {
        match message {
            Message::Text(text) => Ok(Self::build(MessageKind::Text, text.into_bytes(), options)),
            Message::Binary(data) => Ok(Self::build(MessageKind::Binary, data, options)),
            other => Err(other),
        }
    }

    fn build(kind: MessageKind, payload: Bytes, options: SendOptions) -> Self {
        let frame = (payload.len() <= WHOLE_FRAME_MAX).then(|| {
            let header = FrameHeader::new(true, opcode(kind), None, payload.len() as u64);
            let mut head = [0u8; MAX_HEADER_LEN];
            let n = header.encode(&mut head);
            let mut frame = BytesMut::with_capacity(n + payload.len());
            frame.extend_from_slice(&head[..n]);
            frame.extend_from_slice(&payload);
            frame.freeze()
        });
        Self {
            inner: Arc::new(Inner {
                kind,
                compress: options.compress_enabled(),
                payload,
                frame,
                #[cfg(feature = "std")]
                compressed: std::sync::Mutex::new(Vec::new()),
            }),
        }
    }

    /// Text or binary.
    ///
    /// ```
    /// assert_eq!(ws_proto::PreparedMessage::text("x").kind(), ws_proto::MessageKind::Text);
    /// ```
    pub fn kind(&self) -> MessageKind {
        self.inner.kind
    }

    /// The payload as given (uncompressed).
    ///
    /// ```
    /// assert_eq!(&ws_proto::PreparedMessage::text("hi").payload()[..], b"hi");
    /// ```
    pub fn payload(&self) -> &Bytes {
        &self.inner.payload
    }

    /// The payload's length in bytes.
    ///
    /// ```
    /// assert_eq!(ws_proto::PreparedMessage::binary(vec![0; 7]).len(), 7);
    /// ```
    pub fn len(&self) -> usize {
        self.inner.payload.len()
    }

    /// Whether the payload is empty.
    ///
    /// ```
    /// assert!(ws_proto::PreparedMessage::text("").is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.inner.payload.is_empty()
    }

    /// The message as a [`Message`] (sharing the payload).
    ///
    /// ```
    /// use ws_proto::{Message, PreparedMessage};
    /// assert_eq!(PreparedMessage::text("hi").to_message(), Message::text("hi"));
    /// ```
    pub fn to_message(&self) -> Message {
        match self.inner.kind {
            // Built from `Utf8Bytes` (text) and never changed.
            // SAFETY: a text message's payload was a `Utf8Bytes` when it was
            // prepared, and the payload is never changed.
            MessageKind::Text => Message::Text(unsafe {
                Utf8Bytes::from_bytes_unchecked(self.inner.payload.clone())
            }),
            MessageKind::Binary => Message::Binary(self.inner.payload.clone()),
        }
    }

    /// How many compressed copies have been made so far: at most one per
    /// distinct window size and level among the connections that share them.
    ///
    /// ```
    /// assert_eq!(ws_proto::PreparedMessage::text("hi").compressed_copies(), 0);
    /// ```
    pub fn compressed_copies(&self) -> usize {
        #[cfg(feature = "std")]
        {
            let copies = lock(&self.inner.compressed);
            copies.iter().filter(|(_, _, rsv)| *rsv != 0).count()
        }
        #[cfg(not(feature = "std"))]
        0
    }

    /// The payload as extensions with `key` encode it, made once per key
    /// (with `encode` on the first connection that asks).
    #[cfg(feature = "std")]
    fn encoded(&self, key: SharedKey, encode: impl FnOnce(Bytes) -> (Bytes, u8)) -> (Bytes, u8) {
        let mut copies = lock(&self.inner.compressed);
        if let Some((_, bytes, rsv)) = copies.iter().find(|(k, _, _)| *k == key) {
            return (bytes.clone(), *rsv);
        }
        let (bytes, rsv) = encode(self.inner.payload.clone());
        copies.push((key, bytes.clone(), rsv));
        (bytes, rsv)
    }
}

/// What a shared encoding depends on: each extension's name and key.
#[cfg(feature = "std")]
type SharedKey = Vec<(String, u64)>;

#[cfg(feature = "std")]
fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The cache is only pushed to after an encoding completes, so a panic
    // elsewhere cannot leave it half-written.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl core::fmt::Debug for PreparedMessage {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PreparedMessage")
            .field("kind", &self.inner.kind)
            .field("len", &self.inner.payload.len())
            .field("compress", &self.inner.compress)
            .finish()
    }
}

fn opcode(kind: MessageKind) -> OpCode {
    match kind {
        MessageKind::Text => OpCode::Text,
        MessageKind::Binary => OpCode::Binary,
    }
}

impl Connection {
    /// Queues a prepared message, with the same ordering, backpressure
    /// accounting ([`buffered_amount`](Self::buffered_amount)) and close rules
    /// as [`send`](Self::send).
    ///
    /// A server queues the shared frame as it is, unless the message needs
    /// more than one frame here
    /// ([`Config::max_send_frame_size`](crate::Config::max_send_frame_size))
    /// or is compressed with this connection's own context (see the
    /// [`PreparedMessage`] documentation on permessage-deflate). A client masks
    /// the payload with a fresh key, as for any send.
    ///
    /// ```
    /// use ws_proto::{CloseCode, Config, Connection, PreparedMessage, Role, SendError};
    /// let mut server = Connection::new(Role::Server, Config::default());
    /// server.close(CloseCode::GOING_AWAY, "").unwrap();
    /// assert_eq!(server.send_prepared(&PreparedMessage::text("late")), Err(SendError::CloseSent));
    /// ```
    pub fn send_prepared(&mut self, message: &PreparedMessage) -> Result<(), SendError> {
        self.check_can_send()?;
        if self.sending_fragmented.is_some() {
            return Err(SendError::FragmentOutOfOrder);
        }
        let inner = &*message.inner;
        let options = SendOptions::default().compress(inner.compress);
        if self.role == Role::Client {
            return self.send_data(opcode(inner.kind), inner.payload.clone(), options);
        }
        if let Some(codecs) = &mut self.extensions {
            #[cfg(not(feature = "std"))]
            let _ = codecs;
            if inner.compress {
                #[cfg(feature = "std")]
                if let Some(key) = codecs.shared_key() {
                    // State-free encodings: one per key, shared.
                    let (payload, rsv) =
                        message.encoded(key, |payload| codecs.encode(inner.kind, payload));
                    if rsv != 0 {
                        self.push_payload(opcode(inner.kind), payload, rsv);
                        return Ok(());
                    }
                    // Left as it is (under deflate's threshold): the
                    // shared frame below serves.
                } else {
                    // This connection's own stream (context takeover).
                    return self.send_data(opcode(inner.kind), inner.payload.clone(), options);
                }
                #[cfg(not(feature = "std"))]
                return self.send_data(opcode(inner.kind), inner.payload.clone(), options);
            }
        }
        match &inner.frame {
            Some(frame) if inner.payload.len() <= self.config.max_send_frame_size => {
                self.outbound.push_encoded(frame, SHARED_FRAME_MIN);
            }
            _ => self.push_payload(opcode(inner.kind), inner.payload.clone(), 0),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Config, Event};

    fn wire(conn: &mut Connection) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(chunk) = conn.poll_transmit() {
            out.extend_from_slice(&chunk);
        }
        out
    }

    #[test]
    fn the_same_bytes_as_a_plain_send_for_every_size() {
        for len in [0, 1, 125, 126, 511, 512, 4095, 4096, 65535, 65536, 70_000] {
            let payload = Bytes::from(vec![b'a'; len]);
            let mut plain = Connection::new(Role::Server, Config::default());
            plain.send_binary(payload.clone()).unwrap();
            let mut prepared = Connection::new(Role::Server, Config::default());
            let message = PreparedMessage::binary(payload);
            prepared.send_prepared(&message).unwrap();
            assert_eq!(prepared.buffered_amount(), plain.buffered_amount());
            assert_eq!(wire(&mut prepared), wire(&mut plain), "len {len}");
        }
    }

    #[test]
    fn large_frames_are_shared_not_copied() {
        let message = PreparedMessage::binary(vec![7u8; 1000]);
        let mut conn = Connection::new(Role::Server, Config::default());
        conn.send_prepared(&message).unwrap();
        let queued = conn.transmit_slices().next().unwrap().as_ptr();
        assert_eq!(queued, message.inner.frame.as_ref().unwrap().as_ptr());
    }

    #[test]
    fn ordering_with_other_sends_is_kept() {
        let mut conn = Connection::new(Role::Server, Config::default());
        conn.send_text("a").unwrap();
        conn.send_prepared(&PreparedMessage::binary(vec![1u8; 600]))
            .unwrap();
        conn.send_text("b").unwrap();
        let bytes = wire(&mut conn);
        assert_eq!(&bytes[..3], b"\x81\x01a");
        assert_eq!(&bytes[bytes.len() - 3..], b"\x81\x01b");
    }

    #[test]
    fn a_client_masks_and_the_peer_reads_it() {
        let message = PreparedMessage::text("from the client");
        let mut client = Connection::new(Role::Client, Config::default());
        client.send_prepared(&message).unwrap();
        let bytes = wire(&mut client);
        assert_ne!(bytes[1] & 0x80, 0, "masked");
        let mut server = Connection::new(Role::Server, Config::default());
        server.receive(&bytes);
        assert_eq!(
            server.poll_event(),
            Ok(Some(Event::Text("from the client".into())))
        );
    }

    #[test]
    fn frames_over_the_connection_limit_are_split_like_any_send() {
        let config = Config::default().max_send_frame_size(100);
        let payload = Bytes::from(vec![3u8; 250]);
        let mut plain = Connection::new(Role::Server, config.clone());
        plain.send_binary(payload.clone()).unwrap();
        let mut prepared = Connection::new(Role::Server, config);
        prepared
            .send_prepared(&PreparedMessage::binary(payload))
            .unwrap();
        assert_eq!(wire(&mut prepared), wire(&mut plain));
    }

    #[test]
    fn not_while_a_fragmented_message_is_being_sent() {
        let mut conn = Connection::new(Role::Server, Config::default());
        conn.send_fragment(crate::Fragment {
            kind: MessageKind::Text,
            data: Bytes::from_static(b"he"),
            is_first: true,
            is_last: false,
        })
        .unwrap();
        assert_eq!(
            conn.send_prepared(&PreparedMessage::text("x")),
            Err(SendError::FragmentOutOfOrder)
        );
    }
}

#[cfg(all(test, feature = "deflate"))]
mod deflate_tests {
    use super::*;
    use crate::{Config, DeflateConfig, Event, Extensions};

    /// A server and a client that agreed on `offer` against `server_config`.
    fn pair(offer: &str, server_config: DeflateConfig) -> (Connection, Connection) {
        let agreed = server_config.negotiate([offer].into_iter());
        let server = Connection::with_extensions(
            Role::Server,
            Config::default(),
            Extensions::deflate(agreed.clone()),
        );
        let client = Connection::with_extensions(
            Role::Client,
            Config::default(),
            Extensions::deflate(agreed),
        );
        (server, client)
    }

    fn deliver(server: &mut Connection, client: &mut Connection) -> Vec<u8> {
        let mut wire = Vec::new();
        while let Some(bytes) = server.poll_transmit() {
            wire.extend_from_slice(&bytes);
            client.receive(&bytes);
        }
        wire
    }

    const LINE: &str = "{\"user\":\"ada\",\"text\":\"hello everyone, hello everyone\"}";

    #[test]
    fn no_context_takeover_members_share_one_compressed_copy() {
        let message = PreparedMessage::text(LINE);
        let mut wires = Vec::new();
        for offer in [
            "permessage-deflate; server_no_context_takeover",
            "permessage-deflate",
        ] {
            // The server asks for no context takeover whatever the offer.
            let config = DeflateConfig::default().server_no_context_takeover(true);
            let (mut server, mut client) = pair(offer, config);
            for _ in 0..3 {
                server.send_prepared(&message).unwrap();
                let wire = deliver(&mut server, &mut client);
                assert_ne!(wire[0] & 0x40, 0, "RSV1: compressed");
                assert!(wire.len() < LINE.len());
                assert_eq!(client.poll_event(), Ok(Some(Event::Text(LINE.into()))));
                wires.push(wire);
            }
        }
        assert_eq!(message.compressed_copies(), 1);
        assert!(wires.windows(2).all(|w| w[0] == w[1]), "the same bytes");
    }

    #[test]
    fn one_copy_per_window_size_and_level() {
        let message = PreparedMessage::text(LINE);
        let configs = [
            DeflateConfig::default().server_no_context_takeover(true),
            DeflateConfig::default()
                .server_no_context_takeover(true)
                .server_max_window_bits(10),
            DeflateConfig::default()
                .server_no_context_takeover(true)
                .level(6),
            DeflateConfig::default().server_no_context_takeover(true),
        ];
        for config in configs {
            let (mut server, mut client) = pair("permessage-deflate", config);
            server.send_prepared(&message).unwrap();
            deliver(&mut server, &mut client);
            assert_eq!(client.poll_event(), Ok(Some(Event::Text(LINE.into()))));
        }
        assert_eq!(message.compressed_copies(), 3);
    }

    #[test]
    fn context_takeover_members_compress_for_themselves() {
        let message = PreparedMessage::text(LINE);
        let (mut server, mut client) = pair("permessage-deflate", DeflateConfig::default());
        let mut sizes = Vec::new();
        for _ in 0..2 {
            server.send_prepared(&message).unwrap();
            sizes.push(deliver(&mut server, &mut client).len());
            assert_eq!(client.poll_event(), Ok(Some(Event::Text(LINE.into()))));
        }
        assert_eq!(message.compressed_copies(), 0);
        // The second copy refers back to the first.
        assert!(sizes[1] < sizes[0], "{sizes:?}");
    }

    #[test]
    fn short_and_uncompressed_messages_are_not_compressed() {
        let (mut server, mut client) = pair(
            "permessage-deflate",
            DeflateConfig::default().server_no_context_takeover(true),
        );
        let short = PreparedMessage::text("hi");
        let raw = PreparedMessage::new(Message::text(LINE), SendOptions::default().compress(false))
            .unwrap();
        server.send_prepared(&short).unwrap();
        server.send_prepared(&raw).unwrap();
        let wire = deliver(&mut server, &mut client);
        assert_eq!(&wire[..4], b"\x81\x02hi");
        assert_eq!(wire[4], 0x81, "no RSV1");
        assert_eq!(client.poll_event(), Ok(Some(Event::Text("hi".into()))));
        assert_eq!(client.poll_event(), Ok(Some(Event::Text(LINE.into()))));
        assert_eq!(short.compressed_copies() + raw.compressed_copies(), 0);
    }
}
