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

use crate::events::EventChecker;
use crate::frames::{encode_frame, LengthForm};
use crate::wire::OutputTracker;

/// Connection settings, kept small so memory limits catch untrusted lengths.
#[derive(Arbitrary, Debug, Clone)]
pub struct FuzzConfig {
    max_frame_size: u16,
    max_message_size: u16,
    deliver_fragments: bool,
    auto_pong: bool,
    max_send_frame_size: u16,
    close_timeout_ms: u16,
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

    fn build(&self) -> Config {
        Config::default()
            .max_frame_size(self.max_frame())
            .max_message_size(self.max_message())
            .deliver_fragments(self.deliver_fragments)
            .auto_pong(self.auto_pong)
            .max_send_frame_size(self.max_send())
            .close_timeout(Duration::from_millis(u64::from(self.close_timeout_ms)))
            .randomness(Randomness::seeded(self.seed))
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
}

/// A whole input for the connection targets.
#[derive(Arbitrary, Debug)]
pub struct Scenario {
    /// Settings.
    pub config: FuzzConfig,
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
}

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
}

impl Driver {
    fn new(role: Role, config: FuzzConfig) -> Self {
        let conn = Connection::new(role, config.build());
        Self {
            role,
            conn,
            out: OutputTracker::new(role),
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
            now: Instant::now(),
            fill_budget: 64 << 10,
            compared: 0,
            deadline: None,
            output_dropped: false,
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
            Op::Receive(bytes) => self.conn.receive(&bytes),
            Op::ReceiveFrame(spec) => {
                let bytes = self.peer_frame(&spec);
                self.conn.receive(&bytes);
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
                self.conn.receive(&bytes);
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
                    self.out.push(&chunk);
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
                self.out.push(&bytes);
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
                    let close_timer = self.timer_wanted();
                    self.now = self.now.max(deadline);
                    self.handle_timeout();
                    if close_timer {
                        assert!(self.timed_out, "an expired close timer did not fire");
                    }
                    assert_eq!(self.conn.buffered_amount(), 0, "queue kept after expiry");
                    assert_eq!(self.conn.poll_timeout(self.now), None, "timer still runs");
                }
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
            self.expect_frame(is_last, opcode, payload);
            self.sending = (!is_last).then_some(message_kind);
            self.sending_text = text_so_far;
        }
    }

    /// `poll_timeout(now)`: a timer runs exactly when the close timer or the
    /// linger timer is needed, and keeps the deadline it started with.
    fn poll_timeout(&mut self) -> Option<Instant> {
        let wanted = self.timer_wanted() || self.linger_wanted();
        let got = self.conn.poll_timeout(self.now);
        if wanted {
            let start = self.now + self.close_timeout();
            let deadline = *self.deadline.get_or_insert(start);
            assert_eq!(got, Some(deadline), "poll_timeout deadline");
        } else {
            self.deadline = None;
            assert_eq!(got, None, "a timer runs although none is needed");
        }
        got
    }

    /// `handle_timeout(now)`: fires the timer iff its deadline has passed. The
    /// close timer ends the connection; once the transport should close, the
    /// queue is dropped (the peer stopped reading).
    fn handle_timeout(&mut self) {
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
                // What was not written is gone, including any partial frame.
                self.out.drop_pending();
                self.expected.truncate(self.out.frames.len());
                self.output_dropped = true;
            }
        } else {
            assert_eq!(self.conn.buffered_amount(), buffered_before);
        }
    }

    fn poll_events(&mut self) {
        loop {
            let abnormal_allowed = self.eof || self.timed_out;
            match self.conn.poll_event() {
                Ok(Some(event)) => {
                    assert!(self.error.is_none(), "event after an error");
                    self.events.on_event(&event, abnormal_allowed);
                    self.on_event(&event);
                }
                Ok(None) => {
                    assert!(self.error.is_none(), "an error was not sticky");
                    break;
                }
                Err(err) => {
                    // No handshake runs on a connection built open.
                    let err = crate::protocol_error(err);
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
        assert!(
            self.out.frames.len() <= self.expected.len(),
            "wrote a frame the model did not expect: {:?}",
            self.out.frames.get(self.expected.len())
        );
        for (i, got) in self.out.frames.iter().enumerate().skip(self.compared) {
            match &self.expected[i] {
                Expect::Frame {
                    fin,
                    opcode,
                    payload,
                } => assert_eq!(
                    (got.fin, got.opcode, &got.payload[..]),
                    (*fin, *opcode, &payload[..]),
                    "frame {i} differs from the model"
                ),
                Expect::ErrorClose(code) => {
                    assert_eq!(got.close_code(), Some(code.0), "frame {i}: error close")
                }
            }
        }
        self.compared = self.out.frames.len();
    }

    fn finish(&mut self) {
        self.poll_events();
        while let Some(chunk) = self.conn.poll_transmit() {
            assert!(!chunk.is_empty(), "poll_transmit gave an empty chunk");
            self.out.push(&chunk);
        }
        self.check();
        assert_eq!(self.conn.buffered_amount(), 0);
        self.out.assert_no_partial_frame();
        assert_eq!(
            self.out.frames.len(),
            self.expected.len(),
            "queued frames were never written"
        );
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
    let mut driver = Driver::new(role, scenario.config);
    for op in scenario.ops {
        driver.apply(op);
        driver.check();
    }
    driver.finish();
}
