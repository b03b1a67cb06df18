//! Turning decoded frames into events, and failing the connection.

#[allow(unused_imports)]
use crate::prelude::*;
#[cfg(feature = "deflate")]
use bytes::Bytes;
use bytes::BytesMut;

use super::{Connection, Event};
use crate::decode::Decoded;
use crate::frame::OpCode;
use crate::{CloseFrame, MessageKind, ProtocolError, Utf8Bytes};

impl Connection {
    /// Inflates a compressed message or piece; text is validated after inflating.
    #[cfg(feature = "deflate")]
    pub(super) fn inflate(
        &mut self,
        kind: MessageKind,
        data: &[u8],
        is_first: bool,
        is_last: bool,
    ) -> Result<Bytes, ProtocolError> {
        let max = self.config.max_message_size;
        // RSV1 cannot be set unless deflate was negotiated (the decoder checks).
        let deflate = self
            .deflate
            .as_mut()
            .expect("compressed data without permessage-deflate");
        let mut out = BytesMut::new();
        deflate.decompressor.inflate(data, is_last, max, &mut out)?;
        if kind == MessageKind::Text {
            if is_first {
                deflate.utf8.reset();
            }
            deflate
                .utf8
                .feed(&out)
                .map_err(|_| ProtocolError::InvalidUtf8)?;
            if is_last {
                deflate
                    .utf8
                    .finish()
                    .map_err(|_| ProtocolError::InvalidUtf8)?;
            }
        }
        Ok(out.freeze())
    }

    /// Fails the connection (section 7.1.7): queue a close frame with the
    /// error's code unless one was sent, and stop reading.
    pub(super) fn fail(&mut self, err: ProtocolError) -> ProtocolError {
        if !self.close.sent {
            let reason = short_reason(&err);
            let payload = CloseFrame::new(err.close_code(), reason.as_str()).encode();
            self.push_frame(true, OpCode::Close, &payload);
            self.close.sent = true;
        }
        self.close.failed = true;
        self.close.reported = true;
        self.close.deadline = None;
        self.read_buf = BytesMut::new();
        self.error = Some(err.clone());
        err
    }

    pub(super) fn on_decoded(&mut self, decoded: Decoded) -> Result<Option<Event>, ProtocolError> {
        let event = match decoded {
            Decoded::Message {
                kind,
                payload,
                compressed,
            } => {
                #[cfg(feature = "deflate")]
                let payload = if compressed {
                    match self.inflate(kind, &payload, true, true) {
                        Ok(inflated) => inflated,
                        Err(err) => return Err(self.fail(err)),
                    }
                } else {
                    payload
                };
                #[cfg(not(feature = "deflate"))]
                let _ = compressed;
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
            Decoded::Fragment {
                #[allow(unused_mut)]
                mut fragment,
                compressed,
            } => {
                #[cfg(feature = "deflate")]
                if compressed {
                    let (kind, first, last) = (fragment.kind, fragment.is_first, fragment.is_last);
                    match self.inflate(kind, &fragment.data, first, last) {
                        Ok(inflated) => fragment.data = inflated,
                        Err(err) => return Err(self.fail(err)),
                    }
                }
                #[cfg(not(feature = "deflate"))]
                let _ = compressed;
                Event::Fragment(fragment)
            }
            Decoded::Control { opcode, payload } => match opcode {
                OpCode::Ping => {
                    if self.config.auto_pong && self.check_can_send().is_ok() {
                        self.push_frame(true, OpCode::Pong, &payload);
                    }
                    Event::Ping(payload)
                }
                OpCode::Pong => Event::Pong(payload),
                _ => {
                    let frame = match CloseFrame::decode(payload) {
                        Ok(frame) => frame,
                        Err(err) => return Err(self.fail(err)),
                    };
                    if !self.close.sent {
                        // Echo the code (section 5.5.1); 1005 echoes as an empty body.
                        let echo = CloseFrame::new(frame.code, "").encode();
                        self.push_frame(true, OpCode::Close, &echo);
                        self.close.sent = true;
                    }
                    self.close.received = true;
                    self.close.reported = true;
                    self.close.deadline = None;
                    self.read_buf = BytesMut::new();
                    Event::Close(frame)
                }
            },
        };
        Ok(Some(event))
    }
}

/// A close reason for a protocol error, cut to the 123 bytes a close frame allows.
fn short_reason(err: &ProtocolError) -> String {
    let mut text = err.to_string();
    if let Some(cut) = text.find("; closing with") {
        text.truncate(cut);
    }
    if text.len() > 123 {
        let mut end = 123;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}
