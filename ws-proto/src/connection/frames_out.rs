//! Sending frames as the application shapes them ([`Connection::send_frame`]),
//! whole or in pieces, and holding back the control frames the connection
//! owes the peer while a frame of the application's is half sent.

#[allow(unused_imports)]
use crate::prelude::*;
use bytes::Bytes;

use super::{Connection, Role};
use crate::frame::{Frame, FrameHeader, OpCode};
use crate::{CloseFrame, MessageKind, ProtocolError, SendError};

/// What `send_frame` keeps between calls.
#[derive(Debug, Default)]
pub(super) struct FramesOut {
    /// The frame whose payload is being sent piece by piece.
    sending: Option<Sending>,
    /// Control frames the connection owes the peer (pongs, the close reply,
    /// keepalive pings), held until the frame being sent ends.
    deferred: Vec<(OpCode, Bytes)>,
    /// The data message being sent is compressed (RSV1 on its first frame):
    /// its text cannot be checked.
    compressed: bool,
}

/// A frame whose header is queued and whose payload is not all sent.
#[derive(Debug)]
struct Sending {
    first_byte: u8,
    /// Payload bytes queued so far.
    done: u64,
    /// Payload bytes still to come.
    left: u64,
    mask: Option<[u8; 4]>,
    check_utf8: bool,
}

impl Connection {
    /// Sends a frame as the caller shapes it (frame-level access, for
    /// proxies and protocols that care about framing), whole or in pieces.
    /// Works in any delivery mode.
    ///
    /// The caller chooses FIN, the reserved bits and the opcode; the
    /// connection masks (client role) and keeps the rules it must keep:
    ///
    /// * nothing after our close frame ([`SendError::CloseSent`]); a close
    ///   frame sent here starts (or answers) the close handshake as
    ///   [`close`](Self::close) does, its payload checked (section 5.5.1);
    /// * control frames whole, FIN set, at most 125 bytes (section 5.5);
    /// * continuation frames only inside a fragmented message, and no new
    ///   message inside one ([`SendError::FragmentOutOfOrder`], section
    ///   5.4), shared with [`send_fragment`](Self::send_fragment);
    /// * reserved bits only as a negotiated extension defines them: RSV1 on
    ///   the first frame of a data message with permessage-deflate (the
    ///   payload is then taken as already compressed and sent as it is);
    /// * text (uncompressed) valid UTF-8 across its frames, as
    ///   [`send_fragment`](Self::send_fragment) checks it.
    ///
    /// A frame whose payload is not all at hand goes in pieces: the first
    /// piece has `is_first` set and tells the whole length through
    /// `remaining` (the frame's header is queued with it); each next one
    /// has `is_first` clear, the same header fields, and a `remaining` that
    /// agrees with what came before (see [`Frame::next_piece`]), so a frame
    /// of any size is relayed in bounded memory. Until the last piece, nothing else can be sent
    /// ([`SendError::FrameInProgress`]); pongs and the close reply the
    /// connection owes wait for the frame's end. The pieces received in
    /// frame mode can be passed on as they are. A rejected frame or piece
    /// queues nothing. [`Config::max_send_frame_size`](crate::Config::max_send_frame_size)
    /// does not apply: the caller chooses the frames.
    ///
    /// ```
    /// use ws_proto::{frame::OpCode, Config, Connection, Frame, Role, SendError};
    /// let mut server = Connection::new(Role::Server, Config::default());
    /// // RFC 6455 section 5.7: "Hel" and "lo" as two frames.
    /// server.send_frame(Frame::new(false, OpCode::Text, "Hel")).unwrap();
    /// server.send_frame(Frame::new(true, OpCode::Continuation, "lo")).unwrap();
    /// let wire: Vec<u8> = server.transmit_slices().flatten().copied().collect();
    /// assert_eq!(wire, b"\x01\x03Hel\x80\x02lo");
    /// // One frame, its payload in two pieces.
    /// let first = Frame::first_piece(true, OpCode::Binary, 4, vec![1, 2]);
    /// server.send_frame(first.clone()).unwrap();
    /// assert_eq!(server.send_ping("now"), Err(SendError::FrameInProgress));
    /// server.send_frame(first.next_piece(vec![3, 4])).unwrap();
    /// assert_eq!(
    ///     server.send_frame(Frame::new(false, OpCode::Ping, "")),
    ///     Err(SendError::FragmentedControlFrame)
    /// );
    /// ```
    pub fn send_frame(&mut self, frame: Frame) -> Result<(), SendError> {
        if let Some(out) = &self.frames_out {
            if out.sending.is_some() {
                return self.send_next_piece(frame);
            }
        }
        self.check_can_send()?;
        if !frame.is_first {
            return Err(SendError::PieceOutOfOrder);
        }
        let len = frame.data.len() as u64;
        // A length needs its top bit clear (section 5.2).
        let Some(frame_len) = frame.frame_len().filter(|n| *n <= i64::MAX as u64) else {
            return Err(SendError::PieceTooLong);
        };
        if frame.opcode.is_control() {
            return self.send_control_frame(frame);
        }
        // One rule for frames read and sent (extensions.rs).
        if !crate::extensions::rsv_allowed_for(self.rsv_owned(), frame.rsv, frame.opcode, true) {
            return Err(SendError::ReservedBitsNotNegotiated { bits: frame.rsv });
        }
        let kind = match (frame.opcode, self.sending_fragmented) {
            (OpCode::Continuation, Some(kind)) => kind,
            (OpCode::Text, None) => MessageKind::Text,
            (OpCode::Binary, None) => MessageKind::Binary,
            _ => return Err(SendError::FragmentOutOfOrder),
        };
        let starts_message = frame.opcode != OpCode::Continuation;
        // Encoded by an extension (any reserved bit): sent as it is, and
        // text not checked as UTF-8.
        let compressed = if starts_message {
            frame.rsv != 0
        } else {
            self.frames_out.as_ref().is_some_and(|out| out.compressed)
        };
        let check_utf8 = kind == MessageKind::Text && !compressed;
        let whole = frame.remaining == 0;
        if check_utf8 {
            let mut utf8 = if starts_message {
                crate::Utf8Validator::new()
            } else {
                self.sending_utf8.clone()
            };
            let valid =
                utf8.feed(&frame.data).is_ok() && (!(whole && frame.fin) || utf8.finish().is_ok());
            if !valid {
                return Err(SendError::InvalidUtf8);
            }
            self.sending_utf8 = utf8;
        }
        // Every check passed: from here on, the frame is queued.
        self.sending_fragmented = (!frame.fin).then_some(kind);
        let out = self.frames_out.get_or_insert_with(Default::default);
        if starts_message {
            out.compressed = compressed;
        }
        if whole {
            self.push_frame_rsv(frame.fin, frame.rsv, frame.opcode, &frame.data);
            return Ok(());
        }
        let mask = match self.role {
            Role::Client => Some(self.config.randomness.mask_key()),
            Role::Server => None,
        };
        let mut header = FrameHeader::new(frame.fin, frame.opcode, mask, frame_len);
        header.rsv = frame.rsv;
        self.outbound.push_head(header);
        self.outbound.push_piece(&frame.data, mask, 0);
        out.sending = Some(Sending {
            first_byte: frame.first_byte(),
            done: len,
            left: frame.remaining,
            mask,
            check_utf8,
        });
        Ok(())
    }

    /// A piece of the frame being sent.
    fn send_next_piece(&mut self, frame: Frame) -> Result<(), SendError> {
        if self.error.is_some() || self.close.eof || self.close.timed_out {
            return Err(SendError::Closed);
        }
        let Some(sending) = self.frames_out.as_ref().and_then(|o| o.sending.as_ref()) else {
            return Err(SendError::PieceOutOfOrder);
        };
        let len = frame.data.len() as u64;
        if frame.first_byte() != sending.first_byte || frame.is_first {
            return Err(SendError::PieceOutOfOrder);
        }
        if len > sending.left {
            return Err(SendError::PieceTooLong);
        }
        let left = sending.left - len;
        if frame.remaining != left {
            return Err(SendError::PieceOutOfOrder);
        }
        let (mask, offset) = (sending.mask, sending.done);
        if sending.check_utf8 {
            let mut utf8 = self.sending_utf8.clone();
            let valid = utf8.feed(&frame.data).is_ok()
                && (!(frame.fin && left == 0) || utf8.finish().is_ok());
            if !valid {
                return Err(SendError::InvalidUtf8);
            }
            self.sending_utf8 = utf8;
        }
        self.outbound.push_piece(&frame.data, mask, offset);
        let Some(out) = self.frames_out.as_mut() else {
            return Ok(());
        };
        let Some(sending) = out.sending.as_mut() else {
            return Ok(());
        };
        sending.done += len;
        sending.left = left;
        if left == 0 {
            out.sending = None;
            let deferred = core::mem::take(&mut out.deferred);
            for (opcode, payload) in deferred {
                // Nothing follows a close frame: a pong owed after a close
                // was (go_away's, say) is dropped, as is everything after a
                // failure's close held back here.
                if self.close.sent {
                    continue;
                }
                if opcode == OpCode::Close {
                    self.close.sent = true;
                }
                self.push_frame(true, opcode, &payload);
            }
        }
        Ok(())
    }

    /// A whole ping, pong or close frame.
    fn send_control_frame(&mut self, frame: Frame) -> Result<(), SendError> {
        if !frame.fin {
            return Err(SendError::FragmentedControlFrame);
        }
        if frame.data.len() > 125 {
            return Err(SendError::ControlPayloadTooLong {
                len: frame.data.len(),
            });
        }
        if frame.remaining != 0 {
            return Err(SendError::ControlFrameInPieces);
        }
        if !crate::extensions::rsv_allowed_for(self.rsv_owned(), frame.rsv, frame.opcode, true) {
            return Err(SendError::ReservedBitsNotNegotiated { bits: frame.rsv });
        }
        if frame.opcode == OpCode::Close {
            match CloseFrame::decode(frame.data.clone()) {
                Ok(_) => {}
                Err(ProtocolError::CloseFrameTooShort) => {
                    return Err(SendError::CloseFrameTooShort)
                }
                Err(ProtocolError::InvalidCloseCode(code)) => {
                    return Err(SendError::InvalidCloseCode(code))
                }
                Err(_) => return Err(SendError::InvalidUtf8),
            }
            self.close.sent = true;
        }
        self.push_frame(true, frame.opcode, &frame.data);
        Ok(())
    }

    /// Whether a frame of the application's is half sent.
    #[inline]
    pub(super) fn frame_in_progress(&self) -> bool {
        match &self.frames_out {
            Some(out) => out.sending.is_some(),
            None => false,
        }
    }

    /// Whether a close frame is owed: held until the application's
    /// half-sent frame ends.
    pub(super) fn close_owed(&self) -> bool {
        self.frames_out.as_ref().is_some_and(|out| {
            out.deferred
                .iter()
                .any(|(opcode, _)| *opcode == OpCode::Close)
        })
    }

    /// A message started outside `send_frame` (by `send_fragment`).
    pub(super) fn note_message_start(&mut self, compressed: bool) {
        if let Some(out) = &mut self.frames_out {
            out.compressed = compressed;
        }
    }

    /// Whether the connection may still queue a control frame of its own
    /// (a pong): open, not ended, no close sent.
    pub(super) fn may_queue_control(&self) -> bool {
        !self.is_connecting()
            && self.error.is_none()
            && !self.close.eof
            && !self.close.timed_out
            && !self.close.sent
    }

    /// Queues a control frame the connection owes the peer, or holds it
    /// until the application's half-sent frame ends. `true` if queued now.
    pub(super) fn push_control(&mut self, opcode: OpCode, payload: Bytes) -> bool {
        match &mut self.frames_out {
            Some(out) if out.sending.is_some() => {
                out.deferred.push((opcode, payload));
                false
            }
            _ => {
                self.push_frame(true, opcode, &payload);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CloseCode, Config, Event, Randomness};

    fn server() -> Connection {
        Connection::new(Role::Server, Config::default())
    }

    fn wire(conn: &mut Connection) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(chunk) = conn.poll_transmit() {
            out.extend_from_slice(&chunk);
        }
        out
    }

    #[test]
    fn a_frame_in_pieces_is_one_frame_on_the_wire() {
        for role in [Role::Server, Role::Client] {
            let config = Config::default().randomness(Randomness::seeded(3));
            let mut sender = Connection::new(role, config);
            let first = Frame::first_piece(true, OpCode::Binary, 10_000, vec![1; 4000]);
            let second = first.next_piece(vec![2; 5000]);
            let third = second.next_piece(vec![3; 1000]);
            for piece in [first, second, third] {
                sender.send_frame(piece).unwrap();
            }
            let mut receiver = Connection::new(role.peer(), Config::default());
            receiver.receive(&wire(&mut sender));
            let Ok(Some(Event::Binary(data))) = receiver.poll_event() else {
                panic!("one message");
            };
            let want: Vec<u8> = [vec![1; 4000], vec![2; 5000], vec![3; 1000]].concat();
            assert_eq!(&data[..], &want[..], "{role:?}");
        }
    }

    #[test]
    fn owed_control_frames_wait_for_the_frame_to_end() {
        let mut server = server();
        let first = Frame::first_piece(true, OpCode::Binary, 4, vec![1, 2]);
        server.send_frame(first.clone()).unwrap();
        // A ping and then a close arrive mid-frame: the pong and the close
        // reply wait; the close does not count as sent yet.
        server.receive(&[0x89, 0x80, 0, 0, 0, 0]);
        server.receive(&[0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]);
        assert!(matches!(server.poll_event(), Ok(Some(Event::Ping(_)))));
        assert!(matches!(server.poll_event(), Ok(Some(Event::Close(_)))));
        assert!(!server.should_close_transport());
        assert_eq!(wire(&mut server), [0x82, 4, 1, 2]);
        server.send_frame(first.next_piece(vec![3, 4])).unwrap();
        assert_eq!(wire(&mut server), [3, 4, 0x8a, 0, 0x88, 2, 0x03, 0xe8]);
        assert!(server.should_close_transport());
    }

    #[test]
    fn a_piece_must_continue_the_frame() {
        let mut server = server();
        let first = Frame::first_piece(true, OpCode::Binary, 4, vec![1]);
        server.send_frame(first.clone()).unwrap();
        let mut other = first.next_piece(vec![2]);
        other.remaining = 3;
        assert_eq!(server.send_frame(other), Err(SendError::PieceOutOfOrder));
        let other = first.next_piece(vec![2]).with_rsv(0b100);
        assert_eq!(server.send_frame(other), Err(SendError::PieceOutOfOrder));
        let long = first.next_piece(vec![2; 4]);
        assert_eq!(server.send_frame(long), Err(SendError::PieceTooLong));
        assert_eq!(
            server.send_frame(Frame::new(true, OpCode::Binary, "")),
            Err(SendError::PieceOutOfOrder)
        );
        assert_eq!(
            server.close(CloseCode::NORMAL, ""),
            Err(SendError::FrameInProgress)
        );
        server.send_frame(first.next_piece(vec![2, 3, 4])).unwrap();
        server.close(CloseCode::NORMAL, "").unwrap();
        let mut fresh = Connection::new(Role::Server, Config::default());
        let endless = Frame::first_piece(true, OpCode::Binary, 1 << 63, Bytes::new());
        assert_eq!(fresh.send_frame(endless), Err(SendError::PieceTooLong));
    }
}
