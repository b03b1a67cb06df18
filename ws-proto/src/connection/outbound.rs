//! The transmit queue: encoded frames waiting to be written.
//!
//! Small frames are written back to back into one growing buffer (`tail`), so
//! many small messages go out in one write. A large unmasked payload (server
//! role) is queued as its own `Bytes` after its header, without copying; the
//! adapter writes the chunks with one vectored write.

#[allow(unused_imports)]
use crate::prelude::*;
use alloc::collections::VecDeque;

use bytes::{Buf, Bytes, BytesMut};

use crate::frame::{apply_mask, FrameHeader, MAX_HEADER_LEN};

/// Payloads at least this long are queued by reference instead of copied.
const ZERO_COPY_MIN: usize = 4096;

#[derive(Debug, Default)]
pub(crate) struct Outbound {
    /// Chunks ready to write, oldest first; `tail` follows them.
    chunks: VecDeque<Bytes>,
    tail: BytesMut,
    buffered: usize,
    /// Set by an opening handshake's head: once everything queued is
    /// written, the queue lets go of its allocations, since most
    /// connections go idle right after the handshake.
    release_when_drained: bool,
}

impl Outbound {
    /// Queues one frame. `header.mask` decides whether the payload is masked.
    pub(crate) fn push_frame(&mut self, header: FrameHeader, payload: &Bytes) {
        let mut head = [0u8; MAX_HEADER_LEN];
        let n = header.encode(&mut head);
        self.buffered += n + payload.len();
        match header.mask {
            Some(key) => {
                self.tail.reserve(n + payload.len());
                self.tail.extend_from_slice(&head[..n]);
                let start = self.tail.len();
                self.tail.extend_from_slice(payload);
                apply_mask(&mut self.tail[start..], key, 0);
            }
            None if payload.len() >= ZERO_COPY_MIN => {
                self.tail.extend_from_slice(&head[..n]);
                self.seal_tail();
                self.chunks.push_back(payload.clone());
            }
            None => {
                self.tail.reserve(n + payload.len());
                self.tail.extend_from_slice(&head[..n]);
                self.tail.extend_from_slice(payload);
            }
        }
    }

    /// Queues a frame's header alone; its payload follows in pieces
    /// ([`push_piece`](Self::push_piece)).
    pub(crate) fn push_head(&mut self, header: FrameHeader) {
        let mut head = [0u8; MAX_HEADER_LEN];
        let n = header.encode(&mut head);
        self.buffered += n;
        self.tail.extend_from_slice(&head[..n]);
    }

    /// Queues a piece of a payload whose header is queued: masked with `mask`
    /// from key position `offset`, or (unmasked and long) by reference.
    pub(crate) fn push_piece(&mut self, data: &Bytes, mask: Option<[u8; 4]>, offset: u64) {
        self.buffered += data.len();
        match mask {
            Some(key) => {
                let start = self.tail.len();
                self.tail.extend_from_slice(data);
                apply_mask(&mut self.tail[start..], key, (offset & 3) as usize);
            }
            None if data.len() >= ZERO_COPY_MIN => {
                self.seal_tail();
                self.chunks.push_back(data.clone());
            }
            None => self.tail.extend_from_slice(data),
        }
    }

    /// Queues an encoded frame shared with other connections: copied into
    /// the write buffer when shorter than `share_min`, else by reference.
    pub(crate) fn push_encoded(&mut self, frame: &Bytes, share_min: usize) {
        self.buffered += frame.len();
        if frame.len() < share_min {
            self.tail.extend_from_slice(frame);
        } else {
            self.seal_tail();
            self.chunks.push_back(frame.clone());
        }
    }

    /// Queues bytes as they are (the opening handshake's head).
    pub(crate) fn push_bytes(&mut self, bytes: Bytes) {
        if bytes.is_empty() {
            return;
        }
        self.buffered += bytes.len();
        self.seal_tail();
        self.chunks.push_back(bytes);
        self.release_when_drained = true;
    }

    fn seal_tail(&mut self) {
        if !self.tail.is_empty() {
            self.chunks.push_back(self.tail.split().freeze());
        }
    }

    /// Bytes queued and not yet written.
    pub(crate) fn buffered(&self) -> usize {
        self.buffered
    }

    /// Takes the oldest chunk.
    pub(crate) fn pop(&mut self) -> Option<Bytes> {
        self.seal_tail();
        let chunk = self.chunks.pop_front()?;
        self.buffered -= chunk.len();
        if self.buffered == 0 && self.release_when_drained {
            *self = Self::default();
        }
        Some(chunk)
    }

    /// The queued bytes as slices, oldest first.
    pub(crate) fn slices(&self) -> impl Iterator<Item = &[u8]> {
        self.chunks
            .iter()
            .map(|c| &c[..])
            .chain((!self.tail.is_empty()).then_some(&self.tail[..]))
    }

    /// Lends the front of the queue, oldest first, as owned clones pushed
    /// onto `out`: at most `max_bytes` in all (the last one possibly cut)
    /// and at most `max_chunks` chunks. Returns the bytes lent.
    ///
    /// The queue is unchanged: the bytes stay queued (and counted) until
    /// [`advance`](Self::advance). The tail is sealed first when any of it
    /// is lent, so frames queued later go into fresh room and never move
    /// the lent bytes.
    pub(crate) fn lend(
        &mut self,
        max_bytes: usize,
        max_chunks: usize,
        out: &mut Vec<Bytes>,
    ) -> usize {
        let mut lent = 0;
        let mut count = 0;
        let mut i = 0;
        loop {
            if lent == max_bytes || count == max_chunks {
                return lent;
            }
            if i == self.chunks.len() {
                if self.tail.is_empty() {
                    return lent;
                }
                self.seal_tail();
            }
            let chunk = &self.chunks[i];
            let take = chunk.len().min(max_bytes - lent);
            out.push(if take == chunk.len() {
                chunk.clone()
            } else {
                chunk.slice(..take)
            });
            lent += take;
            count += 1;
            i += 1;
        }
    }

    /// Drops everything queued (the peer stopped reading and we gave up).
    pub(crate) fn clear(&mut self) {
        *self = Self::default();
    }

    /// Marks the first `n` queued bytes as written.
    pub(crate) fn advance(&mut self, mut n: usize) {
        n = n.min(self.buffered);
        self.buffered -= n;
        while n > 0 {
            match self.chunks.front_mut() {
                Some(front) if n >= front.len() => {
                    n -= front.len();
                    self.chunks.pop_front();
                }
                Some(front) => {
                    front.advance(n);
                    return;
                }
                None if n == self.tail.len() => {
                    // All written: keep the buffer's start where it is, so
                    // the next frame is written without moving it back.
                    self.tail.clear();
                    break;
                }
                None => {
                    self.tail.advance(n);
                    return;
                }
            }
        }
        if self.buffered == 0 && (self.release_when_drained || self.tail.capacity() > 64 * 1024) {
            // Do not keep the handshake's queue, or a large buffer, alive
            // on an idle connection.
            *self = Self::default();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::OpCode;

    fn collect(out: &Outbound) -> Vec<u8> {
        out.slices().flatten().copied().collect()
    }

    #[test]
    fn small_and_large_frames_keep_their_order() {
        let mut out = Outbound::default();
        let small = Bytes::from_static(b"hi");
        let large = Bytes::from(vec![7u8; ZERO_COPY_MIN]);
        out.push_frame(FrameHeader::new(true, OpCode::Text, None, 2), &small);
        out.push_frame(
            FrameHeader::new(true, OpCode::Binary, None, large.len() as u64),
            &large,
        );
        out.push_frame(FrameHeader::new(true, OpCode::Ping, None, 2), &small);
        let bytes = collect(&out);
        assert_eq!(bytes.len(), out.buffered());
        assert_eq!(&bytes[..4], b"\x81\x02hi");
        assert_eq!(&bytes[4..8], &[0x82, 126, 0x10, 0x00]);
        assert_eq!(&bytes[bytes.len() - 4..], b"\x89\x02hi");
    }

    #[test]
    fn advance_over_chunk_boundaries() {
        let mut out = Outbound::default();
        let large = Bytes::from(vec![1u8; ZERO_COPY_MIN]);
        out.push_frame(
            FrameHeader::new(true, OpCode::Binary, None, large.len() as u64),
            &large,
        );
        out.push_frame(FrameHeader::new(true, OpCode::Text, None, 0), &Bytes::new());
        let all = collect(&out);
        for step in [1, 3, 1000, 4096] {
            let mut copy = Outbound::default();
            copy.push_frame(
                FrameHeader::new(true, OpCode::Binary, None, large.len() as u64),
                &large,
            );
            copy.push_frame(FrameHeader::new(true, OpCode::Text, None, 0), &Bytes::new());
            let mut written = Vec::new();
            while copy.buffered() > 0 {
                let chunk: Vec<u8> = copy.slices().flatten().copied().take(step).collect();
                written.extend_from_slice(&chunk);
                copy.advance(chunk.len());
            }
            assert_eq!(written, all, "step {step}");
            assert_eq!(copy.pop(), None);
        }
    }

    fn text(out: &mut Outbound, payload: &'static [u8]) {
        let header = FrameHeader::new(true, OpCode::Text, None, payload.len() as u64);
        out.push_frame(header, &Bytes::from_static(payload));
    }

    fn concat(chunks: &[Bytes]) -> Vec<u8> {
        chunks.iter().flat_map(|c| c.iter().copied()).collect()
    }

    #[test]
    fn lent_chunks_keep_the_order_and_stay_queued() {
        let mut out = Outbound::default();
        let large = Bytes::from(vec![7u8; ZERO_COPY_MIN]);
        text(&mut out, b"a");
        out.push_frame(
            FrameHeader::new(true, OpCode::Binary, None, large.len() as u64),
            &large,
        );
        text(&mut out, b"b");
        let all = collect(&out);
        let mut lent = Vec::new();
        assert_eq!(out.lend(usize::MAX, usize::MAX, &mut lent), all.len());
        assert_eq!(concat(&lent), all);
        // The large payload is lent by reference, not copied.
        assert!(lent.iter().any(|c| c.as_ptr() == large.as_ptr()));
        assert_eq!(out.buffered(), all.len());
        assert_eq!(collect(&out), all);
        // Lending again lends the same bytes.
        let mut again = Vec::new();
        out.lend(usize::MAX, usize::MAX, &mut again);
        assert_eq!(concat(&again), all);
    }

    #[test]
    fn frames_queued_after_lending_are_not_lent_and_do_not_move_lent_bytes() {
        let mut out = Outbound::default();
        text(&mut out, b"first");
        let mut lent = Vec::new();
        out.lend(usize::MAX, usize::MAX, &mut lent);
        assert_eq!(concat(&lent), b"\x81\x05first");
        let (ptr, len) = (lent[0].as_ptr(), lent[0].len());
        // Enough frames to outgrow any room left after the lent bytes.
        for _ in 0..1000 {
            text(&mut out, b"0123456789abcdef0123456789abcdef");
        }
        assert_eq!((lent[0].as_ptr(), lent[0].len()), (ptr, len));
        assert_eq!(&lent[0][..], b"\x81\x05first");
        assert_eq!(out.buffered(), 7 + 1000 * 34);
        out.advance(7);
        let rest = collect(&out);
        assert_eq!(rest.len(), 1000 * 34);
        assert!(rest.starts_with(b"\x81\x200123"));
    }

    #[test]
    fn partial_writes_of_lent_chunks_advance_the_queue() {
        let mut out = Outbound::default();
        let large = Bytes::from((0..ZERO_COPY_MIN).map(|i| i as u8).collect::<Vec<_>>());
        out.push_frame(
            FrameHeader::new(true, OpCode::Binary, None, large.len() as u64),
            &large,
        );
        text(&mut out, b"end");
        let all = collect(&out);
        let mut written = Vec::new();
        for step in [1, 3, 1000, 2000, usize::MAX] {
            let mut lent = Vec::new();
            out.lend(usize::MAX, usize::MAX, &mut lent);
            // The kernel takes `step` bytes of the lent ones; the lent
            // clones are still alive while the queue advances.
            let took: Vec<u8> = concat(&lent).into_iter().take(step).collect();
            written.extend_from_slice(&took);
            out.advance(took.len());
            assert_eq!(out.buffered(), all.len() - written.len());
            drop(lent);
        }
        assert_eq!(written, all);
        assert_eq!(out.buffered(), 0);
    }

    #[test]
    fn lending_stops_at_max_bytes_and_max_chunks() {
        let mut out = Outbound::default();
        let large = Bytes::from(vec![1u8; ZERO_COPY_MIN]);
        out.push_frame(
            FrameHeader::new(true, OpCode::Binary, None, large.len() as u64),
            &large,
        );
        text(&mut out, b"tail");
        let all = collect(&out);
        let mut lent = Vec::new();
        assert_eq!(out.lend(10, usize::MAX, &mut lent), 10);
        assert_eq!(concat(&lent), &all[..10]);
        // The tail was not reached, so it was not sealed.
        assert!(!out.tail.is_empty());
        lent.clear();
        assert_eq!(out.lend(usize::MAX, 2, &mut lent), 4 + ZERO_COPY_MIN);
        assert_eq!(lent.len(), 2);
        lent.clear();
        assert_eq!(out.lend(0, usize::MAX, &mut lent), 0);
        assert!(lent.is_empty());
        assert_eq!(out.buffered(), all.len());
    }

    #[test]
    fn clearing_the_queue_leaves_lent_chunks_intact() {
        let mut out = Outbound::default();
        text(&mut out, b"linger");
        let mut lent = Vec::new();
        out.lend(usize::MAX, usize::MAX, &mut lent);
        out.clear();
        assert_eq!(out.buffered(), 0);
        assert_eq!(concat(&lent), b"\x81\x06linger");
    }

    #[test]
    fn a_written_handshake_head_leaves_no_allocation_behind() {
        for by_pop in [false, true] {
            let mut out = Outbound::default();
            out.push_bytes(Bytes::from_static(
                b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
            ));
            out.push_frame(
                FrameHeader::new(true, OpCode::Text, None, 2),
                &Bytes::from_static(b"hi"),
            );
            if by_pop {
                while out.pop().is_some() {}
            } else {
                let n = out.buffered();
                out.advance(n);
            }
            assert_eq!((out.chunks.capacity(), out.tail.capacity()), (0, 0));
            // Frames queued later keep their buffer between writes, as before.
            out.push_frame(
                FrameHeader::new(true, OpCode::Text, None, 2),
                &Bytes::from_static(b"hi"),
            );
            let n = out.buffered();
            out.advance(n);
            assert!(out.tail.capacity() > 0);
        }
    }
}
