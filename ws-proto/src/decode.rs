//! The frame decoder: one path for both delivery modes and both ways of
//! handing out payloads.
//!
//! The decoder reads frames from the front of the connection's read buffer.
//! Payload bytes are unmasked (and, for text, validated) in place as they
//! arrive, so invalid UTF-8 is caught before the rest of the frame shows up.
//! A payload that sits whole in the read buffer is reported as a range of it
//! ([`Payload::InBuffer`]); the connection then either splits it off as one
//! `Bytes` (no copy, [`Decoder::take`]) or lends it out as a slice until the
//! next call ([`Decoder::lend`]). Only fragmented messages are copied together.
//! In fragment mode the unmasked bytes are handed out as soon as they are there.
//! In frame mode each frame is handed out as the peer framed it, whole or
//! (when longer than the chunk size) in pieces of the chunk size; every rule
//! of message mode is checked on the same path.

#[allow(unused_imports)]
use crate::prelude::*;
use bytes::{Buf, Bytes, BytesMut};

use crate::frame::{apply_mask, FrameHeader, OpCode};
use crate::{MessageKind, ProtocolError, Role, Utf8Validator};

/// Lent bytes kept at the front of the read buffer beyond this are dropped
/// before the next frame even if the fast path goes on.
const RELEASE_AT: usize = 16 * 1024;

/// Where a decoded data payload is.
#[derive(Debug)]
pub(crate) enum Payload {
    /// Bytes `skip..end` of the read buffer, unmasked (and, for text,
    /// validated); the first `end` bytes of the buffer go with them.
    InBuffer { skip: usize, end: usize },
    /// Put together from several frames, outside the read buffer.
    Owned(Bytes),
}

/// What the decoder produced.
#[derive(Debug)]
pub(crate) enum Decoded {
    /// A whole control frame (close, ping or pong).
    Control { opcode: OpCode, payload: Bytes },
    /// A whole data message (message mode). `rsv`: the reserved bits of
    /// its first frame; when not 0 an extension encoded it, so `payload` is
    /// still encoded and text has not been validated.
    Message {
        kind: MessageKind,
        payload: Payload,
        rsv: u8,
    },
    /// A piece of a data message (fragment mode); `rsv` as above.
    Fragment {
        kind: MessageKind,
        data: Payload,
        is_first: bool,
        is_last: bool,
        rsv: u8,
    },
    /// A data frame or a piece of one (frame mode), unmasked: the frame's
    /// header fields, whether the piece starts the frame, and how many
    /// payload bytes of the frame follow it. (Fields rather than a
    /// [`FrameHeader`]: this keeps `Decoded` as small as the other events.)
    Frame {
        fin: bool,
        rsv: u8,
        opcode: OpCode,
        is_first: bool,
        remaining: u64,
        data: Payload,
    },
}

/// The limits and rules the decoder enforces.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DecoderRules {
    pub(crate) role: Role,
    pub(crate) max_frame_size: usize,
    pub(crate) max_message_size: usize,
    pub(crate) deliver_fragments: bool,
    /// Frame mode with pieces of at most this many bytes; 0 for the other
    /// modes. Takes precedence over `deliver_fragments`.
    pub(crate) frame_chunk: usize,
    /// The reserved bits the negotiated extensions own (RSV1 as `0b100`).
    pub(crate) rsv_owned: u8,
}

/// The frame whose payload is being read.
#[derive(Debug)]
struct FrameInProgress {
    header: FrameHeader,
    /// Payload bytes at the front of the buffer already unmasked and validated
    /// (message mode) or payload bytes already handed out (fragment and
    /// frame mode).
    done: u64,
}

/// The fragmented data message being read.
#[derive(Debug)]
struct MessageInProgress {
    kind: MessageKind,
    /// The reserved bits of its first frame (an extension encoded it).
    rsv: u8,
    /// Payload bytes announced so far by its frames.
    len: u64,
    /// Message mode: the first frame's payload while it is the only one...
    first: Option<Bytes>,
    /// ...then every payload so far, in the buffer that becomes the message.
    rest: BytesMut,
    /// Fragment mode: nothing of this message handed out yet.
    nothing_delivered: bool,
    /// Frame mode: bytes of the current frame after those handed out,
    /// already unmasked and validated (less than a chunk), so errors show
    /// as early as in message mode. Here rather than with the frame: only
    /// data frames need it, and they always have a message.
    ahead: usize,
}

/// Where the decoder is in the read buffer.
#[derive(Debug)]
enum Position {
    /// Between frames. The first `lent` bytes of the buffer hold payloads
    /// already lent out; they are dropped from the buffer when the fast path
    /// stops ([`Decoder::release`]), so a run of small frames costs one
    /// buffer update, not one per frame.
    BetweenFrames { lent: usize },
    /// Reading the payload of a frame whose header is consumed.
    InFrame(FrameInProgress),
}

/// The decoder. The rules are stored flat rather than as a
/// [`DecoderRules`], which saves its padding in every connection.
#[derive(Debug)]
pub(crate) struct Decoder {
    role: Role,
    max_frame_size: usize,
    max_message_size: usize,
    /// Data is handed out in pieces (fragment or frame mode), never as whole
    /// messages: the fast path is off.
    deliver_pieces: bool,
    /// The reserved bits the negotiated extensions own.
    rsv_owned: u8,
    /// Frame mode's chunk size, 0 in the other modes.
    frame_chunk: usize,
    position: Position,
    /// Boxed: only messages that arrive in pieces need it.
    message: Option<Box<MessageInProgress>>,
    utf8: Utf8Validator,
    /// The last payload lent out that was not in the read buffer (a
    /// reassembled message, a control frame): it must live until the next
    /// call. Boxed: most connections never need it.
    held: Option<Box<Bytes>>,
}

/// What the fast path checks, derived from the rules.
#[derive(Debug, Clone, Copy)]
struct FastRules {
    /// The mask bit (0x80 of the second header byte) a valid frame has.
    mask_bit: u8,
    /// The largest payload a single-frame message may have: within both
    /// limits and below 2^63 (the top bit of a 64-bit length must be clear).
    max_len: u64,
}

impl Decoder {
    pub(crate) fn new(rules: DecoderRules) -> Self {
        Self {
            role: rules.role,
            max_frame_size: rules.max_frame_size,
            max_message_size: rules.max_message_size,
            deliver_pieces: rules.deliver_fragments || rules.frame_chunk != 0,
            rsv_owned: rules.rsv_owned,
            frame_chunk: rules.frame_chunk,
            position: Position::BetweenFrames { lent: 0 },
            message: None,
            utf8: Utf8Validator::new(),
            held: None,
        }
    }

    /// The message size limit, which also bounds decoded messages.
    pub(crate) fn max_message_size(&self) -> usize {
        self.max_message_size
    }

    /// Frame mode: data frames come out as they are (control frames too,
    /// which the connection turns into frames).
    #[inline]
    pub(crate) fn frame_mode(&self) -> bool {
        self.frame_chunk != 0
    }

    /// Lets the reserved bits the negotiated extensions own mark messages.
    pub(crate) fn set_rsv_owned(&mut self, bits: u8) {
        self.rsv_owned = bits;
    }

    /// Bytes still missing for the frame in progress, if known: a hint for how
    /// much the caller should read next.
    pub(crate) fn bytes_wanted(&self, buffered: usize) -> usize {
        match &self.position {
            Position::InFrame(f) if !self.deliver_pieces => {
                let left = f.header.payload_len.saturating_sub(buffered as u64);
                usize::try_from(left).unwrap_or(usize::MAX)
            }
            // Frame mode waits for a whole chunk (or the rest of the frame).
            Position::InFrame(f) if self.frame_chunk != 0 => {
                let left = f.header.payload_len - f.done;
                let chunk = left.min(self.frame_chunk as u64);
                usize::try_from(chunk.saturating_sub(buffered as u64)).unwrap_or(usize::MAX)
            }
            _ => 0,
        }
    }

    /// Decodes what `buf` holds; `Ok(None)` means more bytes are needed. A
    /// [`Payload::InBuffer`] in the result must be passed to
    /// [`take`](Self::take) or [`lend`](Self::lend) before the next call.
    pub(crate) fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Decoded>, ProtocolError> {
        if let Some((kind, payload)) = self.decode_whole_message(buf)? {
            return Ok(Some(Decoded::Message {
                kind,
                payload,
                rsv: 0,
            }));
        }
        if self.frame_chunk != 0 {
            if let Some(frame) = self.decode_whole_frame(buf)? {
                return Ok(Some(frame));
            }
        }
        self.release(buf);
        self.decode_in_steps(buf)
    }

    /// The fast path: a single-frame text or binary message with nothing
    /// unusual about it (FIN set, no reserved bits, the mask the role
    /// requires, within the limits), entirely in `buf` after the bytes
    /// already lent out, with nothing in progress, in message mode. It is
    /// unmasked and validated in place and reported as a range of `buf`.
    /// `Ok(None)` means "not that": [`decode`](Self::decode) then goes on to
    /// the general path, which checks every rule and reports every error.
    /// This path only accepts what the general one would, and fails only on
    /// invalid UTF-8, as the general one would.
    #[inline(always)]
    pub(crate) fn decode_whole_message(
        &mut self,
        buf: &mut BytesMut,
    ) -> Result<Option<(MessageKind, Payload)>, ProtocolError> {
        self.whole_single_frame(buf, self.fast_rules(), self.deliver_pieces)
    }

    /// Frame mode's fast path: the same frames as
    /// [`decode_whole_message`](Self::decode_whole_message) takes, no longer
    /// than a chunk, handed out whole as frames.
    #[inline]
    fn decode_whole_frame(&mut self, buf: &mut BytesMut) -> Result<Option<Decoded>, ProtocolError> {
        let mut rules = self.fast_rules();
        rules.max_len = rules.max_len.min(self.frame_chunk as u64);
        let Some((kind, data)) = self.whole_single_frame(buf, rules, false)? else {
            return Ok(None);
        };
        Ok(Some(Decoded::Frame {
            fin: true,
            rsv: 0,
            opcode: match kind {
                MessageKind::Text => OpCode::Text,
                MessageKind::Binary => OpCode::Binary,
            },
            is_first: true,
            remaining: 0,
            data,
        }))
    }

    /// The fast paths' work: a single-frame message whole in `buf`, as
    /// [`decode_whole_message`](Self::decode_whole_message) describes,
    /// within `rules`; nothing if `refuse`.
    #[inline(always)]
    fn whole_single_frame(
        &mut self,
        buf: &mut BytesMut,
        rules: FastRules,
        refuse: bool,
    ) -> Result<Option<(MessageKind, Payload)>, ProtocolError> {
        let Position::BetweenFrames { lent: mut start } = self.position else {
            return Ok(None);
        };
        if self.message.is_some() || refuse {
            return Ok(None);
        }
        if start >= RELEASE_AT {
            // A caller that never drains to `None` (one event per read)
            // still keeps the buffer bounded.
            self.release(buf);
            start = 0;
        }
        let Some(bytes) = buf.get_mut(start..) else {
            return Ok(None);
        };
        let Some(frame) = WholeFrame::recognize(bytes, rules) else {
            return Ok(None);
        };
        let payload = &mut bytes[frame.header_len..frame.end];
        if let Some(key) = frame.mask {
            apply_mask(payload, key, 0);
        }
        if frame.kind == MessageKind::Text && crate::utf8::validate(payload).is_err() {
            return Err(ProtocolError::InvalidUtf8);
        }
        let payload = Payload::InBuffer {
            skip: start + frame.header_len,
            end: start + frame.end,
        };
        Ok(Some((frame.kind, payload)))
    }

    /// The payload as `Bytes`: split off the read buffer (no copy) if it is
    /// there.
    #[inline]
    pub(crate) fn take(&mut self, buf: &mut BytesMut, payload: Payload) -> Bytes {
        match payload {
            Payload::InBuffer { skip, end } => {
                // Only reported between frames; the bytes lent out in front
                // of the payload go with it.
                self.position = Position::BetweenFrames { lent: 0 };
                let mut bytes = buf.split_to(end).freeze();
                bytes.advance(skip);
                bytes
            }
            Payload::Owned(bytes) => bytes,
        }
    }

    /// The payload as a slice that lives until the next call: in place in the
    /// read buffer, which keeps it until then, or else in the decoder.
    #[inline]
    pub(crate) fn lend<'a>(&'a mut self, buf: &'a [u8], payload: Payload) -> &'a [u8] {
        match payload {
            Payload::InBuffer { skip, end } => {
                // Only reported between frames: the bytes up to `end` are
                // lent out and stay until the next call.
                self.position = Position::BetweenFrames { lent: end };
                // `decode` reported this range of this buffer, which has not
                // changed since: it is in bounds.
                &buf[skip..end]
            }
            Payload::Owned(bytes) => self.hold(bytes),
        }
    }

    /// Keeps `bytes` until the next call and lends them out.
    pub(crate) fn hold(&mut self, bytes: Bytes) -> &[u8] {
        let slot = self.held.get_or_insert_with(Default::default);
        **slot = bytes;
        slot
    }

    /// Lets go of what was lent out by the previous call: a payload held
    /// here. (Lent bytes of the read buffer go at [`release`](Self::release).)
    #[inline]
    pub(crate) fn forget_held(&mut self) {
        if let Some(slot) = &mut self.held {
            **slot = Bytes::new();
        }
    }

    /// Drops the bytes lent out from the front of the read buffer.
    fn release(&mut self, buf: &mut BytesMut) {
        if let Position::BetweenFrames { lent } = &mut self.position {
            // Never more than the buffer: the connection empties it when it ends.
            buf.advance(core::mem::take(lent).min(buf.len()));
        }
    }

    /// The general path: frames in pieces, fragmented messages, control
    /// frames, fragment delivery.
    fn decode_in_steps(&mut self, buf: &mut BytesMut) -> Result<Option<Decoded>, ProtocolError> {
        loop {
            if let Position::BetweenFrames { .. } = self.position {
                let Some((header, header_len)) = FrameHeader::decode(buf)? else {
                    return Ok(None);
                };
                self.start_frame(&header)?;
                buf.advance(header_len);
                self.position = Position::InFrame(FrameInProgress { header, done: 0 });
            }
            let Position::InFrame(frame) = &mut self.position else {
                unreachable!("set just above");
            };
            let header = frame.header;
            if header.opcode.is_control() {
                // At most 125 bytes (checked by the header codec): wait for all of it.
                let len = header.payload_len as usize;
                if buf.len() < len {
                    return Ok(None);
                }
                let mut payload = buf.split_to(len);
                if let Some(key) = header.mask {
                    apply_mask(&mut payload, key, 0);
                }
                self.position = Position::BetweenFrames { lent: 0 };
                return Ok(Some(Decoded::Control {
                    opcode: header.opcode,
                    payload: payload.freeze(),
                }));
            }
            // A data frame: the message state exists (start_frame made sure).
            let message = self
                .message
                .as_mut()
                .expect("data frame without message state");
            let check_utf8 = message.kind == MessageKind::Text && message.rsv == 0;

            if self.frame_chunk != 0 {
                // Frame mode: unmask and validate what has arrived of the
                // next piece, in place; hand it out once it is a whole
                // chunk or the rest of the frame.
                let left = header.payload_len - frame.done;
                let take = left.min(self.frame_chunk as u64) as usize;
                let have = buf.len().min(take);
                if have > message.ahead {
                    let range = message.ahead..have;
                    if let Some(key) = header.mask {
                        let at = frame.done + message.ahead as u64;
                        apply_mask(&mut buf[range.clone()], key, (at & 3) as usize);
                    }
                    if check_utf8 {
                        self.utf8
                            .feed(&buf[range])
                            .map_err(|_| ProtocolError::InvalidUtf8)?;
                    }
                    message.ahead = have;
                }
                if have < take {
                    return Ok(None);
                }
                let is_first = frame.done == 0;
                frame.done += take as u64;
                message.ahead = 0;
                let remaining = header.payload_len - frame.done;
                let is_last_of_frame = remaining == 0;
                if check_utf8 && header.fin && is_last_of_frame {
                    self.utf8.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
                }
                let data = if is_last_of_frame {
                    // Between frames again: the piece can stay in the
                    // buffer (lent out in place, or split off).
                    self.position = Position::BetweenFrames { lent: 0 };
                    if header.fin {
                        self.message = None;
                    }
                    Payload::InBuffer { skip: 0, end: take }
                } else {
                    // The frame goes on: split the piece off now.
                    Payload::Owned(buf.split_to(take).freeze())
                };
                return Ok(Some(Decoded::Frame {
                    fin: header.fin,
                    rsv: header.rsv,
                    opcode: header.opcode,
                    is_first,
                    remaining,
                    data,
                }));
            }

            if self.deliver_pieces {
                let left = header.payload_len - frame.done;
                let take = left.min(buf.len() as u64) as usize;
                if take == 0 && left > 0 {
                    return Ok(None);
                }
                let data = &mut buf[..take];
                if let Some(key) = header.mask {
                    apply_mask(data, key, (frame.done & 3) as usize);
                }
                frame.done += take as u64;
                let is_last_of_frame = frame.done == header.payload_len;
                let is_last = header.fin && is_last_of_frame;
                if check_utf8 {
                    self.utf8
                        .feed(data)
                        .map_err(|_| ProtocolError::InvalidUtf8)?;
                    if is_last {
                        self.utf8.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
                    }
                }
                let is_first = message.nothing_delivered;
                // Skip empty pieces that neither start nor end a message.
                if take == 0 && !is_first && !is_last {
                    if is_last_of_frame {
                        self.position = Position::BetweenFrames { lent: 0 };
                    }
                    continue;
                }
                message.nothing_delivered = false;
                // Split off now: the frame may go on, and a payload is
                // left in the buffer only between frames.
                let decoded = Decoded::Fragment {
                    kind: message.kind,
                    data: Payload::Owned(buf.split_to(take).freeze()),
                    is_first,
                    is_last,
                    rsv: message.rsv,
                };
                if is_last_of_frame {
                    self.position = Position::BetweenFrames { lent: 0 };
                }
                if is_last {
                    self.message = None;
                }
                return Ok(Some(decoded));
            }

            // Message mode: unmask and validate what has arrived, in place.
            let len = header.payload_len;
            let have = (buf.len() as u64).min(len);
            if have > frame.done {
                let range = frame.done as usize..have as usize;
                if let Some(key) = header.mask {
                    apply_mask(&mut buf[range.clone()], key, (frame.done & 3) as usize);
                }
                if check_utf8 {
                    self.utf8
                        .feed(&buf[range])
                        .map_err(|_| ProtocolError::InvalidUtf8)?;
                }
                frame.done = have;
            }
            if have < len {
                return Ok(None);
            }
            self.position = Position::BetweenFrames { lent: 0 };
            // The whole frame is buffered: `len` fits in `usize`.
            let len = len as usize;
            if !header.fin {
                let payload = buf.split_to(len).freeze();
                match message.first.take() {
                    // The first fragment is kept as is (no copy yet).
                    None if message.rest.is_empty() => message.first = Some(payload),
                    // From the second on, fragments are appended to one
                    // buffer that becomes the message.
                    Some(first) => {
                        message.rest.reserve(2 * (first.len() + payload.len()));
                        message.rest.extend_from_slice(&first);
                        message.rest.extend_from_slice(&payload);
                    }
                    None => message.rest.extend_from_slice(&payload),
                }
                continue;
            }
            if check_utf8 {
                self.utf8.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
            }
            // The message is complete: the state can go.
            let mut message = self.message.take().expect("checked above");
            let payload = match message.first.take() {
                // A single frame: in place in the read buffer.
                None if message.rest.is_empty() => Payload::InBuffer { skip: 0, end: len },
                // Two frames: one copy into a buffer of the exact size.
                Some(first) => {
                    let mut whole = BytesMut::with_capacity(first.len() + len);
                    whole.extend_from_slice(&first);
                    whole.extend_from_slice(&buf[..len]);
                    buf.advance(len);
                    Payload::Owned(whole.freeze())
                }
                // More: the assembled buffer becomes the message.
                None => {
                    message.rest.extend_from_slice(&buf[..len]);
                    buf.advance(len);
                    Payload::Owned(core::mem::take(&mut message.rest).freeze())
                }
            };
            return Ok(Some(Decoded::Message {
                kind: message.kind,
                payload,
                rsv: message.rsv,
            }));
        }
    }

    /// Checks a new frame's header against the role, the extensions, the
    /// fragmentation sequence and the limits, and starts a message if it is
    /// the first frame of one.
    fn start_frame(&mut self, header: &FrameHeader) -> Result<(), ProtocolError> {
        self.check_mask(header)?;
        // One rule for frames read and sent (extensions.rs).
        let starts_message = self.message.is_none();
        if !crate::extensions::rsv_allowed_for(
            self.rsv_owned,
            header.rsv,
            header.opcode,
            starts_message,
        ) {
            return Err(ProtocolError::ReservedBitsSet { bits: header.rsv });
        }
        if header.opcode.is_control() {
            return Ok(());
        }
        self.check_frame_len(header)?;
        let kind = match (header.opcode, &mut self.message) {
            (OpCode::Continuation, None) => return Err(ProtocolError::UnexpectedContinuation),
            (OpCode::Continuation, Some(message)) => {
                let len = message.len.saturating_add(header.payload_len);
                check_message_len(len, self.max_message_size)?;
                message.len = len;
                return Ok(());
            }
            (_, Some(_)) => return Err(ProtocolError::ExpectedContinuation),
            (OpCode::Text, None) => MessageKind::Text,
            _ => MessageKind::Binary,
        };
        check_message_len(header.payload_len, self.max_message_size)?;
        self.utf8.reset();
        self.message = Some(Box::new(MessageInProgress {
            kind,
            rsv: header.rsv,
            len: header.payload_len,
            first: None,
            rest: BytesMut::new(),
            nothing_delivered: true,
            ahead: 0,
        }));
        Ok(())
    }
}

impl Decoder {
    /// Clients mask every frame, servers none (section 5.1).
    fn check_mask(&self, header: &FrameHeader) -> Result<(), ProtocolError> {
        match (self.role, header.mask.is_some()) {
            (Role::Server, false) => Err(ProtocolError::UnmaskedFrameFromClient),
            (Role::Client, true) => Err(ProtocolError::MaskedFrameFromServer),
            _ => Ok(()),
        }
    }

    /// A data frame's announced length against `max_frame_size`, before any
    /// of its payload is buffered.
    fn check_frame_len(&self, header: &FrameHeader) -> Result<(), ProtocolError> {
        if header.payload_len > self.max_frame_size as u64 {
            return Err(ProtocolError::FrameTooLarge {
                len: header.payload_len,
                max: self.max_frame_size,
            });
        }
        Ok(())
    }
}

fn check_message_len(len: u64, max: usize) -> Result<(), ProtocolError> {
    if len > max as u64 {
        Err(ProtocolError::MessageTooLarge { len, max })
    } else {
        Ok(())
    }
}

impl Decoder {
    #[inline]
    fn fast_rules(&self) -> FastRules {
        let max = self.max_frame_size.min(self.max_message_size) as u64;
        FastRules {
            mask_bit: match self.role {
                Role::Server => 0x80,
                Role::Client => 0,
            },
            max_len: max.min(i64::MAX as u64),
        }
    }
}

/// A whole single-frame data message recognized by the fast path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct WholeFrame {
    kind: MessageKind,
    header_len: usize,
    /// Where the frame ends: `header_len` + payload length.
    end: usize,
    mask: Option<[u8; 4]>,
}

impl WholeFrame {
    /// The frame at the start of `bytes`, if it is a single-frame text or
    /// binary message that follows every rule checkable from its header
    /// (FIN, no reserved bits, the mask `rules` requires, a length within
    /// `rules`) and is entirely in `bytes`; `None` for anything else.
    #[inline(always)]
    fn recognize(bytes: &[u8], rules: FastRules) -> Option<Self> {
        let [b0, b1, ..] = *bytes else {
            return None;
        };
        // FIN, RSV1-3 clear, opcode text (0x1) or binary (0x2).
        let kind = match b0 {
            0x81 => MessageKind::Text,
            0x82 => MessageKind::Binary,
            _ => return None,
        };
        if b1 & 0x80 != rules.mask_bit {
            return None;
        }
        let (len, len_end) = match b1 & 0x7f {
            126 => {
                let b = bytes.get(2..4)?;
                (u64::from(u16::from_be_bytes([b[0], b[1]])), 4)
            }
            127 => {
                let b: [u8; 8] = bytes.get(2..10)?.try_into().ok()?;
                (u64::from_be_bytes(b), 10)
            }
            n => (u64::from(n), 2),
        };
        if len > rules.max_len {
            return None;
        }
        let (mask, header_len) = if rules.mask_bit != 0 {
            let k = bytes.get(len_end..len_end + 4)?;
            (Some([k[0], k[1], k[2], k[3]]), len_end + 4)
        } else {
            (None, len_end)
        };
        let end = header_len.checked_add(usize::try_from(len).ok()?)?;
        if bytes.len() < end {
            return None;
        }
        Some(Self {
            kind,
            header_len,
            end,
            mask,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoder(role: Role, max: usize) -> Decoder {
        Decoder::new(DecoderRules {
            role,
            max_frame_size: max,
            max_message_size: max,
            deliver_fragments: false,
            frame_chunk: 0,
            rsv_owned: 0,
        })
    }

    impl Decoder {
        fn rules(&self) -> DecoderRules {
            DecoderRules {
                role: self.role,
                max_frame_size: self.max_frame_size,
                max_message_size: self.max_message_size,
                deliver_fragments: false,
                frame_chunk: self.frame_chunk,
                rsv_owned: self.rsv_owned,
            }
        }
    }

    /// A frame with the given first byte, mask and payload length form.
    fn frame(b0: u8, masked: bool, payload: &[u8], long_form: Option<u8>) -> Vec<u8> {
        let mut out = vec![b0];
        let mask_bit = if masked { 0x80 } else { 0 };
        match long_form {
            Some(126) => {
                out.push(mask_bit | 126);
                out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
            }
            Some(_) => {
                out.push(mask_bit | 127);
                out.extend_from_slice(&(payload.len() as u64).to_be_bytes());
            }
            None => out.push(mask_bit | payload.len() as u8),
        }
        let key = [0x12, 0x34, 0x56, 0x78];
        if masked {
            out.extend_from_slice(&key);
        }
        out.extend(
            payload
                .iter()
                .enumerate()
                .map(|(i, b)| if masked { b ^ key[i % 4] } else { *b }),
        );
        out
    }

    /// What a decoder makes of `wire`: events as (kind or opcode, payload)
    /// or the error, through `decode` (fast path first) or the general path
    /// alone.
    fn outcome(
        mut d: Decoder,
        wire: &[u8],
        general_only: bool,
    ) -> Result<Vec<(u8, Vec<u8>)>, ProtocolError> {
        let mut buf = BytesMut::from(wire);
        let mut out = Vec::new();
        loop {
            let next = if general_only {
                d.decode_in_steps(&mut buf)?
            } else {
                d.decode(&mut buf)?
            };
            let Some(decoded) = next else {
                return Ok(out);
            };
            out.push(match decoded {
                Decoded::Control { opcode, payload } => (opcode as u8, payload.to_vec()),
                Decoded::Message { kind, payload, .. } => {
                    (kind as u8 + 100, d.take(&mut buf, payload).to_vec())
                }
                Decoded::Frame {
                    opcode,
                    fin,
                    is_first,
                    remaining,
                    data,
                    ..
                } => {
                    let data = d.take(&mut buf, data).to_vec();
                    let flags = u8::from(fin) | u8::from(is_first) << 1;
                    let remaining = remaining.to_be_bytes();
                    (opcode as u8 + 200 + flags, [&remaining[..], &data].concat())
                }
                Decoded::Fragment { .. } => unreachable!("not fragment mode"),
            });
        }
    }

    #[test]
    fn the_fast_path_agrees_with_the_general_path() {
        let texts: [&[u8]; 4] = [b"", b"plain", "h\u{e9}llo".as_bytes(), b"\xc3\x28 bad"];
        let long = vec![b'x'; 300];
        // Miri interprets every byte: fewer limits, still both sides of each.
        let maxes: &[usize] = if cfg!(miri) {
            &[5, 300]
        } else {
            &[0, 5, 125, 299, 300, 1 << 20]
        };
        for role in [Role::Server, Role::Client] {
            for &max in maxes {
                for b0 in [
                    0x81, 0x82, 0x01, 0x02, 0x80, 0x89, 0x8a, 0x88, 0xc1, 0x92, 0x83,
                ] {
                    for masked in [true, false] {
                        for payload in texts.iter().copied().chain([&long[..]]) {
                            for form in [None, Some(126), Some(127)] {
                                if form.is_none() && payload.len() > 125 {
                                    continue;
                                }
                                let mut wire = frame(b0, masked, payload, form);
                                // A second frame behind it: the read
                                // position must move on correctly.
                                wire.extend(frame(0x82, masked, b"next", None));
                                let fast = outcome(decoder(role, max), &wire, false);
                                let general = outcome(decoder(role, max), &wire, true);
                                assert_eq!(fast, general, "{role:?} max {max} {b0:#x} masked {masked} {payload:?} {form:?}");
                                // Frame mode's fast path too.
                                for chunk in [1, 5, 300] {
                                    let frames = || {
                                        Decoder::new(DecoderRules {
                                            frame_chunk: chunk,
                                            ..decoder(role, max).rules()
                                        })
                                    };
                                    let fast = outcome(frames(), &wire, false);
                                    let general = outcome(frames(), &wire, true);
                                    assert_eq!(fast, general, "frames of {chunk}: {role:?} max {max} {b0:#x} masked {masked} {payload:?} {form:?}");
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn recognize_takes_only_whole_plain_frames() {
        let rules = decoder(Role::Server, 1000).fast_rules();
        let whole = frame(0x82, true, &[1, 2, 3], None);
        assert_eq!(
            WholeFrame::recognize(&whole, rules),
            Some(WholeFrame {
                kind: MessageKind::Binary,
                header_len: 6,
                end: 9,
                mask: Some([0x12, 0x34, 0x56, 0x78]),
            })
        );
        // Every proper prefix is incomplete.
        for cut in 0..whole.len() {
            assert_eq!(WholeFrame::recognize(&whole[..cut], rules), None);
        }
        // Not FIN, RSV1, a control frame, unmasked, too long: not for the fast path.
        for b0 in [0x02, 0xc2, 0x89] {
            assert_eq!(
                WholeFrame::recognize(&frame(b0, true, b"x", None), rules),
                None
            );
        }
        assert_eq!(
            WholeFrame::recognize(&frame(0x82, false, b"x", None), rules),
            None
        );
        let too_long = frame(0x82, true, &[0; 1001], Some(126));
        assert_eq!(WholeFrame::recognize(&too_long, rules), None);
        // A 64-bit length with the top bit set is never taken.
        let mut huge = vec![0x82, 0xff];
        huge.extend_from_slice(&u64::MAX.to_be_bytes());
        huge.extend_from_slice(&[0; 4]);
        let unlimited = decoder(Role::Server, usize::MAX).fast_rules();
        assert_eq!(WholeFrame::recognize(&huge, unlimited), None);
    }

    /// Frame mode's pieces as (opcode, fin, remaining, data), from `wire`
    /// fed in pieces of `split` bytes.
    fn frame_pieces(wire: &[u8], chunk: usize, split: usize) -> Vec<(u8, bool, u64, Vec<u8>)> {
        let mut d = Decoder::new(DecoderRules {
            frame_chunk: chunk,
            ..decoder(Role::Server, 1000).rules()
        });
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for part in wire.chunks(split) {
            buf.extend_from_slice(part);
            while let Some(decoded) = d.decode(&mut buf).unwrap() {
                out.push(match decoded {
                    Decoded::Frame {
                        fin,
                        opcode,
                        is_first,
                        remaining,
                        data,
                        ..
                    } => {
                        assert_eq!(
                            is_first,
                            out.last()
                                .is_none_or(|p: &(u8, bool, u64, Vec<u8>)| p.2 == 0)
                        );
                        (
                            opcode as u8,
                            fin,
                            remaining,
                            d.take(&mut buf, data).to_vec(),
                        )
                    }
                    Decoded::Control { opcode, payload } => {
                        (opcode as u8, true, 0, payload.to_vec())
                    }
                    other => panic!("not frame mode: {other:?}"),
                });
            }
        }
        out
    }

    #[test]
    fn frame_mode_pieces_do_not_depend_on_the_split() {
        let text = "h\u{e9}llo w\u{f6}rld".as_bytes();
        let mut wire = frame(0x01, true, &text[..7], None);
        wire.extend(frame(0x89, true, b"ping", None));
        wire.extend(frame(0x80, true, &text[7..], None));
        wire.extend(frame(0x82, true, &[], None));
        let want = vec![
            (1, false, 4, text[..3].to_vec()),
            (1, false, 1, text[3..6].to_vec()),
            (1, false, 0, text[6..7].to_vec()),
            (9, true, 0, b"ping".to_vec()),
            (0, true, text.len() as u64 - 10, text[7..10].to_vec()),
            (0, true, 0, text[10..].to_vec()),
            (2, true, 0, vec![]),
        ];
        for split in 1..wire.len() {
            assert_eq!(frame_pieces(&wire, 3, split), want, "split {split}");
        }
        // A plain single-frame message (frame mode's fast path) is a frame too.
        let plain = frame(0x82, true, b"abc", None);
        assert_eq!(
            frame_pieces(&plain, 100, 100),
            [(2, true, 0, b"abc".to_vec())]
        );
    }

    #[test]
    fn lent_bytes_stay_bounded_when_the_fast_path_never_stops() {
        let mut d = decoder(Role::Server, 1000);
        let mut buf = BytesMut::new();
        let one = frame(0x82, true, &[7; 100], None);
        for _ in 0..1000 {
            // One frame in, one event out: `decode` never returns `None`.
            buf.extend_from_slice(&one);
            let Some(Decoded::Message { payload, .. }) = d.decode(&mut buf).unwrap() else {
                panic!("a message");
            };
            assert_eq!(d.lend(&buf, payload), &[7; 100][..]);
            assert!(buf.len() <= RELEASE_AT + one.len());
        }
    }

    #[test]
    fn lent_bytes_are_dropped_once_the_fast_path_stops() {
        let mut d = decoder(Role::Server, 1000);
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&frame(0x82, true, b"ab", None));
        buf.extend_from_slice(&frame(0x81, true, b"cd", None));
        let mut lent = Vec::new();
        while let Some(Decoded::Message { payload, .. }) = d.decode(&mut buf).unwrap() {
            lent.push(d.lend(&buf, payload).to_vec());
        }
        assert_eq!(lent, [b"ab".to_vec(), b"cd".to_vec()]);
        assert!(buf.is_empty(), "released when decode found nothing more");
        // A stale read position (the connection emptied the buffer) is harmless.
        buf.extend_from_slice(&frame(0x82, true, b"ef", None));
        let Some(Decoded::Message { payload, .. }) = d.decode(&mut buf).unwrap() else {
            panic!("a message");
        };
        let _ = d.lend(&buf, payload);
        buf.clear();
        assert!(d.decode(&mut buf).unwrap().is_none());
    }
}
