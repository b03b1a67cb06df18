//! Checks the events a `Connection` hands out, one at a time, and
//! reassembles them into whole messages for comparisons between delivery
//! modes, chunkings and roles.

use ws_proto::{CloseCode, Event, MessageKind};

/// An event with fragments put back together: what the application saw,
/// independent of the delivery mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Logical {
    /// A whole text message.
    Text(String),
    /// A whole binary message.
    Binary(Vec<u8>),
    /// A ping.
    Ping(Vec<u8>),
    /// A pong.
    Pong(Vec<u8>),
    /// The close event: code and reason.
    Close(u16, String),
}

/// Per-connection event checker.
#[derive(Debug)]
pub struct EventChecker {
    deliver_fragments: bool,
    max_message_size: usize,
    /// The fragmented message being delivered: its kind and bytes so far.
    partial: Option<(MessageKind, Vec<u8>)>,
    /// How much of a text message's bytes so far are known to be whole UTF-8.
    utf8_checked: usize,
    /// `Event::Close` was handed out.
    pub closed: bool,
    /// Everything seen, reassembled.
    pub logical: Vec<Logical>,
}

impl EventChecker {
    /// A checker for a connection with these settings.
    pub fn new(deliver_fragments: bool, max_message_size: usize) -> Self {
        Self {
            deliver_fragments,
            max_message_size,
            partial: None,
            utf8_checked: 0,
            closed: false,
            logical: Vec::new(),
        }
    }

    /// Checks one event. `abnormal_allowed`: the transport ended or the close
    /// timer fired, so a local 1006 close is possible.
    pub fn on_event(&mut self, event: &Event, abnormal_allowed: bool) {
        assert!(!self.closed, "event after Event::Close: {event:?}");
        match event {
            Event::Text(t) => {
                assert!(!self.deliver_fragments, "whole message in fragment mode");
                assert!(
                    std::str::from_utf8(t.as_bytes()).is_ok(),
                    "text is not UTF-8"
                );
                assert!(
                    t.len() <= self.max_message_size,
                    "text over max_message_size"
                );
                self.logical.push(Logical::Text(t.as_str().to_owned()));
            }
            Event::Binary(b) => {
                assert!(!self.deliver_fragments, "whole message in fragment mode");
                assert!(
                    b.len() <= self.max_message_size,
                    "binary over max_message_size"
                );
                self.logical.push(Logical::Binary(b.to_vec()));
            }
            Event::Ping(p) => {
                assert!(p.len() <= 125, "ping payload over 125 bytes");
                self.logical.push(Logical::Ping(p.to_vec()));
            }
            Event::Pong(p) => {
                assert!(p.len() <= 125, "pong payload over 125 bytes");
                self.logical.push(Logical::Pong(p.to_vec()));
            }
            Event::Close(frame) => {
                let code = frame.code;
                if code == CloseCode::ABNORMAL {
                    // The reason, if any, says what happened locally (EOF, timeout).
                    assert!(abnormal_allowed, "1006 without EOF or timeout");
                } else if code == CloseCode::NO_STATUS_RECEIVED {
                    assert!(frame.reason.is_empty(), "1005 with a reason");
                } else {
                    assert!(code.is_sendable(), "peer close code {code} accepted");
                }
                assert!(frame.reason.len() <= 123, "close reason over 123 bytes");
                assert!(std::str::from_utf8(frame.reason.as_bytes()).is_ok());
                self.closed = true;
                self.logical
                    .push(Logical::Close(code.0, frame.reason.as_str().to_owned()));
            }
            Event::Fragment(f) => {
                assert!(self.deliver_fragments, "fragment in message mode");
                assert!(
                    !f.data.is_empty() || f.is_first || f.is_last,
                    "empty piece in the middle of a message"
                );
                let (kind, mut bytes) = match self.partial.take() {
                    None => {
                        assert!(f.is_first, "first piece of a message without is_first");
                        self.utf8_checked = 0;
                        (f.kind, Vec::new())
                    }
                    Some((kind, bytes)) => {
                        assert!(!f.is_first, "is_first in the middle of a message");
                        assert_eq!(f.kind, kind, "kind changed within a message");
                        (kind, bytes)
                    }
                };
                bytes.extend_from_slice(&f.data);
                assert!(
                    bytes.len() <= self.max_message_size,
                    "fragments over max_message_size"
                );
                if kind == MessageKind::Text {
                    // Validated as far as it goes: only an unfinished code point
                    // may be missing. Checked from the last whole code point on.
                    match std::str::from_utf8(&bytes[self.utf8_checked..]) {
                        Ok(_) => self.utf8_checked = bytes.len(),
                        Err(e) => {
                            assert!(
                                e.error_len().is_none() && !f.is_last,
                                "text fragments are not UTF-8"
                            );
                            self.utf8_checked += e.valid_up_to();
                        }
                    }
                }
                if f.is_last {
                    self.logical.push(match kind {
                        MessageKind::Text => {
                            Logical::Text(String::from_utf8(bytes).expect("checked above"))
                        }
                        MessageKind::Binary => Logical::Binary(bytes),
                    });
                } else {
                    self.partial = Some((kind, bytes));
                }
            }
            other => panic!("unknown event {other:?}"),
        }
    }
}
