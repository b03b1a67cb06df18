//! The driver behind `handshake_server` and `handshake_client`: a
//! connection built with `Connection::server` / `Connection::client`
//! (so it starts `Connecting`), the peer's bytes delivered in arbitrary
//! splits (through `receive` or `prepare_receive_buffer`), interleaved with
//! drains of `poll_event` / `poll_event_ref`, `poll_timeout`,
//! `handle_timeout` at arbitrary times, end of stream, writes, sends and
//! (server) `respond` with arbitrary acceptances and refusals.
//!
//! The model follows the documented contract, with the handshake's own
//! parsers as the oracle for the head (`Request::parse_with_limits`,
//! `ClientHandshake::parse_response` on everything delivered so far):
//!
//! * never a panic;
//! * a verdict only agrees with the oracle: `Event::Request` /
//!   `Event::Response` carry exactly what the oracle parses, a head error is
//!   exactly the oracle's (the server then writes exactly
//!   `ServerResponse::from_error`), and a complete head is never left
//!   unreported; a verdict may only be put off while no blank line has
//!   arrived (the machine parses when a head can have ended), below the head
//!   limit, before end of stream, or while a refusal's announced body (at
//!   most 1 KiB) is still arriving; at end of stream there is always one
//!   (`PeerClosed` when the head is incomplete);
//! * after `Event::Request` the connection stays `Connecting` and
//!   `poll_event` says `Ok(None)` whatever arrives, until `respond`; an
//!   acceptance writes exactly `accept_extensions`' answer and opens it, a
//!   refusal writes exactly the refusal and fails it with the sticky
//!   `Error::Handshake(HandshakeError::Refused { status })`; `respond` at any
//!   other time is `NoRequestToAnswer`, and sends while connecting are
//!   `SendError::Connecting`; the server writes nothing before it answers,
//!   the client exactly its request head first;
//! * any handshake error is sticky (also after more input), leaves
//!   `ready_state()` `Closed` and `should_close_transport()` true, and
//!   nothing more is written after what it queued;
//! * the handshake timer: while connecting, `poll_timeout` returns the same
//!   deadline (`now + timeout` at the first call) every time; `handle_timeout`
//!   before it changes nothing, at or after it fails the handshake with
//!   `TimedOut { after: timeout }`; without a first `poll_timeout` no timer runs;
//! * the read buffer never holds more than the head limit (server: the
//!   configured `max_header_bytes`; client: 16 KiB plus at most 1 KiB of a
//!   refusal's body) plus what was read since the last drain;
//! * once open, the bytes that followed the head are decoded as frames
//!   exactly as a connection built open (`Connection::with_extensions`, the
//!   negotiated extensions) decodes them: the same messages, in the same
//!   order, the same error, the same frames written after the handshake
//!   bytes; nothing lost, nothing read twice. When the input is a real head
//!   followed by a real frame, that frame's message comes out exactly once.
//! * with ws-proto's own peer machine building the head (unmutated, all of
//!   it delivered, no timeout or end of stream first): a server's request
//!   always reaches `Event::Request`, the server's acceptance is accepted by
//!   the client's `ClientHandshake`, and the client always opens on the
//!   server machine's 101 (and fails with `Rejected` carrying the status and
//!   body of its refusal).

use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use ws_proto::handshake::{
    ClientHandshake, ClientRequest, HandshakeError, Limits, Request, ResponseError,
    ServerResponse,
};
use ws_proto::{
    CloseCode, Config, Connection, DeflateConfig, Error, Event, Extensions, Randomness,
    ReadBufferPool, ReadyState, Role, SendError,
};

use crate::events::{EventChecker, Logical};
use crate::frames::{encode_frame, LengthForm};
use crate::wire::OutputTracker;

/// The client's limit on a response head (ws-proto's `MAX_RESPONSE_HEAD`).
const RESPONSE_HEAD_LIMIT: usize = 16 * 1024;
/// The most of a refusal's body the client waits for.
const REFUSAL_BODY: usize = 1024;

/// The connection's settings.
#[derive(Arbitrary, Debug, Clone)]
pub struct Settings {
    timeout_ms: u16,
    max_header_bytes: u16,
    max_headers: u8,
    deflate: u8,
    deliver_fragments: bool,
    seed: u64,
}

impl Settings {
    fn timeout(&self) -> Duration {
        Duration::from_millis(u64::from(self.timeout_ms))
    }

    /// Mostly the default 16 KiB; a quarter of the time 0..=1023 bytes.
    fn limits(&self) -> Limits {
        let v = usize::from(self.max_header_bytes);
        Limits {
            max_header_bytes: if v % 4 != 0 { 16 * 1024 } else { v / 4 % 1024 },
            max_headers: if self.max_headers & 1 == 1 {
                64
            } else {
                usize::from(self.max_headers >> 1) % 24
            },
        }
    }

    fn build(&self) -> Config {
        Config::new(Randomness::seeded(self.seed))
            .max_frame_size(4096)
            .max_message_size(8192)
            .deliver_fragments(self.deliver_fragments)
            .handshake_timeout(self.timeout())
            .handshake_limits(self.limits())
            .deflate(deflate_choice(self.deflate))
    }
}

/// permessage-deflate preferences from a selector: off, the defaults, or
/// one of the parameters changed.
fn deflate_choice(selector: u8) -> Option<DeflateConfig> {
    let bits = 8 + (selector >> 3) % 8;
    match selector % 8 {
        0 => None,
        1 | 2 => Some(DeflateConfig::default()),
        3 => Some(DeflateConfig::default().server_no_context_takeover(true)),
        4 => Some(DeflateConfig::default().client_no_context_takeover(true)),
        5 => Some(DeflateConfig::default().server_max_window_bits(bits)),
        6 => Some(DeflateConfig::default().client_max_window_bits(bits)),
        _ => Some(
            DeflateConfig::default()
                .server_no_context_takeover(true)
                .client_no_context_takeover(true)
                .threshold(0),
        ),
    }
}

const URLS: [&str; 4] = [
    "ws://h/",
    "ws://example.com/chat?room=1",
    "wss://example.com:8443/a/b",
    "ws://[::1]:9001/echo",
];
const PROTOCOLS: [&str; 3] = ["chat", "superchat", "v2.json"];

/// A client request as ws-proto's client machine writes it.
#[derive(Arbitrary, Debug, Clone)]
pub struct RequestSpec {
    url: u8,
    /// Bit i offers `PROTOCOLS[i]`.
    protocols: u8,
    /// An extra header (name from a table) with this value.
    header: Option<(u8, String)>,
}

impl RequestSpec {
    fn build(&self) -> ClientRequest {
        let url = URLS[usize::from(self.url) % URLS.len()];
        let mut request = ClientRequest::from_url(url).expect("a valid url");
        for (i, p) in PROTOCOLS.iter().enumerate() {
            if self.protocols & (1 << i) != 0 {
                request = request.protocol(*p);
            }
        }
        if let Some((name, value)) = &self.header {
            let name = ["Origin", "Authorization", "X-Trace", "Cookie"][usize::from(*name) % 4];
            // Header values cannot hold line ends (the request would change shape).
            let value: String = value.chars().filter(|c| !c.is_control()).take(64).collect();
            request = request.header(name, value);
        }
        request
    }
}

/// A frame the peer sends after its head: text, binary, ping or close,
/// valid for its role (masked from a client).
#[derive(Arbitrary, Debug, Clone)]
pub struct FrameSpec {
    kind: u8,
    text: String,
    key: [u8; 4],
}

impl FrameSpec {
    /// The bytes, from a peer of role `from`, and the message the receiver sees.
    fn build(&self, from: Role) -> (Vec<u8>, Logical) {
        let mut text = self.text.clone();
        let (opcode, payload, logical) = match self.kind % 4 {
            0 => (0x1, text.clone().into_bytes(), Logical::Text(text)),
            1 => (
                0x2,
                text.clone().into_bytes(),
                Logical::Binary(text.into_bytes()),
            ),
            2 => {
                truncate(&mut text, 125);
                (
                    0x9,
                    text.clone().into_bytes(),
                    Logical::Ping(text.into_bytes()),
                )
            }
            _ => {
                truncate(&mut text, 123);
                let mut payload = 4000u16.to_be_bytes().to_vec();
                payload.extend_from_slice(text.as_bytes());
                (0x8, payload, Logical::Close(4000, text))
            }
        };
        let mask = (from == Role::Client).then_some(self.key);
        (
            encode_frame(true, 0, opcode, mask, &payload, LengthForm::Minimal),
            logical,
        )
    }
}

fn truncate(text: &mut String, max: usize) {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
}

/// How the server answers the request (`respond`).
#[derive(Arbitrary, Debug, Clone)]
pub enum Answer {
    /// `accept()`.
    Accept,
    /// `accept_with_protocol` of the i-th offered subprotocol; past the
    /// offered ones, one never offered (refused with `from_error`).
    Protocol(u8),
    /// An acceptance that names its own extension (no deflate negotiated).
    OwnExtension,
    /// `ServerResponse::reject(status, body)`.
    Reject {
        /// Any status, 101 included.
        status: u16,
        /// The body.
        body: Vec<u8>,
    },
    /// A bare `ServerResponse::new(101, ..)`: not an acceptance.
    Bare101,
}

impl Answer {
    fn response(&self, request: &Request) -> ServerResponse {
        match self {
            Self::Accept => request.accept(),
            Self::Protocol(i) => match request.protocols().get(usize::from(*i)) {
                Some(p) => request.accept_with_protocol(p).expect("an offered protocol"),
                None => {
                    let err = request
                        .accept_with_protocol("x-never-offered")
                        .expect_err("a protocol never offered");
                    ServerResponse::from_error(&err)
                }
            },
            Self::OwnExtension => request
                .accept()
                .header("Sec-WebSocket-Extensions", "x-own-extension"),
            Self::Reject { status, body } => {
                ServerResponse::reject(*status % 1000, body.iter().copied().take(2048).collect::<Vec<u8>>())
            }
            Self::Bare101 => ServerResponse::new(101, "Switching Protocols"),
        }
    }
}

/// One step.
#[derive(Arbitrary, Debug, Clone)]
pub enum Op {
    /// The next `len % (left + 1)` bytes arrive, then the events are drained
    /// (the driver loop); through `prepare_receive_buffer` when `pooled`.
    Read {
        /// How many bytes.
        len: u16,
        /// Read into the pooled buffer.
        pooled: bool,
    },
    /// Bytes arrive but no drain follows (a second read before the events).
    ReadOnly(u16),
    /// A read found nothing: `release_receive_buffer`.
    ReadNothing,
    /// Drain `poll_event` (or `poll_event_ref`).
    Poll {
        /// Use `poll_event_ref`.
        borrow: bool,
    },
    /// The transport's read side ends.
    Eof,
    /// Server: answer.
    Respond(Answer),
    /// `poll_timeout(now)`.
    PollTimeout,
    /// Time passes by this many milliseconds, then `handle_timeout`.
    Advance(u16),
    /// Jump to the deadline `poll_timeout` gives (plus `extra` ms), fire it.
    FireTimer(u8),
    /// Write up to n bytes of the queue (vectored); 0: one `poll_transmit`.
    Write(u16),
    /// `send_text` / `close` (refused while connecting or failed).
    Send,
}

/// What the server target's peer sends.
#[derive(Arbitrary, Debug, Clone)]
pub enum ServerPeer {
    /// Arbitrary bytes.
    Raw(Vec<u8>),
    /// A long head: `prefix`, then `fill` repeated (up to 24 KiB), then
    /// `suffix`, so the 16 KiB limits are reached from small inputs.
    Long(LongPeer),
    /// ws-proto's client machine's request, then optionally a frame, then
    /// the (operation, position, byte) mutations applied to all of it.
    Client {
        /// The client's settings (deflate offer, key seed).
        settings: Settings,
        /// The request.
        request: RequestSpec,
        /// A frame after the head.
        frame: Option<FrameSpec>,
        /// Mutations.
        mutations: Vec<u8>,
    },
}

/// Bytes long enough for the head limits.
#[derive(Arbitrary, Debug, Clone)]
pub struct LongPeer {
    prefix: Vec<u8>,
    fill: u8,
    len: u16,
    suffix: Vec<u8>,
}

impl LongPeer {
    fn build(&self) -> Vec<u8> {
        let mut out = self.prefix.clone();
        out.resize(out.len() + usize::from(self.len) % (24 * 1024 + 1), self.fill);
        out.extend_from_slice(&self.suffix);
        out
    }
}

/// What the client target's peer sends.
#[derive(Arbitrary, Debug, Clone)]
pub enum ClientPeer {
    /// Arbitrary bytes.
    Raw(Vec<u8>),
    /// A long head (see [`ServerPeer::Long`]).
    Long(LongPeer),
    /// ws-proto's server machine's answer to the client's actual request,
    /// then optionally a frame it sends, then the mutations.
    Server {
        /// The server's settings (deflate preferences).
        settings: Settings,
        /// How it answers.
        answer: Answer,
        /// A frame it sends once open.
        frame: Option<FrameSpec>,
        /// Mutations.
        mutations: Vec<u8>,
    },
}

/// The server target's input.
#[derive(Arbitrary, Debug)]
pub struct ServerInput {
    /// The server's settings.
    pub settings: Settings,
    /// Its peer.
    pub peer: ServerPeer,
    /// The steps.
    pub ops: Vec<Op>,
    /// How the server answers if the steps leave a request unanswered.
    pub last_answer: Answer,
}

/// The client target's input.
#[derive(Arbitrary, Debug)]
pub struct ClientInput {
    /// The client's settings.
    pub settings: Settings,
    /// Its request.
    pub request: RequestSpec,
    /// Its peer.
    pub peer: ClientPeer,
    /// The steps.
    pub ops: Vec<Op>,
}

/// Applies (operation, position, byte) triples to `base` (as in `handshake_response`).
fn mutate(base: &[u8], ops: &[u8]) -> Vec<u8> {
    let mut out = base.to_vec();
    for op in ops.chunks_exact(3) {
        let pos = if out.is_empty() {
            0
        } else {
            (usize::from(op[1]) * 7 + usize::from(op[0] >> 2)) % (out.len() + 1)
        };
        match op[0] % 3 {
            0 if pos < out.len() => out[pos] = op[2],
            0 | 1 => out.insert(pos, op[2]),
            _ if pos < out.len() => {
                out.remove(pos);
            }
            _ => {}
        }
    }
    out
}

/// Whether `bytes` holds a blank line that can end an HTTP head.
fn has_blank_line(bytes: &[u8]) -> bool {
    bytes.windows(2).any(|w| w == b"\n\n") || bytes.windows(3).any(|w| w == b"\n\r\n")
}

/// A refusal's announced body length, if any.
fn content_length(headers: &[ws_proto::handshake::Header]) -> Option<usize> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
        .and_then(|h| std::str::from_utf8(&h.value).ok())
        .and_then(|v| v.trim().parse::<usize>().ok())
}

/// What a built peer promises when its bytes arrive unchanged.
#[derive(Debug)]
enum Promise {
    /// Nothing (raw or mutated bytes).
    None,
    /// Server: the request is reported; if the head is then accepted the
    /// frame's message (if any) comes out exactly once; `client` must accept
    /// the server's acceptance.
    Request {
        client: Box<ClientHandshake>,
        frame: Option<Logical>,
    },
    /// Client: the server machine accepted; the client opens, and the
    /// frame's message (if any) comes out exactly once.
    Open {
        frame: Option<Logical>,
        /// The server negotiated permessage-deflate.
        deflate: bool,
        protocol: Option<String>,
    },
    /// Client: the server machine refused with this status and body.
    Refused { status: u16, body: Vec<u8> },
}

#[derive(Debug)]
enum Phase {
    /// Waiting for the peer's head.
    Head,
    /// Server: the request was handed out, no answer yet.
    Answering(Box<Request>),
    Open,
    Failed(Error),
}

struct Driver {
    role: Role,
    settings: Settings,
    conn: Connection,
    pool: ReadBufferPool,
    /// Client: the oracle for the response.
    oracle: Option<ClientHandshake>,
    peer: Vec<u8>,
    /// Bytes of `peer` delivered.
    pos: usize,
    eof: bool,
    since_drain: usize,
    now: Instant,
    deadline: Option<Instant>,
    phase: Phase,
    /// Where in `peer` the head ended (known once it was reported).
    head_end: Option<usize>,
    /// Extensions agreed, once open.
    extensions: Extensions,
    /// The handshake bytes the connection must write first, as far as known.
    expected_head: Vec<u8>,
    /// Whether `expected_head` is complete (the whole of what the handshake writes).
    head_known: bool,
    written: Vec<u8>,
    /// An expired timer dropped queued output.
    dropped: bool,
    /// The server accepted naming an extension of its own (the client may refuse that).
    own_extension: bool,
    /// The server's whole answer, as `respond` queued it.
    answer: Vec<u8>,
    /// A timer fired after the handshake: the reference comparison is off.
    tampered: bool,
    /// Events after opening.
    events: EventChecker,
    /// The protocol error after opening, if any.
    error_after_open: Option<Error>,
    /// Whether the server ever saw the request.
    requested: bool,
    /// An `Advance`/`FireTimer` at or after the deadline failed the handshake.
    timed_out: bool,
    promise: Promise,
}

impl Driver {
    fn new(role: Role, settings: Settings, conn: Connection, peer: Vec<u8>) -> Self {
        Self {
            role,
            events: EventChecker::new(settings.deliver_fragments, 8192),
            settings,
            conn,
            pool: ReadBufferPool::new(),
            oracle: None,
            peer,
            pos: 0,
            eof: false,
            since_drain: 0,
            now: Instant::now(),
            deadline: None,
            phase: Phase::Head,
            head_end: None,
            extensions: Extensions::none(),
            expected_head: Vec::new(),
            head_known: false,
            written: Vec::new(),
            dropped: false,
            own_extension: false,
            answer: Vec::new(),
            tampered: false,
            error_after_open: None,
            requested: false,
            timed_out: false,
            promise: Promise::None,
        }
    }

    fn connecting(&self) -> bool {
        matches!(self.phase, Phase::Head | Phase::Answering(_))
    }

    fn read(&mut self, len: usize, pooled: bool) {
        if self.eof {
            return; // nothing arrives after end of stream
        }
        let n = len % (self.peer.len() - self.pos + 1);
        let chunk = &self.peer[self.pos..self.pos + n];
        if pooled {
            self.conn
                .prepare_receive_buffer(&mut self.pool)
                .extend_from_slice(chunk);
        } else {
            self.conn.receive(chunk);
        }
        self.pos += n;
        self.since_drain += n;
    }

    fn apply(&mut self, op: Op) {
        match op {
            Op::Read { len, pooled } => {
                self.read(usize::from(len), pooled);
                self.drain(false);
            }
            Op::ReadOnly(len) => self.read(usize::from(len), false),
            Op::ReadNothing => self.conn.release_receive_buffer(&mut self.pool),
            Op::Poll { borrow } => self.drain(borrow),
            Op::Eof => {
                self.conn.receive_eof();
                self.eof = true;
            }
            Op::Respond(answer) => self.respond(&answer),
            Op::PollTimeout => {
                self.poll_timeout();
            }
            Op::Advance(ms) => {
                self.now += Duration::from_millis(u64::from(ms));
                self.handle_timeout();
            }
            Op::FireTimer(extra) => {
                if let Some(deadline) = self.poll_timeout() {
                    self.now = self.now.max(deadline) + Duration::from_millis(u64::from(extra));
                    self.handle_timeout();
                }
            }
            Op::Write(n) => self.write(usize::from(n)),
            Op::Send => {
                let expected = match self.phase {
                    Phase::Head | Phase::Answering(_) => Some(Err(SendError::Connecting)),
                    Phase::Failed(_) => Some(Err(SendError::Closed)),
                    Phase::Open => None, // frames the reference would not send
                };
                if let Some(expected) = expected {
                    assert_eq!(self.conn.send_text("early"), expected, "send_text");
                    assert_eq!(self.conn.close(CloseCode::NORMAL, ""), expected, "close");
                }
            }
        }
    }

    fn write(&mut self, n: usize) {
        if n == 0 {
            if let Some(chunk) = self.conn.poll_transmit() {
                assert!(!chunk.is_empty(), "poll_transmit gave an empty chunk");
                self.written.extend_from_slice(&chunk);
            }
            return;
        }
        let bytes: Vec<u8> = self
            .conn
            .transmit_slices()
            .flatten()
            .take(n)
            .copied()
            .collect();
        let before = self.conn.buffered_amount();
        self.conn.advance_transmit(n);
        assert_eq!(self.conn.buffered_amount(), before - bytes.len());
        self.written.extend_from_slice(&bytes);
    }

    fn respond(&mut self, answer: &Answer) {
        let Phase::Answering(request) = &self.phase else {
            let before = self.conn.buffered_amount();
            let state = self.conn.ready_state();
            assert_eq!(
                self.conn.respond(ServerResponse::reject(503, "x")),
                Err(SendError::NoRequestToAnswer),
                "respond with no request waiting"
            );
            assert_eq!(self.conn.buffered_amount(), before, "a refused respond queued");
            assert_eq!(self.conn.ready_state(), state);
            return;
        };
        let request = request.clone();
        let response = answer.response(&request);
        let config = self.settings.build();
        let (expected, extensions) = request.accept_extensions(response.clone(), &config);
        let accepts = response.is_accept();
        self.own_extension = matches!(answer, Answer::OwnExtension);
        assert_eq!(self.conn.respond(response), Ok(()), "respond");
        assert!(self.conn.buffered_amount() >= expected.to_bytes().len());
        self.expected_head = expected.to_bytes();
        self.answer = self.expected_head.clone();
        self.head_known = true;
        if accepts {
            self.phase = Phase::Open;
            self.extensions = extensions;
            let state = self.conn.ready_state();
            assert!(
                state == ReadyState::Open || (self.eof && state == ReadyState::Closed),
                "an acceptance left the connection {state:?}"
            );
        } else {
            let err = Error::Handshake(HandshakeError::Refused {
                status: expected.status(),
            });
            self.phase = Phase::Failed(err.clone());
            assert_eq!(self.conn.poll_event(), Err(err), "a refusal fails the connection");
            self.since_drain = 0;
        }
    }

    /// `poll_timeout`: while connecting, the handshake deadline, the same every time.
    fn poll_timeout(&mut self) -> Option<Instant> {
        let got = self.conn.poll_timeout(self.now);
        if self.connecting() {
            let deadline = *self
                .deadline
                .get_or_insert(self.now + self.settings.timeout());
            assert_eq!(got, Some(deadline), "the handshake deadline moved");
        }
        got
    }

    fn handle_timeout(&mut self) {
        let state = self.conn.ready_state();
        let buffered = self.conn.buffered_amount();
        if self.connecting() {
            let due = self.deadline.is_some_and(|d| self.now >= d);
            self.conn.handle_timeout(self.now);
            if due {
                let err = Error::Handshake(HandshakeError::TimedOut {
                    after: self.settings.timeout(),
                });
                self.phase = Phase::Failed(err.clone());
                self.timed_out = true;
                assert_eq!(self.conn.ready_state(), ReadyState::Closed, "after the deadline");
                assert!(self.conn.should_close_transport(), "after the deadline");
                assert_eq!(self.conn.poll_event(), Err(err), "the handshake timed out");
                self.since_drain = 0;
            } else {
                assert_eq!(self.conn.ready_state(), state, "an early timeout changed the state");
                assert_eq!(self.conn.buffered_amount(), buffered, "an early timeout wrote");
            }
            assert_eq!(self.conn.buffered_amount(), buffered, "the handshake timer wrote");
            return;
        }
        // After the handshake: the close and linger timers (no keepalive is
        // configured). When one fires, the comparison with a connection that
        // saw no timer is off.
        if let Some(deadline) = self.conn.poll_timeout(self.now) {
            if self.now >= deadline {
                self.tampered = true;
            }
        }
        self.conn.handle_timeout(self.now);
        if self.conn.buffered_amount() < buffered {
            assert_eq!(self.conn.buffered_amount(), 0, "a timer dropped part of the queue");
            self.dropped = true;
            // The linger timer dropped what was not written, possibly part
            // of the handshake's bytes: only what was written stays expected.
            let written = self.written.len().min(self.expected_head.len());
            self.expected_head.truncate(written);
        }
    }

    fn drain(&mut self, borrow: bool) {
        loop {
            let next = if borrow {
                self.conn.poll_event_ref().map(|e| e.map(|e| e.to_event()))
            } else {
                self.conn.poll_event()
            };
            if !self.on_poll(next) {
                break;
            }
        }
        self.since_drain = 0;
    }

    /// Checks one `poll_event` result; `true` to poll again.
    fn on_poll(&mut self, next: Result<Option<Event>, Error>) -> bool {
        match &self.phase {
            Phase::Failed(err) => {
                assert_eq!(next.as_ref(), Err(err), "handshake errors are sticky");
                false
            }
            Phase::Answering(_) => {
                assert_eq!(next, Ok(None), "an event before the answer");
                assert_eq!(self.conn.ready_state(), ReadyState::Connecting);
                false
            }
            Phase::Head => match self.role {
                Role::Server => self.server_verdict(next),
                Role::Client => self.client_verdict(next),
            },
            Phase::Open => match next {
                Ok(Some(event)) => {
                    assert!(self.error_after_open.is_none(), "event after an error");
                    assert!(
                        !matches!(event, Event::Request(_) | Event::Response(_)),
                        "a handshake event after opening"
                    );
                    let abnormal = self.eof || self.tampered;
                    self.events.on_event(&event, abnormal);
                    true
                }
                Ok(None) => false,
                Err(err) => {
                    assert!(matches!(err, Error::Protocol(_)), "{err:?} after opening");
                    if let Some(first) = &self.error_after_open {
                        assert_eq!(&err, first, "errors are sticky");
                    }
                    self.error_after_open = Some(err);
                    false
                }
            },
        }
    }

    fn fail(&mut self, err: Error) {
        assert!(self.conn.should_close_transport(), "a failed handshake keeps the transport");
        assert_eq!(self.conn.ready_state(), ReadyState::Closed);
        self.phase = Phase::Failed(err);
    }

    fn server_verdict(&mut self, next: Result<Option<Event>, Error>) -> bool {
        let limits = self.settings.limits();
        let delivered = &self.peer[..self.pos];
        let oracle = Request::parse_with_limits(delivered, limits);
        match next {
            Ok(Some(Event::Request(request))) => {
                let Ok(Some((expected, used))) = oracle else {
                    panic!("a request the parser does not see: {oracle:?}");
                };
                assert_eq!(*request, expected, "the request differs from the parser's");
                assert_eq!(self.conn.ready_state(), ReadyState::Connecting);
                assert_eq!(self.conn.buffered_amount(), 0, "the server wrote before answering");
                self.head_end = Some(used);
                self.requested = true;
                self.phase = Phase::Answering(request);
                true
            }
            Ok(Some(other)) => panic!("{other:?} while waiting for the request"),
            Ok(None) => {
                assert!(!self.eof, "end of stream left the handshake undecided");
                match oracle {
                    Ok(None) => {}
                    Ok(Some(_)) => panic!("a complete request was not reported"),
                    Err(e) => assert!(
                        !has_blank_line(delivered) && delivered.len() < limits.max_header_bytes,
                        "the verdict {e:?} was put off although the head can have ended"
                    ),
                }
                false
            }
            Err(err) => {
                match &oracle {
                    Ok(None) if self.eof => assert_eq!(
                        err,
                        Error::Handshake(HandshakeError::PeerClosed { peer: Role::Client })
                    ),
                    Err(e) => {
                        assert_eq!(err, Error::Handshake(HandshakeError::Request(e.clone())));
                        self.expected_head = ServerResponse::from_error(e).to_bytes();
                        self.head_known = true;
                        assert_eq!(
                            self.conn.buffered_amount(),
                            self.expected_head.len(),
                            "the error response"
                        );
                    }
                    _ => panic!("{err:?} although the parser says {oracle:?}"),
                }
                self.fail(err);
                false
            }
        }
    }

    fn client_verdict(&mut self, next: Result<Option<Event>, Error>) -> bool {
        let oracle = self.oracle.as_ref().expect("client oracle");
        let delivered = &self.peer[..self.pos];
        let verdict = oracle.parse_response(delivered);
        match next {
            Ok(Some(Event::Response(response))) => {
                let Ok(Some((expected, used))) = verdict else {
                    panic!("a response the parser does not accept: {verdict:?}");
                };
                assert_eq!(*response, expected, "the response differs from the parser's");
                let state = self.conn.ready_state();
                assert!(
                    state == ReadyState::Open || (self.eof && state == ReadyState::Closed),
                    "a 101 left the client {state:?}"
                );
                self.head_end = Some(used);
                self.extensions = response.negotiated().clone();
                if let Promise::Open { deflate, protocol, .. } = &self.promise {
                    assert_eq!(
                        response.negotiated().contains("permessage-deflate"),
                        *deflate,
                        "deflate agreed on one side only"
                    );
                    assert_eq!(response.protocol(), protocol.as_deref());
                }
                self.phase = Phase::Open;
                true
            }
            Ok(Some(other)) => panic!("{other:?} while waiting for the response"),
            Ok(None) => {
                assert!(!self.eof, "end of stream left the handshake undecided");
                match verdict {
                    Ok(None) => {}
                    Ok(Some(_)) => panic!("a complete response was not reported"),
                    Err(ResponseError::Rejected(r))
                        if r.body.len() < REFUSAL_BODY
                            && content_length(&r.headers).is_some_and(|n| n > r.body.len()) => {}
                    Err(e) => assert!(
                        !has_blank_line(delivered) && delivered.len() < RESPONSE_HEAD_LIMIT,
                        "the verdict {e:?} was put off although the head can have ended"
                    ),
                }
                false
            }
            Err(err) => {
                match verdict {
                    Ok(None) if self.eof => assert_eq!(
                        err,
                        Error::Handshake(HandshakeError::PeerClosed { peer: Role::Server })
                    ),
                    Err(e) => assert_eq!(err, Error::Handshake(HandshakeError::Response(e))),
                    v => panic!("{err:?} although the parser says {v:?}"),
                }
                self.fail(err);
                false
            }
        }
    }

    /// The checks after every step.
    fn check(&mut self) {
        let pending: usize = self.conn.transmit_slices().map(<[u8]>::len).sum();
        assert_eq!(self.conn.buffered_amount(), pending, "buffered_amount");
        let state = self.conn.ready_state();
        match &self.phase {
            Phase::Head | Phase::Answering(_) => {
                assert_eq!(state, ReadyState::Connecting);
                if !self.eof {
                    assert!(!self.conn.should_close_transport(), "closing while connecting");
                }
                if self.role == Role::Server {
                    assert_eq!(pending, 0, "the server wrote before answering");
                }
            }
            Phase::Open => assert_ne!(state, ReadyState::Connecting),
            Phase::Failed(_) => {
                assert_eq!(state, ReadyState::Closed);
                assert!(self.conn.should_close_transport());
            }
        }
        if let Phase::Head = self.phase {
            // The read buffer holds at most the head limit plus what was read
            // since the last drain.
            let limit = match self.role {
                Role::Server => self.settings.limits().max_header_bytes,
                Role::Client => RESPONSE_HEAD_LIMIT + REFUSAL_BODY,
            };
            let held = self.conn.receive_buffer().len();
            assert!(
                held < limit.max(1) + self.since_drain,
                "the read buffer holds {held} bytes waiting for a head (limit {limit}, {} read since the last drain)",
                self.since_drain
            );
        }
        // What was written starts with the handshake's bytes.
        let n = self.written.len().min(self.expected_head.len());
        assert_eq!(
            self.written[..n],
            self.expected_head[..n],
            "the handshake bytes written differ"
        );
        if !self.head_known {
            assert!(self.written.len() <= self.expected_head.len(), "wrote past the head");
        }
    }

    fn finish(&mut self, last_answer: &Answer) {
        if !self.eof && !matches!(self.phase, Phase::Failed(_)) {
            let left = self.peer.len() - self.pos;
            self.read(left, false);
        }
        self.drain(false);
        if let Phase::Answering(_) = self.phase {
            self.respond(last_answer);
            self.drain(true);
        }
        self.check();
        while let Some(chunk) = self.conn.poll_transmit() {
            assert!(!chunk.is_empty(), "poll_transmit gave an empty chunk");
            self.written.extend_from_slice(&chunk);
        }
        self.check();
        if self.head_known && !self.dropped {
            assert!(
                self.written.len() >= self.expected_head.len(),
                "the handshake's bytes were not all written"
            );
        }
        match &self.phase {
            Phase::Failed(err) => {
                let err = err.clone();
                if !self.dropped {
                    assert_eq!(self.written, self.expected_head, "wrote after a failed handshake");
                }
                // Sticky whatever happens next; nothing more is written.
                self.conn.receive(b"GET / HTTP/1.1\r\n\r\n\x81\x00");
                assert_eq!(self.conn.poll_event(), Err(err.clone()));
                assert_eq!(self.conn.send_text("late"), Err(SendError::Closed));
                assert_eq!(
                    self.conn.respond(ServerResponse::reject(500, "")),
                    Err(SendError::NoRequestToAnswer)
                );
                self.now += Duration::from_secs(3600);
                self.conn.handle_timeout(self.now);
                assert_eq!(self.conn.poll_event(), Err(err));
                assert_eq!(self.conn.poll_transmit(), None);
            }
            Phase::Open => self.compare_with_open_connection(),
            Phase::Head => {
                assert!(!self.eof, "undecided at end of stream");
            }
            Phase::Answering(_) => unreachable!("answered above"),
        }
        self.check_promise();
    }

    /// The bytes after the head, given to a connection built open with the
    /// same extensions, must give the same messages, error and frames.
    fn compare_with_open_connection(&mut self) {
        let head_end = self.head_end.expect("opened after a head");
        assert!(head_end <= self.pos);
        if self.tampered || self.dropped {
            return;
        }
        let mut reference =
            Connection::with_extensions(self.role, self.settings.build(), self.extensions.clone());
        reference.receive(&self.peer[head_end..self.pos]);
        if self.eof {
            reference.receive_eof();
        }
        let mut events = EventChecker::new(self.settings.deliver_fragments, 8192);
        let mut error = None;
        loop {
            match reference.poll_event() {
                Ok(Some(event)) => events.on_event(&event, self.eof),
                Ok(None) => break,
                Err(err) => {
                    error = Some(err);
                    break;
                }
            }
        }
        assert_eq!(
            self.events.logical, events.logical,
            "the bytes after the head decode differently (lost or read twice?)"
        );
        if self.extensions.contains("permessage-deflate") {
            // Inflating a corrupt message piece by piece may find bad UTF-8
            // before bad compressed data, or the reverse, depending on how
            // it arrived: both close with 1007. The code must agree.
            let code = |e: &Option<Error>| e.as_ref().map(Error::close_code);
            assert_eq!(
                code(&self.error_after_open),
                code(&error),
                "a different error after the head: {:?} vs {error:?}",
                self.error_after_open
            );
        } else {
            assert_eq!(self.error_after_open, error, "a different error after the head");
        }
        let mut ours = OutputTracker::new(self.role);
        ours.push(&self.written[self.expected_head.len()..]);
        let mut theirs = OutputTracker::new(self.role);
        while let Some(chunk) = reference.poll_transmit() {
            theirs.push(&chunk);
        }
        ours.assert_no_partial_frame();
        if self.eof {
            // A ping decoded before end of stream is answered, one decoded
            // after it is not (the connection has ended): the reference saw
            // every byte only after end of stream. The messages agree (above).
            return;
        }
        // With compression the error (and so the close reason) may differ
        // as said above; the close code may not.
        let deflate = self.extensions.contains("permessage-deflate");
        let frames = |t: &OutputTracker| -> Vec<(bool, u8, Vec<u8>)> {
            t.frames
                .iter()
                .map(|f| match f.opcode {
                    0x8 if deflate => (f.fin, f.opcode, f.payload[..f.payload.len().min(2)].to_vec()),
                    _ => (f.fin, f.opcode, f.payload.clone()),
                })
                .collect()
        };
        assert_eq!(frames(&ours), frames(&theirs), "different frames written after opening");
    }

    /// What a built, unmutated peer promises, when all of it arrived before
    /// end of stream and no timer cut the handshake short.
    fn check_promise(&self) {
        let undisturbed = self.pos == self.peer.len() && !self.timed_out;
        let cut_short = matches!(
            self.phase,
            Phase::Failed(Error::Handshake(
                HandshakeError::TimedOut { .. } | HandshakeError::PeerClosed { .. }
            ))
        );
        match &self.promise {
            Promise::None => {}
            Promise::Request { client, frame } => {
                if undisturbed && !cut_short {
                    assert!(self.requested, "ws-proto's own request was not reported: {:?}", self.phase);
                }
                if self.requested
                    && self.head_known
                    && !self.own_extension
                    && matches!(self.phase, Phase::Open)
                {
                    // The server's acceptance satisfies the client.
                    let verdict = client.parse_response(&self.answer);
                    assert!(
                        matches!(&verdict, Ok(Some((_, n))) if *n == self.answer.len()),
                        "the client refuses the server's acceptance: {verdict:?}"
                    );
                    if undisturbed && !self.tampered {
                        self.frame_once(frame.as_ref());
                    }
                }
            }
            Promise::Open { frame, .. } => {
                if undisturbed && !cut_short {
                    assert!(
                        matches!(self.phase, Phase::Open),
                        "the server machine's acceptance did not open the client: {:?}",
                        self.phase
                    );
                    if !self.tampered {
                        self.frame_once(frame.as_ref());
                    }
                }
            }
            Promise::Refused { status, body } => {
                if undisturbed && !cut_short {
                    match &self.phase {
                        Phase::Failed(Error::Handshake(HandshakeError::Response(
                            ResponseError::Rejected(r),
                        ))) => {
                            assert_eq!(r.status, *status);
                            assert_eq!(r.body[..], body[..body.len().min(REFUSAL_BODY)]);
                        }
                        other => panic!("the server machine's refusal gave {other:?}"),
                    }
                }
            }
        }
    }

    /// The frame sent after the head came out exactly once, first.
    fn frame_once(&self, frame: Option<&Logical>) {
        let logical = &self.events.logical;
        let Some(frame) = frame else {
            assert!(
                logical.iter().all(|l| matches!(l, Logical::Close(1006, _))),
                "messages nobody sent: {logical:?}"
            );
            return;
        };
        if self.error_after_open.is_some() {
            return; // the frame broke a limit (the reference agreed above)
        }
        assert_eq!(logical.first(), Some(frame), "the frame after the head was lost");
        assert_eq!(
            logical.iter().filter(|l| *l == frame).count(),
            1,
            "the frame after the head was read twice: {logical:?}"
        );
    }
}

/// Runs the server target's input.
pub fn run_server(input: ServerInput) {
    let conn = Connection::server(input.settings.build());
    let (peer, promise) = match &input.peer {
        ServerPeer::Raw(bytes) => (bytes.clone(), Promise::None),
        ServerPeer::Long(long) => (long.build(), Promise::None),
        ServerPeer::Client {
            settings,
            request,
            frame,
            mutations,
        } => {
            let mut config = settings.build();
            let (head, handshake) = request
                .build()
                .offer_extensions(config.handshake_config())
                .into_handshake(config.randomness_mut());
            // The client machine writes the same head.
            let mut machine = Connection::client(request.build(), settings.build());
            let mut written = Vec::new();
            while let Some(chunk) = machine.poll_transmit() {
                written.extend_from_slice(&chunk);
            }
            assert_eq!(written, head, "Connection::client wrote another head");
            let mut bytes = head;
            let frame = frame.as_ref().map(|f| {
                let (wire, logical) = f.build(Role::Client);
                bytes.extend_from_slice(&wire);
                logical
            });
            let mutated = mutate(&bytes, mutations);
            // Within the server's limits, ws-proto's own request is reported.
            let fits = matches!(
                Request::parse_with_limits(&bytes, input.settings.limits()),
                Ok(Some(_))
            );
            let promise = if mutated == bytes && fits {
                Promise::Request {
                    client: Box::new(handshake),
                    frame,
                }
            } else {
                Promise::None
            };
            (mutated, promise)
        }
    };
    let mut driver = Driver::new(Role::Server, input.settings, conn, peer);
    driver.promise = promise;
    driver.check();
    for op in input.ops {
        driver.apply(op);
        driver.check();
    }
    driver.finish(&input.last_answer);
}

/// Runs the client target's input.
pub fn run_client(input: ClientInput) {
    let mut config = input.settings.build();
    let (head, oracle) = input
        .request
        .build()
        .offer_extensions(config.handshake_config())
        .into_handshake(config.randomness_mut());
    let conn = Connection::client(input.request.build(), input.settings.build());
    assert_eq!(conn.ready_state(), ReadyState::Connecting);
    assert_eq!(conn.buffered_amount(), head.len(), "the request is queued at once");
    let (peer, promise) = match &input.peer {
        ClientPeer::Raw(bytes) => (bytes.clone(), Promise::None),
        ClientPeer::Long(long) => (long.build(), Promise::None),
        ClientPeer::Server {
            settings,
            answer,
            frame,
            mutations,
        } => {
            let mut server = Connection::server(settings.build().handshake_limits(Limits::default()));
            server.receive(&head);
            let Ok(Some(Event::Request(request))) = server.poll_event() else {
                panic!("the server machine refused ws-proto's own request");
            };
            let response = answer.response(&request);
            let accepts = response.is_accept();
            let (status, body) = (response.status(), response.body().to_vec());
            let (_, extensions) = request.accept_extensions(response.clone(), &settings.build());
            let protocol = response
                .headers()
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("sec-websocket-protocol"))
                .map(|h| String::from_utf8_lossy(&h.value).into_owned());
            server.respond(response).expect("respond");
            let mut logical = None;
            if accepts {
                if let Some(f) = frame {
                    // The server machine sends it (compressed when agreed).
                    let (_, message) = f.build(Role::Server);
                    let sent = match &message {
                        Logical::Text(t) => server.send_text(t.as_str()),
                        Logical::Binary(b) => server.send_binary(b.clone()),
                        Logical::Ping(p) => server.send_ping(p.clone()),
                        Logical::Close(code, reason) => server.close(CloseCode(*code), reason.as_str()),
                        _ => unreachable!(),
                    };
                    sent.expect("the open server sends");
                    logical = Some(message);
                }
            }
            let mut bytes = Vec::new();
            while let Some(chunk) = server.poll_transmit() {
                bytes.extend_from_slice(&chunk);
            }
            let mutated = mutate(&bytes, mutations);
            // An acceptance naming an extension the client never offered
            // is the application's mistake: the client rightly refuses it.
            let own = matches!(answer, Answer::OwnExtension);
            let promise = match (mutated == bytes && !own, accepts) {
                (false, _) => Promise::None,
                (true, true) => Promise::Open {
                    frame: logical,
                    deflate: extensions.contains("permessage-deflate"),
                    protocol,
                },
                // A refusal the client can read as one (a three-digit status other than 101).
                (true, false) if (100..1000).contains(&status) && status != 101 => {
                    Promise::Refused { status, body }
                }
                (true, false) => Promise::None,
            };
            (mutated, promise)
        }
    };
    let mut driver = Driver::new(Role::Client, input.settings, conn, peer);
    driver.oracle = Some(oracle);
    driver.expected_head = head;
    driver.head_known = true;
    driver.promise = promise;
    driver.check();
    for op in input.ops {
        driver.apply(op);
        driver.check();
    }
    driver.finish(&Answer::Accept);
}
