//! The write wakers: which half waits on the transport's write side, and
//! the shared waker that wakes each of them.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use super::{lock, State};

/// Which half is polling, as an index into [`WriteWakers`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Reader = 0,
    Writer = 1,
}

impl Side {
    pub(super) fn other(self) -> Self {
        match self {
            Self::Reader => Self::Writer,
            Self::Writer => Self::Reader,
        }
    }
}

/// The tasks waiting for the transport's write side, one slot per half. It
/// is itself the waker given to every write-side poll that waits, so
/// whichever half polled last, both are woken.
#[derive(Debug, Default)]
pub(super) struct WriteWakers {
    slots: Mutex<[Option<Waker>; 2]>,
}

impl WriteWakers {
    fn register(&self, side: Side, waker: &Waker) {
        let mut slots = lock(&self.slots);
        let slot = &mut slots[side as usize];
        if !slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
            *slot = Some(waker.clone());
        }
    }

    fn wake_side(&self, side: Side) {
        let waker = lock(&self.slots)[side as usize].take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    fn wake_all(&self) {
        let slots = core::mem::take(&mut *lock(&self.slots));
        for waker in slots.into_iter().flatten() {
            waker.wake();
        }
    }
}

impl Wake for WriteWakers {
    fn wake(self: Arc<Self>) {
        self.wake_all();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wake_all();
    }
}

impl<S> State<S> {
    pub(super) fn wake_reader(&mut self) {
        if let Some(waker) = self.reader_waker.take() {
            waker.wake();
        }
    }

    /// Wakes `side` if it waits on the transport's write side.
    pub(super) fn wake_side(&self, side: Side) {
        if let Some(wakers) = &self.write_wakers {
            wakers.wake_side(side);
        }
    }

    /// Wakes both halves where they wait on the transport's write side.
    pub(super) fn wake_all_writers(&self) {
        if let Some(wakers) = &self.write_wakers {
            wakers.wake_all();
        }
    }
}

// An associated function rather than a free one, for the code generated:
// rustc places a method's instances with its `Self` type (here with the
// other `State` methods, in the module of `State`) and a free function's in
// its own module, so a free function here lands in another codegen unit
// than its callers and stops being inlined into them.
impl<S: Unpin> State<S> {
    /// Polls a write-side operation of the transport (write, flush, shutdown):
    /// first with a no-op waker, as most finish at once; when the transport
    /// makes it wait, registers `waker` for `side` and polls again with the
    /// shared write waker (allocated the first time), which the transport then
    /// keeps and which wakes every half that waits on the write side.
    pub(super) fn poll_write_op<T>(
        io: &mut S,
        write_wakers: &mut Option<Arc<WriteWakers>>,
        side: Side,
        waker: &Waker,
        mut op: impl FnMut(Pin<&mut S>, &mut Context<'_>) -> Poll<T>,
    ) -> Poll<T> {
        if let Poll::Ready(done) = op(Pin::new(io), &mut Context::from_waker(Waker::noop())) {
            return Poll::Ready(done);
        }
        let wakers = write_wakers.get_or_insert_with(Arc::default);
        wakers.register(side, waker);
        let write_waker = Waker::from(Arc::clone(wakers));
        op(Pin::new(io), &mut Context::from_waker(&write_waker))
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;
    use ws_proto::{Config, Connection, Message, Role};

    use super::super::Shared;
    use super::*;

    /// A counting waker, for tests of who is woken.
    struct Count(std::sync::atomic::AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }

        fn wake_by_ref(self: &Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    fn counter() -> (Arc<Count>, Waker) {
        let count = Arc::new(Count(Default::default()));
        (Arc::clone(&count), Waker::from(count))
    }

    fn woken(count: &Count) -> usize {
        count.0.load(std::sync::atomic::Ordering::Relaxed)
    }

    #[tokio::test]
    async fn a_full_transport_wakes_both_waiting_halves() {
        use tokio::io::AsyncReadExt;
        let (ours, mut theirs) = tokio::io::duplex(64);
        let shared = Shared::new(ours, Connection::new(Role::Server, Config::default()));
        // Writes that finish at once never allocate the shared write waker.
        shared.start_send(Message::text("small")).unwrap();
        let (writer, writer_waker) = counter();
        let mut cx = Context::from_waker(&writer_waker);
        assert!(shared.poll_flush(&mut cx).is_ready());
        assert!(lock(&shared.state).write_wakers.is_none());
        let mut sink = vec![0; 64];
        theirs.read_exact(&mut sink[..7]).await.unwrap();

        // The writer waits on a full pipe.
        shared.start_send(Message::binary(vec![7; 1000])).unwrap();
        assert!(shared.poll_flush(&mut cx).is_pending());
        assert!(lock(&shared.state).write_wakers.is_some());
        // The reader reads a ping; its pong waits behind the writer's bytes.
        let mut client = Connection::new(Role::Client, Config::default());
        client.send_ping(&b"p"[..]).unwrap();
        while let Some(bytes) = client.poll_transmit() {
            theirs.write_all(&bytes).await.unwrap();
        }
        let (reader, reader_waker) = counter();
        let item = shared.poll_next(&mut Context::from_waker(&reader_waker));
        assert!(matches!(item, Poll::Ready(Some(Ok(Message::Ping(_))))));
        assert!(shared
            .poll_next(&mut Context::from_waker(&reader_waker))
            .is_pending());
        assert_eq!((woken(&writer), woken(&reader)), (0, 0));
        // Room in the pipe wakes both halves.
        theirs.read_exact(&mut sink).await.unwrap();
        assert_eq!((woken(&writer), woken(&reader)), (1, 1));
    }

    #[test]
    fn write_wakers_wake_every_waiting_half() {
        let (reader, reader_waker) = counter();
        let (writer, writer_waker) = counter();
        let wakers = Arc::new(WriteWakers::default());
        wakers.register(Side::Reader, &reader_waker);
        wakers.register(Side::Writer, &writer_waker);
        // The transport holds the shared waker, whoever polled it last.
        Waker::from(Arc::clone(&wakers)).wake_by_ref();
        assert_eq!(woken(&reader), 1);
        assert_eq!(woken(&writer), 1);
        // Each registration is woken once.
        Waker::from(wakers).wake();
        assert_eq!(woken(&reader), 1);
    }
}
