//! Commands: what the application sends, and how frames are queued.

#[allow(unused_imports)]
use crate::prelude::*;
use bytes::Bytes;

use super::{Connection, Role};
use crate::frame::{FrameHeader, OpCode};
use crate::{CloseCode, CloseFrame, Fragment, Message, MessageKind, SendError, Utf8Bytes};

/// Per-message choices for [`Connection::send_with`].
///
/// ```
/// use ws_proto::SendOptions;
/// let raw = SendOptions::default().compress(false);
/// # let _ = raw;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SendOptions {
    compress: bool,
}

impl Default for SendOptions {
    fn default() -> Self {
        Self { compress: true }
    }
}

impl SendOptions {
    /// Let the negotiated extensions transform this message (default
    /// `true`): permessage-deflate compresses it if it reaches the
    /// threshold. Turn it off for data that is already compressed (images,
    /// archives); the message is then sent as it is, with no reserved bits.
    ///
    /// ```
    /// let opts = ws_proto::SendOptions::default().compress(false);
    /// # let _ = opts;
    /// ```
    pub fn compress(mut self, on: bool) -> Self {
        self.compress = on;
        self
    }

    pub(crate) fn compress_enabled(self) -> bool {
        self.compress
    }
}

impl Connection {
    // ----- commands -----

    /// Sends any [`Message`]; a `Close` starts or answers the close handshake.
    ///
    /// ```
    /// # use ws_proto::{Config, Connection, Message, Role};
    /// let mut server = Connection::new(Role::Server, Config::default());
    /// server.send(Message::text("hi")).unwrap();
    /// ```
    pub fn send(&mut self, message: Message) -> Result<(), SendError> {
        match message {
            Message::Text(text) => self.send_text(text),
            Message::Binary(data) => self.send_binary(data),
            Message::Ping(data) => self.send_ping(data),
            Message::Pong(data) => self.send_pong(data),
            Message::Close(frame) => self.send_close_frame(frame),
            Message::Fragment(fragment) => self.send_fragment(fragment),
        }
    }

    /// Sends a message with per-message options (for example without compression).
    ///
    /// ```
    /// # use ws_proto::{Config, Connection, Message, Role, SendOptions};
    /// let mut server = Connection::new(Role::Server, Config::default());
    /// server.send_with(Message::binary(vec![0; 100]), SendOptions::default().compress(false)).unwrap();
    /// ```
    pub fn send_with(&mut self, message: Message, options: SendOptions) -> Result<(), SendError> {
        match message {
            Message::Text(text) => self.send_data(OpCode::Text, text.into_bytes(), options),
            Message::Binary(data) => self.send_data(OpCode::Binary, data, options),
            other => self.send(other),
        }
    }

    /// Sends a text message, split into frames of at most
    /// [`Config::max_send_frame_size`](crate::Config::max_send_frame_size) bytes.
    ///
    /// ```
    /// # use ws_proto::{Config, Connection, Role};
    /// let mut server = Connection::new(Role::Server, Config::default());
    /// server.send_text(String::from("hello")).unwrap();
    /// ```
    pub fn send_text(&mut self, text: impl Into<Utf8Bytes>) -> Result<(), SendError> {
        self.send_data(
            OpCode::Text,
            text.into().into_bytes(),
            SendOptions::default(),
        )
    }

    /// Sends a binary message, split into frames of at most
    /// [`Config::max_send_frame_size`](crate::Config::max_send_frame_size) bytes. A server sends large payloads
    /// without copying them.
    ///
    /// ```
    /// # use ws_proto::{Config, Connection, Role};
    /// let mut server = Connection::new(Role::Server, Config::default());
    /// server.send_binary(bytes::Bytes::from_static(&[0; 1024])).unwrap();
    /// ```
    pub fn send_binary(&mut self, data: impl Into<Bytes>) -> Result<(), SendError> {
        self.send_data(OpCode::Binary, data.into(), SendOptions::default())
    }

    /// Sends a ping (at most 125 bytes).
    ///
    /// ```
    /// # use ws_proto::{Config, Connection, Role};
    /// let mut client = Connection::new(Role::Client, Config::default());
    /// client.send_ping(&b"are you there"[..]).unwrap();
    /// ```
    pub fn send_ping(&mut self, data: impl Into<Bytes>) -> Result<(), SendError> {
        self.send_control(OpCode::Ping, data.into())
    }

    /// Sends an unsolicited pong or, with `auto_pong` off, the answer to a ping
    /// (at most 125 bytes).
    ///
    /// ```
    /// # use ws_proto::{Config, Connection, Role};
    /// let mut client = Connection::new(Role::Client, Config::default().auto_pong(false));
    /// client.send_pong(&b"heartbeat"[..]).unwrap();
    /// ```
    pub fn send_pong(&mut self, data: impl Into<Bytes>) -> Result<(), SendError> {
        self.send_control(OpCode::Pong, data.into())
    }

    /// Starts the close handshake with `code` and `reason` (at most 123 bytes).
    /// [`CloseCode::NO_STATUS_RECEIVED`] with an empty reason sends a close
    /// frame with no body. Nothing else may be sent afterwards; received data is still delivered
    /// until the peer's close frame arrives.
    ///
    /// ```
    /// # use ws_proto::{CloseCode, Config, Connection, Role, SendError};
    /// let mut client = Connection::new(Role::Client, Config::default());
    /// assert_eq!(client.close(CloseCode::ABNORMAL, ""), Err(SendError::InvalidCloseCode(1006)));
    /// client.close(CloseCode(4000), "rejected").unwrap();
    /// assert_eq!(client.send_text("late"), Err(SendError::CloseSent));
    /// ```
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), SendError> {
        self.send_close_frame(CloseFrame::new(code, reason))
    }

    /// Sends one piece of a data message, for proxies and streaming: the first
    /// piece must have `is_first` set, the last `is_last`; other data messages
    /// cannot be sent in between (control frames can). Each piece becomes one
    /// frame; `kind` matters only on the first. Text pieces are checked as
    /// UTF-8 across piece boundaries ([`SendError::InvalidUtf8`], nothing queued).
    ///
    /// ```
    /// # use ws_proto::{Config, Connection, Fragment, MessageKind, Role, SendError};
    /// let mut server = Connection::new(Role::Server, Config::default());
    /// let piece = |data: &'static [u8], is_first, is_last| Fragment {
    ///     kind: MessageKind::Text, data: data.into(), is_first, is_last,
    /// };
    /// server.send_fragment(piece(b"Hel", true, false)).unwrap();
    /// assert_eq!(server.send_text("x"), Err(SendError::FragmentOutOfOrder));
    /// server.send_fragment(piece(b"lo", false, true)).unwrap();
    /// let wire: Vec<u8> = server.transmit_slices().flatten().copied().collect();
    /// assert_eq!(wire, b"\x01\x03Hel\x80\x02lo"); // RFC 6455 section 5.7
    /// ```
    pub fn send_fragment(&mut self, fragment: Fragment) -> Result<(), SendError> {
        self.check_can_send()?;
        let opcode = match (fragment.is_first, self.sending_fragmented) {
            (true, None) => match fragment.kind {
                MessageKind::Text => OpCode::Text,
                MessageKind::Binary => OpCode::Binary,
            },
            (false, Some(_)) => OpCode::Continuation,
            _ => return Err(SendError::FragmentOutOfOrder),
        };
        // The message's kind comes from its first piece.
        let message_kind = self.sending_fragmented.unwrap_or(fragment.kind);
        if message_kind == MessageKind::Text {
            // Validate on a copy so a rejected piece leaves the state as it was.
            let mut utf8 = if fragment.is_first {
                crate::Utf8Validator::new()
            } else {
                self.sending_utf8.clone()
            };
            let valid =
                utf8.feed(&fragment.data).is_ok() && (!fragment.is_last || utf8.finish().is_ok());
            if !valid {
                return Err(SendError::InvalidUtf8);
            }
            self.sending_utf8 = utf8;
        }
        self.sending_fragmented = (!fragment.is_last).then_some(message_kind);
        if fragment.is_first {
            self.note_message_start(false);
        }
        self.push_frame(fragment.is_last, opcode, &fragment.data);
        Ok(())
    }

    /// Whether a new frame may be sent: open, not ended, no close sent, and
    /// no frame of ours half sent.
    pub(super) fn check_can_send(&self) -> Result<(), SendError> {
        if self.is_connecting() {
            Err(SendError::Connecting)
        } else if self.error.is_some() || self.close.eof || self.close.timed_out {
            Err(SendError::Closed)
        } else if self.close.sent {
            Err(SendError::CloseSent)
        } else if self.frame_in_progress() {
            Err(SendError::FrameInProgress)
        } else {
            Ok(())
        }
    }

    pub(super) fn send_data(
        &mut self,
        opcode: OpCode,
        payload: Bytes,
        options: SendOptions,
    ) -> Result<(), SendError> {
        self.check_can_send()?;
        if self.sending_fragmented.is_some() {
            return Err(SendError::FragmentOutOfOrder);
        }
        let (payload, rsv) = match &mut self.extensions {
            Some(codecs) if options.compress => {
                let kind = if opcode == OpCode::Text {
                    MessageKind::Text
                } else {
                    MessageKind::Binary
                };
                codecs.encode(kind, payload)
            }
            _ => (payload, 0),
        };
        self.push_payload(opcode, payload, rsv);
        Ok(())
    }

    /// Queues one data message's payload, its first frame marked with the
    /// extensions' reserved bits `rsv`, split into frames of at most the
    /// configured size.
    pub(super) fn push_payload(&mut self, opcode: OpCode, payload: Bytes, rsv: u8) {
        let max = self.config.max_send_frame_size;
        if payload.len() <= max {
            self.push_frame_rsv(true, rsv, opcode, &payload);
            return;
        }
        let mut opcode = opcode;
        let mut start = 0;
        while start < payload.len() {
            let end = payload.len().min(start + max);
            // Reserved bits mark the first frame of a message only (RFC 7692 section 6.1).
            self.push_frame_rsv(
                end == payload.len(),
                if start == 0 { rsv } else { 0 },
                opcode,
                &payload.slice(start..end),
            );
            opcode = OpCode::Continuation;
            start = end;
        }
    }

    fn send_control(&mut self, opcode: OpCode, payload: Bytes) -> Result<(), SendError> {
        self.check_can_send()?;
        if payload.len() > 125 {
            return Err(SendError::ControlPayloadTooLong { len: payload.len() });
        }
        self.push_frame(true, opcode, &payload);
        Ok(())
    }

    fn send_close_frame(&mut self, frame: CloseFrame) -> Result<(), SendError> {
        self.check_can_send()?;
        // 1005 with no reason stands for a close frame with an empty body.
        let empty_body = frame.code == CloseCode::NO_STATUS_RECEIVED && frame.reason.is_empty();
        if !empty_body && !frame.code.is_sendable() {
            return Err(SendError::InvalidCloseCode(frame.code.0));
        }
        let payload = frame.encode();
        if payload.len() > 125 {
            return Err(SendError::ControlPayloadTooLong { len: payload.len() });
        }
        self.push_frame(true, OpCode::Close, &payload);
        self.close.sent = true;
        Ok(())
    }

    pub(super) fn push_frame(&mut self, fin: bool, opcode: OpCode, payload: &Bytes) {
        self.push_frame_rsv(fin, 0, opcode, payload);
    }

    /// Queues one whole frame (masked for a client); `rsv` as
    /// [`FrameHeader::rsv`]. The one place whole frames are queued, so the
    /// queue's code is inlined here once.
    pub(super) fn push_frame_rsv(&mut self, fin: bool, rsv: u8, opcode: OpCode, payload: &Bytes) {
        let mask = match self.role {
            Role::Client => Some(self.config.randomness.mask_key()),
            Role::Server => None,
        };
        let mut header = FrameHeader::new(fin, opcode, mask, payload.len() as u64);
        header.rsv = rsv;
        self.outbound.push_frame(header, payload);
    }
}
