//! What a turn does with the completions: feeding received bytes to the
//! cores, the ends of sends, accepts and connects, and the cores' timers.

use std::cmp::Reverse;
use std::io;
use std::net::TcpStream;
use std::time::Instant;

use io_uring::cqueue;
use ws_proto::Connection;

use super::{Recv, Slot, ACCEPT_RETRY};
use crate::ring::{BufRing, Op, Token};
use crate::runtime::{ConnId, ListenerId, RuntimeEvent};
use crate::{Error, Runtime};

impl Runtime {
    /// Takes every completion out of the ring and handles it.
    pub(crate) fn complete(&mut self) {
        loop {
            let mut completions = std::mem::take(&mut self.completions);
            completions.extend(
                self.ring
                    .completion()
                    .map(|cqe| (cqe.user_data(), cqe.result(), cqe.flags())),
            );
            if completions.is_empty() {
                self.completions = completions;
                return;
            }
            for (data, result, flags) in completions.drain(..) {
                self.handle(Token::decode(data), result, flags);
            }
            self.completions = completions;
        }
    }

    fn handle(&mut self, token: Token, result: i32, flags: u32) {
        let more = cqueue::more(flags);
        // A provided buffer goes back whatever happens to its connection.
        let buffer = cqueue::buffer_select(flags);
        if !more {
            self.in_flight = self.in_flight.saturating_sub(1);
        }
        match token.op {
            Op::Cancel => {}
            Op::Accept => self.accepted(token.index, result, more),
            Op::Connect => {
                let id = ConnId {
                    index: token.index,
                    generation: token.generation,
                };
                let Some(slot) = self.slot_mut(id) else {
                    return;
                };
                slot.connecting = false;
                slot.connect_to = None;
                if result != 0 && !slot.shut {
                    // Refused, unreachable: the transport is broken.
                    slot.broken = true;
                    if !slot.reported {
                        slot.reported = true;
                        let error = Error::Io(io::Error::from_raw_os_error(-result));
                        self.ready.push(RuntimeEvent::Failed { conn: id, error });
                    }
                }
                self.mark_dirty(id);
            }
            Op::Recv => {
                let id = ConnId {
                    index: token.index,
                    generation: token.generation,
                };
                if let Some(slot) = self.slots.get_mut(token.index as usize).and_then(|e| {
                    (e.generation == token.generation)
                        .then_some(())
                        .and(e.slot.as_deref_mut())
                }) {
                    received(slot, &mut self.buffers, &self.bufs, buffer, result, more);
                    // Decoded in the next flush. Its read buffer goes back
                    // at the start of the next turn, once the application
                    // has had the payloads.
                    if !slot.holding {
                        slot.holding = true;
                        self.holding.push(id);
                    }
                    self.mark_dirty(id);
                }
                if let Some(bid) = buffer {
                    self.bufs.provide(bid);
                }
            }
            Op::Send => {
                let id = ConnId {
                    index: token.index,
                    generation: token.generation,
                };
                let Some(slot) = self.slot_mut(id) else {
                    return;
                };
                // The lent chunks are dropped only now: the kernel is done
                // with them (and they may outlive the core's queue, dropped
                // by the linger timer meanwhile).
                let send = slot.send.take();
                match result {
                    n if n >= 0 => {
                        let n = (n as usize).min(slot.conn.buffered_amount());
                        slot.conn.advance_transmit(n);
                    }
                    _ if slot.send_cancelled => {}
                    errno => {
                        slot.broken = true;
                        if !slot.reported {
                            slot.reported = true;
                            let error = Error::Io(io::Error::from_raw_os_error(-errno));
                            self.ready.push(RuntimeEvent::Failed { conn: id, error });
                        }
                    }
                }
                if let Some(send) = send {
                    self.recycle(send);
                }
                self.mark_dirty(id);
            }
        }
    }

    /// A multishot accept's completion.
    fn accepted(&mut self, index: u32, result: i32, more: bool) {
        let Some(listener) = self.listeners.get_mut(index as usize) else {
            return;
        };
        if !more {
            listener.armed = false;
        }
        if result < 0 {
            if !more {
                listener.retry_at = Some(Instant::now() + ACCEPT_RETRY);
            }
            let error = io::Error::from_raw_os_error(-result);
            self.ready.push(RuntimeEvent::AcceptFailed {
                listener: ListenerId(index),
                error,
            });
            return;
        }
        let config = listener.config.clone();
        // SAFETY: the kernel just created this descriptor for us; nothing
        // else owns it.
        let tcp = unsafe { <TcpStream as std::os::fd::FromRawFd>::from_raw_fd(result) };
        let _ = tcp.set_nodelay(true);
        let conn = self.insert(tcp, Connection::server(config));
        self.ready.push(RuntimeEvent::Accepted {
            conn,
            listener: ListenerId(index),
        });
    }

    /// Gives the read buffers of the connections that received in the last
    /// turn back to the spares (one holding part of a frame keeps its
    /// own), so an idle connection holds none.
    pub(crate) fn release_read_buffers(&mut self) {
        for id in self.holding.drain(..) {
            let Some(entry) = self.slots.get_mut(id.index as usize) else {
                continue;
            };
            if entry.generation != id.generation {
                continue;
            }
            if let Some(slot) = entry.slot.as_deref_mut() {
                slot.holding = false;
                self.buffers.release(&mut slot.conn);
            }
        }
    }

    /// The earliest live deadline in the timer heap (stale entries dropped),
    /// or a listener's retry.
    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        let listener = self.listeners.iter().filter_map(|l| l.retry_at).min();
        while let Some(&Reverse((at, index, generation))) = self.timers.peek() {
            if self.timer_is_live(at, index, generation) {
                return Some(listener.map_or(at, |l| l.min(at)));
            }
            self.timers.pop();
        }
        listener
    }

    fn timer_is_live(&self, at: Instant, index: u32, generation: u32) -> bool {
        self.slot(ConnId { index, generation })
            .is_some_and(|s| s.deadline == Some(at))
    }

    /// Hands `now` to every core whose deadline has passed.
    pub(crate) fn expire_timers(&mut self, now: Instant) {
        while let Some(&Reverse((at, index, generation))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            if !self.timer_is_live(at, index, generation) {
                continue;
            }
            let id = ConnId { index, generation };
            if let Some(slot) = self.slot_mut(id) {
                slot.deadline = None;
                slot.conn.handle_timeout(now);
            }
            self.mark_dirty(id);
        }
    }
}

/// A receive completion for a live connection: its bytes into the core, or
/// the end of the stream.
fn received(
    slot: &mut Slot,
    buffers: &mut crate::buffers::ReadBuffers,
    bufs: &BufRing,
    buffer: Option<u16>,
    result: i32,
    more: bool,
) {
    if !more {
        slot.recv = Recv::Idle;
    }
    match result {
        n if n > 0 => {
            if let Some(bid) = buffer {
                let data = bufs.get(bid, n as usize);
                buffers.receive(&mut slot.conn, data);
            }
        }
        0 => {
            slot.eof = true;
            slot.conn.receive_eof();
        }
        // Out of provided buffers (they come back as soon as this turn's
        // completions are handled: the next flush re-arms), or cancelled
        // by us (backpressure, closing).
        e if e == -libc::ENOBUFS || e == -libc::ECANCELED => {}
        // A broken transport is a dropped connection: code 1006.
        _ => {
            slot.eof = true;
            slot.conn.receive_eof();
        }
    }
}
