//! An independent decoder for what a `Connection` writes (RFC 6455 section
//! 5.2), written without ws-proto's codec so that it can judge it.
//!
//! What a connection writes must be stricter than what it accepts: reserved
//! bits clear, known opcodes, the shortest length encoding, masks exactly on
//! client frames, control frames unfragmented and at most 125 bytes, a valid
//! close payload, at most one close frame and nothing after it, and data
//! frames in a legal fragmentation sequence.

use ws_proto::{CloseCode, Role};

/// One frame as written on the wire, payload unmasked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireFrame {
    /// FIN bit.
    pub fin: bool,
    /// RSV1..3 as the low three bits.
    pub rsv: u8,
    /// The raw opcode nibble.
    pub opcode: u8,
    /// The masking key, if the mask bit was set.
    pub mask: Option<[u8; 4]>,
    /// The payload after unmasking.
    pub payload: Vec<u8>,
    /// Whether the length used the shortest of the three encodings.
    pub minimal_length: bool,
}

impl WireFrame {
    /// Close, ping or pong.
    pub fn is_control(&self) -> bool {
        self.opcode & 0x8 != 0
    }

    /// The close code a close frame carries (1005 for an empty body).
    pub fn close_code(&self) -> Option<u16> {
        if self.opcode != 0x8 {
            return None;
        }
        Some(match self.payload.as_slice() {
            [] => CloseCode::NO_STATUS_RECEIVED.0,
            [a, b, ..] => u16::from_be_bytes([*a, *b]),
            [_] => panic!("written close frame has a 1-byte payload"),
        })
    }
}

/// Decodes one frame from the start of `buf`; `None` if incomplete. Never
/// fails: any 2+ bytes form some header. Used both on written output (then
/// checked with [`check_written`]) and by tests that need raw frames.
pub fn parse_frame(buf: &[u8]) -> Option<(WireFrame, usize)> {
    let (&b0, rest) = buf.split_first()?;
    let (&b1, _) = rest.split_first()?;
    let short = u64::from(b1 & 0x7f);
    let (len, mut at, minimal) = match short {
        126 => {
            let b = buf.get(2..4)?;
            let len = u64::from(u16::from_be_bytes([b[0], b[1]]));
            (len, 4, len >= 126)
        }
        127 => {
            let b = buf.get(2..10)?;
            let mut be = [0u8; 8];
            be.copy_from_slice(b);
            let len = u64::from_be_bytes(be);
            (len, 10, len > 0xffff)
        }
        n => (n, 2, true),
    };
    let mask = if b1 & 0x80 != 0 {
        let k = buf.get(at..at + 4)?;
        at += 4;
        Some([k[0], k[1], k[2], k[3]])
    } else {
        None
    };
    let len = usize::try_from(len).ok()?;
    let end = at.checked_add(len)?;
    let raw = buf.get(at..end)?;
    let payload = match mask {
        Some(key) => raw
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ key[i % 4])
            .collect(),
        None => raw.to_vec(),
    };
    let frame = WireFrame {
        fin: b0 & 0x80 != 0,
        rsv: (b0 >> 4) & 0x7,
        opcode: b0 & 0x0f,
        mask,
        payload,
        minimal_length: minimal,
    };
    Some((frame, end))
}

/// Asserts that one frame written by an endpoint of `role` is well-formed.
pub fn check_written(frame: &WireFrame, role: Role) {
    assert!(
        matches!(frame.opcode, 0x0 | 0x1 | 0x2 | 0x8 | 0x9 | 0xA),
        "wrote reserved opcode {:#x}",
        frame.opcode
    );
    assert_eq!(frame.rsv, 0, "wrote reserved bits without an extension");
    assert!(frame.minimal_length, "wrote a non-minimal length encoding");
    match role {
        Role::Client => assert!(frame.mask.is_some(), "client wrote an unmasked frame"),
        Role::Server => assert!(frame.mask.is_none(), "server wrote a masked frame"),
    }
    if frame.is_control() {
        assert!(frame.fin, "wrote a fragmented control frame");
        assert!(
            frame.payload.len() <= 125,
            "wrote a control frame > 125 bytes"
        );
    }
    if let Some(code) = frame.close_code() {
        if !frame.payload.is_empty() {
            assert!(
                CloseCode(code).is_sendable(),
                "wrote a close frame with unsendable code {code}"
            );
            assert!(
                std::str::from_utf8(&frame.payload[2..]).is_ok(),
                "wrote a close reason that is not UTF-8"
            );
        }
    }
}

/// Collects an endpoint's output across partial writes, decodes it and
/// checks the frame sequence.
#[derive(Debug)]
pub struct OutputTracker {
    role: Role,
    pending: Vec<u8>,
    /// Every complete frame written so far.
    pub frames: Vec<WireFrame>,
    /// Close frames written so far (at most one).
    pub close_frames: usize,
    /// Total bytes written.
    pub bytes: usize,
    /// A fragmented data message is being written.
    in_message: bool,
    /// permessage-deflate was negotiated: RSV1 may mark the first frame of
    /// a data message (RFC 7692 section 6), nothing else.
    rsv1_allowed: bool,
}

impl OutputTracker {
    /// A tracker for an endpoint of `role`.
    pub fn new(role: Role) -> Self {
        Self {
            role,
            pending: Vec::new(),
            frames: Vec::new(),
            close_frames: 0,
            bytes: 0,
            in_message: false,
            rsv1_allowed: false,
        }
    }

    /// A tracker for an endpoint that negotiated permessage-deflate.
    pub fn with_deflate(role: Role) -> Self {
        Self {
            rsv1_allowed: true,
            ..Self::new(role)
        }
    }

    /// Adds written bytes; returns how many new frames completed.
    pub fn push(&mut self, bytes: &[u8]) -> usize {
        self.bytes += bytes.len();
        self.pending.extend_from_slice(bytes);
        let mut at = 0;
        let mut count = 0;
        while let Some((frame, used)) = parse_frame(&self.pending[at..]) {
            at += used;
            count += 1;
            self.accept(frame);
        }
        self.pending.drain(..at);
        count
    }

    fn accept(&mut self, frame: WireFrame) {
        if self.rsv1_allowed && frame.rsv == 0b100 {
            assert!(
                matches!(frame.opcode, 0x1 | 0x2),
                "RSV1 on a frame that does not start a message: {frame:?}"
            );
            check_written(
                &WireFrame {
                    rsv: 0,
                    ..frame.clone()
                },
                self.role,
            );
        } else {
            check_written(&frame, self.role);
        }
        assert_eq!(
            self.close_frames, 0,
            "a frame was written after the close frame: {frame:?}"
        );
        match frame.opcode {
            0x8 => self.close_frames += 1,
            0x9 | 0xA => {}
            0x0 => {
                assert!(self.in_message, "wrote a continuation outside a message");
                self.in_message = !frame.fin;
            }
            _ => {
                assert!(
                    !self.in_message,
                    "wrote a new message inside a fragmented one"
                );
                self.in_message = !frame.fin;
            }
        }
        self.frames.push(frame);
    }

    /// Forgets a partly written frame (the connection dropped its queue).
    pub fn drop_pending(&mut self) {
        self.pending.clear();
    }

    /// Asserts that everything written forms whole frames.
    pub fn assert_no_partial_frame(&self) {
        assert!(
            self.pending.is_empty(),
            "output ends in the middle of a frame ({} bytes left)",
            self.pending.len()
        );
    }

    /// The last complete frame, if any.
    pub fn last(&self) -> Option<&WireFrame> {
        self.frames.last()
    }
}
