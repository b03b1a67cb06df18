//! The driver behind `frame_mode`: a server and a client `Connection`, both
//! in frame mode (`Config::deliver_frames` with a small chunk, small limits,
//! `auto_pong` and `auto_close_reply` chosen per side, permessage-deflate
//! negotiated or not), wired to each other through byte queues the input
//! drains in random splits, while each side sends random frames with
//! `send_frame` (whole or in pieces, reserved bits, control frames between
//! fragments and between pieces' frames), messages, pings, closes and
//! `go_away`.
//!
//! Checked:
//!
//! * no panic; every failure is an `Err`, and sticky;
//! * every frame event is consistent: pieces of a frame longer than the
//!   chunk come as chunk-sized pieces (the last shorter), repeat the
//!   header, and `remaining` counts down to 0 by each piece's length;
//!   `is_first` exactly on the first piece; control frames never split,
//!   FIN set, at most 125 bytes; reserved bits only as negotiated; data
//!   frames within `max_frame_size`, messages within `max_message_size`,
//!   continuations only inside a message; uncompressed text UTF-8;
//! * after the close frame's event (or the 1006 close after EOF) nothing
//!   but `Ok(None)`;
//! * what each side writes is well-formed for its role (an independent
//!   decoder, [`crate::wire::parse_frame`]): masks, minimal lengths, legal
//!   control frames, nothing after its close frame; and it is exactly the
//!   frames its successful commands asked for, in order, with only
//!   automatic pongs (answering pings it received, in order) and close
//!   frames it owed (the echo of the peer's close, the close of a protocol
//!   error) in between;
//! * the round trip: the frames a side reassembles from the pieces it was
//!   handed are exactly the frames the peer wrote, byte for byte, in
//!   order, unless raw bytes were injected into that direction; it stops
//!   early only at a frame over its limits (then with 1009), at the end of
//!   the transport, or at a close; an incomplete frame's bytes are a prefix
//!   of what the peer sent of it;
//! * rejected sends queue nothing; a well-formed next piece of a frame is
//!   accepted unless the connection has ended; a piece that does not
//!   continue the frame, a control frame in pieces, over 125 bytes or
//!   without FIN, and reserved bits no extension owns are refused.

use std::collections::VecDeque;

use arbitrary::Arbitrary;
use bytes::Bytes;
use ws_proto::frame::OpCode;
use ws_proto::{
    CloseCode, CloseFrame, Config, Connection, DeflateConfig, Error, Event, EventRef, Extensions,
    Frame, Message, ProtocolError, Randomness, Role, SendError, SendOptions,
};

use crate::wire::{parse_frame, WireFrame};

/// One side's settings.
#[derive(Arbitrary, Debug, Clone)]
pub struct SideConfig {
    /// `deliver_frames(chunk % 65)`: 0 (taken as 1) to 64 bytes.
    chunk: u8,
    /// `max_frame_size`: 0..=4096.
    max_frame: u16,
    /// `max_message_size`: 0..=8192.
    max_message: u16,
    auto_pong: bool,
    auto_close_reply: bool,
    /// `max_send_frame_size` for `send_text`/`send_binary` (0: unlimited).
    max_send: u8,
}

impl SideConfig {
    fn chunk(&self) -> usize {
        (usize::from(self.chunk) % 65).max(1)
    }

    fn max_frame(&self) -> usize {
        usize::from(self.max_frame) % 4097
    }

    fn max_message(&self) -> usize {
        usize::from(self.max_message) % 8193
    }

    fn build(&self, seed: u64) -> Config {
        Config::default()
            .deliver_frames(usize::from(self.chunk) % 65)
            .max_frame_size(self.max_frame())
            .max_message_size(self.max_message())
            .auto_pong(self.auto_pong)
            .auto_close_reply(self.auto_close_reply)
            .max_send_frame_size(match self.max_send {
                0 => usize::MAX,
                n => usize::from(n),
            })
            .randomness(Randomness::seeded(seed))
    }
}

/// Which side.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// The server.
    Server,
    /// The client.
    Client,
}

/// One step.
#[derive(Arbitrary, Debug, Clone)]
pub enum Op {
    /// `send_frame` of a new frame: the whole of it, or its first piece.
    Frame {
        /// The sender.
        who: Who,
        /// FIN.
        fin: bool,
        /// Reserved bits (low three).
        rsv: u8,
        /// Opcode selector: below 0x80 one of the six opcodes, from 0x80
        /// the one that fits the message being sent (to make progress).
        opcode: u8,
        /// Payload start (made UTF-8 for text unless `raw_text`).
        data: Vec<u8>,
        /// Zero bytes appended (modulo 6 KiB + 1, 64 KiB in all).
        fill: u16,
        /// The first piece's length (modulo the frame's length plus one).
        first: u16,
        /// Keep text bytes as they are (often invalid UTF-8).
        raw_text: bool,
    },
    /// The next piece of the frame being sent.
    Piece {
        /// The sender.
        who: Who,
        /// Its length (modulo what is left plus one).
        len: u16,
        /// Below 5: a good piece; otherwise spoiled in one of three ways.
        spoil: u8,
    },
    /// `send_text` (uncompressed with deflate, so the frames are known).
    Text {
        /// The sender.
        who: Who,
        /// The text.
        text: String,
    },
    /// `send_binary` (uncompressed).
    Binary {
        /// The sender.
        who: Who,
        /// The bytes.
        data: Vec<u8>,
    },
    /// A ping, pong (`pong`) through `send_ping`/`send_pong` or `send_frame`.
    Control {
        /// The sender.
        who: Who,
        /// Pong rather than ping.
        pong: bool,
        /// Through `send_frame`.
        as_frame: bool,
        /// Payload (not cut: over 125 bytes must be refused).
        data: Vec<u8>,
    },
    /// A close through `close` or `send_frame(Frame::close(..))`.
    Close {
        /// The sender.
        who: Who,
        /// Through `send_frame`.
        as_frame: bool,
        /// Code selector.
        code: u16,
        /// Reason (not cut).
        reason: String,
    },
    /// `go_away`.
    GoAway {
        /// The side going away.
        who: Who,
    },
    /// Raw bytes into what `who` sends (the peer's round trip is off then).
    Raw {
        /// The side whose stream is spoiled.
        who: Who,
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// Move up to `n` (0: all) of `from`'s written bytes to the peer, fed
    /// in the input's splits.
    Deliver {
        /// The writer.
        from: Who,
        /// How many bytes.
        n: u16,
    },
    /// Drain `who`'s events (`poll_event`, or `poll_event_ref`).
    Poll {
        /// The side.
        who: Who,
        /// Through `poll_event_ref`.
        borrowed: bool,
    },
    /// The transport's read side ended for `who`.
    Eof {
        /// The side.
        who: Who,
    },
}

/// A whole input for the `frame_mode` target.
#[derive(Arbitrary, Debug)]
pub struct FrameMode {
    /// The server's settings.
    pub server: SideConfig,
    /// The client's settings.
    pub client: SideConfig,
    /// permessage-deflate negotiated on both sides (RSV1 owned).
    pub deflate: bool,
    /// Masking keys.
    pub seed: u64,
    /// Read sizes, cycled (each plus one).
    pub splits: Vec<u8>,
    /// The steps; then everything is delivered and drained.
    pub ops: Vec<Op>,
}

/// A whole frame: header fields and payload.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Whole {
    fin: bool,
    rsv: u8,
    opcode: u8,
    payload: Vec<u8>,
}

impl Whole {
    fn of(wire: &WireFrame) -> Self {
        Self {
            fin: wire.fin,
            rsv: wire.rsv,
            opcode: wire.opcode,
            payload: wire.payload.clone(),
        }
    }

    fn control(opcode: OpCode, payload: &[u8]) -> Self {
        Self {
            fin: true,
            rsv: 0,
            opcode: opcode.as_u8(),
            payload: payload.to_vec(),
        }
    }

    fn is_control(&self) -> bool {
        self.opcode & 0x8 != 0
    }
}

/// A frame of ours whose pieces are being sent.
#[derive(Debug)]
struct Sending {
    fin: bool,
    rsv: u8,
    opcode: OpCode,
    payload: Bytes,
    sent: usize,
    /// Its text (if checked) is valid so far: every good piece must go.
    valid: bool,
}

/// A frame being received in pieces.
#[derive(Debug)]
struct Receiving {
    fin: bool,
    rsv: u8,
    opcode: OpCode,
    data: Vec<u8>,
    remaining: u64,
}

const CODES: [u16; 12] = [
    1000, 1001, 1002, 1003, 1005, 1006, 1007, 1008, 1011, 1015, 3000, 4999,
];

const OPCODES: [OpCode; 6] = [
    OpCode::Continuation,
    OpCode::Text,
    OpCode::Binary,
    OpCode::Close,
    OpCode::Ping,
    OpCode::Pong,
];

struct Side {
    role: Role,
    conn: Connection,
    chunk: usize,
    max_frame: usize,
    max_message: usize,
    auto_pong: bool,
    auto_close_reply: bool,
    deflate: bool,
    // --- sending ---
    /// Frames our successful commands asked for, not yet seen written.
    commands: VecDeque<Whole>,
    /// The close `go_away` owes while a frame of ours is half sent.
    owed_close: Option<Whole>,
    sending: Option<Sending>,
    /// The data message being sent: its text is checked (uncompressed
    /// text, `Some(true)`) or not.
    sending_message: Option<bool>,
    /// The checked text of that message so far.
    sending_text: Vec<u8>,
    /// Everything written, and how far it is decoded.
    written: Vec<u8>,
    decoded: usize,
    /// Whole frames written.
    wire: Vec<Whole>,
    wrote_close: bool,
    /// Written, not yet delivered to the peer.
    pending: VecDeque<u8>,
    /// Raw bytes went into `pending`: the peer's round trip is off.
    spoiled: bool,
    // --- receiving ---
    receiving: Option<Receiving>,
    /// Whole frames received.
    received: Vec<Whole>,
    /// The data message being received: text (uncompressed) bytes, length.
    message: Option<(Option<Vec<u8>>, usize)>,
    /// Pings received, to be matched by automatic pongs.
    pings: VecDeque<Vec<u8>>,
    /// Close frames (payloads) received: the automatic reply echoes one.
    closes: Vec<Vec<u8>>,
    closed: bool,
    error: Option<Error>,
    eof: bool,
}

impl Side {
    fn new(role: Role, config: &SideConfig, deflate: bool, seed: u64) -> Self {
        let extensions = if deflate {
            let agreed = DeflateConfig::default().negotiate(["permessage-deflate"].into_iter());
            Extensions::deflate(agreed)
        } else {
            Extensions::none()
        };
        Self {
            role,
            conn: Connection::with_extensions(role, config.build(seed), extensions),
            chunk: config.chunk(),
            max_frame: config.max_frame(),
            max_message: config.max_message(),
            auto_pong: config.auto_pong,
            auto_close_reply: config.auto_close_reply,
            deflate,
            commands: VecDeque::new(),
            owed_close: None,
            sending: None,
            sending_message: None,
            sending_text: Vec::new(),
            written: Vec::new(),
            decoded: 0,
            wire: Vec::new(),
            wrote_close: false,
            pending: VecDeque::new(),
            spoiled: false,
            receiving: None,
            received: Vec::new(),
            message: None,
            pings: VecDeque::new(),
            closes: Vec::new(),
            closed: false,
            error: None,
            eof: false,
        }
    }

    /// Whether the connection can no longer send anything.
    fn ended(&self) -> bool {
        self.error.is_some() || self.eof
    }

    fn rsv_allowed(&self, rsv: u8, opcode: OpCode) -> bool {
        rsv == 0
            || (self.deflate && rsv == 0b100 && matches!(opcode, OpCode::Text | OpCode::Binary))
    }

    // ----- sending -----

    /// Runs one send, checking that a refusal queues nothing.
    fn send(&mut self, f: impl FnOnce(&mut Connection) -> Result<(), SendError>) -> bool {
        let before = self.conn.buffered_amount();
        match f(&mut self.conn) {
            Ok(()) => true,
            Err(_) => {
                assert_eq!(
                    self.conn.buffered_amount(),
                    before,
                    "a refused send queued bytes"
                );
                false
            }
        }
    }

    /// A whole data frame was sent: the message state follows it.
    fn data_frame_done(&mut self, frame: Whole) {
        if !frame.is_control() {
            let checked = if frame.opcode == 0 {
                self.sending_message == Some(true)
            } else {
                self.sending_text.clear();
                frame.opcode == 1 && frame.rsv == 0
            };
            if checked {
                self.sending_text.extend_from_slice(&frame.payload);
            }
            self.sending_message = (!frame.fin).then_some(checked);
            if frame.fin {
                self.sending_text.clear();
            }
        }
        self.commands.push_back(frame);
    }

    fn frame(&mut self, op: &Op, budget: &mut usize) {
        let Op::Frame {
            fin,
            rsv,
            opcode,
            data,
            fill,
            first,
            raw_text,
            ..
        } = op
        else {
            return;
        };
        let opcode = if *opcode < 0x80 {
            OPCODES[usize::from(*opcode) % OPCODES.len()]
        } else {
            match self.sending_message {
                Some(_) => OpCode::Continuation,
                None if opcode & 1 == 0 => OpCode::Text,
                None => OpCode::Binary,
            }
        };
        let text = opcode == OpCode::Text
            || (opcode == OpCode::Continuation && self.sending_message == Some(true));
        let mut payload = if text && !raw_text {
            String::from_utf8_lossy(data).into_owned().into_bytes()
        } else {
            data.clone()
        };
        let fill = (usize::from(*fill) % 6145).min(*budget);
        *budget -= fill;
        payload.resize(payload.len() + fill, 0);
        let len = payload.len();
        let first = usize::from(*first) % (len + 1);
        let payload = Bytes::from(payload);
        let rsv = rsv & 0x7;
        // The core checks uncompressed text across the message's frames.
        let checked = (opcode == OpCode::Text && rsv == 0)
            || (opcode == OpCode::Continuation && self.sending_message == Some(true));
        let valid = !checked || {
            let mut all = if opcode == OpCode::Continuation {
                self.sending_text.clone()
            } else {
                Vec::new()
            };
            all.extend_from_slice(&payload);
            text_ok(&all, *fin)
        };
        let piece =
            Frame::first_piece(*fin, opcode, len as u64, payload.slice(..first)).with_rsv(rsv);
        let half_sent = self.sending.is_some();
        let ok = self.send(|c| c.send_frame(piece));
        if half_sent {
            assert!(!ok, "a new frame went out while one was half sent");
            return;
        }
        if opcode.is_control() && (len > 125 || first < len || !fin) {
            assert!(
                !ok,
                "a control frame over 125 bytes, in pieces or without FIN was sent"
            );
        }
        if first == len && !valid {
            assert!(!ok, "invalid UTF-8 was sent as text");
        }
        if !self.rsv_allowed(rsv, opcode) {
            assert!(!ok, "reserved bits {rsv:#b} no extension owns were sent");
        }
        if !ok {
            return;
        }
        if first == len {
            let whole = Whole {
                fin: *fin,
                rsv,
                opcode: opcode.as_u8(),
                payload: payload.to_vec(),
            };
            self.data_frame_done(whole);
        } else {
            self.sending = Some(Sending {
                fin: *fin,
                rsv,
                opcode,
                payload,
                sent: first,
                valid,
            });
        }
    }

    fn piece(&mut self, len: usize, spoil: u8) {
        let Some(s) = &self.sending else {
            // No frame in progress: a piece is out of order.
            let stray = Frame::first_piece(true, OpCode::Binary, 2, vec![0]).next_piece(vec![0]);
            assert!(
                !self.send(|c| c.send_frame(stray)),
                "a stray piece was sent"
            );
            return;
        };
        let left = s.payload.len() - s.sent;
        let n = len % (left + 1);
        let data = s.payload.slice(s.sent..s.sent + n);
        let mut piece = Frame {
            fin: s.fin,
            rsv: s.rsv,
            opcode: s.opcode,
            is_first: false,
            remaining: (left - n) as u64,
            data,
        };
        let spoiled = match spoil % 8 {
            5 => {
                piece.remaining += 1;
                true
            }
            6 => {
                piece.fin = !piece.fin;
                true
            }
            7 => {
                piece.data = Bytes::from(vec![0; left + 1]);
                piece.remaining = 0;
                true
            }
            _ => false,
        };
        let must_go = !self.ended() && s.valid;
        let ok = self.send(|c| c.send_frame(piece));
        if spoiled {
            assert!(!ok, "a piece that does not continue the frame was sent");
            return;
        }
        if must_go {
            assert!(ok, "a good next piece was refused");
        }
        if !ok {
            return;
        }
        let s = self.sending.as_mut().expect("checked above");
        s.sent += n;
        if s.sent == s.payload.len() {
            let s = self.sending.take().expect("checked above");
            self.data_frame_done(Whole {
                fin: s.fin,
                rsv: s.rsv,
                opcode: s.opcode.as_u8(),
                payload: s.payload.to_vec(),
            });
            if let Some(close) = self.owed_close.take() {
                self.commands.push_back(close);
            }
        }
    }

    /// What `send_text`/`send_binary` write: split at `max_send`.
    fn message(&mut self, opcode: OpCode, payload: Bytes, max_send: usize) {
        let options = SendOptions::default().compress(false);
        let message = match opcode {
            OpCode::Text => {
                Message::Text(String::from_utf8(payload.to_vec()).expect("text op").into())
            }
            _ => Message::Binary(payload.clone()),
        };
        if !self.send(|c| c.send_with(message, options)) {
            return;
        }
        assert!(self.sending.is_none() && self.sending_message.is_none());
        let max = max_send.max(1);
        if payload.len() <= max {
            self.data_frame_done(Whole {
                fin: true,
                rsv: 0,
                opcode: opcode.as_u8(),
                payload: payload.to_vec(),
            });
            return;
        }
        let mut start = 0;
        while start < payload.len() {
            let end = payload.len().min(start + max);
            self.data_frame_done(Whole {
                fin: end == payload.len(),
                rsv: 0,
                opcode: if start == 0 { opcode.as_u8() } else { 0 },
                payload: payload[start..end].to_vec(),
            });
            start = end;
        }
    }

    fn control(&mut self, pong: bool, as_frame: bool, data: &[u8]) {
        let opcode = if pong { OpCode::Pong } else { OpCode::Ping };
        let payload = Bytes::copy_from_slice(data);
        let ok = if as_frame {
            let frame = Frame::new(true, opcode, payload);
            self.send(|c| c.send_frame(frame))
        } else if pong {
            self.send(|c| c.send_pong(payload))
        } else {
            self.send(|c| c.send_ping(payload))
        };
        if data.len() > 125 {
            assert!(!ok, "a control frame over 125 bytes was sent");
        }
        if ok {
            self.commands.push_back(Whole::control(opcode, data));
        }
    }

    fn close(&mut self, as_frame: bool, code: u16, reason: &str) {
        let ok = if as_frame {
            let frame = Frame::close(CloseCode(code), reason);
            self.send(|c| c.send_frame(frame))
        } else {
            self.send(|c| c.close(CloseCode(code), reason))
        };
        if ok {
            let payload = CloseFrame::new(CloseCode(code), reason).encode();
            self.commands
                .push_back(Whole::control(OpCode::Close, &payload));
        }
    }

    fn go_away(&mut self) {
        let before = self.conn.buffered_amount();
        if !self.conn.go_away() {
            assert_eq!(
                self.conn.buffered_amount(),
                before,
                "go_away refused, queued bytes"
            );
            return;
        }
        let close = CloseFrame::new(CloseCode::GOING_AWAY, ws_proto::GOING_AWAY_REASON).encode();
        let close = Whole::control(OpCode::Close, &close);
        if self.sending.is_some() {
            assert_eq!(
                self.conn.buffered_amount(),
                before,
                "an owed close was queued mid-frame"
            );
            assert!(self.owed_close.is_none(), "go_away owed two closes");
            self.owed_close = Some(close);
        } else {
            self.commands.push_back(close);
        }
    }

    /// Takes what the connection writes, decodes and checks it.
    fn collect(&mut self) {
        while let Some(chunk) = self.conn.poll_transmit() {
            assert!(!chunk.is_empty(), "poll_transmit returned an empty chunk");
            self.written.extend_from_slice(&chunk);
            self.pending.extend(chunk.iter());
        }
        while let Some((frame, used)) = parse_frame(&self.written[self.decoded..]) {
            self.decoded += used;
            self.check_written(&frame);
            let whole = Whole::of(&frame);
            self.match_command(&whole);
            self.wire.push(whole);
        }
    }

    fn check_written(&mut self, frame: &WireFrame) {
        assert!(
            !self.wrote_close,
            "a frame was written after the close frame"
        );
        let opcode = OpCode::from_u8(frame.opcode).expect("wrote a reserved opcode");
        assert!(frame.minimal_length, "wrote a non-minimal length");
        assert_eq!(
            frame.mask.is_some(),
            self.role == Role::Client,
            "masking does not fit the role"
        );
        if opcode.is_control() {
            assert!(frame.fin && frame.payload.len() <= 125 && frame.rsv == 0);
        }
        if opcode == OpCode::Close {
            self.wrote_close = true;
            CloseFrame::decode(Bytes::from(frame.payload.clone()))
                .expect("wrote an invalid close payload");
        }
    }

    /// A written frame is the next command, or an automatic frame.
    fn match_command(&mut self, frame: &Whole) {
        if self.commands.front() == Some(frame) {
            self.commands.pop_front();
            return;
        }
        match OpCode::from_u8(frame.opcode) {
            Some(OpCode::Pong) if self.auto_pong => {
                let at = self.pings.iter().position(|p| *p == frame.payload);
                let at = at.unwrap_or_else(|| panic!("a pong for no ping: {frame:?}"));
                self.pings.drain(..=at);
            }
            Some(OpCode::Close) => {
                let echo = self.auto_close_reply && self.closes.contains(&frame.payload);
                let failure = self.error.as_ref().is_some_and(|e| {
                    frame.payload.get(..2)
                        == Some(&e.close_code().unwrap_or(CloseCode(0)).0.to_be_bytes()[..])
                });
                assert!(echo || failure, "an unasked-for close frame: {frame:?}");
            }
            _ => panic!("wrote {frame:?}, expected {:?}", self.commands.front()),
        }
    }

    // ----- receiving -----

    fn on_frame(&mut self, f: Frame) {
        assert!(!self.closed, "an event after the close: {f:?}");
        let opcode = f.opcode;
        let len = f.data.len();
        match &mut self.receiving {
            Some(r) => {
                assert!(!f.is_first, "is_first in the middle of a frame");
                assert_eq!(
                    (f.fin, f.rsv, f.opcode),
                    (r.fin, r.rsv, r.opcode),
                    "header changed"
                );
                assert_eq!(len as u64, r.remaining.min(self.chunk as u64), "piece size");
                assert_eq!(f.remaining, r.remaining - len as u64, "remaining");
                r.data.extend_from_slice(&f.data);
                r.remaining = f.remaining;
            }
            None => {
                assert!(f.is_first, "a frame's first piece without is_first");
                let frame_len = f.frame_len().expect("a first piece knows its length");
                if opcode.is_control() {
                    assert!(
                        f.fin && f.remaining == 0 && len <= 125,
                        "control frame split or long"
                    );
                    assert_eq!(f.rsv, 0, "reserved bits on a control frame");
                } else {
                    assert_eq!(
                        len as u64,
                        frame_len.min(self.chunk as u64),
                        "first piece size"
                    );
                    assert!(
                        frame_len <= self.max_frame as u64,
                        "frame over max_frame_size"
                    );
                    assert!(
                        f.rsv == 0
                            || (self.deflate && f.rsv == 0b100 && opcode != OpCode::Continuation),
                        "reserved bits no extension owns"
                    );
                    let continues = opcode == OpCode::Continuation;
                    assert_eq!(continues, self.message.is_some(), "fragmentation order");
                    if !continues {
                        let text = (opcode == OpCode::Text && f.rsv == 0).then(Vec::new);
                        self.message = Some((text, 0));
                    }
                    let message = self.message.as_mut().expect("set above");
                    message.1 += frame_len as usize;
                    assert!(
                        message.1 <= self.max_message,
                        "message over max_message_size"
                    );
                }
                self.receiving = Some(Receiving {
                    fin: f.fin,
                    rsv: f.rsv,
                    opcode,
                    data: f.data.to_vec(),
                    remaining: f.remaining,
                });
            }
        }
        if !opcode.is_control() {
            if let Some((Some(text), _)) = &mut self.message {
                text.extend_from_slice(&f.data);
            }
        }
        if f.remaining > 0 {
            return;
        }
        let r = self.receiving.take().expect("set above");
        match opcode {
            OpCode::Ping => self.pings.push_back(r.data.clone()),
            OpCode::Close => {
                CloseFrame::decode(Bytes::from(r.data.clone())).expect("an invalid close frame");
                self.closes.push(r.data.clone());
                self.closed = true;
            }
            OpCode::Pong => {}
            _ if r.fin => {
                if let Some((Some(text), _)) = self.message.take() {
                    assert!(std::str::from_utf8(&text).is_ok(), "text is not UTF-8");
                }
            }
            _ => {}
        }
        self.received.push(Whole {
            fin: r.fin,
            rsv: r.rsv,
            opcode: opcode.as_u8(),
            payload: r.data,
        });
    }

    fn on_close(&mut self, frame: &CloseFrame) {
        assert!(!self.closed, "a second close event");
        assert!(
            frame.code == CloseCode::ABNORMAL && self.eof,
            "a close event in frame mode other than 1006 after EOF: {frame:?}"
        );
        self.closed = true;
    }

    fn on_error(&mut self, err: Error) {
        if let Some(first) = &self.error {
            assert_eq!(*first, err, "the error changed");
        }
        assert!(!self.closed, "an error after the close event");
        self.error = Some(err);
    }

    /// Drains the events.
    fn poll(&mut self, borrowed: bool) {
        loop {
            if borrowed {
                let event = match self.conn.poll_event_ref() {
                    Ok(Some(EventRef::Frame(f))) => Ok(Some(Event::Frame(Box::new(f.to_frame())))),
                    Ok(Some(EventRef::Close(c))) => Ok(Some(Event::Close(c))),
                    Ok(Some(other)) => panic!("frame mode handed out {other:?}"),
                    Ok(None) => Ok(None),
                    Err(e) => Err(e),
                };
                if !self.on_event(event) {
                    break;
                }
            } else {
                let event = self.conn.poll_event();
                if !self.on_event(event) {
                    break;
                }
            }
        }
        if let Some(err) = &self.error {
            assert_eq!(
                self.conn.poll_event().as_ref().err(),
                Some(err),
                "error not sticky"
            );
        } else if self.closed {
            assert_eq!(self.conn.poll_event(), Ok(None), "an event after the close");
        }
    }

    fn on_event(&mut self, event: Result<Option<Event>, Error>) -> bool {
        match event {
            Ok(Some(Event::Frame(f))) => self.on_frame(*f),
            Ok(Some(Event::Close(c))) => self.on_close(&c),
            Ok(Some(other)) => panic!("frame mode handed out {other:?}"),
            Ok(None) => return false,
            Err(e) => {
                self.on_error(e);
                return false;
            }
        }
        true
    }

    fn receive(&mut self, bytes: &[u8]) {
        if !self.eof {
            self.conn.receive(bytes);
        }
    }
}

/// Whether `bytes` are UTF-8, or (`complete` false) a start of it.
fn text_ok(bytes: &[u8], complete: bool) -> bool {
    match std::str::from_utf8(bytes) {
        Ok(_) => true,
        Err(e) => !complete && e.error_len().is_none(),
    }
}

/// Where the peer's frames should stop: the index of the first frame of
/// `sent` (then the frame being sent, if its header went out) that is over
/// the receiver's limits.
fn first_over_limit(
    receiver: &Side,
    sent: &[Whole],
    half: Option<(OpCode, usize)>,
) -> Option<usize> {
    let mut message = 0usize;
    let frames = sent
        .iter()
        .map(|f| {
            (
                OpCode::from_u8(f.opcode).expect("checked when written"),
                f.payload.len(),
            )
        })
        .chain(half);
    for (i, (opcode, len)) in frames.enumerate() {
        if opcode.is_control() {
            continue;
        }
        message = if opcode == OpCode::Continuation {
            message + len
        } else {
            len
        };
        if len > receiver.max_frame || message > receiver.max_message {
            return Some(i);
        }
    }
    None
}

struct Driver {
    server: Side,
    client: Side,
    splits: Vec<u8>,
    split_at: usize,
    budget: usize,
}

impl Driver {
    fn sides(&mut self, who: Who) -> (&mut Side, &mut Side) {
        match who {
            Who::Server => (&mut self.server, &mut self.client),
            Who::Client => (&mut self.client, &mut self.server),
        }
    }

    fn deliver(&mut self, from: Who, n: usize) {
        let (sender, receiver) = match from {
            Who::Server => (&mut self.server, &mut self.client),
            Who::Client => (&mut self.client, &mut self.server),
        };
        let n = if n == 0 {
            sender.pending.len()
        } else {
            n.min(sender.pending.len())
        };
        let bytes: Vec<u8> = sender.pending.drain(..n).collect();
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            let size = match self.splits.get(self.split_at % self.splits.len().max(1)) {
                Some(s) => usize::from(*s) + 1,
                None => rest.len(),
            };
            self.split_at += 1;
            let (now, later) = rest.split_at(size.min(rest.len()));
            receiver.receive(now);
            rest = later;
        }
    }

    fn step(&mut self, op: &Op, max_send: (usize, usize)) {
        match op {
            Op::Frame { who, .. } => {
                let mut budget = self.budget;
                self.sides(*who).0.frame(op, &mut budget);
                self.budget = budget;
            }
            Op::Piece { who, len, spoil } => {
                self.sides(*who).0.piece(usize::from(*len), *spoil);
            }
            Op::Text { who, text } => {
                let max = if *who == Who::Server {
                    max_send.0
                } else {
                    max_send.1
                };
                self.sides(*who)
                    .0
                    .message(OpCode::Text, Bytes::from(text.clone()), max);
            }
            Op::Binary { who, data } => {
                let max = if *who == Who::Server {
                    max_send.0
                } else {
                    max_send.1
                };
                self.sides(*who)
                    .0
                    .message(OpCode::Binary, Bytes::from(data.clone()), max);
            }
            Op::Control {
                who,
                pong,
                as_frame,
                data,
            } => self.sides(*who).0.control(*pong, *as_frame, data),
            Op::Close {
                who,
                as_frame,
                code,
                reason,
            } => {
                let code = if code & 1 == 0 {
                    CODES[usize::from(code >> 1) % CODES.len()]
                } else {
                    code >> 1
                };
                self.sides(*who).0.close(*as_frame, code, reason);
            }
            Op::GoAway { who } => self.sides(*who).0.go_away(),
            Op::Raw { who, bytes } => {
                let side = self.sides(*who).0;
                side.pending.extend(bytes.iter());
                side.spoiled = true;
            }
            Op::Deliver { from, n } => self.deliver(*from, usize::from(*n)),
            Op::Poll { who, borrowed } => self.sides(*who).0.poll(*borrowed),
            Op::Eof { who } => {
                let side = self.sides(*who).0;
                side.conn.receive_eof();
                side.eof = true;
            }
        }
        self.server.collect();
        self.client.collect();
    }

    /// Finishes half-sent frames, then delivers and drains until quiet.
    fn settle(&mut self) {
        for who in [Who::Server, Who::Client] {
            let side = self.sides(who).0;
            if let Some(s) = &side.sending {
                let left = s.payload.len() - s.sent;
                side.piece(left, 0);
                side.collect();
            }
        }
        // Each round answers the last (pongs, close replies): few suffice.
        for _ in 0..16 {
            self.server.poll(false);
            self.client.poll(false);
            self.server.collect();
            self.client.collect();
            if self.server.pending.is_empty() && self.client.pending.is_empty() {
                return;
            }
            self.deliver(Who::Server, 0);
            self.deliver(Who::Client, 0);
        }
        panic!("the two sides never stopped writing to each other");
    }

    fn check(&self) {
        for (sender, receiver) in [(&self.server, &self.client), (&self.client, &self.server)] {
            // A frame of invalid text stays half sent: its rest is refused.
            let stuck = sender.sending.as_ref().is_some_and(|s| !s.valid);
            if !sender.ended() && !stuck {
                assert!(sender.sending.is_none(), "a frame was left half sent");
                assert!(
                    sender.commands.is_empty() && sender.owed_close.is_none(),
                    "commands never written: {:?}",
                    sender.commands
                );
            }
            if sender.spoiled {
                continue;
            }
            let got = &receiver.received;
            assert!(
                got.len() <= sender.wire.len(),
                "received more frames than were sent"
            );
            assert_eq!(
                got[..],
                sender.wire[..got.len()],
                "received frames differ from those sent"
            );
            // The frame still coming: a prefix of what was sent of it.
            if let Some(r) = &receiver.receiving {
                let next = match sender.wire.get(got.len()) {
                    Some(frame) => &frame.payload[..],
                    None => {
                        let s = sender.sending.as_ref().expect("a piece from nowhere");
                        &s.payload[..s.sent]
                    }
                };
                assert!(
                    next.starts_with(&r.data),
                    "a frame's pieces differ from what was sent"
                );
            }
            let half = sender.sending.as_ref().map(|s| (s.opcode, s.payload.len()));
            let over = first_over_limit(receiver, &sender.wire, half);
            match &receiver.error {
                Some(err) => {
                    assert_eq!(
                        err.close_code(),
                        Some(CloseCode::MESSAGE_TOO_BIG),
                        "{err:?}"
                    );
                    assert!(
                        matches!(
                            err,
                            Error::Protocol(
                                ProtocolError::FrameTooLarge { .. }
                                    | ProtocolError::MessageTooLarge { .. }
                            )
                        ),
                        "{err:?}"
                    );
                    assert_eq!(
                        over,
                        Some(got.len()),
                        "failed at another frame than the one over the limits"
                    );
                    assert!(
                        receiver.receiving.is_none(),
                        "pieces of a frame over the limits"
                    );
                }
                None if receiver.eof || receiver.closed => {}
                None => {
                    assert_eq!(over, None, "a frame over the limits was let through");
                    assert_eq!(got.len(), sender.wire.len(), "frames were lost");
                }
            }
        }
    }
}

/// Runs one input.
pub fn run(input: &FrameMode) {
    let max_send = |c: &SideConfig| match c.max_send {
        0 => usize::MAX,
        n => usize::from(n),
    };
    let mut driver = Driver {
        server: Side::new(Role::Server, &input.server, input.deflate, input.seed),
        client: Side::new(Role::Client, &input.client, input.deflate, input.seed ^ 1),
        splits: input.splits.clone(),
        split_at: 0,
        budget: 64 << 10,
    };
    let sends = (max_send(&input.server), max_send(&input.client));
    for op in input.ops.iter().take(512) {
        driver.step(op, sends);
    }
    driver.settle();
    driver.check();
}
