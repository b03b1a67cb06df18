//! The driver: what a turn does to each connection. Nothing here knows a
//! protocol rule. The core decides what to send, when the transport
//! closes and when its timers run; the driver copies what arrived into the
//! core, sends what the core queued (lent, not copied), closes the
//! transport when the core says so, and sleeps until the core's deadline.
//!
//! Per connection, in each flush (the guide's loop, one round):
//!
//! 1. **poll** the core's events (once a last event or failure is handed
//!    out, no more);
//! 2. **write**: with no send in flight, borrow the front of the core's
//!    queue as owned chunks (`lend_transmit_chunks`: at most [`MAX_SEND`]
//!    bytes in at most [`MAX_IOVECS`] chunks, no copy) and submit one
//!    vectored send of them; the queue advances when the kernel says how
//!    much it took, so `buffered_amount` counts the bytes in flight too;
//! 3. **close** the transport once `should_close_transport()` says so and
//!    nothing is left to write;
//! 4. **read**: keep one multishot receive armed, except above the
//!    high-water mark (backpressure: it is cancelled) and after the end;
//! 5. **sleep**: note the core's next deadline in the timer heap.

mod completion;
mod sockaddr;
#[cfg(test)]
mod tests;

pub(crate) use sockaddr::SocketAddress;

use std::cmp::Reverse;
use std::io;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use bytes::Bytes;
use io_uring::{opcode, squeue, types};
use ws_proto::{Config, Connection};

use crate::ring::{next_generation, Op, Token, BUFFER_GROUP};
use crate::runtime::{ConnId, Entry, Flow, RuntimeEvent, Wait};
use crate::{Error, Runtime};

/// The most bytes one send takes from the core's queue.
pub(crate) const MAX_SEND: usize = 256 * 1024;
/// The most chunks one send takes from the core's queue (the kernel's
/// `IOV_MAX` is 1024).
pub(crate) const MAX_IOVECS: usize = 64;
/// Send states kept for reuse.
const SEND_POOL: usize = 64;
/// The longest single wait in `io_uring_enter`.
const MAX_WAIT: Duration = Duration::from_secs(24 * 60 * 60);
/// After a failed accept, the listener tries again this much later.
const ACCEPT_RETRY: Duration = Duration::from_millis(50);

/// The state of a connection's multishot receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Recv {
    /// None submitted (yet, or any more).
    Idle,
    /// Submitted; completions come until one without `IORING_CQE_F_MORE`.
    Armed,
    /// A cancellation was submitted; the last completion is still to come.
    Cancelling,
}

/// One connection: its transport, its core, and what is in flight.
pub(crate) struct Slot {
    pub(crate) tcp: TcpStream,
    pub(crate) conn: Connection,
    pub(crate) recv: Recv,
    /// The send in flight: the chunks lent by the core, and the message
    /// header the kernel reads (boxed: it stays put until the completion).
    pub(crate) send: Option<Box<SendState>>,
    /// The send in flight was cancelled (the core dropped its queue).
    send_cancelled: bool,
    /// The last event or a failure was handed out: no more events.
    reported: bool,
    /// The read side ended (end of stream, or an error taken as one).
    eof: bool,
    /// The transport was shut down; the slot is freed once nothing is in flight.
    shut: bool,
    /// Writing failed: the transport is broken, close it now.
    broken: bool,
    /// The deadline last put in the timer heap.
    deadline: Option<Instant>,
    /// In the dirty list.
    dirty: bool,
    /// A client's TCP connect to this address is still to be made (its
    /// memory must stay put while the kernel reads it: the slot is boxed).
    pub(crate) connect_to: Option<Box<SocketAddress>>,
    /// The connect is in flight.
    connecting: bool,
    /// The handler paused the delivery of its events until the next turn.
    pub(crate) paused: bool,
    /// In the list of connections whose read buffer goes back to the
    /// spares at the start of the next turn.
    holding: bool,
}

/// A send in flight: what the kernel reads until the send's completion.
///
/// The chunks are the core's queued bytes, lent as reference-counted
/// `Bytes`: they stay valid (and in place) while this holds them, even if
/// the core advances or drops its queue meanwhile (the linger timer). The
/// `iovecs` point into them and `msg` at `iovecs`; the state is boxed, so
/// neither moves while the slot does.
pub(crate) struct SendState {
    chunks: Vec<Bytes>,
    iovecs: Vec<libc::iovec>,
    msg: libc::msghdr,
}

// SAFETY: the raw pointers in `iovecs` and `msg` point into `chunks` and
// `iovecs`, which this owns and which are `Send`; nothing else aliases
// them.
unsafe impl Send for SendState {}

impl SendState {
    fn new() -> Box<Self> {
        Box::new(Self {
            chunks: Vec::with_capacity(MAX_IOVECS),
            iovecs: Vec::with_capacity(MAX_IOVECS),
            // SAFETY: all-zero is a valid `msghdr` (null pointers, zero
            // lengths).
            msg: unsafe { std::mem::zeroed() },
        })
    }

    /// Lets go of the chunks (the core's memory) and the pointers into them.
    fn clear(&mut self) {
        self.chunks.clear();
        self.iovecs.clear();
        self.msg.msg_iov = std::ptr::null_mut();
        self.msg.msg_iovlen = 0;
    }

    /// The submission sending the chunks: a plain send for one chunk, a
    /// vectored `sendmsg` for more.
    fn entry(&mut self, fd: types::Fd) -> squeue::Entry {
        if let [chunk] = &self.chunks[..] {
            return opcode::Send::new(fd, chunk.as_ptr(), chunk.len() as u32)
                .flags(libc::MSG_NOSIGNAL)
                .build();
        }
        self.iovecs.clear();
        self.iovecs.extend(self.chunks.iter().map(|c| libc::iovec {
            iov_base: c.as_ptr() as *mut libc::c_void,
            iov_len: c.len(),
        }));
        self.msg.msg_iov = self.iovecs.as_mut_ptr();
        self.msg.msg_iovlen = self.iovecs.len() as _;
        opcode::SendMsg::new(fd, &self.msg)
            .flags(libc::MSG_NOSIGNAL as u32)
            .build()
    }
}

/// A listening socket and the config of the connections it accepts.
pub(crate) struct Listener {
    tcp: TcpListener,
    config: Config,
    armed: bool,
    /// After a failed accept, not re-armed before this.
    retry_at: Option<Instant>,
}

impl Listener {
    pub(crate) fn local_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.tcp.local_addr()
    }

    pub(crate) fn new(tcp: TcpListener, config: Config) -> Self {
        Self {
            tcp,
            config,
            armed: false,
            retry_at: None,
        }
    }
}

impl Runtime {
    /// Puts a connection in a free slot and marks it for the next flush
    /// (which arms its receive and writes a client's request).
    pub(crate) fn insert(&mut self, tcp: TcpStream, conn: Connection) -> ConnId {
        let slot = Box::new(Slot {
            tcp,
            conn,
            recv: Recv::Idle,
            send: None,
            send_cancelled: false,
            reported: false,
            eof: false,
            shut: false,
            broken: false,
            deadline: None,
            dirty: false,
            connect_to: None,
            connecting: false,
            paused: false,
            holding: false,
        });
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                self.slots.push(Entry {
                    generation: 0,
                    slot: None,
                });
                (self.slots.len() - 1) as u32
            }
        };
        let entry = &mut self.slots[index as usize];
        entry.slot = Some(slot);
        let id = ConnId {
            index,
            generation: entry.generation,
        };
        self.mark_dirty(id);
        id
    }

    pub(crate) fn mark_dirty(&mut self, conn: ConnId) {
        if let Some(slot) = self.slot_mut(conn) {
            if !slot.dirty {
                slot.dirty = true;
                self.dirty.push(conn.index);
            }
        }
    }

    /// Runs one round of the loop for every dirty connection (and re-arms
    /// listeners), queueing submissions; nothing is submitted yet.
    pub(crate) fn flush<F>(&mut self, handler: &mut F)
    where
        F: FnMut(&mut Self, RuntimeEvent) -> Flow,
    {
        self.deliver_ready(handler);
        self.arm_listeners();
        let mut dirty = std::mem::take(&mut self.dirty);
        let now = Instant::now();
        for index in dirty.drain(..) {
            self.process(index, now, handler);
        }
        // A full submission queue makes `push` take completions in, which
        // can mark connections dirty again: keep those for the next flush
        // (and the allocation).
        let again = std::mem::replace(&mut self.dirty, dirty);
        self.dirty.extend(again);
        // `Finished`, and what completions taken in meanwhile reported.
        self.deliver_ready(handler);
    }

    /// Hands the notices that are not the cores' events (accepted,
    /// finished, a broken transport) to `handler`, in order.
    fn deliver_ready<F>(&mut self, handler: &mut F)
    where
        F: FnMut(&mut Self, RuntimeEvent) -> Flow,
    {
        while !self.ready.is_empty() {
            let mut ready = std::mem::take(&mut self.ready);
            for notice in ready.drain(..) {
                self.delivered += 1;
                handler(self, notice);
            }
            // Keep the allocation unless the handler's commands queued more.
            if self.ready.is_empty() {
                self.ready = ready;
            }
        }
    }

    fn arm_listeners(&mut self) {
        let now = Instant::now();
        for i in 0..self.listeners.len() {
            let listener = &mut self.listeners[i];
            if listener.armed || listener.retry_at.is_some_and(|at| now < at) {
                continue;
            }
            listener.armed = true;
            listener.retry_at = None;
            let fd = types::Fd(listener.tcp.as_raw_fd());
            let token = Token::new(Op::Accept, i as u32, 0);
            let entry = opcode::AcceptMulti::new(fd)
                .build()
                .user_data(token.encode());
            self.push(entry);
        }
    }

    /// One round of the guide's loop for one connection.
    fn process<F>(&mut self, index: u32, now: Instant, handler: &mut F)
    where
        F: FnMut(&mut Self, RuntimeEvent) -> Flow,
    {
        let Some(entry) = self.slots.get_mut(index as usize) else {
            return;
        };
        let generation = entry.generation;
        let id = ConnId { index, generation };
        match entry.slot.as_deref_mut() {
            Some(slot) => slot.dirty = false,
            None => return,
        }

        // 1. Poll: the core's events, one at a time, each handed to the
        //    handler before the next is decoded, so what it sends in
        //    answer goes out before anything the core decides after (a
        //    protocol error's close frame). Until none, the last, or the
        //    handler pauses the connection until the next turn.
        loop {
            let Some(slot) = self.slot_mut(id) else {
                return;
            };
            if slot.reported || slot.paused {
                break;
            }
            let notice = match slot.conn.poll_event() {
                Ok(Some(event)) => {
                    slot.reported = event.ends_connection();
                    RuntimeEvent::Event { conn: id, event }
                }
                Ok(None) => break,
                Err(err) => {
                    slot.reported = true;
                    RuntimeEvent::Failed {
                        conn: id,
                        error: Error::from(err),
                    }
                }
            };
            self.delivered += 1;
            if let Flow::Pause = handler(self, notice) {
                if let Some(slot) = self.slot_mut(id) {
                    if !slot.paused {
                        slot.paused = true;
                        self.paused.push(id);
                    }
                }
            }
        }
        let entry = &mut self.slots[index as usize];
        if entry.generation != generation {
            return;
        }
        let Some(slot) = entry.slot.as_deref_mut() else {
            return;
        };

        let mut sqes = Submissions::default();
        let fd = types::Fd(slot.tcp.as_raw_fd());
        // Not connected yet: nothing is written or read before the connect
        // completes (its time counts in the core's handshake timeout).
        let unconnected = slot.connect_to.is_some();
        if let Some(addr) = slot.connect_to.as_deref() {
            if !slot.connecting && !slot.shut && !slot.broken {
                slot.connecting = true;
                let token = Token::new(Op::Connect, index, generation);
                sqes.add(
                    opcode::Connect::new(fd, addr.as_ptr(), addr.len)
                        .build()
                        .user_data(token.encode()),
                );
            }
        }

        // 2. Write: one send at a time of the front of the queue, lent by
        //    the core (no copy).
        let queued = slot.conn.buffered_amount();
        if slot.send.is_none() && queued > 0 && !slot.shut && !slot.broken && !unconnected {
            let mut send = self.send_pool.pop().unwrap_or_else(SendState::new);
            slot.conn
                .lend_transmit_chunks(MAX_SEND, MAX_IOVECS, &mut send.chunks);
            let token = Token::new(Op::Send, index, generation);
            // `send` (boxed) moves into the slot below; the message header,
            // the iovecs and the chunks, which the kernel reads, do not move
            // with it, and stay until the send's completion.
            sqes.add(send.entry(fd).user_data(token.encode()));
            slot.send = Some(send);
        }

        // 3. Close: once the core says so and nothing is left (or the
        //    transport broke).
        let close_now =
            slot.broken || (slot.conn.should_close_transport() && slot.conn.buffered_amount() == 0);
        if close_now && !slot.shut {
            slot.shut = true;
            // A send still in flight with the queue empty: the core gave up
            // on a peer that does not read (its linger timer) and dropped
            // the queue. Stop the send too.
            if slot.send.is_some() && !slot.send_cancelled {
                slot.send_cancelled = true;
                let target = Token::new(Op::Send, index, generation).encode();
                sqes.add(cancel(target, index, generation));
            }
            // A connect that did not finish within the handshake timeout.
            if slot.connecting {
                let target = Token::new(Op::Connect, index, generation).encode();
                sqes.add(cancel(target, index, generation));
            }
            // Both directions: the peer sees the end, and a receive still
            // armed completes with the end of stream.
            let _ = slot.tcp.shutdown(Shutdown::Both);
            if slot.recv == Recv::Armed {
                slot.recv = Recv::Cancelling;
                let target = Token::new(Op::Recv, index, generation).encode();
                sqes.add(cancel(target, index, generation));
            }
        } else if !slot.shut && !slot.eof && !unconnected {
            // 4. Read, unless the send queue is above the high-water mark.
            let above = slot.conn.buffered_amount() > self.high_water;
            match slot.recv {
                Recv::Idle if !above => {
                    slot.recv = Recv::Armed;
                    let token = Token::new(Op::Recv, index, generation);
                    sqes.add(
                        opcode::RecvMulti::new(fd, BUFFER_GROUP)
                            .build()
                            .user_data(token.encode()),
                    );
                }
                Recv::Armed if above => {
                    slot.recv = Recv::Cancelling;
                    let target = Token::new(Op::Recv, index, generation).encode();
                    sqes.add(cancel(target, index, generation));
                }
                _ => {}
            }
        }

        // The end: the transport is shut and nothing is in flight.
        let finished =
            slot.shut && slot.recv == Recv::Idle && slot.send.is_none() && !slot.connecting;

        // 5. Sleep: the core's next deadline. Only an earlier deadline than
        //    the one already in the heap is put in: a later one (keepalive
        //    moves forward with every message) would add an entry per
        //    message. Waking at the earlier one is harmless: the core's
        //    `handle_timeout` does nothing early, and the next round puts
        //    the real deadline in.
        let deadline = if finished {
            None
        } else {
            slot.conn.poll_timeout(now)
        };
        let new_timer = match (deadline, slot.deadline) {
            (Some(at), None) => Some(at),
            (Some(at), Some(old)) if at < old => Some(at),
            _ => None,
        };
        if new_timer.is_some() {
            slot.deadline = new_timer;
        }

        for sqe in sqes.0.into_iter().flatten() {
            self.push(sqe);
        }
        if let Some(at) = new_timer {
            self.timers.push(Reverse((at, index, generation)));
        }
        if finished {
            self.finish(id);
        }
    }

    /// Frees a finished connection's slot (closing its socket) and says so.
    fn finish(&mut self, id: ConnId) {
        let entry = &mut self.slots[id.index as usize];
        let slot = entry.slot.take();
        entry.generation = next_generation(entry.generation);
        if let Some(send) = slot.and_then(|s| s.send) {
            self.recycle(send);
        }
        self.free.push(id.index);
        self.ready.push(RuntimeEvent::Finished { conn: id });
    }

    /// Drops a completed send's chunks (the core's memory) and keeps the
    /// state for the next send.
    pub(crate) fn recycle(&mut self, mut send: Box<SendState>) {
        send.clear();
        if self.send_pool.len() < SEND_POOL {
            self.send_pool.push(send);
        }
    }

    /// Queues a submission, submitting the queue first when it is full.
    pub(crate) fn push(&mut self, entry: squeue::Entry) {
        self.in_flight += 1;
        loop {
            // SAFETY: every buffer an entry points at outlives its
            // operation: a send's chunks, iovecs and message header stay
            // in their slot until the send's completion, receive buffers are the runtime's provided ring,
            // and the runtime does not free either while operations are
            // in flight (see `Drop`).
            if unsafe { self.ring.submission().push(&entry) }.is_ok() {
                return;
            }
            // Full: hand what is queued to the kernel and try again. If
            // that fails (the completion queue overflowing), completions
            // are taken in first.
            if self.ring.submit().is_err() {
                self.complete();
            }
        }
    }

    /// The one `io_uring_enter` of a turn: submits everything queued and
    /// waits for at least one completion, at most `wait`.
    pub(crate) fn enter(&mut self, wait: Wait) -> Result<(), Error> {
        if matches!(wait, Wait::For(Duration::ZERO)) && self.ring.submission().is_empty() {
            return Ok(()); // nothing to submit, nothing to wait for
        }
        let result = match wait {
            Wait::For(Duration::ZERO) => self.ring.submit(),
            Wait::Forever => self.ring.submit_and_wait(1),
            Wait::For(limit) => {
                // A day at most: a far deadline must not overflow the
                // kernel's signed seconds; waking early is harmless.
                let ts = types::Timespec::from(limit.min(MAX_WAIT));
                let args = types::SubmitArgs::new().timespec(&ts);
                self.ring.submitter().submit_with_args(1, &args)
            }
        };
        match result {
            Ok(_) => Ok(()),
            Err(err) => match err.raw_os_error() {
                // The wait's time passed, a signal came, or the completion
                // queue is full: completions are taken in next.
                Some(libc::ETIME) | Some(libc::EINTR) | Some(libc::EBUSY) | Some(libc::EAGAIN) => {
                    Ok(())
                }
                _ => Err(Error::Io(err)),
            },
        }
    }
}

/// The submissions one round of the loop makes for a connection (at most
/// three: a connect or a send, a cancellation, a receive or its
/// cancellation).
#[derive(Default)]
struct Submissions([Option<squeue::Entry>; 4]);

impl Submissions {
    fn add(&mut self, entry: squeue::Entry) {
        if let Some(free) = self.0.iter_mut().find(|e| e.is_none()) {
            *free = Some(entry);
        }
    }
}

/// A cancellation of the operation whose `user_data` is `target`.
fn cancel(target: u64, index: u32, generation: u32) -> squeue::Entry {
    opcode::AsyncCancel::new(target)
        .build()
        .user_data(Token::new(Op::Cancel, index, generation).encode())
}

impl Drop for Runtime {
    /// Cancels what is in flight and waits (briefly) for the kernel to let
    /// go of the buffers; if it has not, they are leaked rather than freed
    /// under it.
    fn drop(&mut self) {
        if self.in_flight > 0 {
            let all = opcode::AsyncCancel2::new(types::CancelBuilder::any())
                .build()
                .user_data(Token::new(Op::Cancel, u32::MAX, 0).encode());
            self.push(all);
            for _ in 0..50 {
                if self.in_flight == 0 {
                    break;
                }
                let _ = self.enter(Wait::For(Duration::from_millis(10)));
                self.complete();
            }
        }
        if self.in_flight > 0 {
            // The kernel may still write into the receive buffers and read
            // the sends' chunks, iovecs and message headers: leave them
            // allocated (the chunks' reference counts never drop to zero).
            for entry in &mut self.slots {
                if let Some(slot) = entry.slot.as_deref_mut() {
                    if let Some(send) = slot.send.take() {
                        std::mem::forget(send);
                    }
                }
            }
        } else {
            // SAFETY: nothing is in flight, so the kernel no longer uses the
            // buffers; `bufs` is not used after this.
            unsafe { std::mem::ManuallyDrop::drop(&mut self.bufs) };
        }
    }
}
