//! Turning decoded frames into events, and failing the connection.
//!
//! One path serves both outputs: [`Connection::poll_ready`] runs the decoder
//! and every protocol rule above it (automatic pongs, the close handshake,
//! inflating, failing) and yields a [`Ready`] event whose data payload may
//! still be in the read buffer; `poll_event` then splits the payload off as
//! `Bytes` and `poll_event_ref` lends it out in place.

#[allow(unused_imports)]
use crate::prelude::*;
use bytes::{Bytes, BytesMut};

use super::{Connection, Event};
use crate::decode::{Decoded, Payload};
use crate::frame::{Frame, OpCode};
use crate::handshake::{Request, Response};
use crate::{CloseCode, CloseFrame, Error, Fragment, MessageKind, ProtocolError, Utf8Bytes};

/// An event with its payload not yet handed out.
#[derive(Debug)]
pub(super) enum Ready {
    /// A whole message; text has been validated.
    Message {
        kind: MessageKind,
        payload: Payload,
    },
    /// A piece of a message; text validated as far as it goes.
    Fragment {
        kind: MessageKind,
        data: Payload,
        is_first: bool,
        is_last: bool,
    },
    Ping(Bytes),
    Pong(Bytes),
    Close(CloseFrame),
    /// Frame mode: a frame or a piece of one (control frames whole).
    Frame {
        fin: bool,
        rsv: u8,
        opcode: OpCode,
        is_first: bool,
        remaining: u64,
        data: Payload,
    },
    /// Server: the client's opening request.
    Request(Box<Request>),
    /// Client: the server's 101 response; the connection is open.
    Response(Box<Response>),
}

impl Connection {
    /// Decodes a message or piece an extension encoded (`rsv` not 0);
    /// text is validated after decoding. Out of line: messages without
    /// reserved bits never come here.
    #[inline(never)]
    pub(super) fn decode_extensions(
        &mut self,
        kind: MessageKind,
        rsv: u8,
        data: Bytes,
        is_first: bool,
        is_last: bool,
    ) -> Result<Bytes, ProtocolError> {
        let max = self.decoder.max_message_size();
        match &mut self.extensions {
            Some(codecs) => codecs.decode(kind, rsv, data, is_first, is_last, max),
            // The decoder lets reserved bits through only when extensions own them.
            None => Err(ProtocolError::ReservedBitsSet { bits: rsv }),
        }
    }

    /// Fails the connection (section 7.1.7): queue a close frame with the
    /// error's code unless one was sent, and stop reading.
    #[cold]
    #[inline(never)]
    pub(super) fn fail(&mut self, err: ProtocolError) -> Error {
        if !self.close.sent && !self.config.auto_failure_close && !self.close.received {
            // The application sends the close (`Config::auto_failure_close`):
            // reading stops as if the peer's close frame had come.
            self.close.received = true;
            self.close.reported = true;
            self.read_buf = BytesMut::new();
            return Error::Protocol(err);
        }
        if !self.close.sent {
            let payload = err.close_frame().encode();
            // Held back (and so never sent) if a streamed frame of ours is
            // incomplete: it cannot be cut short.
            self.push_control(OpCode::Close, payload);
            self.close.sent = true;
        }
        self.record_failure(Error::Protocol(err))
    }

    /// Ends a failed connection, in the handshake or after it: the error is
    /// sticky (handed out by every later poll), nothing more is read, and
    /// the transport should close once what is queued is written.
    pub(super) fn record_failure(&mut self, err: Error) -> Error {
        self.close.failed = true;
        self.close.reported = true;
        self.close.deadline = None;
        self.read_buf = BytesMut::new();
        self.error = Some(Box::new(err.clone()));
        err
    }

    /// The next event, with every protocol rule applied; the shared core of
    /// [`poll_event`](Self::poll_event) and
    /// [`poll_event_ref`](Self::poll_event_ref), whose documentation says
    /// what it returns when. Inlined into both: the common case (a whole
    /// single-frame message, nothing unusual) is tried first, in a few
    /// checks; everything else is [`poll_ready_in_full`](Self::poll_ready_in_full).
    #[inline(always)]
    pub(super) fn poll_ready(&mut self) -> Result<Option<Ready>, Error> {
        // The state poll_ready_in_full would decode in, and nothing in
        // progress that the general path must see first.
        if self.error.is_none()
            && !self.close.reported
            && !self.close.timed_out
            && !self.is_connecting()
        {
            self.decoder.forget_held();
            match self.decoder.decode_whole_message(&mut self.read_buf) {
                Ok(Some((kind, payload))) => {
                    self.note_activity();
                    return Ok(Some(Ready::Message { kind, payload }));
                }
                Ok(None) => {}
                Err(err) => return Err(self.fail(err)),
            }
        }
        self.poll_ready_in_full()
    }

    /// [`poll_ready`](Self::poll_ready) in full: every state, every frame.
    #[inline(never)]
    fn poll_ready_in_full(&mut self) -> Result<Option<Ready>, Error> {
        if let Some(err) = &self.error {
            return Err((**err).clone());
        }
        if self.is_connecting() {
            return self.poll_opening();
        }
        self.decoder.forget_held();
        if self.close.reported {
            return Ok(None);
        }
        if let Some(k) = &mut self.keepalive {
            // Bytes of a frame still arriving are activity too.
            k.note_buffered(self.read_buf.len());
        }
        while !self.close.timed_out {
            match self.decoder.decode(&mut self.read_buf) {
                // Frame mode's data frames go straight out, built in the
                // return slot. Through `on_decoded` and `?` the 48-byte
                // result was built in a stack temporary and copied out,
                // byte-wise, twice (+20 instructions a 20 B frame under
                // callgrind since the extension trait; 406 -> 339 with this).
                Ok(Some(Decoded::Frame {
                    fin,
                    rsv,
                    opcode,
                    is_first,
                    remaining,
                    data,
                })) => {
                    self.note_activity();
                    return Ok(Some(Ready::Frame {
                        fin,
                        rsv,
                        opcode,
                        is_first,
                        remaining,
                        data,
                    }));
                }
                Ok(Some(decoded)) => {
                    self.note_activity();
                    if let Some(ready) = self.on_decoded(decoded)? {
                        return Ok(Some(ready));
                    }
                }
                Ok(None) => {
                    if let Some(k) = &mut self.keepalive {
                        k.note_buffered(self.read_buf.len());
                    }
                    break;
                }
                Err(err) => return Err(self.fail(err)),
            }
        }
        if self.close.eof || self.close.timed_out {
            self.close.reported = true;
            self.read_buf = BytesMut::new();
            let reason = self.close.abnormal_reason;
            return Ok(Some(Ready::Close(CloseFrame::new(
                CloseCode::ABNORMAL,
                reason,
            ))));
        }
        Ok(None)
    }

    /// The ready event as an owned [`Event`], its payload split off the read
    /// buffer (no copy).
    #[inline]
    pub(super) fn owned_event(&mut self, ready: Ready) -> Event {
        match ready {
            Ready::Message { kind, payload } => {
                let payload = self.decoder.take(&mut self.read_buf, payload);
                match kind {
                    // SAFETY: the decoder validated every byte of an
                    // uncompressed text message, and `inflate` every byte of
                    // a compressed one.
                    MessageKind::Text => {
                        Event::Text(unsafe { Utf8Bytes::from_bytes_unchecked(payload) })
                    }
                    MessageKind::Binary => Event::Binary(payload),
                }
            }
            Ready::Fragment {
                kind,
                data,
                is_first,
                is_last,
            } => Event::Fragment(Fragment {
                kind,
                data: self.decoder.take(&mut self.read_buf, data),
                is_first,
                is_last,
            }),
            Ready::Ping(payload) => Event::Ping(payload),
            Ready::Pong(payload) => Event::Pong(payload),
            Ready::Close(frame) => Event::Close(frame),
            Ready::Frame {
                fin,
                rsv,
                opcode,
                is_first,
                remaining,
                data,
            } => Event::Frame(Box::new(Frame {
                fin,
                rsv,
                opcode,
                is_first,
                remaining,
                data: self.decoder.take(&mut self.read_buf, data),
            })),
            Ready::Request(request) => Event::Request(request),
            Ready::Response(response) => Event::Response(response),
        }
    }

    #[inline(always)]
    fn note_activity(&mut self) {
        if let Some(k) = &mut self.keepalive {
            k.note_activity();
        }
    }

    /// Everything but an uncompressed message (and frame mode's data frames,
    /// which `poll_ready_in_full` returns itself): inflating, control frames.
    /// `None` for a middle piece of a compressed message that inflated to
    /// nothing (as the decoder never hands out an empty middle piece of an
    /// uncompressed one).
    fn on_decoded(&mut self, decoded: Decoded) -> Result<Option<Ready>, Error> {
        let ready = match decoded {
            Decoded::Message { kind, payload, rsv } => {
                let payload = if rsv != 0 {
                    let input = self.decoder.take(&mut self.read_buf, payload);
                    match self.decode_extensions(kind, rsv, input, true, true) {
                        Ok(decoded) => Payload::Owned(decoded),
                        Err(err) => return Err(self.fail(err)),
                    }
                } else {
                    payload
                };
                Ready::Message { kind, payload }
            }
            Decoded::Fragment {
                kind,
                data,
                is_first,
                is_last,
                rsv,
            } => {
                let data = if rsv != 0 {
                    let input = self.decoder.take(&mut self.read_buf, data);
                    match self.decode_extensions(kind, rsv, input, is_first, is_last) {
                        Ok(decoded) if decoded.is_empty() && !is_first && !is_last => {
                            return Ok(None);
                        }
                        Ok(decoded) => Payload::Owned(decoded),
                        Err(err) => return Err(self.fail(err)),
                    }
                } else {
                    data
                };
                Ready::Fragment {
                    kind,
                    data,
                    is_first,
                    is_last,
                }
            }
            Decoded::Frame {
                fin,
                rsv,
                opcode,
                is_first,
                remaining,
                data,
            } => Ready::Frame {
                fin,
                rsv,
                opcode,
                is_first,
                remaining,
                data,
            },
            Decoded::Control { opcode, payload } => {
                let ready = self.on_control(opcode, payload)?;
                if self.decoder.frame_mode() {
                    let (opcode, payload) = match ready {
                        Ready::Ping(p) => (OpCode::Ping, p),
                        Ready::Pong(p) => (OpCode::Pong, p),
                        // Checked valid: its encoding is the peer's payload.
                        Ready::Close(frame) => (OpCode::Close, frame.encode()),
                        other => return Ok(Some(other)),
                    };
                    Ready::Frame {
                        fin: true,
                        rsv: 0,
                        opcode,
                        is_first: true,
                        remaining: 0,
                        data: Payload::Owned(payload),
                    }
                } else {
                    ready
                }
            }
        };
        Ok(Some(ready))
    }

    /// A control frame, in either mode: pings answered (with `auto_pong`),
    /// close frames checked, answered (with `auto_close_reply`) and the
    /// close handshake's state updated.
    fn on_control(&mut self, opcode: OpCode, payload: Bytes) -> Result<Ready, Error> {
        Ok(match opcode {
            OpCode::Ping => {
                if self.config.auto_pong && self.may_queue_control() {
                    self.push_control(OpCode::Pong, payload.clone());
                }
                Ready::Ping(payload)
            }
            OpCode::Pong => Ready::Pong(payload),
            _ => {
                let frame = match CloseFrame::decode(payload) {
                    Ok(frame) => frame,
                    Err(err) => return Err(self.fail(err)),
                };
                if self.config.auto_close_reply && !self.close.sent {
                    // Echo the code and the reason (section 5.5.1 says the
                    // code; browsers show the reason in `onclose`, so it
                    // goes back too); 1005 echoes as an empty body. The
                    // peer's frame held at most 125 bytes, so the echo
                    // fits. While a streamed frame of ours is incomplete the
                    // echo waits for its end, and counts as sent from then.
                    let echo = frame.encode();
                    if self.push_control(OpCode::Close, echo) {
                        self.close.sent = true;
                    }
                }
                self.close.received = true;
                self.close.reported = true;
                self.close.deadline = None;
                self.read_buf = BytesMut::new();
                Ready::Close(frame)
            }
        })
    }
}
