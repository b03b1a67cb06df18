//! The driver: a transport, a core, and the loop between them.
//!
//! Nothing here is a protocol rule. Every call, the opening handshake
//! included, runs the same loop ([`WebSocket::drive`]) until the core has
//! something for the caller:
//!
//! 1. write what the core queued (vectored, racing the core's deadline so
//!    a peer that stops reading cannot hold us past the close timeout);
//! 2. poll the core for its next event;
//! 3. once the core says the transport should close, close it;
//! 4. read into the core's buffer and feed it what happened (bytes, end of
//!    stream), or sleep until the core's deadline and tell it the time.

use std::io::{self, IoSlice};
use std::time::Instant;

use bytes::BytesMut;
use smol::future::{self, FutureExt};
use smol::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use smol::Timer;
use ws_proto::handshake::ServerResponse;
use ws_proto::{CloseCode, CloseFrame, Connection, Event, Message, ReadBufferPool, ReadyState};

use crate::Error;

/// [`WebSocket::feed`] writes while more than this is queued.
const HIGH_WATER_MARK: usize = 64 * 1024;
/// At most this many queued chunks go into one vectored write.
const MAX_SLICES: usize = 32;
/// A read fills at most this much of the room the core prepared.
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
    /// Sizes the reads and keeps the read buffer while the connection idles.
    pool: ReadBufferPool,
    /// The last event (a close) has been handed out, or the connection failed.
    ended: bool,
    /// Why the connection failed, reported once the transport is closed.
    error: Option<Error>,
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
    /// Drives `conn` over `io`. For a transport whose opening handshake was
    /// done elsewhere, with a connection from [`Connection::new`] or
    /// [`Connection::with_extensions`]; hand `conn` the bytes that followed
    /// the handshake first. ([`accept`](crate::accept) and
    /// [`client`](crate::client) build theirs with [`Connection::server`]
    /// and [`Connection::client`].) With
    /// [`Config::deliver_fragments`](ws_proto::Config::deliver_fragments)
    /// on, [`recv`](Self::recv) hands out [`Message::Fragment`] pieces.
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
            pool: ReadBufferPool::new(),
            ended: false,
            error: None,
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

    /// How many bytes are queued and not yet written (the core's
    /// [`buffered_amount`](Connection::buffered_amount), like the browser's
    /// `WebSocket.bufferedAmount`): 0 after [`send`](Self::send) or
    /// [`flush`](Self::flush), at most about 64 KiB after [`feed`](Self::feed).
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// # use ws_smol_example::ws_proto::{Config, Connection, Role};
    /// # let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// # let ws = ws_smol_example::WebSocket::new(smol::Async::new(a).unwrap(), Connection::new(Role::Server, Config::default()));
    /// assert_eq!(ws.buffered_amount(), 0);
    /// # }
    /// ```
    pub fn buffered_amount(&self) -> usize {
        self.conn.buffered_amount()
    }

    /// The next message; `None` once the connection has ended. The last
    /// message is a [`Message::Close`] (the peer's frame, or code 1006 if
    /// the transport ended, failed or timed out without one) or an error.
    ///
    /// Cancel-safe: dropping the future (a timeout, a `select`) loses
    /// nothing; the next call carries on.
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
            // Every event is a message, but the opening handshake's.
            if let Some(item) = self.drive().await?.map(Event::into_message).transpose() {
                return Some(item);
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
    /// (see [`buffered_amount`](Self::buffered_amount)): many small
    /// messages go out in few writes. [`flush`](Self::flush) writes the rest.
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

    /// The opening handshake's step: the loop, until the core's next event
    /// (the request, or the response) or why the handshake failed.
    pub(crate) async fn handshake_event(&mut self) -> Result<Event, Error> {
        self.drive().await.unwrap_or(Err(Error::ConnectionClosed))
    }

    /// Server: answers the request the core reported (see
    /// [`Connection::respond`]). An acceptance opens the connection and is
    /// written at once; a refusal fails it: written, and its error returned.
    pub(crate) async fn respond(&mut self, answer: ServerResponse) -> Result<(), Error> {
        self.conn.respond(answer)?;
        match self.conn.ready_state() {
            ReadyState::Open => self.flush().await,
            _ => self.handshake_event().await.map(drop),
        }
    }

    /// The loop: runs until the core has an event for the caller, or the
    /// connection has failed (the error) or ended (`None`). Cancel-safe:
    /// every await leaves the core and this state consistent.
    async fn drive(&mut self) -> Option<Result<Event, Error>> {
        loop {
            // A failure is reported once what the connection owed the peer
            // (a close frame, an error response, a refusal) is written and
            // the transport closed.
            if self.done {
                return self.error.take().map(Err);
            }
            // 1. Write what the core queued: the handshake, pongs, the close
            //    reply, keepalive pings.
            if let Err(err) = self.write_queued().await {
                self.fail(Error::Io(err));
                self.done = true;
                continue;
            }
            // 2. Poll the core: its next event, or why the connection failed.
            if !self.ended {
                match self.conn.poll_event() {
                    Ok(Some(event)) => {
                        self.ended = event.ends_connection();
                        return Some(Ok(event));
                    }
                    Ok(None) => {}
                    Err(err) => {
                        self.fail(err.into());
                        continue;
                    }
                }
            }
            // 3. The core decides when the transport closes (the server
            //    first, the client after the server, a failure or a timeout).
            if self.conn.should_close_transport() {
                let _ = self.io.close().await;
                self.done = true;
                continue;
            }
            // 4. Read and feed, or sleep until the core's deadline.
            self.read_or_sleep().await;
        }
    }

    /// The connection failed: the first failure is the one reported.
    fn fail(&mut self, err: Error) {
        if !self.ended {
            self.ended = true;
            self.error = Some(err);
        }
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
        match write.or(sleep_until(deadline)).await? {
            Woke::Io(0) => return Err(io::ErrorKind::WriteZero.into()),
            Woke::Io(n) => conn.advance_transmit(n),
            Woke::Timer => conn.handle_timeout(Instant::now()),
        }
        Ok(())
    }

    /// Reads straight into the core's buffer (sized by the core for the
    /// frame in progress) and feeds it the result, or sleeps until the
    /// core's deadline and tells it the time. A failed read counts as the
    /// end of the transport: the core then reports code 1006, as for any drop.
    async fn read_or_sleep(&mut self) {
        let deadline = self.conn.poll_timeout(Instant::now());
        let Self { io, conn, pool, .. } = self;
        let woke = {
            let mut room = ReadRoom::new(conn.prepare_receive_buffer(pool));
            let read = async { io.read(room.bytes()).await.map(Woke::Io) };
            let woke = read.or(sleep_until(deadline)).await;
            if let Ok(Woke::Io(n)) = woke {
                room.keep(n);
            }
            woke
        };
        match woke {
            Ok(Woke::Io(0)) | Err(_) => conn.receive_eof(),
            Ok(Woke::Io(_)) => {}
            Ok(Woke::Timer) => {
                // Nothing came: an idle connection holds no read buffer.
                conn.release_receive_buffer(pool);
                conn.handle_timeout(Instant::now());
            }
        }
    }
}

/// Room for one read, appended (zeroed) to the core's read buffer. When it
/// is dropped (the read done, or the `recv` future dropped while waiting)
/// the buffer is cut back to the bytes actually read, so the zeroes never
/// reach the core.
struct ReadRoom<'a> {
    buf: &'a mut BytesMut,
    /// The buffer's length to keep: what it held, plus what was read.
    kept: usize,
}

impl<'a> ReadRoom<'a> {
    /// The room the core prepared, up to [`MAX_READ`] (no reallocation).
    fn new(buf: &'a mut BytesMut) -> Self {
        let kept = buf.len();
        let room = (buf.capacity() - kept).min(MAX_READ);
        buf.resize(kept + room, 0);
        Self { buf, kept }
    }

    /// Where the read goes.
    fn bytes(&mut self) -> &mut [u8] {
        &mut self.buf[self.kept..]
    }

    /// The read put `n` bytes there: keep them.
    fn keep(&mut self, n: usize) {
        self.kept += n;
    }
}

impl Drop for ReadRoom<'_> {
    fn drop(&mut self) {
        self.buf.truncate(self.kept);
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
