//! The WebSocket: its public API. The loop that moves the bytes is in `driver`.

use ws_proto::{CloseCode, Connection, Event, Frame, Message, ReadBufferPool};

use crate::{Error, Transport};

/// A WebSocket over a blocking transport `S` (a [`TcpStream`](std::net::TcpStream),
/// a TLS stream, ...). Made by [`connect`](crate::connect),
/// [`client`](crate::client) or [`accept`](crate::accept), which run the
/// opening handshake with the same loop that [`read`](Self::read) runs.
///
/// The protocol lives in the [`ws_proto::Connection`] inside; this type only
/// moves bytes. Pings are answered by the core (the pong goes out during the
/// `read` that returns the ping); the close handshake, close codes, UTF-8
/// checks and size limits are the core's too.
///
/// # Closing
///
/// * The peer closes: [`read`](Self::read) returns [`Message::Close`] (the
///   reply is already sent), then `Err(Error::ConnectionClosed)`.
/// * You close: call [`close`](Self::close), then keep calling `read` until it
///   returns the peer's [`Message::Close`] (data still arriving is returned
///   first). If the peer never answers, the core's close timeout
///   ([`Config::close_timeout`](ws_proto::Config::close_timeout), 5 s by
///   default) ends the wait with code 1006, provided the transport supports
///   read timeouts ([`Transport::set_read_timeout`]; TCP does).
/// * The transport drops without a close frame: `read` returns a
///   `Message::Close` with [`CloseCode::ABNORMAL`] (1006).
///
/// After the `Close` message a client's next `read` waits for the server to
/// close TCP (bounded by the close timeout) and then returns
/// `Err(Error::ConnectionClosed)`; dropping the `WebSocket` instead is fine too.
///
/// # Timeouts
///
/// A read timeout set on the socket makes `read` return `Err(Error::Io(e))`
/// with `e.kind()` `WouldBlock` or `TimedOut` ([`Error::is_timeout`]). Nothing
/// is lost: bytes of a partly received frame stay buffered and the next `read`
/// continues. The same holds for write timeouts and `send`/`flush`: unwritten
/// bytes stay queued until the next `flush`.
///
/// ```no_run
/// use ws_blocking::{connect, CloseCode, Message};
/// let (mut ws, _response) = connect("ws://127.0.0.1:9001/chat")?;
/// ws.send(Message::text("hello"))?;
/// match ws.read()? {
///     Message::Text(text) => println!("got {text}"),
///     other => println!("got {other:?}"),
/// }
/// ws.close(CloseCode::NORMAL, "done")?;
/// while !matches!(ws.read()?, Message::Close(_)) {}
/// # Ok::<(), ws_blocking::Error>(())
/// ```
#[derive(Debug)]
pub struct WebSocket<S> {
    pub(crate) stream: S,
    pub(crate) conn: Connection,
    /// The core's read buffer policy: holds this connection's read buffer
    /// while a read finds nothing, for the next read.
    pub(crate) pool: ReadBufferPool,
    /// Where small reads land before they are copied into the core's
    /// buffer: zeroed once (at the first read), not before every read.
    /// Empty until then.
    pub(crate) scratch: Box<[u8]>,
    /// `Event::Close` or a protocol error was handed to the caller.
    pub(crate) reported: bool,
    /// The transport was shut down (or failed after `reported`): nothing more
    /// will be read or written.
    pub(crate) finished: bool,
}

impl<S> WebSocket<S> {
    /// Wraps a transport with the core connection for it: one whose opening
    /// handshake happened elsewhere (an HTTP server; [`Connection::new`],
    /// holding any bytes read past the handshake), or one still connecting
    /// ([`Connection::server`], [`Connection::client`]), whose handshake
    /// events [`read_event`](Self::read_event) then hands out.
    /// [`client`](crate::client) and [`accept`](crate::accept) call this.
    ///
    /// ```
    /// use ws_proto::{Config, Connection, Role};
    /// let stream = std::io::Cursor::new(Vec::<u8>::new());
    /// let ws = ws_blocking::WebSocket::from_parts(stream, Connection::new(Role::Server, Config::default()));
    /// assert_eq!(ws.connection().role(), Role::Server);
    /// ```
    pub fn from_parts(stream: S, conn: Connection) -> Self {
        Self {
            stream,
            conn,
            pool: ReadBufferPool::new(),
            scratch: Box::default(),
            reported: false,
            finished: false,
        }
    }

    /// The transport.
    ///
    /// ```no_run
    /// let (ws, _) = ws_blocking::connect("ws://127.0.0.1:9001/")?;
    /// println!("connected to {}", ws.get_ref().tcp().peer_addr()?);
    /// # Ok::<(), ws_blocking::Error>(())
    /// ```
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// The transport, mutably. Bytes written or read behind the adapter's
    /// back corrupt the connection; use it for socket options.
    ///
    /// ```no_run
    /// let (mut ws, _) = ws_blocking::connect("ws://127.0.0.1:9001/")?;
    /// let _stream: &mut ws_blocking::MaybeTlsStream = ws.get_mut();
    /// # Ok::<(), ws_blocking::Error>(())
    /// ```
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    /// The core connection: its state, queued bytes, role.
    ///
    /// ```no_run
    /// use ws_proto::ReadyState;
    /// let (ws, _) = ws_blocking::connect("ws://127.0.0.1:9001/")?;
    /// assert_eq!(ws.connection().ready_state(), ReadyState::Open);
    /// # Ok::<(), ws_blocking::Error>(())
    /// ```
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The core connection, mutably, for commands this type does not wrap
    /// (for example [`Connection::send_fragment`]); call
    /// [`flush`](Self::flush) afterwards.
    ///
    /// ```no_run
    /// use ws_proto::{Fragment, MessageKind};
    /// let (mut ws, _) = ws_blocking::connect("ws://127.0.0.1:9001/")?;
    /// ws.connection_mut().send_fragment(Fragment {
    ///     kind: MessageKind::Binary, data: vec![1, 2].into(), is_first: true, is_last: true,
    /// })?;
    /// ws.flush()?;
    /// # Ok::<(), ws_blocking::Error>(())
    /// ```
    pub fn connection_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// Takes the transport and the core connection apart.
    ///
    /// ```no_run
    /// let (ws, _) = ws_blocking::connect("ws://127.0.0.1:9001/")?;
    /// let (_tcp, _conn) = ws.into_parts();
    /// # Ok::<(), ws_blocking::Error>(())
    /// ```
    pub fn into_parts(self) -> (S, Connection) {
        (self.stream, self.conn)
    }
}

impl<S: Transport> WebSocket<S> {
    /// Blocks until the next message: text, binary, ping, pong or close,
    /// and with [`Config::deliver_fragments`](ws_proto::Config::deliver_fragments)
    /// the pieces of data messages as [`Message::Fragment`]s.
    /// `Message::Close` comes once (the peer's close frame, or 1006 if the
    /// transport ended without one); later calls return
    /// `Err(Error::ConnectionClosed)` once the transport is shut down.
    ///
    /// Errors: `Error::Protocol` when the peer broke the protocol (the close
    /// frame with the matching code is sent), `Error::Io` from the transport
    /// (a timeout leaves the connection usable). On a connection still
    /// connecting (from [`from_parts`](Self::from_parts)) it runs the
    /// opening handshake first and passes over its events; answering a
    /// request takes [`read_event`](Self::read_event).
    ///
    /// ```no_run
    /// use ws_blocking::Message;
    /// let (mut ws, _) = ws_blocking::connect("ws://127.0.0.1:9001/")?;
    /// loop {
    ///     match ws.read()? {
    ///         Message::Text(t) => println!("{t}"),
    ///         Message::Close(frame) => { println!("closed: {}", frame.code); break; }
    ///         _ => {}
    ///     }
    /// }
    /// # Ok::<(), ws_blocking::Error>(())
    /// ```
    pub fn read(&mut self) -> Result<Message, Error> {
        loop {
            // Only the opening handshake's events are not messages.
            if let Some(message) = self.drive()?.into_message() {
                return Ok(message);
            }
        }
    }

    /// Like [`read`](Self::read), but returns the core's [`Event`]: the
    /// same messages (a fragment as [`Event::Fragment`]), and on a
    /// connection still connecting (from [`from_parts`](Self::from_parts))
    /// the opening handshake's [`Event::Request`] (answer it through
    /// [`connection_mut`](Self::connection_mut) with
    /// [`Connection::respond`], then [`flush`](Self::flush)) or
    /// [`Event::Response`].
    ///
    /// ```no_run
    /// use ws_proto::Event;
    /// let (mut ws, _) = ws_blocking::connect("ws://127.0.0.1:9001/")?;
    /// if let Event::Fragment(piece) = ws.read_event()? {
    ///     println!("{} bytes, last: {}", piece.data.len(), piece.is_last);
    /// }
    /// # Ok::<(), ws_blocking::Error>(())
    /// ```
    pub fn read_event(&mut self) -> Result<Event, Error> {
        self.drive()
    }

    /// Blocks until the next frame: with
    /// [`Config::deliver_frames`](ws_proto::Config::deliver_frames), every
    /// frame as the peer sent it (data, ping, pong, close; a long frame in
    /// pieces), else each message as one frame (see [`Event::into_frame`]).
    /// The peer's close frame is the last one; `Ok(None)` means the
    /// connection ended without one (the transport dropped, a timeout:
    /// what [`read`](Self::read) reports as code 1006). Errors as
    /// [`read`](Self::read). Pass the frames to [`write_frame`](Self::write_frame)
    /// of another connection to relay them.
    ///
    /// ```no_run
    /// use ws_blocking::ws_proto::{handshake::ClientRequest, Config, frame::OpCode};
    /// let request = ClientRequest::from_url("ws://127.0.0.1:9001/")?;
    /// let config = Config::default().deliver_frames(64 * 1024);
    /// let (mut ws, _) = ws_blocking::connect_with(request, config, None)?;
    /// while let Some(frame) = ws.read_frame()? {
    ///     println!("{:?} fin {} {} bytes", frame.opcode, frame.fin, frame.data.len());
    ///     if frame.opcode == OpCode::Close {
    ///         break;
    ///     }
    /// }
    /// # Ok::<(), ws_blocking::Error>(())
    /// ```
    pub fn read_frame(&mut self) -> Result<Option<Frame>, Error> {
        loop {
            let event = self.drive()?;
            let ends = event.ends_connection();
            match event.into_frame() {
                Some(frame) => return Ok(Some(frame)),
                None if ends => return Ok(None),
                // The opening handshake's events.
                None => {}
            }
        }
    }

    /// Sends a frame, or a piece of one, as the caller shapes it (see
    /// [`Connection::send_frame`] for the rules the core keeps), and
    /// flushes it.
    ///
    /// ```no_run
    /// use ws_blocking::ws_proto::{frame::OpCode, Frame};
    /// let (mut ws, _) = ws_blocking::connect("ws://127.0.0.1:9001/")?;
    /// ws.write_frame(Frame::new(false, OpCode::Text, "Hel"))?;
    /// ws.write_frame(Frame::new(true, OpCode::Continuation, "lo"))?;
    /// # Ok::<(), ws_blocking::Error>(())
    /// ```
    pub fn write_frame(&mut self, frame: Frame) -> Result<(), Error> {
        self.conn.send_frame(frame)?;
        self.flush()
    }

    /// Sends a message (a `Close` starts the close handshake, see
    /// [`close`](Self::close)) and flushes it.
    ///
    /// ```no_run
    /// use ws_blocking::Message;
    /// let (mut ws, _) = ws_blocking::connect("ws://127.0.0.1:9001/")?;
    /// ws.send(Message::binary(vec![1, 2, 3]))?;
    /// ws.send(Message::Ping("are you there".into()))?;
    /// # Ok::<(), ws_blocking::Error>(())
    /// ```
    pub fn send(&mut self, message: Message) -> Result<(), Error> {
        self.conn.send(message)?;
        self.flush()
    }

    /// Starts the close handshake with `code` and `reason` (at most 123
    /// bytes) and flushes the close frame. Then keep calling
    /// [`read`](Self::read) until it returns the peer's `Message::Close`:
    /// messages the peer sent before seeing ours arrive first.
    ///
    /// ```no_run
    /// use ws_blocking::{CloseCode, Message};
    /// let (mut ws, _) = ws_blocking::connect("ws://127.0.0.1:9001/")?;
    /// ws.close(CloseCode::NORMAL, "bye")?;
    /// loop {
    ///     if let Message::Close(reply) = ws.read()? {
    ///         assert_eq!(reply.code, CloseCode::NORMAL);
    ///         break;
    ///     }
    /// }
    /// # Ok::<(), ws_blocking::Error>(())
    /// ```
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.conn.close(code, reason)?;
        self.flush()
    }

    /// Writes everything queued (after a `send` that failed with a write
    /// timeout, or after commands given through
    /// [`connection_mut`](Self::connection_mut)), and shuts the transport
    /// down if the core says the connection is over.
    ///
    /// ```no_run
    /// let (mut ws, _) = ws_blocking::connect("ws://127.0.0.1:9001/")?;
    /// ws.connection_mut().send_text("queued")?;
    /// ws.flush()?;
    /// # Ok::<(), ws_blocking::Error>(())
    /// ```
    pub fn flush(&mut self) -> Result<(), Error> {
        self.write_out()
    }
}
