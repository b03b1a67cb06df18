//! The driver: a transport, a core, and the loop between them.
//!
//! Nothing here is a protocol rule. Each call runs the same loop, in this
//! order, until it has something for the caller:
//!
//! 1. write what the core queued (vectored, racing the core's deadline so
//!    a peer that stops reading cannot hold us past the close timeout);
//! 2. hand out the core's next event;
//! 3. once the core says the transport should close, close it;
//! 4. wait for the transport or the core's deadline, whichever is first,
//!    and feed the core what happened (bytes, end of stream, the time).

use std::io::{self, IoSlice};
use std::time::Instant;

use smol::future::{self, FutureExt};
use smol::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use smol::Timer;
use ws_proto::{CloseCode, CloseFrame, Connection, Event, Message, ReadyState};

use crate::Error;

/// [`WebSocket::feed`] writes while more than this is queued.
const HIGH_WATER_MARK: usize = 64 * 1024;
/// At most this many queued chunks go into one vectored write.
const MAX_SLICES: usize = 32;
/// Reads are at least this large (the core's hint is 0 between frames)...
const MIN_READ: usize = 8 * 1024;
/// ...and at most this large, however large the frame being read.
const MAX_READ: usize = 256 * 1024;

/// A WebSocket over a smol transport `S`, after the opening handshake.
///
/// Read with [`recv`](Self::recv) until it returns `None`: it also writes
/// pongs and the close reply and closes the transport at the right time.
///
/// ```
/// use ws_smol_example::ws_proto::{Config, Connection, Role};
/// use ws_smol_example::{Message, WebSocket};
///
/// // Both ends of an upgraded connection, over a local socket pair.
/// # #[cfg(unix)]
/// smol::block_on(async {
///     let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
///     let a = smol::Async::new(a).unwrap();
///     let b = smol::Async::new(b).unwrap();
///     let mut client = WebSocket::new(a, Connection::new(Role::Client, Config::default()));
///     let mut server = WebSocket::new(b, Connection::new(Role::Server, Config::default()));
///     client.send(Message::text("hi")).await.unwrap();
///     assert_eq!(server.recv().await.unwrap().unwrap(), Message::text("hi"));
/// });
/// ```
#[derive(Debug)]
pub struct WebSocket<S> {
    io: S,
    conn: Connection,
    /// The last message (a close, or an error) has been handed out.
    ended: bool,
    /// The transport is closed or broken; nothing more happens.
    done: bool,
}

/// What ended a wait.
enum Woke {
    /// The transport: this many bytes were written or read (0 read: its end).
    Io(usize),
    /// The core's deadline passed.
    Timer,
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocket<S> {
    /// Drives `conn` over `io`, a transport on which the opening handshake
    /// is done. Hand `conn` the bytes that followed the handshake first.
    /// Build `conn` with `deliver_fragments(false)` (the default): this
    /// adapter hands out whole messages only.
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// use ws_smol_example::ws_proto::{Config, Connection, Role};
    /// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// let ws = ws_smol_example::WebSocket::new(smol::Async::new(a).unwrap(), Connection::new(Role::Server, Config::default()));
    /// # let _ = ws; }
    /// ```
    pub fn new(io: S, conn: Connection) -> Self {
        Self {
            io,
            conn,
            ended: false,
            done: false,
        }
    }

    /// Open, closing or closed, as the core sees it.
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// # use ws_smol_example::ws_proto::{Config, Connection, ReadyState, Role};
    /// # let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// # let ws = ws_smol_example::WebSocket::new(smol::Async::new(a).unwrap(), Connection::new(Role::Server, Config::default()));
    /// assert_eq!(ws.ready_state(), ReadyState::Open);
    /// # }
    /// ```
    pub fn ready_state(&self) -> ReadyState {
        self.conn.ready_state()
    }

    /// The next message; `None` once the connection has ended. The last
    /// message is a [`Message::Close`] (the peer's frame, or code 1006 if
    /// the transport ended, failed or timed out without one) or an error.
    ///
    /// ```no_run
    /// # async fn demo(mut ws: ws_smol_example::WebSocket<smol::net::TcpStream>) {
    /// while let Some(Ok(message)) = ws.recv().await {
    ///     println!("{message:?}");
    /// }
    /// # }
    /// ```
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        loop {
            if self.done {
                return None;
            }
            // 1. Write what is queued: pongs, the close reply, keepalive pings.
            if let Err(err) = self.write_queued().await {
                return self.broken(err);
            }
            // 2. The next event. Ping answers and close replies are already
            //    queued by the core; step 1 writes them on the next call.
            if !self.ended {
                match self.conn.poll_event() {
                    Ok(Some(event)) => {
                        if let Event::Close(_) = event {
                            self.ended = true;
                        }
                        // `None` only for fragments, which this adapter turned off.
                        if let Some(message) = event.into_message() {
                            return Some(Ok(message));
                        }
                        continue;
                    }
                    Ok(None) => {}
                    Err(err) => {
                        // The core queued the close frame with the error's code.
                        self.ended = true;
                        return Some(Err(Error::from(err)));
                    }
                }
            }
            // 3. The core decides when the transport closes (the server
            //    first, the client after the server or a timeout).
            if self.conn.should_close_transport() {
                let _ = self.io.close().await;
                self.done = true;
                continue;
            }
            // 4. Wait for bytes or the deadline, and tell the core.
            match self.read_or_timer().await {
                Woke::Io(0) => self.conn.receive_eof(),
                Woke::Io(_) => {}
                Woke::Timer => self.conn.handle_timeout(Instant::now()),
            }
        }
    }

    /// Sends a message and waits until it is written.
    ///
    /// ```no_run
    /// # async fn demo(mut ws: ws_smol_example::WebSocket<smol::net::TcpStream>) -> Result<(), ws_smol_example::Error> {
    /// use ws_smol_example::Message;
    /// ws.send(Message::text("hello")).await?;
    /// ws.send(Message::binary(vec![0u8; 1 << 20])).await?;
    /// # Ok(()) }
    /// ```
    pub async fn send(&mut self, message: Message) -> Result<(), Error> {
        self.conn.send(message)?;
        self.flush().await
    }

    /// Queues a message and writes only while more than 64 KiB is queued
    /// (the core's [`buffered_amount`](Connection::buffered_amount)): many
    /// small messages go out in few writes. [`flush`](Self::flush) writes
    /// the rest.
    ///
    /// ```no_run
    /// # async fn demo(mut ws: ws_smol_example::WebSocket<smol::net::TcpStream>) -> Result<(), ws_smol_example::Error> {
    /// for i in 0..1000 {
    ///     ws.feed(ws_smol_example::Message::text(i.to_string())).await?;
    /// }
    /// ws.flush().await?;
    /// # Ok(()) }
    /// ```
    pub async fn feed(&mut self, message: Message) -> Result<(), Error> {
        self.conn.send(message)?;
        while self.conn.buffered_amount() > HIGH_WATER_MARK {
            self.write_once().await?;
        }
        Ok(())
    }

    /// Writes everything queued.
    ///
    /// ```no_run
    /// # async fn demo(mut ws: ws_smol_example::WebSocket<smol::net::TcpStream>) -> Result<(), ws_smol_example::Error> {
    /// ws.flush().await?;
    /// # Ok(()) }
    /// ```
    pub async fn flush(&mut self) -> Result<(), Error> {
        self.write_queued().await.map_err(Error::Io)
    }

    /// Closes gracefully: sends a close frame, then reads until the peer's
    /// answer and the end of the transport (messages arriving meanwhile are
    /// dropped). Returns the peer's close frame, or one with code 1006 if it
    /// never came within the close timeout. Fails if the connection had
    /// already ended.
    ///
    /// ```no_run
    /// # async fn demo(mut ws: ws_smol_example::WebSocket<smol::net::TcpStream>) -> Result<(), ws_smol_example::Error> {
    /// use ws_smol_example::CloseCode;
    /// let answer = ws.close(CloseCode::NORMAL, "bye").await?;
    /// println!("the peer answered {}", answer.code);
    /// # Ok(()) }
    /// ```
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<CloseFrame, Error> {
        self.conn.close(code, reason)?;
        let mut answer = CloseFrame::new(CloseCode::ABNORMAL, "");
        while let Some(message) = self.recv().await {
            if let Message::Close(frame) = message? {
                answer = frame;
            }
        }
        Ok(answer)
    }

    /// The transport failed while writing: report it once, then end.
    fn broken(&mut self, err: io::Error) -> Option<Result<Message, Error>> {
        self.done = true;
        if self.ended {
            return None;
        }
        self.ended = true;
        Some(Err(Error::Io(err)))
    }

    /// Writes until the core's queue is empty (or the core drops it: the
    /// linger after the close handshake is bounded by the close timeout).
    async fn write_queued(&mut self) -> io::Result<()> {
        while self.conn.buffered_amount() > 0 {
            self.write_once().await?;
        }
        self.io.flush().await
    }

    /// One vectored write of the queued chunks, or the core's deadline.
    async fn write_once(&mut self) -> io::Result<()> {
        let deadline = self.conn.poll_timeout(Instant::now());
        let Self { io, conn, .. } = self;
        let mut slices = [IoSlice::new(&[]); MAX_SLICES];
        let mut count = 0;
        for (slot, chunk) in slices.iter_mut().zip(conn.transmit_slices()) {
            *slot = IoSlice::new(chunk);
            count += 1;
        }
        let write = async { io.write_vectored(&slices[..count]).await.map(Woke::Io) };
        let woke = write.or(sleep_until(deadline)).await?;
        match woke {
            Woke::Io(0) => return Err(io::ErrorKind::WriteZero.into()),
            Woke::Io(n) => self.conn.advance_transmit(n),
            Woke::Timer => self.conn.handle_timeout(Instant::now()),
        }
        Ok(())
    }

    /// Reads straight into the core's buffer, sized by its hint, or waits
    /// for its deadline. A failed read counts as the end of the transport:
    /// the core then reports code 1006, as for any drop.
    async fn read_or_timer(&mut self) -> Woke {
        let deadline = self.conn.poll_timeout(Instant::now());
        let Self { io, conn, .. } = self;
        let want = conn.receive_size_hint().clamp(MIN_READ, MAX_READ);
        // Append only: what is already in the buffer belongs to a frame.
        let buf = conn.receive_buffer();
        let start = buf.len();
        buf.resize(start + want, 0);
        let woke = {
            let read = async { io.read(&mut buf[start..]).await.map(Woke::Io) };
            read.or(sleep_until(deadline)).await
        };
        let woke = woke.unwrap_or(Woke::Io(0));
        let n = match woke {
            Woke::Io(n) => n,
            Woke::Timer => 0,
        };
        buf.truncate(start + n);
        woke
    }
}

/// Resolves at `deadline`; never without one.
async fn sleep_until(deadline: Option<Instant>) -> io::Result<Woke> {
    match deadline {
        Some(at) => {
            Timer::at(at).await;
            Ok(Woke::Timer)
        }
        None => future::pending().await,
    }
}
