//! The runtime: one io_uring, one thread, many connections. Its public API
//! (commands that only queue, and [`Runtime::turn`], which does the I/O) is
//! here; what happens to each connection in a turn is in `driver`.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use io_uring::IoUring;
use ws_proto::handshake::{ClientRequest, ServerResponse};
use ws_proto::{CloseCode, Config, Connection, Event, Frame, Message};

use crate::buffers::ReadBuffers;

use crate::driver::{Listener, Slot};
use crate::ring::{self, BufRing};
use crate::Error;

/// The default high-water mark: a connection whose queue of bytes to send
/// holds more than this stops reading until it has drained below it (the
/// same 64 KiB as ws-tokio), so a peer that does not read cannot grow our
/// memory by sending. Change it with [`Builder::high_water_mark`].
///
/// ```
/// let builder = ws_uring::Runtime::builder().high_water_mark(4 * ws_uring::DEFAULT_HIGH_WATER_MARK);
/// # let _ = builder;
/// ```
pub const DEFAULT_HIGH_WATER_MARK: usize = 64 * 1024;

/// One connection of a [`Runtime`]: an index and a generation, so an id of
/// a finished connection never names the connection that reuses its slot.
///
/// ```no_run
/// # use std::net::TcpListener;
/// # let mut rt = ws_uring::Runtime::new()?;
/// # let tcp = std::net::TcpStream::connect("127.0.0.1:9001")?;
/// let id = rt.add_server(tcp, ws_uring::Config::default())?;
/// assert!(rt.connection(id).is_some());
/// # Ok::<(), ws_uring::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnId {
    pub(crate) index: u32,
    pub(crate) generation: u32,
}

/// A listening socket of a [`Runtime`] ([`Runtime::listen`]).
///
/// ```no_run
/// let mut rt = ws_uring::Runtime::new()?;
/// let id = rt.listen(std::net::TcpListener::bind("127.0.0.1:0")?, ws_uring::Config::default())?;
/// # let _ = id;
/// # Ok::<(), ws_uring::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ListenerId(pub(crate) u32);

/// What a [`Runtime::turn`] hands out. Each connection's notices come in
/// order: for an accepted one `Accepted`, then the core's events (the
/// opening handshake's `Event::Request` first, which you answer with
/// [`Runtime::respond`]), then at most one `Failed`, then `Finished`.
///
/// ```no_run
/// use ws_uring::{Event, Message, Runtime, RuntimeEvent};
/// # fn handle(rt: &mut Runtime, event: RuntimeEvent) -> Result<(), ws_uring::Error> {
/// match event {
///     RuntimeEvent::Event { conn, event: Event::Request(request) } => rt.respond(conn, request.accept())?,
///     RuntimeEvent::Event { conn, event: Event::Text(text) } => rt.send(conn, Message::Text(text))?,
///     RuntimeEvent::Failed { conn, error } => eprintln!("{conn:?}: {error}"),
///     _ => {}
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum RuntimeEvent {
    /// A listener accepted a connection. Its opening handshake runs; the
    /// checked request comes next as `Event::Request`.
    Accepted {
        /// The new connection.
        conn: ConnId,
        /// The listener that accepted it.
        listener: ListenerId,
    },
    /// One of the core's events for a connection, as it is: the
    /// handshake's `Request` (server) or `Response` (client), a message, a
    /// fragment or frame when asked for, and last the `Close`
    /// ([`Event::ends_connection`]).
    Event {
        /// The connection.
        conn: ConnId,
        /// What the core reported.
        event: Event,
    },
    /// The connection failed: a protocol error (its close frame is being
    /// written), a failed handshake, or a broken transport. Reported once;
    /// `Finished` follows.
    Failed {
        /// The connection.
        conn: ConnId,
        /// What went wrong.
        error: Error,
    },
    /// The transport is closed and the id retired: the last notice for
    /// this connection.
    Finished {
        /// The connection.
        conn: ConnId,
    },
    /// A listener's accept failed (out of file descriptors, for example).
    /// The listener tries again after a short pause.
    AcceptFailed {
        /// The listener.
        listener: ListenerId,
        /// The kernel's answer.
        error: std::io::Error,
    },
}

/// Settings for a [`Runtime`].
///
/// ```
/// let builder = ws_uring::Runtime::builder().receive_buffers(64, 16 * 1024).high_water_mark(128 * 1024);
/// # let _ = builder;
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    entries: u32,
    buffers: u16,
    buffer_size: usize,
    high_water: usize,
}

impl Default for Builder {
    fn default() -> Self {
        Self {
            entries: 1024,
            buffers: 512,
            buffer_size: 16 * 1024,
            high_water: DEFAULT_HIGH_WATER_MARK,
        }
    }
}

impl Builder {
    /// Submission queue entries (default 1024; the completion queue is
    /// twice as deep). More are submitted in one `io_uring_enter` when it
    /// fills.
    ///
    /// ```
    /// let _ = ws_uring::Runtime::builder().queue_depth(256);
    /// ```
    pub fn queue_depth(mut self, entries: u32) -> Self {
        self.entries = entries;
        self
    }

    /// The provided receive buffers every connection of the runtime shares:
    /// `count` (a power of two up to 32768; default 512) of `size` bytes
    /// (default 16 KiB). A receive completion fills one; its bytes are
    /// copied into the connection's core at once and the buffer goes back.
    ///
    /// The kernel takes the buffers in turn, so all of them pass through
    /// the cache. A server of few connections with large messages does
    /// better with fewer, larger buffers: 64 KiB echoes over 10
    /// connections took 0.75 of the default's CPU per echo with
    /// `receive_buffers(32, 64 * 1024)` (20.7-21.9 against 28.1-28.9 µs);
    /// small messages showed no difference. Many connections receiving at
    /// once need many buffers: when they run out, a connection's receive
    /// stops until the next turn re-arms it.
    ///
    /// ```
    /// let _ = ws_uring::Runtime::builder().receive_buffers(16, 64 * 1024);
    /// ```
    pub fn receive_buffers(mut self, count: u16, size: usize) -> Self {
        self.buffers = count;
        self.buffer_size = size;
        self
    }

    /// The high-water mark of every connection's send queue (default
    /// [`DEFAULT_HIGH_WATER_MARK`]): above it the connection stops reading.
    ///
    /// ```
    /// let _ = ws_uring::Runtime::builder().high_water_mark(1 << 20);
    /// ```
    pub fn high_water_mark(mut self, bytes: usize) -> Self {
        self.high_water = bytes;
        self
    }

    /// Opens the ring, or says why this machine cannot
    /// ([`Error::Unavailable`]).
    ///
    /// ```no_run
    /// let rt = ws_uring::Runtime::builder().receive_buffers(32, 16 * 1024).build()?;
    /// # drop(rt);
    /// # Ok::<(), ws_uring::Error>(())
    /// ```
    pub fn build(self) -> Result<Runtime, Error> {
        let ring = ring::open(self.entries)?;
        let bufs = BufRing::new(&ring, self.buffers, self.buffer_size)?;
        Ok(Runtime {
            ring,
            bufs: std::mem::ManuallyDrop::new(bufs),
            slots: Vec::new(),
            free: Vec::new(),
            listeners: Vec::new(),
            timers: BinaryHeap::new(),
            dirty: Vec::new(),
            ready: Vec::new(),
            buffers: ReadBuffers::default(),
            holding: Vec::new(),
            send_pool: Vec::new(),
            completions: Vec::new(),
            in_flight: 0,
            paused: Vec::new(),
            delivered: 0,
            in_turn: false,
            high_water: self.high_water,
        })
    }
}

/// A slot of the connection table.
pub(crate) struct Entry {
    pub(crate) generation: u32,
    pub(crate) slot: Option<Box<Slot>>,
}

/// An io_uring event loop for WebSocket connections, servers and clients,
/// all on the calling thread.
///
/// Commands ([`respond`](Self::respond), [`send`](Self::send),
/// [`close`](Self::close), [`connection_mut`](Self::connection_mut)) only
/// queue in the connection's [`Connection`]; [`turn_with`](Self::turn_with)
/// (or [`turn`](Self::turn)) does the I/O of every connection at once: it
/// submits every pending send and receive in one `io_uring_enter`, which
/// also waits for completions (at most until the earliest of the cores'
/// timers), feeds what arrived to the cores and hands out what they report.
///
/// Every protocol rule, the handshake and close timeouts included, is
/// `ws_proto`'s: a connection is driven exactly as `ws_proto`'s adapter
/// guide describes.
///
/// ```no_run
/// use ws_uring::{Config, Event, Flow, Message, Runtime, RuntimeEvent};
/// let mut rt = Runtime::new()?;
/// rt.bind("127.0.0.1:9001", Config::default())?;
/// loop {
///     rt.turn_with(None, |rt, notice| {
///         if let RuntimeEvent::Event { conn, event } = notice {
///             let _ = match event {
///                 Event::Request(request) => rt.respond(conn, request.accept()),
///                 Event::Text(text) => rt.send(conn, Message::Text(text)),
///                 Event::Binary(data) => rt.send(conn, Message::Binary(data)),
///                 _ => Ok(()),
///             };
///         }
///         Flow::Continue
///     })?;
/// }
/// # Ok::<(), ws_uring::Error>(())
/// ```
pub struct Runtime {
    // Declared first: dropped (closed) before the memory it may touch.
    pub(crate) ring: IoUring,
    /// Left behind (leaked) if operations are still in flight when the
    /// runtime is dropped: the kernel may still write into it.
    pub(crate) bufs: std::mem::ManuallyDrop<BufRing>,
    pub(crate) slots: Vec<Entry>,
    pub(crate) free: Vec<u32>,
    pub(crate) listeners: Vec<Listener>,
    /// `(deadline, index, generation)` of each connection's core timer;
    /// stale entries are skipped when they come up.
    pub(crate) timers: BinaryHeap<Reverse<(Instant, u32, u32)>>,
    /// Connections to look at in the next flush.
    pub(crate) dirty: Vec<u32>,
    /// Notices not yet handed out.
    pub(crate) ready: Vec<RuntimeEvent>,
    /// Spare read buffers for whichever connections have bytes to decode.
    pub(crate) buffers: ReadBuffers,
    /// Connections that received in this turn: their read buffers go back
    /// to the spares at the start of the next.
    pub(crate) holding: Vec<ConnId>,
    /// Send states not in use, kept boxed: a send's state must stay put
    /// in its slot, and reusing the box saves an allocation per send.
    #[allow(clippy::vec_box)]
    pub(crate) send_pool: Vec<Box<crate::driver::SendState>>,
    /// Completions copied out of the ring, handled after.
    pub(crate) completions: Vec<(u64, i32, u32)>,
    /// Operations submitted whose last completion has not come.
    pub(crate) in_flight: usize,
    /// Connections whose handler paused them in this turn.
    pub(crate) paused: Vec<ConnId>,
    /// Notices handed out in this turn.
    pub(crate) delivered: usize,
    /// Inside `turn_with` (its handler must not turn again).
    in_turn: bool,
    pub(crate) high_water: usize,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("connections", &(self.slots.len() - self.free.len()))
            .field("listeners", &self.listeners.len())
            .field("in_flight", &self.in_flight)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// A runtime with the default settings ([`Builder`]), or
    /// [`Error::Unavailable`] saying why the kernel refuses io_uring.
    ///
    /// ```
    /// match ws_uring::Runtime::new() {
    ///     Ok(rt) => drop(rt),
    ///     Err(err) => eprintln!("{err}"),
    /// }
    /// ```
    pub fn new() -> Result<Self, Error> {
        Builder::default().build()
    }

    /// Settings for a runtime.
    ///
    /// ```
    /// let _ = ws_uring::Runtime::builder().queue_depth(64);
    /// ```
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// Accepts connections from `listener` (multishot accept: one
    /// submission for all of them). Each runs its server handshake with
    /// `config`; its request comes out of [`turn`](Self::turn) as
    /// `Event::Request`.
    ///
    /// ```no_run
    /// let mut rt = ws_uring::Runtime::new()?;
    /// rt.listen(std::net::TcpListener::bind("127.0.0.1:9001")?, ws_uring::Config::default())?;
    /// # Ok::<(), ws_uring::Error>(())
    /// ```
    pub fn listen(&mut self, listener: TcpListener, config: Config) -> Result<ListenerId, Error> {
        listener.set_nonblocking(true)?;
        let id = ListenerId(self.listeners.len() as u32);
        self.listeners.push(Listener::new(listener, config));
        Ok(id)
    }

    /// Binds `addr` with a deep accept backlog (1024, as tokio's listener;
    /// std's `TcpListener::bind` asks for 128) and [`listen`](Self::listen)s
    /// on it.
    ///
    /// ```no_run
    /// let mut rt = ws_uring::Runtime::new()?;
    /// let id = rt.bind("127.0.0.1:0", ws_uring::Config::default())?;
    /// println!("listening on ws://{}", rt.local_addr(id)?);
    /// # Ok::<(), ws_uring::Error>(())
    /// ```
    pub fn bind(&mut self, addr: impl ToSocketAddrs, config: Config) -> Result<ListenerId, Error> {
        let listener = TcpListener::bind(addr)?;
        // SAFETY: `listen` on a descriptor we own; calling it again on a
        // listening socket only changes the backlog.
        if unsafe { libc::listen(listener.as_raw_fd(), 1024) } != 0 {
            return Err(Error::Io(std::io::Error::last_os_error()));
        }
        self.listen(listener, config)
    }

    /// The address a listener is bound to.
    ///
    /// ```no_run
    /// let mut rt = ws_uring::Runtime::new()?;
    /// let id = rt.bind("127.0.0.1:0", ws_uring::Config::default())?;
    /// assert!(rt.local_addr(id)?.port() != 0);
    /// # Ok::<(), ws_uring::Error>(())
    /// ```
    pub fn local_addr(&self, listener: ListenerId) -> Result<SocketAddr, Error> {
        let listener = self
            .listeners
            .get(listener.0 as usize)
            .ok_or(Error::UnknownConnection)?;
        Ok(listener.local_addr()?)
    }

    /// Runs the server side on an accepted TCP connection: the opening
    /// handshake with `config` (the request comes as `Event::Request`),
    /// then messages.
    ///
    /// ```no_run
    /// let mut rt = ws_uring::Runtime::new()?;
    /// let (tcp, _) = std::net::TcpListener::bind("127.0.0.1:9001")?.accept()?;
    /// let id = rt.add_server(tcp, ws_uring::Config::default())?;
    /// # let _ = id;
    /// # Ok::<(), ws_uring::Error>(())
    /// ```
    pub fn add_server(&mut self, tcp: TcpStream, config: Config) -> Result<ConnId, Error> {
        Ok(self.insert(tcp, Connection::server(config)))
    }

    /// Runs the client side on a connected TCP stream: sends `request`,
    /// checks the answer (it comes as `Event::Response`), then messages.
    ///
    /// ```no_run
    /// use ws_uring::{ClientRequest, Config};
    /// let mut rt = ws_uring::Runtime::new()?;
    /// let tcp = std::net::TcpStream::connect("127.0.0.1:9001")?;
    /// let request = ClientRequest::from_url("ws://127.0.0.1:9001/chat")?;
    /// let id = rt.add_client(tcp, request, Config::default())?;
    /// # let _ = id;
    /// # Ok::<(), ws_uring::Error>(())
    /// ```
    pub fn add_client(
        &mut self,
        tcp: TcpStream,
        request: ClientRequest,
        config: Config,
    ) -> Result<ConnId, Error> {
        Ok(self.insert(tcp, Connection::client(request, config)))
    }

    /// Connects to the request's URL and runs the client side on it: the
    /// TCP connect is an io_uring operation like the rest (only resolving
    /// the host name blocks, as `std` does it), and it counts in the core's
    /// handshake timeout. The checked answer comes as `Event::Response`; a
    /// refused or unreachable address as [`RuntimeEvent::Failed`] with the
    /// kernel's error.
    ///
    /// ```no_run
    /// use ws_uring::{ClientRequest, Config, Event, Flow, RuntimeEvent};
    /// let mut rt = ws_uring::Runtime::new()?;
    /// let id = rt.connect(ClientRequest::from_url("ws://127.0.0.1:9001/feed")?, Config::default())?;
    /// rt.turn_with(None, |_, notice| {
    ///     if let RuntimeEvent::Event { event: Event::Response(response), .. } = notice {
    ///         println!("connected: {:?}", response.protocol());
    ///     }
    ///     Flow::Continue
    /// })?;
    /// # let _ = id;
    /// # Ok::<(), ws_uring::Error>(())
    /// ```
    pub fn connect(&mut self, request: ClientRequest, config: Config) -> Result<ConnId, Error> {
        if request.is_secure() {
            return Err(Error::TlsUnavailable);
        }
        let addr = (request.host(), request.port())
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("{} resolves to no address", request.host()),
                )
            })?;
        let domain = if addr.is_ipv4() {
            libc::AF_INET
        } else {
            libc::AF_INET6
        };
        // SAFETY: a plain socket(2) call; the descriptor is owned below.
        let fd = unsafe { libc::socket(domain, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(Error::Io(std::io::Error::last_os_error()));
        }
        // SAFETY: `fd` is a new socket nothing else owns.
        let tcp = unsafe { <TcpStream as std::os::fd::FromRawFd>::from_raw_fd(fd) };
        let _ = tcp.set_nodelay(true);
        let id = self.insert(tcp, Connection::client(request, config));
        if let Some(slot) = self.slot_mut(id) {
            slot.connect_to = Some(Box::new(crate::driver::SocketAddress::new(addr)));
        }
        Ok(id)
    }

    /// Answers a connection's `Event::Request`: `request.accept()`,
    /// `request.accept_with_protocol(p)` or `ServerResponse::reject(..)`.
    /// A refusal is written and the connection fails with
    /// `HandshakeError::Refused`.
    ///
    /// ```no_run
    /// # use ws_uring::{Event, Runtime, RuntimeEvent, ServerResponse};
    /// # fn answer(rt: &mut Runtime, event: RuntimeEvent) -> Result<(), ws_uring::Error> {
    /// if let RuntimeEvent::Event { conn, event: Event::Request(request) } = event {
    ///     let answer = if request.path() == "/chat" { request.accept() } else { ServerResponse::reject(404, "no such room") };
    ///     rt.respond(conn, answer)?;
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn respond(&mut self, conn: ConnId, response: ServerResponse) -> Result<(), Error> {
        self.command(conn, |c| c.respond(response))
    }

    /// Queues a message (a `Close` starts the close handshake); the next
    /// [`turn`](Self::turn) writes it.
    ///
    /// ```no_run
    /// # let mut rt = ws_uring::Runtime::new()?;
    /// # let request = ws_uring::ClientRequest::from_url("ws://127.0.0.1:9001/").unwrap();
    /// # let conn = rt.connect(request, ws_uring::Config::default())?;
    /// rt.send(conn, ws_uring::Message::text("hello"))?;
    /// # Ok::<(), ws_uring::Error>(())
    /// ```
    pub fn send(&mut self, conn: ConnId, message: Message) -> Result<(), Error> {
        self.command(conn, |c| c.send(message))
    }

    /// Queues a frame, or a piece of one, as the caller shapes it (for
    /// relays and gateways; the rules are [`Connection::send_frame`]'s).
    ///
    /// ```no_run
    /// use ws_uring::ws_proto::{frame::OpCode, Frame};
    /// # let mut rt = ws_uring::Runtime::new()?;
    /// # let request = ws_uring::ClientRequest::from_url("ws://127.0.0.1:9001/").unwrap();
    /// # let conn = rt.connect(request, ws_uring::Config::default())?;
    /// rt.send_frame(conn, Frame::new(true, OpCode::Binary, vec![1, 2, 3]))?;
    /// # Ok::<(), ws_uring::Error>(())
    /// ```
    pub fn send_frame(&mut self, conn: ConnId, frame: Frame) -> Result<(), Error> {
        self.command(conn, |c| c.send_frame(frame))
    }

    /// Starts the close handshake with `code` and `reason`. The peer's
    /// answer comes as the connection's last event, `Event::Close`; the
    /// core's close timeout bounds the wait.
    ///
    /// ```no_run
    /// # let mut rt = ws_uring::Runtime::new()?;
    /// # let request = ws_uring::ClientRequest::from_url("ws://127.0.0.1:9001/").unwrap();
    /// # let conn = rt.connect(request, ws_uring::Config::default())?;
    /// rt.close(conn, ws_uring::CloseCode::NORMAL, "bye")?;
    /// # Ok::<(), ws_uring::Error>(())
    /// ```
    pub fn close(&mut self, conn: ConnId, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.command(conn, |c| c.close(code, reason))
    }

    /// The core connection, for its state and queue.
    ///
    /// ```no_run
    /// # let mut rt = ws_uring::Runtime::new()?;
    /// # let request = ws_uring::ClientRequest::from_url("ws://127.0.0.1:9001/").unwrap();
    /// # let conn = rt.connect(request, ws_uring::Config::default())?;
    /// if let Some(c) = rt.connection(conn) {
    ///     println!("{:?}, {} bytes queued", c.ready_state(), c.buffered_amount());
    /// }
    /// # Ok::<(), ws_uring::Error>(())
    /// ```
    pub fn connection(&self, conn: ConnId) -> Option<&Connection> {
        self.slot(conn).map(|s| &s.conn)
    }

    /// The core connection, mutably, for commands this type does not wrap
    /// (`send_fragment`, `send_frame`, `send_with`); the next
    /// [`turn`](Self::turn) writes what they queue.
    ///
    /// ```no_run
    /// # let mut rt = ws_uring::Runtime::new()?;
    /// # let request = ws_uring::ClientRequest::from_url("ws://127.0.0.1:9001/").unwrap();
    /// # let conn = rt.connect(request, ws_uring::Config::default())?;
    /// if let Some(c) = rt.connection_mut(conn) {
    ///     c.send_ping(&b"are you there"[..])?;
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn connection_mut(&mut self, conn: ConnId) -> Option<&mut Connection> {
        self.mark_dirty(conn);
        self.slot_mut(conn).map(|s| &mut s.conn)
    }

    /// Bytes queued for the connection's transport and not yet written (the
    /// ones being written included); `None` for a finished connection.
    ///
    /// ```no_run
    /// # let mut rt = ws_uring::Runtime::new()?;
    /// # let request = ws_uring::ClientRequest::from_url("ws://127.0.0.1:9001/").unwrap();
    /// # let conn = rt.connect(request, ws_uring::Config::default())?;
    /// let queued = rt.buffered_amount(conn).unwrap_or(0);
    /// # let _ = queued;
    /// # Ok::<(), ws_uring::Error>(())
    /// ```
    pub fn buffered_amount(&self, conn: ConnId) -> Option<usize> {
        self.connection(conn).map(Connection::buffered_amount)
    }

    /// Open connections (handshaking, open or closing).
    ///
    /// ```
    /// if let Ok(rt) = ws_uring::Runtime::new() {
    ///     assert_eq!(rt.connections(), 0);
    /// }
    /// ```
    pub fn connections(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// One round of I/O for every connection, its notices appended to
    /// `events`: [`turn_with`](Self::turn_with) with a handler that
    /// collects them. Returns how many it appended.
    ///
    /// The cores' events are all decoded before you see them, so a message
    /// that came in the same read as a protocol error cannot be answered
    /// any more (the error has queued the close frame); an echo server that
    /// wants to answer it uses [`turn_with`](Self::turn_with).
    ///
    /// ```no_run
    /// # let mut rt = ws_uring::Runtime::new()?;
    /// let mut events = Vec::new();
    /// rt.turn(&mut events, Some(std::time::Duration::from_millis(100)))?;
    /// for event in events.drain(..) {
    ///     println!("{event:?}");
    /// }
    /// # Ok::<(), ws_uring::Error>(())
    /// ```
    pub fn turn(
        &mut self,
        events: &mut Vec<RuntimeEvent>,
        wait: Option<Duration>,
    ) -> Result<usize, Error> {
        self.turn_with(wait, |_, event| {
            events.push(event);
            Flow::Continue
        })
    }

    /// One round of I/O for every connection: submits what the commands
    /// and the last completions queued (sends, receives, accepts) in one
    /// `io_uring_enter`, which waits for at least one completion unless
    /// there is work already; the wait ends at the earliest core timer, or
    /// after `wait` if that is sooner (`Some(Duration::ZERO)`: do not
    /// wait). Then feeds the completions to the cores, runs expired timers,
    /// and hands each notice to `handler` with the runtime, so it can
    /// answer at once ([`send`](Self::send), [`respond`](Self::respond),
    /// ...). A connection's events are decoded one at a time, each after
    /// the handler has had the one before: what it sends in answer goes out
    /// before anything the core decides later (a protocol error's close
    /// frame). Returning [`Flow::Pause`] leaves the rest of that
    /// connection's events for the next turn. Returns how many notices it
    /// handed out.
    ///
    /// Errors only when the ring itself fails, or when called from inside
    /// a handler; a connection's failure is its [`RuntimeEvent::Failed`].
    /// With nothing in flight, no timer and no `wait`, it returns at once
    /// rather than wait for nothing.
    ///
    /// ```no_run
    /// use ws_uring::{Event, Flow, Message, RuntimeEvent};
    /// # let mut rt = ws_uring::Runtime::new()?;
    /// rt.turn_with(None, |rt, notice| {
    ///     if let RuntimeEvent::Event { conn, event } = notice {
    ///         let _ = match event {
    ///             Event::Request(request) => rt.respond(conn, request.accept()),
    ///             Event::Text(text) => rt.send(conn, Message::Text(text)),
    ///             _ => Ok(()),
    ///         };
    ///     }
    ///     Flow::Continue
    /// })?;
    /// # Ok::<(), ws_uring::Error>(())
    /// ```
    pub fn turn_with<F>(&mut self, wait: Option<Duration>, mut handler: F) -> Result<usize, Error>
    where
        F: FnMut(&mut Self, RuntimeEvent) -> Flow,
    {
        if self.in_turn {
            return Err(Error::Io(std::io::Error::other(
                "Runtime::turn called from inside a turn's handler",
            )));
        }
        self.in_turn = true;
        self.delivered = 0;
        let result = self.run_turn(wait, &mut handler);
        self.in_turn = false;
        result.map(|()| self.delivered)
    }

    fn run_turn<F>(&mut self, wait: Option<Duration>, handler: &mut F) -> Result<(), Error>
    where
        F: FnMut(&mut Self, RuntimeEvent) -> Flow,
    {
        // The application has had the last turn's payloads.
        self.release_read_buffers();
        // Paused connections have events left: decode them this turn.
        for id in std::mem::take(&mut self.paused) {
            if let Some(slot) = self.slot_mut(id) {
                slot.paused = false;
            }
            self.mark_dirty(id);
        }
        self.flush(handler);
        let wait = if self.ready.is_empty() && self.dirty.is_empty() && self.paused.is_empty() {
            let now = Instant::now();
            let timer = self
                .next_deadline()
                .map(|at| at.saturating_duration_since(now));
            match (timer, wait) {
                (Some(a), Some(b)) => Wait::For(a.min(b)),
                (Some(a), None) | (None, Some(a)) => Wait::For(a),
                // Nothing in flight and no timer: nothing could ever end
                // the wait.
                (None, None) if self.in_flight == 0 => Wait::For(Duration::ZERO),
                (None, None) => Wait::Forever,
            }
        } else {
            Wait::For(Duration::ZERO)
        };
        self.enter(wait)?;
        self.complete();
        self.expire_timers(Instant::now());
        self.flush(handler);
        Ok(())
    }

    /// The slot `conn` names, if it is still open.
    pub(crate) fn slot(&self, conn: ConnId) -> Option<&Slot> {
        let entry = self.slots.get(conn.index as usize)?;
        if entry.generation != conn.generation {
            return None;
        }
        entry.slot.as_deref()
    }

    pub(crate) fn slot_mut(&mut self, conn: ConnId) -> Option<&mut Slot> {
        let entry = self.slots.get_mut(conn.index as usize)?;
        if entry.generation != conn.generation {
            return None;
        }
        entry.slot.as_deref_mut()
    }

    /// A command on the core; the connection is looked at in the next flush.
    fn command<F>(&mut self, conn: ConnId, f: F) -> Result<(), Error>
    where
        F: FnOnce(&mut Connection) -> Result<(), ws_proto::SendError>,
    {
        let slot = self.slot_mut(conn).ok_or(Error::UnknownConnection)?;
        f(&mut slot.conn)?;
        self.mark_dirty(conn);
        Ok(())
    }
}

/// What a [`Runtime::turn_with`] handler wants after a notice.
///
/// ```
/// use ws_uring::Flow;
/// let next = |is_message: bool| if is_message { Flow::Pause } else { Flow::Continue };
/// assert_eq!(next(true), Flow::Pause);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Go on: the connection's next event, if decoded, comes in this turn.
    Continue,
    /// Decode no more of this connection's events in this turn (the next
    /// turn goes on without waiting): for a caller that hands events out
    /// one at a time, as [`WebSocket`](crate::WebSocket) does.
    Pause,
}

/// How long the next `io_uring_enter` may wait for a completion.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Wait {
    Forever,
    For(Duration),
}
