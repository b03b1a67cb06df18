//! The frame decoder: one path for both delivery modes.
//!
//! The decoder reads frames from the front of the connection's read buffer.
//! Payload bytes are unmasked (and, for text, validated) in place as they
//! arrive, so invalid UTF-8 is caught before the rest of the frame shows up.
//! In message mode a finished frame is split off the buffer as one `Bytes`
//! (no copy); a single-frame message is handed out as that slice, and only
//! fragmented messages are copied together. In fragment mode the unmasked
//! bytes are split off and handed out as soon as they are there.

#[allow(unused_imports)]
use crate::prelude::*;
use bytes::{Buf, Bytes, BytesMut};

use crate::frame::{apply_mask, FrameHeader, OpCode};
use crate::{Fragment, MessageKind, ProtocolError, Role, Utf8Validator};

/// What the decoder produced.
#[derive(Debug)]
pub(crate) enum Decoded {
    /// A whole control frame (close, ping or pong).
    Control { opcode: OpCode, payload: Bytes },
    /// A whole data message (message mode). `compressed`: RSV1 was set on its
    /// first frame (permessage-deflate), so `payload` is still compressed and
    /// text has not been validated.
    Message {
        kind: MessageKind,
        payload: Bytes,
        compressed: bool,
    },
    /// A piece of a data message (fragment mode); `compressed` as above.
    Fragment {
        fragment: Fragment,
        compressed: bool,
    },
}

/// The limits and rules the decoder enforces.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DecoderRules {
    pub(crate) role: Role,
    pub(crate) max_frame_size: usize,
    pub(crate) max_message_size: usize,
    pub(crate) deliver_fragments: bool,
    /// RSV1 may be set on the first frame of a data message (permessage-deflate).
    pub(crate) rsv1_allowed: bool,
}

/// The frame whose payload is being read.
#[derive(Debug)]
struct FrameInProgress {
    header: FrameHeader,
    /// Payload bytes at the front of the buffer already unmasked and validated
    /// (message mode) or payload bytes already handed out (fragment mode).
    done: u64,
}

/// The fragmented data message being read.
#[derive(Debug)]
struct MessageInProgress {
    kind: MessageKind,
    compressed: bool,
    /// Payload bytes announced so far by its frames.
    len: u64,
    /// Message mode: the first frame's payload while it is the only one...
    first: Option<Bytes>,
    /// ...then every payload so far, in the buffer that becomes the message.
    rest: BytesMut,
    /// Fragment mode: nothing of this message handed out yet.
    nothing_delivered: bool,
}

#[derive(Debug)]
pub(crate) struct Decoder {
    rules: DecoderRules,
    frame: Option<FrameInProgress>,
    /// Boxed: only messages that arrive in pieces need it.
    message: Option<Box<MessageInProgress>>,
    utf8: Utf8Validator,
}

impl Decoder {
    pub(crate) fn new(rules: DecoderRules) -> Self {
        Self {
            rules,
            frame: None,
            message: None,
            utf8: Utf8Validator::new(),
        }
    }

    /// Lets RSV1 mark compressed messages (permessage-deflate was negotiated).
    #[cfg(feature = "deflate")]
    pub(crate) fn allow_rsv1(&mut self) {
        self.rules.rsv1_allowed = true;
    }

    /// Bytes still missing for the frame in progress, if known: a hint for how
    /// much the caller should read next.
    pub(crate) fn bytes_wanted(&self, buffered: usize) -> usize {
        match &self.frame {
            Some(f) if !self.rules.deliver_fragments => {
                let left = f.header.payload_len.saturating_sub(buffered as u64);
                usize::try_from(left).unwrap_or(usize::MAX)
            }
            _ => 0,
        }
    }

    /// Decodes what `buf` holds; `Ok(None)` means more bytes are needed.
    pub(crate) fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Decoded>, ProtocolError> {
        if let Some(whole) = self.decode_whole_message(buf)? {
            return Ok(Some(whole));
        }
        self.decode_in_steps(buf)
    }

    /// The fast path: a single-frame data message (or a control frame) that
    /// is entirely in `buf`, with nothing in progress, in message mode. It
    /// skips the bookkeeping of the general path; the checks are the same
    /// ([`start_frame`](Self::start_frame) runs for anything else).
    #[inline]
    fn decode_whole_message(
        &mut self,
        buf: &mut BytesMut,
    ) -> Result<Option<Decoded>, ProtocolError> {
        if self.frame.is_some() || self.message.is_some() || self.rules.deliver_fragments {
            return Ok(None);
        }
        let Some((header, header_len)) = FrameHeader::decode(buf)? else {
            return Ok(None);
        };
        let kind = match header.opcode {
            OpCode::Text => MessageKind::Text,
            OpCode::Binary => MessageKind::Binary,
            _ => return Ok(None),
        };
        let total = header_len as u64 + header.payload_len;
        if !header.fin || header.rsv != 0 || (buf.len() as u64) < total {
            return Ok(None);
        }
        self.check_mask(&header)?;
        self.check_frame_len(&header)?;
        check_message_len(header.payload_len, self.rules.max_message_size)?;
        let mut frame = buf.split_to(total as usize);
        let payload = &mut frame[header_len..];
        if let Some(key) = header.mask {
            apply_mask(payload, key, 0);
        }
        if kind == MessageKind::Text && core::str::from_utf8(payload).is_err() {
            return Err(ProtocolError::InvalidUtf8);
        }
        let mut payload = frame.freeze();
        payload.advance(header_len);
        Ok(Some(Decoded::Message {
            kind,
            payload,
            compressed: false,
        }))
    }

    /// The general path: frames in pieces, fragmented messages, control
    /// frames, fragment delivery.
    fn decode_in_steps(&mut self, buf: &mut BytesMut) -> Result<Option<Decoded>, ProtocolError> {
        loop {
            let frame = match &mut self.frame {
                Some(frame) => frame,
                None => {
                    let Some((header, header_len)) = FrameHeader::decode(buf)? else {
                        return Ok(None);
                    };
                    self.start_frame(&header)?;
                    buf.advance(header_len);
                    self.frame.insert(FrameInProgress { header, done: 0 })
                }
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
                self.frame = None;
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
            let check_utf8 = message.kind == MessageKind::Text && !message.compressed;

            if self.rules.deliver_fragments {
                let left = header.payload_len - frame.done;
                let take = left.min(buf.len() as u64) as usize;
                if take == 0 && left > 0 {
                    return Ok(None);
                }
                let mut data = buf.split_to(take);
                if let Some(key) = header.mask {
                    apply_mask(&mut data, key, (frame.done & 3) as usize);
                }
                frame.done += take as u64;
                let is_last_of_frame = frame.done == header.payload_len;
                let is_last = header.fin && is_last_of_frame;
                if check_utf8 {
                    self.utf8
                        .feed(&data)
                        .map_err(|_| ProtocolError::InvalidUtf8)?;
                    if is_last {
                        self.utf8.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
                    }
                }
                let is_first = message.nothing_delivered;
                // Skip empty pieces that neither start nor end a message.
                if data.is_empty() && !is_first && !is_last {
                    if is_last_of_frame {
                        self.frame = None;
                    }
                    continue;
                }
                message.nothing_delivered = false;
                let fragment = Fragment {
                    kind: message.kind,
                    data: data.freeze(),
                    is_first,
                    is_last,
                };
                let compressed = message.compressed;
                if is_last_of_frame {
                    self.frame = None;
                }
                if is_last {
                    self.message = None;
                }
                return Ok(Some(Decoded::Fragment {
                    fragment,
                    compressed,
                }));
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
            let payload = buf.split_to(len as usize).freeze();
            self.frame = None;
            if !header.fin {
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
            let message = self.message.take().expect("checked above");
            let mut message = message;
            let payload = match message.first.take() {
                // A single frame: its slice of the read buffer, no copy.
                None if message.rest.is_empty() => payload,
                // Two frames: one copy into a buffer of the exact size.
                Some(first) => {
                    let mut whole = BytesMut::with_capacity(first.len() + payload.len());
                    whole.extend_from_slice(&first);
                    whole.extend_from_slice(&payload);
                    whole.freeze()
                }
                // More: the assembled buffer becomes the message.
                None => {
                    message.rest.extend_from_slice(&payload);
                    core::mem::take(&mut message.rest).freeze()
                }
            };
            return Ok(Some(Decoded::Message {
                kind: message.kind,
                payload,
                compressed: message.compressed,
            }));
        }
    }

    /// Checks a new frame's header against the role, the extensions, the
    /// fragmentation sequence and the limits, and starts a message if it is
    /// the first frame of one.
    fn start_frame(&mut self, header: &FrameHeader) -> Result<(), ProtocolError> {
        self.check_mask(header)?;
        let rsv1_ok = self.rules.rsv1_allowed
            && matches!(header.opcode, OpCode::Text | OpCode::Binary)
            && self.message.is_none();
        let forbidden = if rsv1_ok {
            header.rsv & 0b011
        } else {
            header.rsv
        };
        if forbidden != 0 {
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
                check_message_len(len, self.rules.max_message_size)?;
                message.len = len;
                return Ok(());
            }
            (_, Some(_)) => return Err(ProtocolError::ExpectedContinuation),
            (OpCode::Text, None) => MessageKind::Text,
            _ => MessageKind::Binary,
        };
        check_message_len(header.payload_len, self.rules.max_message_size)?;
        self.utf8.reset();
        self.message = Some(Box::new(MessageInProgress {
            kind,
            compressed: header.rsv & 0b100 != 0,
            len: header.payload_len,
            first: None,
            rest: BytesMut::new(),
            nothing_delivered: true,
        }));
        Ok(())
    }
}

impl Decoder {
    /// Clients mask every frame, servers none (section 5.1).
    fn check_mask(&self, header: &FrameHeader) -> Result<(), ProtocolError> {
        match (self.rules.role, header.mask.is_some()) {
            (Role::Server, false) => Err(ProtocolError::UnmaskedFrameFromClient),
            (Role::Client, true) => Err(ProtocolError::MaskedFrameFromServer),
            _ => Ok(()),
        }
    }

    /// A data frame's announced length against `max_frame_size`, before any
    /// of its payload is buffered.
    fn check_frame_len(&self, header: &FrameHeader) -> Result<(), ProtocolError> {
        if header.payload_len > self.rules.max_frame_size as u64 {
            return Err(ProtocolError::FrameTooLarge {
                len: header.payload_len,
                max: self.rules.max_frame_size,
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
