//! The driver loop: moves bytes between a blocking transport and the core,
//! for the opening handshake and the messages alike. Writing is bounded by
//! the core's timers outside the open state; reading waits at most until the
//! core's next deadline.

use std::io::{self, IoSlice};
use std::time::{Duration, Instant};

use ws_proto::Event;

use crate::error::is_timeout_kind;
use crate::{Error, Transport, WebSocket};

/// Reads for small frames (and frame headers) go through a scratch buffer of
/// this size (the least room the core prepares for a read); the bytes of a
/// larger frame are read straight into the core's buffer.
pub(crate) const SMALL_READ: usize = 4 * 1024;
/// The most of a large frame one read asks for (and zeroes first).
pub(crate) const MAX_READ: usize = 256 * 1024;
/// Slices handed to one vectored write.
pub(crate) const MAX_IOV: usize = 64;

impl<S: Transport> WebSocket<S> {
    /// The driver loop, for the opening handshake and the messages alike:
    /// hand out the next event the core has decoded (after writing what it
    /// queued: a pong, a close reply, a handshake answer); otherwise write
    /// what is queued, read once (bounded by the core's next timer, whose
    /// expiry is handled), and look again. An error from the core (a failed
    /// handshake, a protocol error) is returned once what it queued is
    /// written (bounded by the core's linger timer) and the transport shut
    /// down.
    pub(crate) fn drive(&mut self) -> Result<Event, Error> {
        loop {
            if self.reported && self.finished {
                return Err(Error::ConnectionClosed);
            }
            if !self.reported {
                match self.conn.poll_event() {
                    Ok(Some(event)) => {
                        self.reported = event.ends_connection();
                        // Sends a queued pong or close reply. A failure here
                        // recurs on the next write, so it is not reported
                        // instead of the event.
                        let _ = self.write_out();
                        return Ok(event);
                    }
                    Ok(None) => {}
                    Err(err) => {
                        self.reported = true;
                        let _ = self.write_out();
                        return Err(Error::from(err));
                    }
                }
            }
            self.write_out()?;
            if !self.finished {
                self.fill()?;
            }
        }
    }

    /// Writes what the core has queued, then shuts the transport down once
    /// the core asks for it. Once the close handshake has started, the
    /// writes are bounded by the core's close and linger timers.
    pub(crate) fn write_out(&mut self) -> Result<(), Error> {
        if self.finished {
            return Ok(());
        }
        // While only quiet-peer timers run (an open connection), a write
        // may block as long as the transport lets it; otherwise (handshake,
        // close) the core's timers bound it.
        let written = if self.conn.timers_wait_for_quiet() {
            self.write_queued().map(|()| Written::All)
        } else {
            self.write_queued_timed()
        };
        match written {
            Ok(Written::All) => {}
            Ok(Written::GaveUp) => {
                // The peer took nothing until the core gave up and dropped
                // the queue: the transport is abandoned as it is (a TLS
                // shutdown could block on it too); dropping it closes it.
                self.finished = true;
                return Ok(());
            }
            Err(err) => {
                // After the close went to the caller, a failing transport
                // only means the peer is gone: the connection is over either way.
                if self.reported && !is_retryable(&err) {
                    self.finished = true;
                    return Ok(());
                }
                return Err(Error::Io(err));
            }
        }
        if self.conn.should_close_transport() {
            self.finished = true;
            // The peer may be gone already; the transport is finished either way.
            let _ = self.stream.shutdown_write();
        }
        Ok(())
    }

    fn write_queued(&mut self) -> io::Result<()> {
        while self.conn.buffered_amount() > 0 {
            let written = {
                let mut chunks = self.conn.transmit_slices();
                match (chunks.next(), chunks.next()) {
                    // The usual case for a small message: its frame is one chunk.
                    // A plain write spares filling an array of `MAX_IOV` slices.
                    (Some(only), None) => self.stream.write(only),
                    (first, second) => {
                        let mut iov = [IoSlice::new(&[]); MAX_IOV];
                        let mut count = 0;
                        let all = first.into_iter().chain(second).chain(chunks);
                        for (slot, chunk) in iov.iter_mut().zip(all) {
                            *slot = IoSlice::new(chunk);
                            count += 1;
                        }
                        self.stream.write_vectored(&iov[..count])
                    }
                }
            };
            match written {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.conn.advance_transmit(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.stream.flush()
    }

    /// [`write_queued`](Self::write_queued) with each write bounded by the
    /// core's next deadline (through the transport's write timeout; the
    /// caller's is restored afterwards), handling the timers as they pass.
    fn write_queued_timed(&mut self) -> io::Result<Written> {
        let theirs = self.stream.write_timeout()?;
        let result = self.write_queued_until_timers(theirs);
        let restored = self.stream.set_write_timeout(theirs);
        let written = result?;
        restored?;
        Ok(written)
    }

    fn write_queued_until_timers(&mut self, theirs: Option<Duration>) -> io::Result<Written> {
        loop {
            let now = Instant::now();
            let left = self
                .conn
                .poll_timeout(now)
                .map(|deadline| deadline.saturating_duration_since(now));
            if left == Some(Duration::ZERO) {
                self.conn.handle_timeout(now);
                if self.conn.should_close_transport() && self.conn.buffered_amount() == 0 {
                    return Ok(Written::GaveUp);
                }
                continue;
            }
            let ours = match (left, theirs) {
                (Some(left), Some(theirs)) => left < theirs,
                (left, _) => left.is_some(),
            };
            self.stream
                .set_write_timeout(if ours { left } else { theirs })?;
            match self.write_queued() {
                Ok(()) => return Ok(Written::All),
                // The next round sees the deadline (or a sliver before it).
                Err(e) if ours && is_timeout_kind(e.kind()) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// One read from the transport into the core, bounded by the core's
    /// next deadline (close, linger, keepalive) when a timer runs.
    fn fill(&mut self) -> Result<(), Error> {
        let now = Instant::now();
        let deadline = self.conn.poll_timeout(now);
        if let Some(deadline) = deadline {
            if now >= deadline {
                self.conn.handle_timeout(now);
                return Ok(());
            }
        }
        let (result, ours) = match deadline {
            Some(deadline) => self.read_until(deadline - now),
            None => (self.read_some(), false),
        };
        match result {
            Ok(0) => self.conn.receive_eof(),
            Ok(_) => {}
            // rustls reports a TCP close without `close_notify` this way.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => self.conn.receive_eof(),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // Our deadline, not the caller's timeout: handle the timer (if
            // the OS woke us a sliver early, the next round does).
            Err(e) if ours && is_timeout_kind(e.kind()) => {
                self.conn.release_receive_buffer(&mut self.pool);
                let now = Instant::now();
                if deadline.is_some_and(|d| now >= d) {
                    self.conn.handle_timeout(now);
                }
            }
            Err(e) if self.reported && !is_retryable(&e) => self.finished = true,
            Err(e) => {
                // The caller's timeout: the read found nothing.
                if is_timeout_kind(e.kind()) {
                    self.conn.release_receive_buffer(&mut self.pool);
                }
                return Err(Error::Io(e));
            }
        }
        Ok(())
    }

    /// [`read_some`](Self::read_some) with the read timeout lowered to
    /// `remaining` for this one read, then restored; also says whether a
    /// timeout would be ours (the deadline) rather than the caller's.
    fn read_until(&mut self, remaining: Duration) -> (io::Result<usize>, bool) {
        let previous = match self.stream.read_timeout() {
            Ok(previous) => previous,
            Err(e) => return (Err(e), false),
        };
        let ours = previous.is_none_or(|p| remaining < p);
        let limit = if ours { Some(remaining) } else { previous };
        if let Err(e) = self.stream.set_read_timeout(limit) {
            return (Err(e), false);
        }
        let result = self.read_some();
        // Whatever was read is already in the core, so a failed restore loses nothing.
        (self.stream.set_read_timeout(previous).and(result), ours)
    }

    /// One read into the buffer the core prepares
    /// ([`Connection::prepare_receive_buffer`]: its room and recycling are
    /// the core's). `Read::read` needs initialized memory, so reading into
    /// that room means zeroing it first. For a large frame the room is
    /// about as large as the data, but a small message would pay for
    /// zeroing 4 KiB per read; those reads go through `scratch`, zeroed
    /// once, and only the bytes read are copied (into the core's buffer as
    /// it is when they fit, as prepared otherwise).
    fn read_some(&mut self) -> io::Result<usize> {
        let hint = self.conn.receive_size_hint();
        if hint <= SMALL_READ || self.reported {
            // After `reported`, only waiting for the end of the transport:
            // whatever still comes is discarded by the core.
            if self.scratch.is_empty() {
                self.scratch = vec![0; SMALL_READ].into_boxed_slice();
            }
            let n = self.stream.read(&mut self.scratch)?;
            let buf = self.conn.receive_buffer();
            // Bytes that fit go where the last read's went; otherwise the
            // core prepares the buffer (the pool's spare, or room to grow).
            let buf = if buf.capacity() - buf.len() >= n {
                buf
            } else {
                self.conn.prepare_receive_buffer(&mut self.pool)
            };
            buf.extend_from_slice(&self.scratch[..n]);
            return Ok(n);
        }
        let buf = self.conn.prepare_receive_buffer(&mut self.pool);
        let start = buf.len();
        let chunk = hint.min(buf.capacity() - start).min(MAX_READ);
        buf.resize(start + chunk, 0);
        let result = self.stream.read(&mut buf[start..]);
        buf.truncate(start + *result.as_ref().unwrap_or(&0));
        result
    }
}

/// How a timed write ended.
enum Written {
    /// Everything queued was written and flushed.
    All,
    /// The core's timer expired first and it dropped the queue.
    GaveUp,
}

/// Errors after which the same call can simply be repeated.
fn is_retryable(err: &io::Error) -> bool {
    is_timeout_kind(err.kind()) || err.kind() == io::ErrorKind::Interrupted
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::io::{Read, Write};

    use ws_proto::{CloseCode, Config, Connection, Message, Role};

    use super::*;

    /// A scripted transport: reads come from `input` (an empty script is the
    /// end of the stream), writes accept a few bytes and then time out once.
    #[derive(Default)]
    struct Scripted {
        input: VecDeque<io::Result<Vec<u8>>>,
        written: Vec<u8>,
        timed_out_last_write: bool,
        shutdowns: usize,
    }

    impl Read for Scripted {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match self.input.pop_front() {
                None => Ok(0),
                Some(Err(e)) => Err(e),
                Some(Ok(mut bytes)) => {
                    let n = bytes.len().min(buf.len());
                    buf[..n].copy_from_slice(&bytes[..n]);
                    if n < bytes.len() {
                        self.input.push_front(Ok(bytes.split_off(n)));
                    }
                    Ok(n)
                }
            }
        }
    }

    impl Write for Scripted {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.timed_out_last_write = !self.timed_out_last_write;
            if self.timed_out_last_write {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = buf.len().min(7);
            self.written.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Transport for Scripted {
        fn shutdown_write(&mut self) -> io::Result<()> {
            self.shutdowns += 1;
            Ok(())
        }
    }

    fn server(input: Vec<io::Result<Vec<u8>>>) -> WebSocket<Scripted> {
        let stream = Scripted {
            input: input.into(),
            ..Scripted::default()
        };
        WebSocket::from_parts(stream, Connection::new(Role::Server, Config::default()))
    }

    /// The bytes a client connection sends for `message`.
    fn from_client(message: Message) -> Vec<u8> {
        let mut client = Connection::new(Role::Client, Config::default());
        client.send(message).unwrap();
        client.transmit_slices().flatten().copied().collect()
    }

    #[test]
    fn write_timeouts_lose_nothing() {
        let mut ws = server(Vec::new());
        let payload = vec![9; 100];
        let mut result = ws.send(Message::binary(payload.clone()));
        let mut retries = 0;
        while let Err(err) = result {
            assert!(err.is_timeout(), "{err:?}");
            retries += 1;
            assert!(retries < 100, "flush makes no progress");
            result = ws.flush();
        }
        assert!(retries > 1);
        let mut client = Connection::new(Role::Client, Config::default());
        client.receive(&ws.get_ref().written);
        assert_eq!(client.poll_event(), Ok(Some(Event::Binary(payload.into()))));
        assert_eq!(client.poll_event(), Ok(None));
    }

    #[test]
    fn read_timeouts_lose_nothing_and_eof_ends_the_connection() {
        let frame = from_client(Message::text("Hello"));
        let (head, tail) = frame.split_at(4);
        let mut ws = server(vec![
            Ok(head.to_vec()),
            Err(io::ErrorKind::WouldBlock.into()),
            Ok(tail.to_vec()),
        ]);
        assert!(ws.read().unwrap_err().is_timeout());
        assert_eq!(ws.read().unwrap(), Message::text("Hello"));
        // The script ends: the transport closed without a close frame.
        match ws.read().unwrap() {
            Message::Close(frame) => assert_eq!(frame.code, CloseCode::ABNORMAL),
            other => panic!("{other:?}"),
        }
        assert_eq!(ws.get_ref().shutdowns, 1);
        assert!(matches!(ws.read(), Err(Error::ConnectionClosed)));
        assert_eq!(ws.get_ref().shutdowns, 1);
    }

    #[test]
    fn a_large_frame_arriving_in_pieces_is_read_whole() {
        let payload: Vec<u8> = (0..300_000u32).map(|i| i as u8).collect();
        let wire = from_client(Message::binary(payload.clone()));
        let pieces = wire.chunks(10_000).map(|c| Ok(c.to_vec())).collect();
        let mut ws = server(pieces);
        assert_eq!(ws.read().unwrap(), Message::binary(payload));
    }

    #[test]
    fn small_messages_in_any_chunking_are_read_whole() {
        let messages: Vec<Message> = (0..40usize)
            .map(|i| match i % 3 {
                0 => Message::text("κόσμε".repeat(i)),
                1 => Message::binary(vec![i as u8; i * 97]),
                _ => Message::Pong(vec![i as u8; i % 126].into()),
            })
            .collect();
        let wire: Vec<u8> = messages.iter().cloned().flat_map(from_client).collect();
        for piece in [
            1,
            2,
            3,
            7,
            100,
            1000,
            SMALL_READ - 1,
            SMALL_READ + 1,
            wire.len(),
        ] {
            let mut ws = server(wire.chunks(piece).map(|c| Ok(c.to_vec())).collect());
            // Messages stay intact while later reads reuse the read buffers.
            let got: Vec<Message> = messages.iter().map(|_| ws.read().unwrap()).collect();
            assert_eq!(got, messages, "pieces of {piece}");
        }
    }

    #[test]
    fn a_protocol_error_sends_its_close_code_and_shuts_down() {
        let mut ws = server(vec![Ok(b"\x81\x00".to_vec())]); // unmasked
        assert!(matches!(ws.read(), Err(Error::Protocol(_))));
        let mut retries = 0;
        while ws.connection().buffered_amount() > 0 && retries < 100 {
            let _ = ws.flush();
            retries += 1;
        }
        let written = &ws.get_ref().written;
        assert_eq!((written[0], &written[2..4]), (0x88, &b"\x03\xea"[..])); // close, 1002
        assert_eq!(ws.get_ref().shutdowns, 1);
        assert!(matches!(ws.read(), Err(Error::ConnectionClosed)));
    }
}
