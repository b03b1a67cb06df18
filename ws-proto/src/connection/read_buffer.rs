//! The read buffer policy, one for every adapter: how large the next read
//! is, and how an idle connection comes to hold no read buffer at all.
//!
//! A connection between messages needs no buffer, and servers hold many
//! idle connections. So when a read finds nothing, the driver hands the
//! connection's (empty) buffer to a [`ReadBufferPool`], and the next
//! connection of that driver that has data to read takes it back: no
//! allocation and no free per burst of messages, and at most one spare
//! buffer per pool.

#[allow(unused_imports)]
use crate::prelude::*;
use bytes::BytesMut;

use super::Connection;

/// A read gets at least this much room.
const MIN_READ: usize = 4 * 1024;
/// Reads that keep filling their room get up to `MIN_READ << MAX_GROWTH`
/// (64 KiB).
const MAX_GROWTH: u8 = 4;
/// The most room reserved at once for a large frame.
const MAX_RESERVE: usize = 16 << 20;
/// The largest buffer a pool keeps (larger ones, from large frames, are
/// freed): room for the largest read of a busy connection.
const MAX_SPARE: usize = MIN_READ << MAX_GROWTH;

/// How many reads in a row filled all the room they were given (each
/// doubles the next read's room, up to `MIN_READ << MAX_GROWTH`), and
/// whether a read buffer was prepared since the last read that found
/// nothing (the high bit). One byte: it sits in every connection.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct ReadGrowth(u8);

impl ReadGrowth {
    const PREPARED: u8 = 0x80;

    fn doublings(self) -> u8 {
        self.0 & !Self::PREPARED
    }

    /// A buffer is prepared; `full`: the last read left it no room.
    fn prepare(&mut self, full: bool) {
        let grow = full && self.0 & Self::PREPARED != 0 && self.doublings() < MAX_GROWTH;
        self.0 = (self.doublings() + u8::from(grow)) | Self::PREPARED;
    }
}

/// At most one spare, empty read buffer, shared by the connections one
/// driver runs (ws-tokio keeps one per thread, a single-threaded driver one
/// in all). See [`Connection::prepare_receive_buffer`].
///
/// ```
/// use ws_proto::{Config, Connection, ReadBufferPool, Role};
/// let mut pool = ReadBufferPool::default();
/// let mut conn = Connection::new(Role::Client, Config::default());
/// conn.prepare_receive_buffer(&mut pool).extend_from_slice(b"\x82\x01\x01");
/// let _ = conn.poll_event();
/// conn.release_receive_buffer(&mut pool); // the read found nothing more
/// assert!(pool.spare_capacity() >= 4096);
/// ```
#[derive(Debug, Default)]
pub struct ReadBufferPool {
    spare: BytesMut,
}

impl ReadBufferPool {
    /// An empty pool.
    ///
    /// ```
    /// assert_eq!(ws_proto::ReadBufferPool::new().spare_capacity(), 0);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// The capacity of the spare buffer kept, in bytes (0 when none).
    ///
    /// ```
    /// assert_eq!(ws_proto::ReadBufferPool::default().spare_capacity(), 0);
    /// ```
    pub fn spare_capacity(&self) -> usize {
        self.spare.capacity()
    }

    /// Keeps `buf` (empty) for the next read if its room can be reused and
    /// is not large; frees it otherwise. A spare kept before is freed.
    fn give(&mut self, mut buf: BytesMut) {
        debug_assert!(buf.is_empty());
        // Asking for more room than it has makes `try_reclaim` move the
        // start back to the front of the allocation when nothing else
        // points into it (payloads already handed out may); a buffer
        // without room that cannot be reclaimed is of no use.
        let room = buf.capacity();
        let reclaimed = buf.try_reclaim(room + 1);
        if (reclaimed || room > 0) && buf.capacity() <= MAX_SPARE {
            self.spare = buf;
        }
    }
}

impl Connection {
    /// The buffer to read into next, with room for the read: at least
    /// 4 KiB, or as much of a large frame in progress as its header
    /// announced (up to 16 MiB), so a large frame arrives in few reads.
    /// A connection whose reads keep filling all their room (a peer with
    /// many messages in flight) gets twice the room for each such read, up
    /// to 64 KiB, so its messages come in few reads and its answers go out
    /// in few writes; a read that finds nothing
    /// ([`release_receive_buffer`](Self::release_receive_buffer)) starts
    /// again from 4 KiB. A connection that holds no buffer takes the pool's
    /// spare first. Append only, as with
    /// [`receive_buffer`](Self::receive_buffer).
    ///
    /// ```
    /// use ws_proto::{Config, Connection, ReadBufferPool, Role};
    /// let mut pool = ReadBufferPool::default();
    /// let mut client = Connection::new(Role::Client, Config::default());
    /// let buf = client.prepare_receive_buffer(&mut pool);
    /// assert!(buf.capacity() - buf.len() >= 4096);
    /// ```
    pub fn prepare_receive_buffer(&mut self, pool: &mut ReadBufferPool) -> &mut BytesMut {
        let hint = self.receive_size_hint();
        // No room left after a read: it filled all the room it had
        // (decoding moves the buffer's start, never its end).
        self.read_growth
            .prepare(self.read_buf.capacity() == self.read_buf.len());
        let read = MIN_READ << self.read_growth.doublings();
        let buf = self.receive_buffer();
        if buf.is_empty() && buf.capacity() < read && pool.spare.capacity() > 0 {
            *buf = core::mem::take(&mut pool.spare);
        }
        if buf.capacity() - buf.len() < read {
            buf.reserve(hint.clamp(read, MAX_RESERVE));
        }
        buf
    }

    /// Tells the connection that a read found nothing to read: an empty
    /// read buffer goes to `pool`, so an idle connection holds none. A
    /// buffer holding part of a frame stays.
    ///
    /// ```
    /// use ws_proto::{Config, Connection, ReadBufferPool, Role};
    /// let mut pool = ReadBufferPool::default();
    /// let mut client = Connection::new(Role::Client, Config::default());
    /// client.prepare_receive_buffer(&mut pool).extend_from_slice(&[0x82]); // half a header
    /// client.release_receive_buffer(&mut pool);
    /// assert_eq!(pool.spare_capacity(), 0, "the partial frame keeps its buffer");
    /// ```
    pub fn release_receive_buffer(&mut self, pool: &mut ReadBufferPool) {
        self.read_growth = ReadGrowth::default();
        let buf = self.receive_buffer();
        // Even without room (every byte cut off into frames) an empty
        // buffer may hold on to its allocation.
        if buf.is_empty() {
            pool.give(core::mem::take(buf));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Config, Event, Role};

    #[test]
    fn a_released_buffer_is_taken_back_with_its_room() {
        let mut pool = ReadBufferPool::new();
        let mut a = Connection::new(Role::Client, Config::default());
        a.prepare_receive_buffer(&mut pool)
            .extend_from_slice(&[0x82, 0x02, 1, 2]);
        let event = a.poll_event();
        assert_eq!(event, Ok(Some(Event::Binary(vec![1, 2].into()))));
        drop(event);
        a.release_receive_buffer(&mut pool);
        let kept = pool.spare_capacity();
        assert!(kept >= MIN_READ, "{kept}");
        let mut b = Connection::new(Role::Client, Config::default());
        let buf = b.prepare_receive_buffer(&mut pool);
        assert_eq!(buf.capacity(), kept, "b reads into a's old buffer");
        assert_eq!(pool.spare_capacity(), 0);
    }

    #[test]
    fn large_frames_get_room_for_their_payload() {
        let mut pool = ReadBufferPool::new();
        let mut client = Connection::new(Role::Client, Config::default());
        // A 1 MiB binary frame's header.
        client.receive(&[0x82, 0x7f, 0, 0, 0, 0, 0, 0x10, 0, 0]);
        assert_eq!(client.poll_event(), Ok(None));
        let buf = client.prepare_receive_buffer(&mut pool);
        assert!(buf.capacity() >= 1 << 20, "{}", buf.capacity());
    }

    #[test]
    fn reads_that_fill_their_room_get_more_until_one_finds_nothing() {
        let mut pool = ReadBufferPool::new();
        let mut conn = Connection::new(Role::Server, Config::default());
        let mut rooms = Vec::new();
        for _ in 0..7 {
            let buf = conn.prepare_receive_buffer(&mut pool);
            let room = buf.capacity() - buf.len();
            rooms.push(room);
            // The peer has more waiting than fits: the read fills the room,
            // and decoding takes every byte out.
            buf.resize(buf.len() + room, 0);
            let len = buf.len();
            drop(buf.split_to(len));
        }
        for pair in rooms.windows(2).take(4) {
            assert!(pair[1] >= 2 * pair[0].min(MAX_SPARE / 2), "{rooms:?}");
        }
        assert!(rooms[4] >= MAX_SPARE, "{rooms:?}");
        assert!(rooms[6] <= 2 * MAX_SPARE, "growth stops: {rooms:?}");
        // A read that finds nothing: the next starts small again.
        conn.receive_buffer().clear();
        conn.release_receive_buffer(&mut pool);
        let mut other = Connection::new(Role::Server, Config::default());
        other.prepare_receive_buffer(&mut pool);
        conn.prepare_receive_buffer(&mut pool);
        assert_eq!(conn.read_growth.doublings(), 0);
    }

    #[test]
    fn a_read_that_leaves_room_does_not_grow_the_next() {
        let mut pool = ReadBufferPool::new();
        let mut conn = Connection::new(Role::Client, Config::default());
        for _ in 0..5 {
            let buf = conn.prepare_receive_buffer(&mut pool);
            buf.extend_from_slice(&[0x82, 0x01, 0x01]);
            assert_eq!(conn.poll_event(), Ok(Some(Event::Binary(vec![1].into()))));
        }
        conn.prepare_receive_buffer(&mut pool);
        assert_eq!(conn.read_growth.doublings(), 0);
    }

    #[test]
    fn large_buffers_are_not_kept() {
        let mut pool = ReadBufferPool::new();
        pool.give(BytesMut::with_capacity(MAX_SPARE + 1));
        assert_eq!(pool.spare_capacity(), 0);
    }

    #[test]
    fn a_buffer_shared_with_live_payloads_and_no_room_is_not_kept() {
        let mut pool = ReadBufferPool::new();
        let mut buf = BytesMut::with_capacity(64);
        buf.extend_from_slice(&[1; 64]);
        let payload = buf.split_to(64).freeze();
        pool.give(buf);
        assert_eq!(pool.spare_capacity(), 0);
        drop(payload);
    }
}
