//! One connection with blocking calls: a [`Runtime`] of its own driving a
//! single connection, for clients and for code that wants ws-blocking's
//! shape. The same loop as the runtime's, so the same behaviour.

use std::collections::VecDeque;
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use ws_proto::handshake::{ClientRequest, Request, Response, ServerResponse};
use ws_proto::{CloseCode, Config, Connection, Event, Frame, Message, ReadyState};

use crate::{ConnId, Error, Flow, Runtime, RuntimeEvent};

/// Receive buffers of a single connection's runtime: 16 of 16 KiB (256 KiB
/// in all, against the default runtime's 8 MiB), enough for the kernel to
/// post a burst of a large message's bytes before they are handed back.
const BUFFERS: u16 = 16;
const BUFFER_SIZE: usize = 16 * 1024;
/// The most a handshake may take beyond its own timeout before the wait
/// gives up (the core's timer ends it first; this bounds a bug).
const HANDSHAKE_SLACK: Duration = Duration::from_secs(5);

/// A WebSocket connection driven by its own io_uring, with blocking calls:
/// made by [`connect`], [`client`], [`accept`] or [`accept_with`].
///
/// Pings are answered and closes replied to by the core while you call
/// [`recv`](Self::recv); read until it returns `None` so the close
/// handshake can finish and the transport close.
///
/// ```no_run
/// use ws_uring::{connect, CloseCode, Message};
/// let (mut ws, _response) = connect("ws://127.0.0.1:9001/chat")?;
/// ws.send(Message::text("hello"))?;
/// if let Some(message) = ws.recv() {
///     println!("{:?}", message?);
/// }
/// ws.close(CloseCode::NORMAL, "done")?;
/// # Ok::<(), ws_uring::Error>(())
/// ```
#[derive(Debug)]
pub struct WebSocket {
    rt: Runtime,
    id: ConnId,
    /// This connection's notices not yet handed out.
    inbox: VecDeque<RuntimeEvent>,
    /// `Finished` came: the transport is closed.
    finished: bool,
}

/// Connects to a `ws://` URL (TCP, then the opening handshake) with the
/// default [`Config`]. The handshake timeout covers the TCP connect too.
///
/// ```no_run
/// let (mut ws, response) = ws_uring::connect("ws://127.0.0.1:9001/")?;
/// println!("subprotocol: {:?}", response.protocol());
/// # Ok::<(), ws_uring::Error>(())
/// ```
pub fn connect(url: &str) -> Result<(WebSocket, Response), Error> {
    connect_with(ClientRequest::from_url(url)?, Config::default())
}

/// [`connect`] with your request (subprotocols, headers) and [`Config`].
///
/// ```no_run
/// use ws_uring::{ClientRequest, Config};
/// let request = ClientRequest::from_url("ws://127.0.0.1:9001/chat")?.protocol("chat.v1");
/// let (ws, _) = ws_uring::connect_with(request, Config::default())?;
/// # drop(ws);
/// # Ok::<(), ws_uring::Error>(())
/// ```
pub fn connect_with(
    request: ClientRequest,
    config: Config,
) -> Result<(WebSocket, Response), Error> {
    if request.is_secure() {
        return Err(Error::TlsUnavailable);
    }
    let limit = config.get_handshake_timeout();
    let started = Instant::now();
    let mut last = None;
    for addr in (request.host(), request.port()).to_socket_addrs()? {
        let left = limit.saturating_sub(started.elapsed());
        if left.is_zero() {
            break;
        }
        match TcpStream::connect_timeout(&addr, left) {
            Ok(tcp) => {
                let _ = tcp.set_nodelay(true);
                return client(request, tcp, config);
            }
            Err(err) => last = Some(err),
        }
    }
    Err(Error::Io(last.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{} resolves to no reachable address", request.host()),
        )
    })))
}

/// Runs the client handshake over a TCP stream you connected: writes the
/// request, checks the answer. A refusal is
/// `Error::Handshake(HandshakeError::Response(ResponseError::Rejected(_)))`
/// with the status ([`Error::status`]) and the start of the body.
///
/// ```no_run
/// use ws_uring::{ClientRequest, Config};
/// let tcp = std::net::TcpStream::connect("127.0.0.1:9001")?;
/// let request = ClientRequest::from_url("ws://127.0.0.1:9001/")?;
/// let (ws, response) = ws_uring::client(request, tcp, Config::default())?;
/// # drop((ws, response));
/// # Ok::<(), ws_uring::Error>(())
/// ```
pub fn client(
    request: ClientRequest,
    tcp: TcpStream,
    config: Config,
) -> Result<(WebSocket, Response), Error> {
    let limit = config.get_handshake_timeout() + HANDSHAKE_SLACK;
    let mut ws = WebSocket::new(|rt| rt.add_client(tcp, request, config))?;
    let deadline = Instant::now() + limit;
    loop {
        match ws.next_event(deadline)? {
            Event::Response(response) => return Ok((ws, *response)),
            // A connecting client's only event is the response.
            _ => continue,
        }
    }
}

/// Runs the server handshake over an accepted TCP stream with the default
/// [`Config`], accepting any valid request.
///
/// ```no_run
/// let (tcp, _) = std::net::TcpListener::bind("127.0.0.1:9001")?.accept()?;
/// let mut ws = ws_uring::accept(tcp)?;
/// # let _ = ws.recv();
/// # Ok::<(), ws_uring::Error>(())
/// ```
pub fn accept(tcp: TcpStream) -> Result<WebSocket, Error> {
    accept_with(tcp, Config::default(), Request::accept)
}

/// Runs the server handshake with a [`Config`] and a callback that looks at
/// the request and answers it. An acceptance is written before this
/// returns; a refusal is written and `Error::Handshake(HandshakeError::Refused
/// { status })` returned; a bad request gets its HTTP error without the
/// callback being called. The handshake timeout is the core's.
///
/// ```no_run
/// use ws_uring::{accept_with, Config, ServerResponse};
/// let (tcp, _) = std::net::TcpListener::bind("127.0.0.1:9001")?.accept()?;
/// let ws = accept_with(tcp, Config::default(), |request| {
///     if request.path() == "/chat" { request.accept() } else { ServerResponse::reject(404, "no such room") }
/// })?;
/// # drop(ws);
/// # Ok::<(), ws_uring::Error>(())
/// ```
pub fn accept_with<F>(tcp: TcpStream, config: Config, callback: F) -> Result<WebSocket, Error>
where
    F: FnOnce(&Request) -> ServerResponse,
{
    let limit = config.get_handshake_timeout() + HANDSHAKE_SLACK;
    let mut ws = WebSocket::new(|rt| rt.add_server(tcp, config))?;
    let deadline = Instant::now() + limit;
    let request = loop {
        // A connecting server's only event is the request.
        if let Event::Request(request) = ws.next_event(deadline)? {
            break request;
        }
    };
    ws.rt.respond(ws.id, callback(&request))?;
    if ws.connection().map(Connection::ready_state) == Some(ReadyState::Open) {
        ws.flush_until(deadline)?;
        return Ok(ws);
    }
    // A refusal: the core fails the connection once it is queued, and the
    // failure comes out once it is written.
    loop {
        ws.next_event(deadline)?;
    }
}

impl WebSocket {
    fn new<F>(add: F) -> Result<Self, Error>
    where
        F: FnOnce(&mut Runtime) -> Result<ConnId, Error>,
    {
        let mut rt = Runtime::builder()
            .queue_depth(64)
            .receive_buffers(BUFFERS, BUFFER_SIZE)
            .build()?;
        let id = add(&mut rt)?;
        Ok(Self {
            rt,
            id,
            inbox: VecDeque::new(),
            finished: false,
        })
    }

    /// The next message (text, binary, ping, pong, fragment, and last the
    /// close), blocking; `None` once the connection has ended and the
    /// transport is closed. A protocol error or a broken transport comes
    /// once as `Some(Err(_))`; the next call continues to the end.
    ///
    /// ```no_run
    /// let (mut ws, _) = ws_uring::connect("ws://127.0.0.1:9001/")?;
    /// while let Some(message) = ws.recv() {
    ///     println!("{:?}", message?);
    /// }
    /// # Ok::<(), ws_uring::Error>(())
    /// ```
    pub fn recv(&mut self) -> Option<Result<Message, Error>> {
        self.recv_until(None)
    }

    /// [`recv`](Self::recv), waiting at most `limit`: `Some(Err(Error::TimedOut))`
    /// then, and nothing is lost (bytes of a partial frame stay in the core).
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// let (mut ws, _) = ws_uring::connect("ws://127.0.0.1:9001/")?;
    /// match ws.recv_timeout(Duration::from_secs(1)) {
    ///     Some(Err(ws_uring::Error::TimedOut)) => println!("nothing yet"),
    ///     other => println!("{other:?}"),
    /// }
    /// # Ok::<(), ws_uring::Error>(())
    /// ```
    pub fn recv_timeout(&mut self, limit: Duration) -> Option<Result<Message, Error>> {
        self.recv_until(Some(Instant::now() + limit))
    }

    fn recv_until(&mut self, deadline: Option<Instant>) -> Option<Result<Message, Error>> {
        loop {
            match self.next_notice(deadline)? {
                // Only the opening handshake's events are not messages.
                Ok(event) => {
                    if let Some(message) = event.into_message() {
                        return Some(Ok(message));
                    }
                }
                Err(err) => return Some(Err(err)),
            }
        }
    }

    /// The next frame, waiting at most `limit`: with
    /// [`Config::deliver_frames`](ws_proto::Config::deliver_frames) every
    /// frame (or piece of a long one) as the peer sent it, else each
    /// message as one frame ([`Event::into_frame`]). The peer's close frame
    /// is the last; `None` once the connection has ended.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use ws_uring::{ws_proto::frame::OpCode, ClientRequest, Config};
    /// let request = ClientRequest::from_url("ws://127.0.0.1:9001/")?;
    /// let (mut ws, _) = ws_uring::connect_with(request, Config::default().deliver_frames(64 * 1024))?;
    /// while let Some(frame) = ws.recv_frame_timeout(Duration::from_secs(5)) {
    ///     let frame = frame?;
    ///     println!("{:?} fin {} {} bytes", frame.opcode, frame.fin, frame.data.len());
    ///     if frame.opcode == OpCode::Close {
    ///         break;
    ///     }
    /// }
    /// # Ok::<(), ws_uring::Error>(())
    /// ```
    pub fn recv_frame_timeout(&mut self, limit: Duration) -> Option<Result<Frame, Error>> {
        let deadline = Some(Instant::now() + limit);
        loop {
            match self.next_notice(deadline)? {
                // The handshake's events, and an end without a close frame
                // (1006), are not frames: go on to the end.
                Ok(event) => {
                    if let Some(frame) = event.into_frame() {
                        return Some(Ok(frame));
                    }
                }
                Err(err) => return Some(Err(err)),
            }
        }
    }

    /// Sends a frame, or a piece of one, as the caller shapes it (the rules
    /// are [`Connection::send_frame`]'s), waiting at most `limit` for the
    /// kernel to take it.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use ws_uring::ws_proto::{frame::OpCode, Frame};
    /// let (mut ws, _) = ws_uring::connect("ws://127.0.0.1:9001/")?;
    /// ws.send_frame_timeout(Frame::new(false, OpCode::Text, "Hel"), Duration::from_secs(1))?;
    /// ws.send_frame_timeout(Frame::new(true, OpCode::Continuation, "lo"), Duration::from_secs(1))?;
    /// # Ok::<(), ws_uring::Error>(())
    /// ```
    pub fn send_frame_timeout(&mut self, frame: Frame, limit: Duration) -> Result<(), Error> {
        if self.finished {
            return Err(Error::ConnectionClosed);
        }
        match self.rt.send_frame(self.id, frame) {
            Err(Error::UnknownConnection) => return Err(Error::ConnectionClosed),
            other => other?,
        }
        self.flush_until_opt(Some(Instant::now() + limit))
    }

    /// The next of this connection's events or its failure; `None` once it
    /// has finished.
    fn next_notice(&mut self, deadline: Option<Instant>) -> Option<Result<Event, Error>> {
        loop {
            while let Some(notice) = self.inbox.pop_front() {
                match notice {
                    RuntimeEvent::Event { event, .. } => return Some(Ok(event)),
                    RuntimeEvent::Failed { error, .. } => return Some(Err(error)),
                    RuntimeEvent::Finished { .. } => self.finished = true,
                    _ => {}
                }
            }
            if self.finished {
                return None;
            }
            if let Err(err) = self.turn(deadline) {
                return Some(Err(err));
            }
        }
    }

    /// Sends a message and waits until the kernel has taken it (a `Close`
    /// starts the close handshake; see [`close`](Self::close)).
    ///
    /// ```no_run
    /// let (mut ws, _) = ws_uring::connect("ws://127.0.0.1:9001/")?;
    /// ws.send(ws_uring::Message::binary(vec![1, 2, 3]))?;
    /// # Ok::<(), ws_uring::Error>(())
    /// ```
    pub fn send(&mut self, message: Message) -> Result<(), Error> {
        self.send_until(message, None)
    }

    /// [`send`](Self::send), waiting at most `limit` for the kernel to take
    /// it: `Err(Error::TimedOut)` then, with the rest still queued (a peer
    /// that does not read holds it; [`buffered_amount`](Self::buffered_amount)
    /// says how much).
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// let (mut ws, _) = ws_uring::connect("ws://127.0.0.1:9001/")?;
    /// ws.send_timeout(ws_uring::Message::text("hi"), Duration::from_secs(1))?;
    /// # Ok::<(), ws_uring::Error>(())
    /// ```
    pub fn send_timeout(&mut self, message: Message, limit: Duration) -> Result<(), Error> {
        self.send_until(message, Some(Instant::now() + limit))
    }

    fn send_until(&mut self, message: Message, deadline: Option<Instant>) -> Result<(), Error> {
        if self.finished {
            return Err(Error::ConnectionClosed);
        }
        match self.rt.send(self.id, message) {
            Err(Error::UnknownConnection) => return Err(Error::ConnectionClosed),
            other => other?,
        }
        self.flush_until_opt(deadline)
    }

    /// Starts the close handshake with `code` and `reason`, then runs the
    /// connection to its end (messages still arriving are dropped), bounded
    /// by the core's close timeout.
    ///
    /// ```no_run
    /// let (mut ws, _) = ws_uring::connect("ws://127.0.0.1:9001/")?;
    /// ws.close(ws_uring::CloseCode::NORMAL, "bye")?;
    /// # Ok::<(), ws_uring::Error>(())
    /// ```
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.close_until(code, reason, None)
    }

    /// [`close`](Self::close), waiting at most `limit` for the end.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// let (mut ws, _) = ws_uring::connect("ws://127.0.0.1:9001/")?;
    /// ws.close_timeout(ws_uring::CloseCode::NORMAL, "", Duration::from_secs(2))?;
    /// # Ok::<(), ws_uring::Error>(())
    /// ```
    pub fn close_timeout(
        &mut self,
        code: CloseCode,
        reason: &str,
        limit: Duration,
    ) -> Result<(), Error> {
        self.close_until(code, reason, Some(Instant::now() + limit))
    }

    fn close_until(
        &mut self,
        code: CloseCode,
        reason: &str,
        deadline: Option<Instant>,
    ) -> Result<(), Error> {
        if self.finished {
            return Err(Error::ConnectionClosed);
        }
        match self.rt.close(self.id, code, reason) {
            Err(Error::UnknownConnection) => return Err(Error::ConnectionClosed),
            other => other?,
        }
        loop {
            match self.recv_until(deadline) {
                None => return Ok(()),
                Some(Err(Error::TimedOut)) => return Err(Error::TimedOut),
                // Messages still arriving, and the peer's close, are dropped;
                // a failure now only means the peer is gone.
                Some(_) => {}
            }
        }
    }

    /// Bytes queued and not yet taken by the kernel.
    ///
    /// ```no_run
    /// let (ws, _) = ws_uring::connect("ws://127.0.0.1:9001/")?;
    /// assert_eq!(ws.buffered_amount(), 0);
    /// # Ok::<(), ws_uring::Error>(())
    /// ```
    pub fn buffered_amount(&self) -> usize {
        self.rt.buffered_amount(self.id).unwrap_or(0)
    }

    /// The core connection (state, role, negotiated extensions); `None`
    /// once the transport is closed.
    ///
    /// ```no_run
    /// let (ws, _) = ws_uring::connect("ws://127.0.0.1:9001/")?;
    /// assert_eq!(ws.connection().unwrap().ready_state(), ws_uring::ws_proto::ReadyState::Open);
    /// # Ok::<(), ws_uring::Error>(())
    /// ```
    pub fn connection(&self) -> Option<&Connection> {
        self.rt.connection(self.id)
    }

    /// The core connection, mutably, for commands this type does not wrap
    /// (`send_fragment`, `send_frame`); [`flush`](Self::flush) writes them.
    ///
    /// ```no_run
    /// let (mut ws, _) = ws_uring::connect("ws://127.0.0.1:9001/")?;
    /// if let Some(c) = ws.connection_mut() {
    ///     c.send_text("queued")?;
    /// }
    /// ws.flush()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn connection_mut(&mut self) -> Option<&mut Connection> {
        self.rt.connection_mut(self.id)
    }

    /// Writes everything queued, waiting until the kernel has taken it.
    ///
    /// ```no_run
    /// let (mut ws, _) = ws_uring::connect("ws://127.0.0.1:9001/")?;
    /// ws.flush()?;
    /// # Ok::<(), ws_uring::Error>(())
    /// ```
    pub fn flush(&mut self) -> Result<(), Error> {
        self.flush_until_opt(None)
    }

    fn flush_until(&mut self, deadline: Instant) -> Result<(), Error> {
        self.flush_until_opt(Some(deadline))
    }

    fn flush_until_opt(&mut self, deadline: Option<Instant>) -> Result<(), Error> {
        // A failure while writing is reported by `recv`; here the
        // connection ending is enough.
        while self.rt.buffered_amount(self.id).unwrap_or(0) > 0 {
            if self.finished || self.rt.connection(self.id).is_none() {
                return Err(Error::ConnectionClosed);
            }
            self.turn(deadline)?;
        }
        Ok(())
    }

    /// The next event of the opening handshake (or a message that came with
    /// it), or its failure.
    fn next_event(&mut self, deadline: Instant) -> Result<Event, Error> {
        self.next_notice(Some(deadline))
            .unwrap_or(Err(Error::ConnectionClosed))
    }

    /// One turn of the runtime, at most until `deadline`
    /// (`Err(Error::TimedOut)` once it has passed); this connection's
    /// notices go to the inbox.
    fn turn(&mut self, deadline: Option<Instant>) -> Result<(), Error> {
        let wait = match deadline {
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(Error::TimedOut);
                }
                Some(left)
            }
            None => None,
        };
        // One event at a time: the caller answers each before the core
        // decodes the next (a message just before a protocol error is
        // still answered, as with ws-blocking).
        let id = self.id;
        let inbox = &mut self.inbox;
        self.rt.turn_with(wait, |_, notice| {
            let (ours, pause) = match &notice {
                RuntimeEvent::Event { conn, .. } => (*conn == id, true),
                RuntimeEvent::Failed { conn, .. } | RuntimeEvent::Finished { conn } => {
                    (*conn == id, false)
                }
                _ => (false, false),
            };
            if ours {
                inbox.push_back(notice);
            }
            if pause {
                Flow::Pause
            } else {
                Flow::Continue
            }
        })?;
        Ok(())
    }
}
