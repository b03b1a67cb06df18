//! The random-operations driver behind `server_connection` and
//! `client_connection`: a configuration plus a list of inputs, commands,
//! outputs and timer calls, applied to one `Connection` while a model
//! predicts what it must do.
//!
//! The model is small and follows the documented contract, not the code:
//!
//! * every command's result (`Ok`, `CloseSent`, `Closed`, `FragmentOutOfOrder`,
//!   `ControlPayloadTooLong`, `InvalidCloseCode`);
//! * every frame written, in order: what was sent (split by
//!   `max_send_frame_size`), automatic pongs, the echo of the peer's close,
//!   and the close frame a protocol error queues (checked by code);
//! * `ready_state`, `should_close_transport` and whether `poll_timeout` runs
//!   a timer, from the facts "close sent", "close received", "failed",
//!   "EOF", "timed out".
//!
//! Keepalive (`ping_interval`, `idle_timeout`, small or off) is modelled by
//! [`crate::keepalive`]: `poll_timeout` is the earlier of the close timers
//! and the keepalive deadline, and `handle_timeout` sends the numbered ping
//! or gives up (close 1001, then `Event::Close` 1006) exactly when due. Time
//! moves as an adapter moves it (`Op::Sleep`: until the deadline
//! `poll_timeout` gave, less, a little late, or by any step from 0 to
//! centuries); after `handle_timeout(now)` no deadline lies before `now`,
//! and a deadline that was not due stays where it was.
//!
//! With `Setup::Handshake` the connection is opened by the real handshake
//! against a second ws-proto connection (the peer), each side with its own
//! permessage-deflate preferences ([`crate::peer`]). Everything the
//! connection writes is fed to the peer, which must decode it without error
//! and see exactly the messages sent (compressed or not); what the peer sends
//! is delivered on request, and while nothing else was injected the
//! connection must see exactly the peer's messages. Corrupted peer bytes
//! (compressed or not) end in an error with code 1002, 1007 or 1009, never a
//! panic.
//!
//! Beyond the model: at most one close frame and nothing after it, every
//! written frame well-formed for the role ([`crate::wire`]), every event
//! well-formed ([`crate::events`]), nothing after `Event::Close`, sticky
//! errors, `buffered_amount()` equal to the bytes pending, and `ready_state`
//! never moving backwards.

use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use bytes::Bytes;
use ws_proto::{
    CloseCode, CloseFrame, Config, Connection, Error, Event, Fragment, MessageKind, ProtocolError,
    Randomness, ReadyState, Role, SendError,
};

use crate::events::{EventChecker, Logical};
use crate::frames::{encode_frame, LengthForm};
use crate::keepalive::{Action, KeepaliveModel};
use crate::peer::Handshake;
use crate::wire::{OutputTracker, WireFrame};

/// A keepalive duration: `ms % 1024` milliseconds, except two huge ones,
/// `Duration::MAX` (past the end of `Instant`) and 2^39 s (within the
/// driver's horizon).
fn keepalive_duration(ms: u16) -> Duration {
    match ms {
        0xffff => Duration::MAX,
        0xfffe => Duration::from_secs(1 << 39),
        ms => Duration::from_millis(u64::from(ms % 1024)),
    }
}

/// Connection settings, kept small so memory limits catch untrusted lengths.
#[derive(Arbitrary, Debug, Clone)]
pub struct FuzzConfig {
    max_frame_size: u16,
    max_message_size: u16,
    deliver_fragments: bool,
    auto_pong: bool,
    max_send_frame_size: u16,
    close_timeout_ms: u16,
    /// Keepalive ping interval ([`keepalive_duration`]; 0 or `None`: off).
    ping_interval_ms: Option<u16>,
    /// Idle timeout ([`keepalive_duration`]; 0 or `None`: off).
    idle_timeout_ms: Option<u16>,
    seed: u64,
}

impl FuzzConfig {
    /// 0..=4096.
    pub fn max_frame(&self) -> usize {
        usize::from(self.max_frame_size) % 4097
    }

    /// 0..=8192.
    pub fn max_message(&self) -> usize {
        usize::from(self.max_message_size) % 8193
    }

    /// 0 means "never split"; `Config` treats values below 1 as 1.
    pub fn max_send(&self) -> usize {
        match self.max_send_frame_size {
            0 => usize::MAX,
            n => usize::from(n),
        }
    }

    fn ping_interval(&self) -> Option<Duration> {
        self.ping_interval_ms.map(keepalive_duration)
    }

    fn idle_timeout(&self) -> Option<Duration> {
        self.idle_timeout_ms.map(keepalive_duration)
    }

    fn build(&self) -> Config {
        Config::new(Randomness::seeded(self.seed))
            .max_frame_size(self.max_frame())
            .max_message_size(self.max_message())
            .deliver_fragments(self.deliver_fragments)
            .auto_pong(self.auto_pong)
            .max_send_frame_size(self.max_send())
            .close_timeout(Duration::from_millis(u64::from(self.close_timeout_ms)))
            .ping_interval(self.ping_interval())
            .idle_timeout(self.idle_timeout())
    }
}

/// A frame from the peer, correctly masked for the role unless `flip_mask`.
#[derive(Arbitrary, Debug, Clone)]
pub struct FrameSpec {
    fin: bool,
    rsv: u8,
    opcode: u8,
    payload: Vec<u8>,
    /// Zero bytes appended to `payload` (modulo 6 KiB + 1) when `form >= 0xf0`,
    /// so that frames over the limits and the 16-bit length form need no large input.
    padding: u16,
    key: [u8; 4],
    flip_mask: bool,
    form: u8,
}

/// Text or binary.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Text.
    Text,
    /// Binary.
    Binary,
}

impl From<Kind> for MessageKind {
    fn from(k: Kind) -> Self {
        match k {
            Kind::Text => Self::Text,
            Kind::Binary => Self::Binary,
        }
    }
}

/// One step of a scenario.
#[derive(Arbitrary, Debug, Clone)]
pub enum Op {
    /// Raw bytes from the transport.
    Receive(Vec<u8>),
    /// A built frame from the peer.
    ReceiveFrame(FrameSpec),
    /// A close frame from the peer (code from a table of usual ones half the time).
    ReceiveClose {
        /// Code selector.
        code: u16,
        /// Reason.
        reason: String,
    },
    /// The transport's read side ended.
    ReceiveEof,
    /// `send_text`.
    SendText(String),
    /// `send_binary`.
    SendBinary(Vec<u8>),
    /// `send_binary` of `len % 6145` copies of `byte` (64 KiB in all): payloads of 4 KiB and more
    /// take the server's zero-copy path, which small inputs cannot reach.
    SendBinaryFill {
        /// The byte.
        byte: u8,
        /// The length.
        len: u16,
    },
    /// `send_ping`.
    SendPing(Vec<u8>),
    /// `send_pong`.
    SendPong(Vec<u8>),
    /// `close`.
    Close {
        /// Code selector.
        code: u16,
        /// Reason.
        reason: String,
    },
    /// `send_fragment`.
    SendFragment {
        /// Kind (first piece only).
        kind: Kind,
        /// Payload.
        data: Vec<u8>,
        /// Starts a message.
        is_first: bool,
        /// Ends it.
        is_last: bool,
    },
    /// Drain `poll_event` until `Ok(None)` or an error.
    PollEvents,
    /// One `poll_transmit`.
    PollTransmit,
    /// A partial vectored write: `transmit_slices` then `advance_transmit(n)`.
    WriteSome(u16),
    /// `poll_timeout(now)`.
    PollTimeout,
    /// Time passes by this many milliseconds, then `handle_timeout(now)`.
    Advance(u16),
    /// Jump to the deadline `poll_timeout` gives and fire it.
    FireTimer,
    /// An adapter's sleep: `poll_timeout`, time moves, `handle_timeout`,
    /// `poll_timeout` again.
    Sleep(TimeStep),
    /// The peer sends a text message (handshake setups only).
    PeerSendText(String),
    /// The peer sends `data` followed by `fill_len % 2049` copies of
    /// `fill_byte` (compressible; 64 KiB in all).
    PeerSendBinary {
        /// Payload.
        data: Vec<u8>,
        /// Filler byte.
        fill_byte: u8,
        /// Filler length.
        fill_len: u16,
    },
    /// The peer sends a ping (cut to 125 bytes).
    PeerPing(Vec<u8>),
    /// The peer starts the close handshake.
    PeerClose {
        /// Code selector.
        code: u16,
        /// Reason (cut to fit).
        reason: String,
    },
    /// Up to this many of the peer's written bytes reach the connection
    /// (0: all of them).
    PeerDeliver(u16),
    /// One byte of what the peer wrote and was not yet delivered is flipped.
    PeerCorrupt {
        /// Position (modulo the bytes waiting).
        pos: u16,
        /// XOR mask (0 becomes 0x01).
        xor: u8,
    },
}

/// How far an adapter's sleep goes.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum TimeStep {
    /// Not at all (a spurious wake-up).
    Zero,
    /// Milliseconds.
    Millis(u16),
    /// Seconds.
    Seconds(u16),
    /// Any number of seconds (saturating at the driver's horizon).
    Huge(u64),
    /// Until the deadline (or, with none, not at all).
    UntilDeadline,
    /// Until this many ms before the deadline (woken early by a read).
    EarlyBy(u16),
    /// Until this many ms after the deadline (a late timer).
    LateBy(u16),
}

/// How the connection comes to be open.
#[derive(Arbitrary, Debug)]
pub enum Setup {
    /// `Connection::new`: open at once, no extensions, no peer.
    Open,
    /// The real opening handshake against a ws-proto peer, with
    /// permessage-deflate preferences on both sides.
    Handshake(Handshake),
}

/// A whole input for the connection targets.
#[derive(Arbitrary, Debug)]
pub struct Scenario {
    /// Settings.
    pub config: FuzzConfig,
    /// How the connection is opened.
    pub setup: Setup,
    /// Steps, applied in order; the driver drains everything at the end.
    pub ops: Vec<Op>,
}

/// A frame the model expects next in the output.
#[derive(Debug)]
enum Expect {
    Frame {
        fin: bool,
        opcode: u8,
        payload: Bytes,
    },
    /// The close frame a protocol error queues; its reason text is free.
    ErrorClose(CloseCode),
    /// A message that permessage-deflate may compress: one or more frames
    /// (of at most `max_send_frame_size`), RSV1 on the first if compressed;
    /// uncompressed, exactly `payload`. Compressed content is checked by the
    /// peer, which must decode exactly `payload`.
    Message { opcode: u8, payload: Bytes },
}

/// Matching written frames against an `Expect::Message`.
#[derive(Debug)]
struct MessageMatch {
    compressed: bool,
    joined: Vec<u8>,
}

/// The other end after a real handshake.
struct Peer {
    conn: Connection,
    /// What the peer wrote and the connection has not been given yet.
    out: Vec<u8>,
    /// Messages the peer sent, in order.
    sent: Vec<Logical>,
    /// Of the connection's own messages (`Driver::sent`), how many the peer decoded.
    seen: usize,
    /// Bytes `PeerSendBinary` may still create.
    fill_budget: usize,
}

impl Peer {
    /// Takes what the peer wrote.
    fn flush(&mut self) {
        while let Some(chunk) = self.conn.poll_transmit() {
            self.out.extend_from_slice(&chunk);
        }
    }
}

/// The driver's horizon: `now` never passes `start + HORIZON` (about
/// 35,000 years), so its own arithmetic cannot overflow `Instant`.
const HORIZON: Duration = Duration::from_secs(1 << 40);

const USUAL_CODES: [u16; 16] = [
    1000, 1001, 1002, 1003, 1005, 1006, 1007, 1008, 1009, 1010, 1011, 1014, 1015, 3000, 4000, 4999,
];

fn pick_code(selector: u16) -> u16 {
    if selector & 1 == 0 {
        USUAL_CODES[usize::from(selector >> 1) % USUAL_CODES.len()]
    } else {
        selector >> 1
    }
}

fn rank(s: ReadyState) -> u8 {
    match s {
        // `Connection::new` starts open: never seen here.
        ReadyState::Connecting => panic!("a connection built open reports Connecting"),
        ReadyState::Open => 0,
        ReadyState::Closing => 1,
        ReadyState::Closed => 2,
    }
}

struct Driver {
    role: Role,
    config: FuzzConfig,
    conn: Connection,
    out: OutputTracker,
    events: EventChecker,
    expected: Vec<Expect>,
    // The model's facts.
    close_sent: bool,
    peer_closed: bool,
    error: Option<ProtocolError>,
    eof: bool,
    timed_out: bool,
    sending: Option<Kind>,
    /// The text sent so far in the fragmented message (for the UTF-8 check).
    sending_text: Vec<u8>,
    max_rank: u8,
    now: Instant,
    /// Bytes `SendBinaryFill` may still create.
    fill_budget: usize,
    /// Written frames already compared with `expected`.
    compared: usize,
    /// The timer deadline, once `poll_timeout` started one.
    deadline: Option<Instant>,
    /// An expired timer dropped queued output.
    output_dropped: bool,
    /// The start, for the horizon.
    start: Instant,
    /// Keepalive, as the model predicts it.
    keepalive: KeepaliveModel,
    /// Bytes arrived since the last drain of events.
    received_since_drain: bool,
    /// The idle timeout ended the connection.
    gave_up: bool,
    /// Index into `expected` of the next entry to match.
    exp_at: usize,
    /// The `Expect::Message` being matched, once its first frame was written.
    matching: Option<MessageMatch>,
    /// permessage-deflate was negotiated.
    deflate: bool,
    /// The peer, with `Setup::Handshake`.
    peer: Option<Peer>,
    /// The connection's messages that went out (whole, fragmented ones joined).
    sent: Vec<Logical>,
    /// The fragmented message being sent, joined so far.
    sending_joined: Vec<u8>,
    /// Everything the connection received came from the peer, unchanged.
    pristine: bool,
    /// Of `events.logical`, how many were looked at.
    logical_seen: usize,
    /// Of the data messages received, how many matched the peer's.
    peer_messages_seen: usize,
}

impl Driver {
    fn new(role: Role, config: FuzzConfig, setup: &Setup) -> Self {
        let (conn, peer, deflate) = match setup {
            Setup::Open => (Connection::new(role, config.build()), None, false),
            Setup::Handshake(handshake) => {
                // The peer: generous limits, automatic replies, no timers.
                let peer_config = Config::new(Randomness::seeded(config.seed ^ 0x5eed))
                    .max_frame_size(1 << 20)
                    .max_message_size(1 << 20);
                let pair = crate::peer::open(role, config.build(), peer_config, handshake);
                let peer = Peer {
                    conn: pair.peer,
                    out: Vec::new(),
                    sent: Vec::new(),
                    seen: 0,
                    fill_budget: 64 << 10,
                };
                (pair.tested, Some(peer), pair.deflate)
            }
        };
        let now = Instant::now();
        let keepalive = KeepaliveModel::new(config.ping_interval(), config.idle_timeout());
        Self {
            role,
            conn,
            out: if deflate {
                OutputTracker::with_deflate(role)
            } else {
                OutputTracker::new(role)
            },
            events: EventChecker::new(config.deliver_fragments, config.max_message()),
            config,
            expected: Vec::new(),
            close_sent: false,
            peer_closed: false,
            error: None,
            eof: false,
            timed_out: false,
            sending: None,
            sending_text: Vec::new(),
            max_rank: 0,
            now,
            fill_budget: 64 << 10,
            compared: 0,
            deadline: None,
            output_dropped: false,
            start: now,
            keepalive,
            received_since_drain: false,
            gave_up: false,
            exp_at: 0,
            matching: None,
            deflate,
            peer,
            sent: Vec::new(),
            sending_joined: Vec::new(),
            pristine: true,
            logical_seen: 0,
            peer_messages_seen: 0,
        }
    }

    fn ended(&self) -> bool {
        self.error.is_some() || self.eof || self.timed_out
    }

    /// The close timer: waiting for the peer's close frame, or (client) for
    /// the server to end the transport.
    fn timer_wanted(&self) -> bool {
        !self.ended() && self.close_sent && (!self.peer_closed || self.role == Role::Client)
    }

    fn should_close_transport(&self) -> bool {
        self.ended() || (self.close_sent && self.peer_closed && self.role == Role::Server)
    }

    /// The linger timer: the transport should close but bytes are still queued.
    fn linger_wanted(&self) -> bool {
        self.should_close_transport() && self.conn.buffered_amount() > 0
    }

    fn close_timeout(&self) -> Duration {
        Duration::from_millis(u64::from(self.config.close_timeout_ms))
    }

    /// What `check_can_send` must say.
    fn gate(&self) -> Result<(), SendError> {
        if self.ended() {
            Err(SendError::Closed)
        } else if self.close_sent {
            Err(SendError::CloseSent)
        } else {
            Ok(())
        }
    }

    fn expect_frame(&mut self, fin: bool, opcode: u8, payload: Bytes) {
        self.expected.push(Expect::Frame {
            fin,
            opcode,
            payload,
        });
    }

    fn expect_data(&mut self, opcode: u8, payload: Bytes) {
        self.sent.push(match opcode {
            0x1 => Logical::Text(String::from_utf8(payload.to_vec()).expect("sent as text")),
            _ => Logical::Binary(payload.to_vec()),
        });
        if self.deflate {
            self.expected.push(Expect::Message { opcode, payload });
            return;
        }
        let max = self.config.max_send().max(1);
        if payload.len() <= max {
            self.expect_frame(true, opcode, payload);
            return;
        }
        let mut op = opcode;
        let mut start = 0;
        while start < payload.len() {
            let end = payload.len().min(start + max);
            self.expect_frame(end == payload.len(), op, payload.slice(start..end));
            op = 0;
            start = end;
        }
    }

    fn peer_frame(&self, spec: &FrameSpec) -> Vec<u8> {
        let masked = (self.role == Role::Server) != spec.flip_mask;
        let form = match spec.form % 4 {
            0 | 1 => LengthForm::Minimal,
            2 => LengthForm::Extended16,
            _ => LengthForm::Extended64,
        };
        let mut payload = spec.payload.clone();
        if spec.form >= 0xf0 {
            payload.resize(payload.len() + usize::from(spec.padding) % 6145, 0);
        }
        encode_frame(
            spec.fin,
            spec.rsv,
            spec.opcode,
            masked.then_some(spec.key),
            &payload,
            form,
        )
    }

    fn apply(&mut self, op: Op) {
        match op {
            Op::Receive(bytes) => self.receive_injected(&bytes),
            Op::ReceiveFrame(spec) => {
                let bytes = self.peer_frame(&spec);
                self.receive_injected(&bytes);
            }
            Op::ReceiveClose { code, reason } => {
                let mut payload = pick_code(code).to_be_bytes().to_vec();
                payload.extend_from_slice(reason.as_bytes());
                let spec = FrameSpec {
                    fin: true,
                    rsv: 0,
                    opcode: 0x8,
                    payload,
                    padding: 0,
                    key: [0x5a, 0xa5, 0x0f, 0xf0],
                    flip_mask: false,
                    form: 0,
                };
                let bytes = self.peer_frame(&spec);
                self.receive_injected(&bytes);
            }
            Op::ReceiveEof => {
                self.conn.receive_eof();
                self.eof = true;
                self.deadline = None;
            }
            Op::SendText(text) => {
                let predicted = self.gate().and_then(|()| self.data_order());
                let actual = self.conn.send_text(text.clone());
                assert_eq!(actual, predicted, "send_text");
                if actual.is_ok() {
                    self.expect_data(0x1, Bytes::from(text));
                }
            }
            Op::SendBinary(data) => self.send_binary(Bytes::from(data)),
            Op::SendBinaryFill { byte, len } => {
                // At most 6 KiB each and 64 KiB in all, to stay far below the memory limits.
                let len = (usize::from(len) % 6145).min(self.fill_budget);
                self.fill_budget -= len;
                self.send_binary(Bytes::from(vec![byte; len]));
            }
            Op::SendPing(data) | Op::SendPong(data) if data.len() > 125 => {
                let predicted = self
                    .gate()
                    .and(Err(SendError::ControlPayloadTooLong { len: data.len() }));
                assert_eq!(self.conn.send_ping(data.clone()), predicted, "send_ping");
                assert_eq!(self.conn.send_pong(data), predicted, "send_pong");
            }
            Op::SendPing(data) => {
                let predicted = self.gate();
                assert_eq!(self.conn.send_ping(data.clone()), predicted, "send_ping");
                if predicted.is_ok() {
                    self.expect_frame(true, 0x9, Bytes::from(data));
                }
            }
            Op::SendPong(data) => {
                let predicted = self.gate();
                assert_eq!(self.conn.send_pong(data.clone()), predicted, "send_pong");
                if predicted.is_ok() {
                    self.expect_frame(true, 0xA, Bytes::from(data));
                }
            }
            Op::Close { code, reason } => self.close(CloseCode(pick_code(code)), &reason),
            Op::SendFragment {
                kind,
                data,
                is_first,
                is_last,
            } => self.send_fragment(kind, data, is_first, is_last),
            Op::PollEvents => self.poll_events(),
            Op::PollTransmit => match self.conn.poll_transmit() {
                Some(chunk) => {
                    assert!(!chunk.is_empty(), "poll_transmit gave an empty chunk");
                    self.write_out(&chunk);
                }
                None => assert_eq!(self.conn.buffered_amount(), 0),
            },
            Op::WriteSome(n) => {
                let n = usize::from(n);
                let before = self.conn.buffered_amount();
                let bytes: Vec<u8> = self
                    .conn
                    .transmit_slices()
                    .flatten()
                    .take(n)
                    .copied()
                    .collect();
                self.conn.advance_transmit(n);
                assert_eq!(self.conn.buffered_amount(), before - bytes.len());
                self.write_out(&bytes);
            }
            Op::PollTimeout => {
                self.poll_timeout();
            }
            Op::Advance(ms) => {
                self.now += Duration::from_millis(u64::from(ms));
                self.handle_timeout();
            }
            Op::FireTimer => {
                if let Some(deadline) = self.poll_timeout() {
                    // The close or linger timer, rather than keepalive's.
                    let close_deadline = self.deadline == Some(deadline);
                    let close_timer = close_deadline && self.timer_wanted();
                    self.now = self.now.max(deadline);
                    self.handle_timeout();
                    if close_timer {
                        assert!(self.timed_out, "an expired close timer did not fire");
                    }
                    let next = self.poll_timeout();
                    if close_deadline {
                        assert_eq!(self.conn.buffered_amount(), 0, "queue kept after expiry");
                        assert_eq!(next, None, "timer still runs");
                    }
                    if let Some(next) = next {
                        assert!(
                            next >= self.now,
                            "a deadline in the past after handle_timeout"
                        );
                    }
                }
            }
            Op::Sleep(step) => self.sleep(step),
            Op::PeerSendText(text) => {
                if let Some(peer) = &mut self.peer {
                    if peer.conn.send_text(text.clone()).is_ok() {
                        peer.sent.push(Logical::Text(text));
                    }
                    peer.flush();
                }
            }
            Op::PeerSendBinary {
                mut data,
                fill_byte,
                fill_len,
            } => {
                if let Some(peer) = &mut self.peer {
                    let fill = (usize::from(fill_len) % 2049).min(peer.fill_budget);
                    peer.fill_budget -= fill;
                    data.resize(data.len() + fill, fill_byte);
                    if peer.conn.send_binary(data.clone()).is_ok() {
                        peer.sent.push(Logical::Binary(data));
                    }
                    peer.flush();
                }
            }
            Op::PeerPing(mut data) => {
                if let Some(peer) = &mut self.peer {
                    data.truncate(125);
                    let _ = peer.conn.send_ping(data);
                    peer.flush();
                }
            }
            Op::PeerClose { code, mut reason } => {
                if let Some(peer) = &mut self.peer {
                    while reason.len() > 123 {
                        reason.pop();
                    }
                    let _ = peer.conn.close(CloseCode(pick_code(code)), &reason);
                    peer.flush();
                }
            }
            Op::PeerDeliver(n) => self.peer_deliver(usize::from(n)),
            Op::PeerCorrupt { pos, xor } => {
                if let Some(peer) = &mut self.peer {
                    if !peer.out.is_empty() {
                        let at = usize::from(pos) % peer.out.len();
                        peer.out[at] ^= xor.max(1);
                        self.pristine = false;
                    }
                }
            }
        }
    }

    /// Bytes that did not come from the peer (or came from it changed).
    fn receive_injected(&mut self, bytes: &[u8]) {
        self.pristine = false;
        self.received_since_drain |= !bytes.is_empty();
        self.conn.receive(bytes);
    }

    /// Written bytes: checked as frames, and fed to the peer.
    fn write_out(&mut self, bytes: &[u8]) {
        self.out.push(bytes);
        if self.peer.is_some() {
            let peer = self.peer.as_mut().expect("checked");
            peer.conn.receive(bytes);
            self.drain_peer();
        }
    }

    /// The peer decodes what the connection wrote: never an error, and its
    /// data messages are exactly the connection's, in order.
    fn drain_peer(&mut self) {
        let Some(peer) = &mut self.peer else {
            return;
        };
        loop {
            match peer.conn.poll_event() {
                Ok(Some(Event::Text(text))) => {
                    let got = Logical::Text(text.as_str().to_owned());
                    assert_eq!(
                        self.sent.get(peer.seen),
                        Some(&got),
                        "the peer got another message"
                    );
                    peer.seen += 1;
                }
                Ok(Some(Event::Binary(data))) => {
                    let got = Logical::Binary(data.to_vec());
                    assert_eq!(
                        self.sent.get(peer.seen),
                        Some(&got),
                        "the peer got another message"
                    );
                    peer.seen += 1;
                }
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(err) => panic!("the peer failed on what the connection wrote: {err:?}"),
            }
        }
        peer.flush();
    }

    /// Up to `n` (0: all) of the peer's bytes reach the connection.
    fn peer_deliver(&mut self, n: usize) {
        let Some(peer) = &mut self.peer else {
            return;
        };
        let n = if n == 0 {
            peer.out.len()
        } else {
            n.min(peer.out.len())
        };
        let bytes: Vec<u8> = peer.out.drain(..n).collect();
        self.received_since_drain |= !bytes.is_empty();
        self.conn.receive(&bytes);
    }

    /// `(base + step)` within the horizon.
    fn later(&self, base: Instant, step: Duration) -> Instant {
        let horizon = self.start + HORIZON;
        base.checked_add(step).map_or(horizon, |t| t.min(horizon))
    }

    /// What an adapter does between reads: ask for the deadline, sleep until
    /// it (or less, or a little late), tell the connection the time, ask again.
    fn sleep(&mut self, step: TimeStep) {
        let before = self.poll_timeout();
        let ms = |n: u16| Duration::from_millis(u64::from(n));
        let target = match step {
            TimeStep::Zero => self.now,
            TimeStep::Millis(n) => self.later(self.now, ms(n)),
            TimeStep::Seconds(n) => self.later(self.now, Duration::from_secs(u64::from(n))),
            TimeStep::Huge(n) => self.later(self.now, Duration::from_secs(n)),
            TimeStep::UntilDeadline => before.unwrap_or(self.now),
            TimeStep::EarlyBy(n) => before.map_or(self.now, |d| d.checked_sub(ms(n)).unwrap_or(d)),
            TimeStep::LateBy(n) => before.map_or(self.now, |d| self.later(d, ms(n))),
        };
        // Time never goes back: a deadline already past is handled now.
        self.now = self.now.max(target);
        self.handle_timeout();
        let after = self.poll_timeout();
        if let Some(after) = after {
            assert!(
                after >= self.now,
                "a deadline in the past after handle_timeout"
            );
        }
        if let Some(before) = before {
            if self.now < before {
                assert_eq!(
                    after,
                    Some(before),
                    "a deadline moved while nothing was due"
                );
            } else if let Some(after) = after {
                assert!(after >= before, "the deadline went backwards");
            }
        }
    }

    fn send_binary(&mut self, data: Bytes) {
        let predicted = self.gate().and_then(|()| self.data_order());
        let actual = self.conn.send_binary(data.clone());
        assert_eq!(actual, predicted, "send_binary");
        if actual.is_ok() {
            self.expect_data(0x2, data);
        }
    }

    fn data_order(&self) -> Result<(), SendError> {
        match self.sending {
            Some(_) => Err(SendError::FragmentOutOfOrder),
            None => Ok(()),
        }
    }

    fn close(&mut self, code: CloseCode, reason: &str) {
        let frame = CloseFrame::new(code, reason);
        let empty_body = code == CloseCode::NO_STATUS_RECEIVED && reason.is_empty();
        let payload = frame.encode();
        let predicted = self.gate().and_then(|()| {
            if !empty_body && !code.is_sendable() {
                Err(SendError::InvalidCloseCode(code.0))
            } else if payload.len() > 125 {
                Err(SendError::ControlPayloadTooLong { len: payload.len() })
            } else {
                Ok(())
            }
        });
        assert_eq!(self.conn.close(code, reason), predicted, "close");
        if predicted.is_ok() {
            self.expect_frame(true, 0x8, payload);
            self.close_sent = true;
        }
    }

    fn send_fragment(&mut self, kind: Kind, data: Vec<u8>, is_first: bool, is_last: bool) {
        let order = match (is_first, self.sending) {
            (true, None) | (false, Some(_)) => Ok(()),
            _ => Err(SendError::FragmentOutOfOrder),
        };
        // Text is checked as UTF-8 across the message's pieces.
        let message_kind = self.sending.unwrap_or(kind);
        let mut text_so_far = if is_first {
            Vec::new()
        } else {
            self.sending_text.clone()
        };
        let utf8 = if message_kind == Kind::Text {
            text_so_far.extend_from_slice(&data);
            match std::str::from_utf8(&text_so_far) {
                Ok(_) => Ok(()),
                Err(e) if e.error_len().is_none() && !is_last => Ok(()),
                Err(_) => Err(SendError::InvalidUtf8),
            }
        } else {
            Ok(())
        };
        let predicted = self.gate().and(order).and(utf8);
        let fragment = Fragment {
            kind: kind.into(),
            data: Bytes::from(data),
            is_first,
            is_last,
        };
        let payload = fragment.data.clone();
        assert_eq!(
            self.conn.send_fragment(fragment),
            predicted,
            "send_fragment"
        );
        if predicted.is_ok() {
            let opcode = match (is_first, kind) {
                (false, _) => 0x0,
                (true, Kind::Text) => 0x1,
                (true, Kind::Binary) => 0x2,
            };
            if is_first {
                self.sending_joined.clear();
            }
            self.sending_joined.extend_from_slice(&payload);
            if is_last {
                let joined = std::mem::take(&mut self.sending_joined);
                self.sent.push(match message_kind {
                    Kind::Text => Logical::Text(String::from_utf8(joined).expect("checked UTF-8")),
                    Kind::Binary => Logical::Binary(joined),
                });
            }
            self.expect_frame(is_last, opcode, payload);
            self.sending = (!is_last).then_some(message_kind);
            self.sending_text = text_so_far;
        }
    }

    /// The model's `ready_state() == Open`.
    fn open(&self) -> bool {
        !self.ended() && !self.close_sent && !self.peer_closed
    }

    /// `poll_timeout(now)`: the close timer or the linger timer runs exactly
    /// when needed and keeps the deadline it started with; while open, the
    /// keepalive deadline counts too, and the earlier of them is returned.
    fn poll_timeout(&mut self) -> Option<Instant> {
        let wanted = self.timer_wanted() || self.linger_wanted();
        let open = self.open();
        let got = self.conn.poll_timeout(self.now);
        let close = if wanted {
            let start = self.now + self.close_timeout();
            Some(*self.deadline.get_or_insert(start))
        } else {
            self.deadline = None;
            None
        };
        let keepalive = if open {
            self.keepalive.deadline(self.now)
        } else {
            Some(None)
        };
        match keepalive {
            Some(k) => {
                let expected = match (close, k) {
                    (Some(c), Some(k)) => Some(c.min(k)),
                    (c, k) => c.or(k),
                };
                assert_eq!(got, expected, "poll_timeout deadline");
            }
            // Keepalive runs, at a time the model cannot say (only while open,
            // when no close timer runs), unless its timers lie past the end
            // of time.
            None => assert!(
                close.is_none() && (got.is_some() || !self.keepalive.can_expire(self.now)),
                "poll_timeout: {got:?}"
            ),
        }
        got
    }

    /// `handle_timeout(now)`: fires the timer iff its deadline has passed. The
    /// close timer ends the connection; once the transport should close, the
    /// queue is dropped (the peer stopped reading).
    fn handle_timeout(&mut self) {
        if self.open() && self.keepalive.enabled() {
            return self.handle_keepalive();
        }
        let due = matches!(self.deadline, Some(d) if self.now >= d);
        let close_before = self.conn.should_close_transport();
        let buffered_before = self.conn.buffered_amount();
        let close_timer = self.timer_wanted();
        self.conn.handle_timeout(self.now);
        if !due {
            assert_eq!(
                self.conn.should_close_transport(),
                close_before,
                "early timeout"
            );
            assert_eq!(
                self.conn.buffered_amount(),
                buffered_before,
                "early timeout"
            );
            return;
        }
        self.deadline = None;
        if close_timer {
            self.timed_out = true;
        }
        if self.should_close_transport() {
            assert_eq!(
                self.conn.buffered_amount(),
                0,
                "expired timer kept the queue"
            );
            if buffered_before > 0 {
                // What was not written is gone, including any partial frame
                // (and the rest of a message partly written).
                self.out.drop_pending();
                self.expected.truncate(self.exp_at);
                self.matching = None;
                self.output_dropped = true;
            }
        } else {
            assert_eq!(self.conn.buffered_amount(), buffered_before);
        }
    }

    /// `handle_timeout(now)` on an open connection with keepalive: the
    /// model's action when it can say, else what was seen (a ping is the
    /// queue growing, giving up is the state closing).
    fn handle_keepalive(&mut self) {
        let predicted = self.keepalive.on_timeout(self.now);
        let buffered_before = self.conn.buffered_amount();
        self.conn.handle_timeout(self.now);
        let action = if self.conn.ready_state() != ReadyState::Open {
            Action::GiveUp
        } else if self.conn.buffered_amount() > buffered_before {
            Action::Ping(self.keepalive.pings + u64::from(predicted.is_none()))
        } else {
            Action::None
        };
        match predicted {
            Some(predicted) => assert_eq!(action, predicted, "keepalive at handle_timeout"),
            None => self.keepalive.observed(action),
        }
        match action {
            Action::None => {}
            Action::Ping(n) => {
                self.expect_frame(true, 0x9, Bytes::copy_from_slice(&n.to_be_bytes()))
            }
            Action::GiveUp => {
                // Documented: 1001 to the peer, 1006 to the application.
                let payload = CloseFrame::new(CloseCode::GOING_AWAY, "idle timeout").encode();
                self.expect_frame(true, 0x8, payload);
                self.close_sent = true;
                self.timed_out = true;
                self.gave_up = true;
                self.deadline = None;
            }
        }
    }

    fn poll_events(&mut self) {
        let received = std::mem::take(&mut self.received_since_drain);
        let mut from_frame = false;
        loop {
            let abnormal_allowed = self.eof || self.timed_out;
            match self.conn.poll_event() {
                Ok(Some(event)) => {
                    assert!(self.error.is_none(), "event after an error");
                    self.events.on_event(&event, abnormal_allowed);
                    match &event {
                        Event::Close(frame) if frame.code == CloseCode::ABNORMAL => {
                            if self.gave_up {
                                assert!(
                                    frame.reason.as_str().starts_with("idle timeout"),
                                    "the idle timeout's 1006 says why: {frame:?}"
                                );
                            }
                        }
                        _ => from_frame = true,
                    }
                    self.on_event(&event);
                }
                Ok(None) => {
                    assert!(self.error.is_none(), "an error was not sticky");
                    break;
                }
                Err(err) => {
                    // No handshake runs on a connection built open, and one
                    // opened by a handshake fails only on protocol errors.
                    let err = crate::protocol_error(err);
                    assert!(
                        matches!(err.close_code().0, 1002 | 1007 | 1009),
                        "protocol error {err:?} with close code {}",
                        err.close_code()
                    );
                    match &self.error {
                        Some(first) => assert_eq!(&err, first, "errors are sticky"),
                        None => {
                            assert!(!self.events.closed, "error after Event::Close");
                            if !self.close_sent {
                                self.expected.push(Expect::ErrorClose(err.close_code()));
                                self.close_sent = true;
                            }
                            self.error = Some(err);
                            self.deadline = None;
                        }
                    }
                    break;
                }
            }
        }
        if from_frame {
            self.keepalive.frame_seen();
        } else if received {
            // A frame that gives no event (a fragment gathered in message
            // mode) counts as activity too, or not; the model cannot tell.
            self.keepalive.maybe_frame();
        }
        self.check_peer_messages();
    }

    /// While everything received came from the peer unchanged, the data
    /// messages are exactly the peer's, in order.
    fn check_peer_messages(&mut self) {
        let Some(peer) = &self.peer else {
            return;
        };
        for got in &self.events.logical[self.logical_seen..] {
            if matches!(got, Logical::Text(_) | Logical::Binary(_)) {
                if self.pristine {
                    assert_eq!(
                        peer.sent.get(self.peer_messages_seen),
                        Some(got),
                        "a message differs from what the peer sent"
                    );
                }
                self.peer_messages_seen += 1;
            }
        }
        self.logical_seen = self.events.logical.len();
    }

    fn on_event(&mut self, event: &Event) {
        match event {
            Event::Ping(payload) => {
                if self.config.auto_pong && self.gate().is_ok() {
                    self.expect_frame(true, 0xA, payload.clone());
                }
            }
            Event::Close(frame) if frame.code != CloseCode::ABNORMAL => {
                if !self.close_sent {
                    // The peer's code and reason go back (1005: an empty body).
                    let echo = CloseFrame::new(frame.code, frame.reason.as_str()).encode();
                    self.expect_frame(true, 0x8, echo);
                    self.close_sent = true;
                }
                self.peer_closed = true;
                self.deadline = None;
            }
            _ => {}
        }
    }

    /// The checks that hold after every step.
    fn check(&mut self) {
        let pending: usize = self.conn.transmit_slices().map(<[u8]>::len).sum();
        assert_eq!(self.conn.buffered_amount(), pending, "buffered_amount");

        let state = self.conn.ready_state();
        assert!(
            rank(state) >= self.max_rank,
            "ready_state went back to {state:?}"
        );
        self.max_rank = rank(state);
        let expected_state = if self.ended() || (self.close_sent && self.peer_closed) {
            ReadyState::Closed
        } else if self.close_sent || self.peer_closed {
            ReadyState::Closing
        } else {
            ReadyState::Open
        };
        assert_eq!(state, expected_state, "ready_state");
        assert_eq!(
            self.conn.should_close_transport(),
            self.should_close_transport(),
            "should_close_transport"
        );
        let hint_max = self.config.max_frame().max(125);
        assert!(
            self.conn.receive_size_hint() <= hint_max,
            "receive_size_hint"
        );

        assert!(self.out.close_frames <= 1);
        for i in self.compared..self.out.frames.len() {
            let got = self.out.frames[i].clone();
            self.match_frame(i, &got);
        }
        self.compared = self.out.frames.len();
    }

    /// Matches written frame `i` against the next expected entry.
    fn match_frame(&mut self, i: usize, got: &WireFrame) {
        let Some(expected) = self.expected.get(self.exp_at) else {
            panic!("wrote a frame the model did not expect: {got:?}");
        };
        match expected {
            Expect::Frame {
                fin,
                opcode,
                payload,
            } => assert_eq!(
                (got.fin, got.rsv, got.opcode, &got.payload[..]),
                (*fin, 0, *opcode, &payload[..]),
                "frame {i} differs from the model"
            ),
            Expect::ErrorClose(code) => {
                assert_eq!(got.close_code(), Some(code.0), "frame {i}: error close")
            }
            Expect::Message { opcode, payload } => {
                let max = self.config.max_send().max(1);
                assert!(
                    got.payload.len() <= max,
                    "frame {i} over max_send_frame_size"
                );
                let matching = match self.matching.as_mut() {
                    None => {
                        assert_eq!(got.opcode, *opcode, "frame {i}: a message's first frame");
                        self.matching.insert(MessageMatch {
                            compressed: got.rsv == 0b100,
                            joined: Vec::new(),
                        })
                    }
                    Some(m) => {
                        assert_eq!((got.opcode, got.rsv), (0, 0), "frame {i}: a continuation");
                        m
                    }
                };
                matching.joined.extend_from_slice(&got.payload);
                if !got.fin {
                    return;
                }
                let done = self.matching.take().expect("set above");
                if !done.compressed {
                    assert_eq!(
                        &done.joined[..],
                        &payload[..],
                        "message ending in frame {i}"
                    );
                }
            }
        }
        self.exp_at += 1;
    }

    fn finish(&mut self) {
        // With a peer, both talk until quiet (its answers, then ours).
        let rounds = if self.peer.is_some() { 4 } else { 1 };
        for _ in 0..rounds {
            self.peer_deliver(0);
            self.poll_events();
            while let Some(chunk) = self.conn.poll_transmit() {
                assert!(!chunk.is_empty(), "poll_transmit gave an empty chunk");
                self.write_out(&chunk);
            }
            self.check();
        }
        assert_eq!(self.conn.buffered_amount(), 0);
        self.out.assert_no_partial_frame();
        assert!(
            self.exp_at == self.expected.len() && self.matching.is_none(),
            "queued frames were never written"
        );
        if let Some(peer) = &self.peer {
            if !self.output_dropped {
                assert_eq!(
                    peer.seen,
                    self.sent.len(),
                    "a message never reached the peer"
                );
            }
            let reading = !self.ended() && !self.events.closed && self.error.is_none();
            if self.pristine && reading {
                assert_eq!(
                    self.peer_messages_seen,
                    peer.sent.len(),
                    "a message from the peer never arrived"
                );
            }
        }
        if !self.output_dropped {
            assert_eq!(self.out.close_frames, usize::from(self.close_sent));
        }
        if let Some(err) = &self.error {
            if !self.output_dropped {
                let last = self
                    .out
                    .last()
                    .expect("a failed connection wrote a close frame");
                assert_eq!(
                    last.opcode, 0x8,
                    "a failed connection's output ends in close"
                );
                if matches!(self.expected.last(), Some(Expect::ErrorClose(_))) {
                    assert_eq!(last.close_code(), Some(err.close_code().0));
                }
            }
            // Sticky, and nothing more is written whatever happens next.
            self.conn.receive(&[0x81, 0x80, 0, 0, 0, 0]);
            assert_eq!(
                self.conn.poll_event(),
                Err(Error::Protocol(err.clone())),
                "errors are sticky"
            );
            assert_eq!(self.conn.send_text("late"), Err(SendError::Closed));
            assert_eq!(self.conn.poll_transmit(), None);
        }
        if self.events.closed {
            self.conn.receive(&[0x81, 0x80, 0, 0, 0, 0]);
            assert_eq!(self.conn.poll_event(), Ok(None), "event after Event::Close");
        }
    }
}

/// Runs a scenario on a connection of `role`, asserting every invariant.
pub fn run(role: Role, scenario: Scenario) {
    let mut driver = Driver::new(role, scenario.config, &scenario.setup);
    for op in scenario.ops {
        driver.apply(op);
        driver.check();
    }
    driver.finish();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peer::DeflateSide;
    use arbitrary::Unstructured;

    fn config(ping: Option<u16>, idle: Option<u16>) -> FuzzConfig {
        FuzzConfig {
            max_frame_size: 4096,
            max_message_size: 8192,
            deliver_fragments: false,
            auto_pong: true,
            max_send_frame_size: 0,
            close_timeout_ms: 50,
            ping_interval_ms: ping,
            idle_timeout_ms: idle,
            seed: 7,
        }
    }

    fn deflate() -> Setup {
        let side = DeflateSide::arbitrary(&mut Unstructured::new(&[0; 16])).unwrap();
        Setup::Handshake(Handshake {
            client: Some(side.clone()),
            server: Some(side),
        })
    }

    /// Pings after each interval of silence, then the idle timeout (1001 out,
    /// 1006 in), with deflate on and a message each way.
    #[test]
    fn keepalive_and_deflate_story() {
        for role in [Role::Server, Role::Client] {
            let mut driver = Driver::new(role, config(Some(10), Some(35)), &deflate());
            assert!(driver.deflate, "deflate agreed");
            let text = "hello hello hello hello hello hello hello hello".to_owned();
            let ops = vec![
                Op::SendText(text.clone()),
                Op::PeerSendText(text.clone()),
                Op::PeerDeliver(0),
                Op::PollEvents,
                Op::PollTransmit,
                Op::Sleep(TimeStep::UntilDeadline),
                Op::Sleep(TimeStep::UntilDeadline),
                Op::Sleep(TimeStep::UntilDeadline),
                Op::Sleep(TimeStep::UntilDeadline),
                Op::PollEvents,
            ];
            for op in ops {
                driver.apply(op);
                driver.check();
            }
            assert_eq!(driver.keepalive.pings, 3);
            assert!(driver.gave_up && driver.timed_out);
            assert!(matches!(driver.out.frames[0].rsv, 0b100), "compressed");
            assert_eq!(driver.peer_messages_seen, 1);
            driver.finish();
            assert_eq!(driver.peer.as_ref().unwrap().seen, 1);
            assert_eq!(driver.out.last().unwrap().close_code(), Some(1001));
        }
    }

    /// Pongs answer the keepalive pings, so the idle timeout never fires;
    /// huge and zero steps do not panic.
    #[test]
    fn answered_pings_keep_the_connection() {
        let mut driver = Driver::new(Role::Client, config(Some(10), Some(25)), &deflate());
        for _ in 0..10 {
            for op in [
                Op::Sleep(TimeStep::UntilDeadline),
                Op::PollTransmit,
                Op::PeerDeliver(0),
                Op::PollEvents,
                Op::Sleep(TimeStep::Zero),
            ] {
                driver.apply(op);
                driver.check();
            }
        }
        assert!(driver.keepalive.pings >= 5 && !driver.gave_up);
        driver.apply(Op::Sleep(TimeStep::Huge(u64::MAX)));
        driver.apply(Op::Sleep(TimeStep::Huge(u64::MAX)));
        assert!(driver.gave_up);
        driver.finish();
    }

    /// Keepalive durations past the end of `Instant` are never due (they
    /// panicked in `Instant + Duration` before); 2^39 s is due after a
    /// huge step.
    #[test]
    fn durations_past_the_end_of_time() {
        let mut driver = Driver::new(
            Role::Server,
            config(Some(0xffff), Some(0xffff)),
            &Setup::Open,
        );
        driver.apply(Op::Sleep(TimeStep::Huge(u64::MAX)));
        driver.check();
        assert_eq!(driver.poll_timeout(), None);
        let mut driver = Driver::new(
            Role::Server,
            config(Some(0xfffe), Some(0xffff)),
            &Setup::Open,
        );
        driver.apply(Op::Sleep(TimeStep::Zero));
        driver.apply(Op::Sleep(TimeStep::Huge(1 << 40)));
        driver.check();
        assert_eq!(driver.keepalive.pings, 1);
        driver.finish();
    }
}
