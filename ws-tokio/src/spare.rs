//! One spare read buffer per thread.
//!
//! An idle connection keeps no read buffer: when a read finds nothing, the
//! driver takes the (empty) buffer out of the core. Freeing it there and
//! allocating a new one at the next read would cost two allocations and two
//! frees per burst of messages, so the buffer goes here instead, and the
//! next connection on this thread that reads data takes it back. At most
//! one buffer, of at most [`MAX`] bytes, is kept per thread; a connection
//! holds none while it waits.

use std::cell::Cell;

use bytes::BytesMut;

/// The largest buffer kept (larger ones, from large frames, are freed).
const MAX: usize = 16 * 1024;

thread_local! {
    static SPARE: Cell<BytesMut> = Cell::new(BytesMut::new());
}

/// Keeps `buf` (empty) for the next read on this thread, if its room can be
/// reused and is not large; frees it otherwise. A spare kept before is
/// freed.
pub(crate) fn give(mut buf: BytesMut) {
    debug_assert!(buf.is_empty());
    // Asking for more room than it has makes `try_reclaim` move the start
    // back to the front of the allocation, when nothing else points into it
    // (payloads already handed out may); a buffer without room that cannot
    // be reclaimed is of no use.
    let room = buf.capacity();
    let reclaimed = buf.try_reclaim(room + 1);
    if (reclaimed || room > 0) && buf.capacity() <= MAX {
        // During thread teardown the slot may be gone: then `buf` is freed.
        let _ = SPARE.try_with(|spare| spare.set(buf));
    }
}

/// The spare buffer of this thread, or an empty one without allocation.
pub(crate) fn take() -> BytesMut {
    SPARE.try_with(Cell::take).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_buffer_is_taken_back_with_its_room() {
        let mut buf = BytesMut::with_capacity(256);
        buf.extend_from_slice(&[1; 100]);
        let frame = buf.split_to(100).freeze();
        drop(frame);
        give(buf);
        let again = take();
        assert!(again.is_empty());
        assert!(again.capacity() >= 256, "capacity {}", again.capacity());
        // Taken once: the slot is empty again.
        assert_eq!(take().capacity(), 0);
    }

    #[test]
    fn large_buffers_are_not_kept() {
        give(BytesMut::with_capacity(MAX + 1));
        assert_eq!(take().capacity(), 0);
    }

    #[test]
    fn a_buffer_shared_with_live_payloads_and_no_room_is_not_kept() {
        let mut buf = BytesMut::with_capacity(64);
        buf.extend_from_slice(&[1; 64]);
        let payload = buf.split_to(64).freeze();
        give(buf);
        assert_eq!(take().capacity(), 0);
        drop(payload);
    }
}
