//! Frames as the application sees them in frame mode: the header's meaning
//! (FIN, RSV bits, opcode, length) and a piece of the unmasked payload.

#[allow(unused_imports)]
use crate::prelude::*;
use bytes::Bytes;

use super::OpCode;
use crate::{CloseCode, CloseFrame};

/// A frame, or a piece of one, in frame mode: received with
/// [`Config::deliver_frames`](crate::Config::deliver_frames) as
/// [`Event::Frame`](crate::Event::Frame), sent with
/// [`Connection::send_frame`](crate::Connection::send_frame).
///
/// `fin`, the reserved bits and the opcode are the frame's (RFC 6455
/// section 5.2); `data` is a piece of its unmasked payload, `is_first` says
/// whether the piece starts the frame and `remaining` how many payload bytes
/// of the frame follow it. A frame no longer than the chunk size comes whole
/// (`is_first`, `remaining` 0); a longer one comes as consecutive pieces
/// that repeat the header fields, the first telling the frame's whole
/// length ([`frame_len`](Self::frame_len)), so a proxy can pass each piece
/// on as it arrives and never hold the whole frame.
///
/// ```
/// use ws_proto::{frame::OpCode, Frame};
/// let whole = Frame::new(true, OpCode::Text, "hi");
/// assert!(whole.is_first && whole.is_last_piece());
/// // A 10-byte binary frame sent in two pieces.
/// let first = Frame::first_piece(true, OpCode::Binary, 10, vec![0; 4]);
/// assert_eq!((first.frame_len(), first.remaining), (Some(10), 6));
/// let second = first.next_piece(vec![0; 6]);
/// assert!(!second.is_first && second.is_last_piece());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// FIN: the frame ends its message (always set on control frames).
    pub fin: bool,
    /// RSV1, RSV2, RSV3 as the three low bits (RSV1 is `0b100`); only bits a
    /// negotiated extension defines can be set (RSV1 with permessage-deflate).
    pub rsv: u8,
    /// The opcode, [`OpCode::Continuation`] included.
    pub opcode: OpCode,
    /// This piece starts the frame.
    pub is_first: bool,
    /// Payload bytes of the frame after this piece (0 on its last piece).
    pub remaining: u64,
    /// This piece of the payload, unmasked.
    pub data: Bytes,
}

impl Frame {
    /// A whole frame with the reserved bits clear.
    ///
    /// ```
    /// use ws_proto::{frame::OpCode, Frame};
    /// let start = Frame::new(false, OpCode::Text, "Hel");
    /// assert_eq!(start.frame_len(), Some(3));
    /// ```
    pub fn new(fin: bool, opcode: OpCode, data: impl Into<Bytes>) -> Self {
        Self {
            fin,
            rsv: 0,
            opcode,
            is_first: true,
            remaining: 0,
            data: data.into(),
        }
    }

    /// The first piece of a frame of `frame_len` payload bytes, for sending
    /// a frame whose payload is not all at hand; follow it with
    /// [`next_piece`](Self::next_piece). (With `data` longer than
    /// `frame_len`, the frame is as long as `data`.)
    ///
    /// ```
    /// use ws_proto::{frame::OpCode, Frame};
    /// let head = Frame::first_piece(true, OpCode::Binary, 1 << 30, Vec::new());
    /// assert!(head.is_first && !head.is_last_piece());
    /// ```
    pub fn first_piece(fin: bool, opcode: OpCode, frame_len: u64, data: impl Into<Bytes>) -> Self {
        let data = data.into();
        Self {
            remaining: frame_len.saturating_sub(data.len() as u64),
            ..Self::new(fin, opcode, data)
        }
    }

    /// The piece of the same frame that follows this one. (`data` longer
    /// than what remains is refused when sent.)
    ///
    /// ```
    /// use ws_proto::{frame::OpCode, Frame};
    /// let first = Frame::first_piece(true, OpCode::Binary, 5, vec![1, 2]);
    /// assert_eq!(first.next_piece(vec![3, 4]).remaining, 1);
    /// ```
    pub fn next_piece(&self, data: impl Into<Bytes>) -> Self {
        let data = data.into();
        Self {
            fin: self.fin,
            rsv: self.rsv,
            opcode: self.opcode,
            is_first: false,
            remaining: self.remaining.saturating_sub(data.len() as u64),
            data,
        }
    }

    /// The same frame with these reserved bits (RSV1 is `0b100`).
    ///
    /// ```
    /// use ws_proto::{frame::OpCode, Frame};
    /// assert_eq!(Frame::new(true, OpCode::Binary, "x").with_rsv(0b100).rsv, 0b100);
    /// ```
    pub fn with_rsv(mut self, rsv: u8) -> Self {
        self.rsv = rsv;
        self
    }

    /// A close frame with `code` and `reason` (sending checks both);
    /// [`CloseCode::NO_STATUS_RECEIVED`] makes an empty body.
    ///
    /// ```
    /// use ws_proto::{CloseCode, Frame};
    /// assert_eq!(&Frame::close(CloseCode::NORMAL, "bye").data[..], b"\x03\xe8bye");
    /// ```
    pub fn close(code: CloseCode, reason: &str) -> Self {
        Self::new(true, OpCode::Close, CloseFrame::new(code, reason).encode())
    }

    /// The frame's whole payload length, known on its first piece.
    ///
    /// ```
    /// # use ws_proto::{frame::OpCode, Frame};
    /// let first = Frame::first_piece(true, OpCode::Binary, 8, vec![0; 3]);
    /// assert_eq!((first.frame_len(), first.next_piece(vec![0; 5]).frame_len()), (Some(8), None));
    /// ```
    pub fn frame_len(&self) -> Option<u64> {
        self.is_first
            .then(|| self.remaining.checked_add(self.data.len() as u64))
            .flatten()
    }

    /// This piece ends its frame.
    ///
    /// ```
    /// # use ws_proto::{frame::OpCode, Frame};
    /// assert!(!Frame::first_piece(true, OpCode::Binary, 2, vec![1]).is_last_piece());
    /// ```
    pub fn is_last_piece(&self) -> bool {
        self.remaining == 0
    }

    /// The close frame's code and reason, for a whole close frame with a
    /// valid payload (every received one: the connection checked it).
    ///
    /// ```
    /// use ws_proto::{CloseCode, Frame};
    /// let frame = Frame::close(CloseCode(4000), "done");
    /// assert_eq!(frame.close_frame().unwrap().code, CloseCode(4000));
    /// ```
    pub fn close_frame(&self) -> Option<CloseFrame> {
        if self.opcode != OpCode::Close || !self.is_first || self.remaining != 0 {
            return None;
        }
        CloseFrame::decode(self.data.clone()).ok()
    }

    /// The first header byte: FIN, RSV bits and opcode.
    pub(crate) fn first_byte(&self) -> u8 {
        (u8::from(self.fin) << 7) | ((self.rsv & 0x7) << 4) | self.opcode.as_u8()
    }
}

/// A piece of a frame as [`Frame`] describes it, with the payload lent out
/// by the connection ([`EventRef::Frame`](crate::EventRef::Frame)) until
/// the next call on it.
///
/// ```
/// use ws_proto::{frame::OpCode, FrameRef};
/// let piece = FrameRef { fin: true, rsv: 0, opcode: OpCode::Binary, is_first: true, remaining: 0, data: &[1, 2] };
/// assert_eq!(piece.to_frame().data, &[1, 2][..]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameRef<'a> {
    /// As [`Frame::fin`].
    pub fin: bool,
    /// As [`Frame::rsv`].
    pub rsv: u8,
    /// As [`Frame::opcode`].
    pub opcode: OpCode,
    /// As [`Frame::is_first`].
    pub is_first: bool,
    /// As [`Frame::remaining`].
    pub remaining: u64,
    /// This piece of the payload, unmasked.
    pub data: &'a [u8],
}

impl FrameRef<'_> {
    /// An owned copy.
    ///
    /// ```
    /// use ws_proto::{frame::OpCode, FrameRef};
    /// let piece = FrameRef { fin: false, rsv: 0, opcode: OpCode::Text, is_first: true, remaining: 0, data: b"a" };
    /// assert!(!piece.to_frame().fin);
    /// ```
    pub fn to_frame(&self) -> Frame {
        Frame {
            fin: self.fin,
            rsv: self.rsv,
            opcode: self.opcode,
            is_first: self.is_first,
            remaining: self.remaining,
            data: Bytes::copy_from_slice(self.data),
        }
    }

    /// This piece ends its frame.
    ///
    /// ```
    /// # use ws_proto::{frame::OpCode, FrameRef};
    /// let piece = FrameRef { fin: true, rsv: 0, opcode: OpCode::Binary, is_first: false, remaining: 0, data: b"bc" };
    /// assert!(piece.is_last_piece());
    /// ```
    pub fn is_last_piece(&self) -> bool {
        self.remaining == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_know_where_they_are() {
        let first = Frame::first_piece(false, OpCode::Text, 6, "ab");
        let mid = first.next_piece("cd");
        let last = mid.next_piece("ef");
        assert_eq!([first.remaining, mid.remaining, last.remaining], [4, 2, 0]);
        assert_eq!(
            [first.frame_len(), mid.frame_len(), last.frame_len()],
            [Some(6), None, None]
        );
        assert!(first.is_first && !first.is_last_piece());
        assert!(!mid.is_first && !mid.is_last_piece());
        assert!(!last.is_first && last.is_last_piece());
        assert_eq!(last.first_byte(), 0x01);
        assert_eq!(
            Frame::new(true, OpCode::Binary, "")
                .with_rsv(0b100)
                .first_byte(),
            0xc2
        );
    }

    #[test]
    fn close_frame_reads_only_whole_valid_close_frames() {
        assert_eq!(
            Frame::new(true, OpCode::Close, "").close_frame(),
            Some(CloseFrame::new(CloseCode::NO_STATUS_RECEIVED, ""))
        );
        assert_eq!(Frame::new(true, OpCode::Close, vec![3]).close_frame(), None);
        assert_eq!(Frame::new(true, OpCode::Ping, "").close_frame(), None);
    }
}
