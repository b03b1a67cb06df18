//! The public stream type and its two halves.

use core::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::{FusedStream, Stream};
use futures_sink::Sink;
use tokio::io::{AsyncRead, AsyncWrite};
use ws_proto::{CloseCode, Config, Connection, Frame, Message, ReadyState, Role};

use crate::driver::{Outgoing, Shared};
use crate::Error;

/// What a WebSocket runs over: any tokio transport that reads, writes and
/// can be moved (TCP, TLS, a Unix socket, an upgraded hyper connection, an
/// in-memory `tokio::io::duplex`). Implemented for every such type.
///
/// ```
/// fn takes<S: ws_tokio::Transport>(_: S) {}
/// let (a, _b) = tokio::io::duplex(64);
/// takes(a);
/// ```
pub trait Transport: AsyncRead + AsyncWrite + Unpin {}

impl<T: AsyncRead + AsyncWrite + Unpin + ?Sized> Transport for T {}

/// A WebSocket connection over any tokio transport `S` (TCP, TLS, a Unix
/// socket, an upgraded hyper connection, an in-memory duplex).
///
/// It is a [`Stream`] of received [`Message`]s and a [`Sink`] of messages to
/// send, and has the async methods [`recv`](Self::recv), [`send`](Self::send)
/// and [`close`](Self::close). Pings are answered by the core as soon as they
/// are read. A normal close arrives as [`Message::Close`] with the peer's
/// frame, a dropped connection as [`Message::Close`] with code 1006; then the
/// stream ends (`None`). Keep reading until `None` so the close handshake
/// finishes and the transport is closed in the right order.
///
/// Use [`split`](Self::split) to read and write from two tasks.
///
/// ```
/// use ws_tokio::{Config, Message, Role, WebSocketStream};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), ws_tokio::Error> {
/// // Two ends of an already-upgraded connection, in memory.
/// let (a, b) = tokio::io::duplex(4096);
/// let mut client = WebSocketStream::from_raw(a, Role::Client, Config::default());
/// let mut server = WebSocketStream::from_raw(b, Role::Server, Config::default());
///
/// client.send(Message::text("hi")).await?;
/// assert_eq!(server.recv().await.transpose()?, Some(Message::text("hi")));
/// # Ok(())
/// # }
/// ```
pub struct WebSocketStream<S> {
    shared: Arc<Shared<S>>,
}

/// The receiving half of a [`WebSocketStream`], from [`WebSocketStream::split`]:
/// a [`Stream`] of messages. It also answers pings and finishes the close
/// handshake, so keep polling it even if only the write half matters to you.
///
/// ```
/// use ws_tokio::{Config, Message, Role, WebSocketStream};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), ws_tokio::Error> {
/// let (a, b) = tokio::io::duplex(4096);
/// let (mut reader, _writer) = WebSocketStream::from_raw(a, Role::Server, Config::default()).split();
/// let mut client = WebSocketStream::from_raw(b, Role::Client, Config::default());
/// client.send(Message::binary(vec![1, 2, 3])).await?;
/// assert_eq!(reader.recv().await.transpose()?, Some(Message::binary(vec![1, 2, 3])));
/// # Ok(())
/// # }
/// ```
pub struct ReadHalf<S> {
    shared: Arc<Shared<S>>,
}

/// The sending half of a [`WebSocketStream`], from [`WebSocketStream::split`]:
/// a [`Sink`] of messages with backpressure.
///
/// ```
/// use ws_tokio::{CloseCode, Config, Message, Role, WebSocketStream};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), ws_tokio::Error> {
/// let (a, b) = tokio::io::duplex(4096);
/// let (_reader, mut writer) = WebSocketStream::from_raw(a, Role::Server, Config::default()).split();
/// let mut client = WebSocketStream::from_raw(b, Role::Client, Config::default());
/// writer.send(Message::text("news")).await?;
/// writer.close(CloseCode::GOING_AWAY, "restarting").await?;
/// assert_eq!(client.recv().await.transpose()?, Some(Message::text("news")));
/// assert!(matches!(client.recv().await, Some(Ok(Message::Close(f))) if f.code == CloseCode::GOING_AWAY));
/// # Ok(())
/// # }
/// ```
pub struct WriteHalf<S> {
    shared: Arc<Shared<S>>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocketStream<S> {
    /// Wraps a transport on which the opening handshake is already done (for
    /// example a connection upgraded by hyper or axum).
    ///
    /// With [`Config::deliver_fragments`] on, the stream hands out the
    /// pieces of fragmented messages as [`Message::Fragment`]s as they
    /// arrive; otherwise whole messages.
    ///
    /// ```
    /// use ws_tokio::{Config, Role, WebSocketStream};
    /// let (a, _b) = tokio::io::duplex(1024);
    /// let ws = WebSocketStream::from_raw(a, Role::Server, Config::default());
    /// assert_eq!(ws.role(), Role::Server);
    /// ```
    pub fn from_raw(stream: S, role: Role, config: Config) -> Self {
        Self::from_raw_with_leftover(stream, role, config, &[])
    }

    /// [`from_raw`](Self::from_raw) for a transport from which bytes after
    /// the handshake were already read: `leftover` is handed to the core
    /// first.
    ///
    /// ```
    /// use ws_tokio::{Config, Message, Role, WebSocketStream};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (a, _b) = tokio::io::duplex(1024);
    /// // An unmasked text frame "hi" that arrived with the server's 101 response.
    /// let mut ws = WebSocketStream::from_raw_with_leftover(a, Role::Client, Config::default(), b"\x81\x02hi");
    /// assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("hi"));
    /// # }
    /// ```
    pub fn from_raw_with_leftover(stream: S, role: Role, config: Config, leftover: &[u8]) -> Self {
        let mut conn = Connection::new(role, config);
        if !leftover.is_empty() {
            conn.receive(leftover);
        }
        Self::from_connection(stream, conn)
    }

    /// Drives a [`Connection`] you built yourself (for example after running
    /// the opening handshake with your own HTTP stack and negotiating
    /// extensions). Hand it the bytes that followed the handshake first. A
    /// connection configured with [`Config::deliver_fragments`] has its
    /// fragments handed out as [`Message::Fragment`]s.
    ///
    /// ```
    /// use ws_tokio::ws_proto::Connection;
    /// use ws_tokio::{Config, Role, WebSocketStream};
    /// let (a, _b) = tokio::io::duplex(1024);
    /// let conn = Connection::new(Role::Server, Config::default().max_message_size(1 << 20));
    /// let ws = WebSocketStream::from_connection(a, conn);
    /// # let _ = ws;
    /// ```
    pub fn from_connection(stream: S, conn: Connection) -> Self {
        Self::from_shared(Shared::new(stream, conn))
    }

    /// The stream over a driver that has run the opening handshake.
    pub(crate) fn from_shared(shared: Arc<Shared<S>>) -> Self {
        Self { shared }
    }

    /// The next message, `None` once the connection has ended. The last
    /// message is always a [`Message::Close`] (the peer's frame, or code 1006
    /// if the transport dropped), or an error.
    ///
    /// ```
    /// # async fn demo(mut ws: ws_tokio::WebSocketStream<tokio::net::TcpStream>) {
    /// while let Some(Ok(message)) = ws.recv().await {
    ///     println!("{message:?}");
    /// }
    /// # }
    /// ```
    pub fn recv(&mut self) -> impl Future<Output = Option<Result<Message, Error>>> + '_ {
        // Not an `async fn`: the future is one reference, small in the
        // future of every task that serves a connection.
        let shared = &*self.shared;
        poll_fn(move |cx| shared.poll_next(cx))
    }

    /// Sends a message and waits until it is written to the transport. To
    /// queue several before writing, use [`SinkExt::feed`] and
    /// [`SinkExt::flush`] from `futures-util`. A server that answers
    /// messages as it reads them can `feed` each answer and leave the flush
    /// to [`recv`](Self::recv): what is queued goes out in one write before
    /// `recv` next reads from the transport, so all the answers to one read
    /// take one write (and, over TCP, far fewer segments) rather than one
    /// each.
    ///
    /// [`SinkExt::feed`]: https://docs.rs/futures-util/0.3/futures_util/sink/trait.SinkExt.html#method.feed
    /// [`SinkExt::flush`]: https://docs.rs/futures-util/0.3/futures_util/sink/trait.SinkExt.html#method.flush
    ///
    /// ```
    /// # async fn demo(mut ws: ws_tokio::WebSocketStream<tokio::net::TcpStream>) -> Result<(), ws_tokio::Error> {
    /// use ws_tokio::Message;
    /// ws.send(Message::text("hello")).await?;
    /// ws.send(Message::binary(vec![0u8; 1024])).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn send(&mut self, message: Message) -> impl Future<Output = Result<(), Error>> + '_ {
        send(&self.shared, message)
    }

    /// The next frame: with [`Config::deliver_frames`], every frame as the
    /// peer sent it (data, ping, pong, close; a long frame in pieces), else
    /// each message as one frame (see [`Event::into_frame`](ws_proto::Event::into_frame)).
    /// The peer's close frame is the last item; `None` follows it, or comes
    /// alone when the connection ended without one. Pass the frames to
    /// [`send_frame`](Self::send_frame) of another connection to relay them.
    /// In frame mode read with this (or [`Frames`](crate::Frames)):
    /// [`recv`](Self::recv) has no message to give for a frame and skips it.
    ///
    /// ```
    /// use ws_tokio::ws_proto::{frame::OpCode, Frame};
    /// use ws_tokio::{Config, Role, WebSocketStream};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), ws_tokio::Error> {
    /// let (a, b) = tokio::io::duplex(4096);
    /// let mut client = WebSocketStream::from_raw(a, Role::Client, Config::default());
    /// let frames = Config::default().deliver_frames(64 * 1024);
    /// let mut server = WebSocketStream::from_raw(b, Role::Server, frames);
    /// client.send_frame(Frame::new(false, OpCode::Text, "Hel")).await?;
    /// client.send_frame(Frame::new(true, OpCode::Continuation, "lo")).await?;
    /// let first = server.recv_frame().await.transpose()?.unwrap();
    /// assert_eq!((first.opcode, first.fin, &first.data[..]), (OpCode::Text, false, &b"Hel"[..]));
    /// # Ok(())
    /// # }
    /// ```
    pub fn recv_frame(&mut self) -> impl Future<Output = Option<Result<Frame, Error>>> + '_ {
        let shared = &*self.shared;
        poll_fn(move |cx| shared.poll_next_frame(cx))
    }

    /// Sends a frame, or a piece of one, as the caller shapes it (see
    /// [`Connection::send_frame`] for the rules the core keeps), and waits
    /// until it is written.
    ///
    /// ```
    /// # async fn demo(mut ws: ws_tokio::WebSocketStream<tokio::net::TcpStream>) -> Result<(), ws_tokio::Error> {
    /// use ws_tokio::ws_proto::{frame::OpCode, Frame};
    /// ws.send_frame(Frame::new(true, OpCode::Binary, vec![1, 2, 3])).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn send_frame(&mut self, frame: Frame) -> impl Future<Output = Result<(), Error>> + '_ {
        send(&self.shared, frame)
    }

    /// Closes the connection gracefully: sends a close frame, then reads
    /// until the peer's answer arrives and the transport is closed (messages
    /// that arrive meanwhile are discarded). The core's close timeout
    /// ([`Config::close_timeout`], 5 s by default) bounds the whole wait:
    /// a peer that never answers, or never reads what is queued for it,
    /// does not hold the call or the socket longer (the remaining queue is
    /// dropped and the ending is a 1006). Closing an already closed
    /// connection does nothing.
    ///
    /// ```
    /// # async fn demo(mut ws: ws_tokio::WebSocketStream<tokio::net::TcpStream>) -> Result<(), ws_tokio::Error> {
    /// use ws_tokio::CloseCode;
    /// ws.close(CloseCode::NORMAL, "bye").await?;
    /// assert!(ws.recv().await.is_none());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.shared.start_close(code, reason)?;
        // The reader writes the close frame, runs the close timer and reads
        // the answer, so a write that cannot finish is bounded by the timer.
        while let Some(item) = self.recv().await {
            item?;
        }
        Ok(())
    }

    /// Splits the stream into a read half and a write half that can be used
    /// from two tasks at once (note the order: reader first, as tokio's
    /// `into_split`, unlike `StreamExt::split`).
    ///
    /// ```
    /// # async fn demo(ws: ws_tokio::WebSocketStream<tokio::net::TcpStream>) {
    /// let (mut reader, mut writer) = ws.split();
    /// tokio::spawn(async move {
    ///     while let Some(Ok(message)) = reader.recv().await {
    ///         println!("got {message:?}");
    ///     }
    /// });
    /// let _ = writer.send(ws_tokio::Message::text("hello")).await;
    /// # }
    /// ```
    pub fn split(self) -> (ReadHalf<S>, WriteHalf<S>) {
        let reader = ReadHalf {
            shared: Arc::clone(&self.shared),
        };
        (
            reader,
            WriteHalf {
                shared: self.shared,
            },
        )
    }
}

impl<S> WebSocketStream<S> {
    /// The shared state, for a broadcast group.
    pub(crate) fn shared(&self) -> &Arc<Shared<S>> {
        &self.shared
    }

    /// The connection's state: open, closing, or closed.
    ///
    /// ```
    /// use ws_tokio::{Config, ReadyState, Role, WebSocketStream};
    /// let (a, _b) = tokio::io::duplex(1024);
    /// let ws = WebSocketStream::from_raw(a, Role::Client, Config::default());
    /// assert_eq!(ws.ready_state(), ReadyState::Open);
    /// ```
    pub fn ready_state(&self) -> ReadyState {
        self.shared.with_conn(Connection::ready_state)
    }

    /// This end's role.
    ///
    /// ```
    /// use ws_tokio::{Config, Role, WebSocketStream};
    /// let (a, _b) = tokio::io::duplex(1024);
    /// assert_eq!(WebSocketStream::from_raw(a, Role::Client, Config::default()).role(), Role::Client);
    /// ```
    pub fn role(&self) -> Role {
        self.shared.with_conn(Connection::role)
    }

    /// Bytes queued for the transport and not yet written.
    ///
    /// ```
    /// use ws_tokio::{Config, Role, WebSocketStream};
    /// let (a, _b) = tokio::io::duplex(1024);
    /// assert_eq!(WebSocketStream::from_raw(a, Role::Server, Config::default()).buffered_amount(), 0);
    /// ```
    pub fn buffered_amount(&self) -> usize {
        self.shared.with_conn(Connection::buffered_amount)
    }

    /// Sets the high-water mark: [`Sink::poll_ready`] (and so `send`) waits
    /// while more than `bytes` are queued for the transport (default 64 KiB).
    /// A single larger message is still accepted whole.
    ///
    /// ```
    /// use ws_tokio::{Config, Role, WebSocketStream};
    /// let (a, _b) = tokio::io::duplex(1024);
    /// let ws = WebSocketStream::from_raw(a, Role::Server, Config::default());
    /// ws.set_high_water_mark(1 << 20);
    /// assert_eq!(ws.high_water_mark(), 1 << 20);
    /// ```
    pub fn set_high_water_mark(&self, bytes: usize) {
        self.shared.set_high_water_mark(bytes);
    }

    /// The high-water mark (see [`set_high_water_mark`](Self::set_high_water_mark)).
    ///
    /// ```
    /// use ws_tokio::{Config, Role, WebSocketStream};
    /// let (a, _b) = tokio::io::duplex(1024);
    /// assert_eq!(WebSocketStream::from_raw(a, Role::Server, Config::default()).high_water_mark(), 64 * 1024);
    /// ```
    pub fn high_water_mark(&self) -> usize {
        self.shared.high_water_mark()
    }

    /// The transport, dropping the connection state and anything still queued.
    ///
    /// ```
    /// use ws_tokio::{Config, Role, WebSocketStream};
    /// let (a, _b) = tokio::io::duplex(1024);
    /// let ws = WebSocketStream::from_raw(a, Role::Server, Config::default());
    /// let _duplex: tokio::io::DuplexStream = ws.into_inner();
    /// ```
    pub fn into_inner(self) -> S {
        // A `WebSocketStream` owns the only lasting reference: halves are
        // created by `split`, which consumes it, and given back by
        // `reunite`, which checks they are the last two. A broadcast group
        // holds a weak one, made strong for the moment of a delivery; wait
        // that moment out.
        let mut shared = self.shared;
        loop {
            match Arc::try_unwrap(shared) {
                Ok(only) => return Shared::into_io_owned(only),
                Err(again) => {
                    shared = again;
                    std::thread::yield_now();
                }
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> ReadHalf<S> {
    /// The next message, `None` once the connection has ended (see
    /// [`WebSocketStream::recv`]).
    ///
    /// ```
    /// # async fn demo(mut reader: ws_tokio::ReadHalf<tokio::net::TcpStream>) {
    /// while let Some(Ok(message)) = reader.recv().await {
    ///     println!("{message:?}");
    /// }
    /// # }
    /// ```
    pub fn recv(&mut self) -> impl Future<Output = Option<Result<Message, Error>>> + '_ {
        // Not an `async fn`: the future is one reference, small in the
        // future of every task that serves a connection.
        let shared = &*self.shared;
        poll_fn(move |cx| shared.poll_next(cx))
    }

    /// The next frame (see [`WebSocketStream::recv_frame`]).
    ///
    /// ```
    /// # async fn demo(mut reader: ws_tokio::ReadHalf<tokio::net::TcpStream>) {
    /// while let Some(Ok(frame)) = reader.recv_frame().await {
    ///     println!("{:?}: {} bytes", frame.opcode, frame.data.len());
    /// }
    /// # }
    /// ```
    pub fn recv_frame(&mut self) -> impl Future<Output = Option<Result<Frame, Error>>> + '_ {
        let shared = &*self.shared;
        poll_fn(move |cx| shared.poll_next_frame(cx))
    }
}

impl<S> ReadHalf<S> {
    /// The shared state, for the frame stream.
    pub(crate) fn shared(&self) -> &Arc<Shared<S>> {
        &self.shared
    }

    /// Puts the two halves back together; gives them back if they come from
    /// different streams.
    ///
    /// ```
    /// use ws_tokio::{Config, Role, WebSocketStream};
    /// let (a, _b) = tokio::io::duplex(1024);
    /// let (reader, writer) = WebSocketStream::from_raw(a, Role::Server, Config::default()).split();
    /// let ws = reader.reunite(writer).expect("same stream");
    /// # let _ = ws;
    /// ```
    #[allow(clippy::result_large_err)]
    pub fn reunite(self, writer: WriteHalf<S>) -> Result<WebSocketStream<S>, (Self, WriteHalf<S>)> {
        if Arc::ptr_eq(&self.shared, &writer.shared) {
            drop(writer);
            Ok(WebSocketStream {
                shared: self.shared,
            })
        } else {
            Err((self, writer))
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WriteHalf<S> {
    /// Sends a message and waits until it is written (see [`WebSocketStream::send`]).
    ///
    /// ```
    /// # async fn demo(mut writer: ws_tokio::WriteHalf<tokio::net::TcpStream>) -> Result<(), ws_tokio::Error> {
    /// writer.send(ws_tokio::Message::text("hello")).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn send(&mut self, message: Message) -> impl Future<Output = Result<(), Error>> + '_ {
        send(&self.shared, message)
    }

    /// Sends a frame or a piece of one and waits until it is written (see
    /// [`WebSocketStream::send_frame`]).
    ///
    /// ```
    /// # async fn demo(mut writer: ws_tokio::WriteHalf<tokio::net::TcpStream>) -> Result<(), ws_tokio::Error> {
    /// use ws_tokio::ws_proto::{frame::OpCode, Frame};
    /// writer.send_frame(Frame::new(true, OpCode::Ping, "tick")).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn send_frame(&mut self, frame: Frame) -> impl Future<Output = Result<(), Error>> + '_ {
        send(&self.shared, frame)
    }

    /// Sends a close frame and waits until it is written. The read half
    /// receives the peer's answer, then ends; keep polling it to finish the
    /// close handshake.
    ///
    /// ```
    /// # async fn demo(mut writer: ws_tokio::WriteHalf<tokio::net::TcpStream>) -> Result<(), ws_tokio::Error> {
    /// writer.close(ws_tokio::CloseCode::NORMAL, "done").await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.shared.start_close(code, reason)?;
        poll_fn(|cx| self.shared.poll_close(cx)).await
    }
}

impl<S> WriteHalf<S> {
    /// The shared state, for a broadcast group.
    pub(crate) fn shared(&self) -> &Arc<Shared<S>> {
        &self.shared
    }

    /// The shared state, for the reconnecting client's senders.
    pub(crate) fn into_shared(self) -> Arc<Shared<S>> {
        self.shared
    }

    /// Bytes queued for the transport and not yet written.
    ///
    /// ```
    /// use ws_tokio::{Config, Role, WebSocketStream};
    /// let (a, _b) = tokio::io::duplex(1024);
    /// let (_reader, writer) = WebSocketStream::from_raw(a, Role::Server, Config::default()).split();
    /// assert_eq!(writer.buffered_amount(), 0);
    /// ```
    pub fn buffered_amount(&self) -> usize {
        self.shared.with_conn(Connection::buffered_amount)
    }

    /// Sets the high-water mark (see [`WebSocketStream::set_high_water_mark`]).
    ///
    /// ```
    /// use ws_tokio::{Config, Role, WebSocketStream};
    /// let (a, _b) = tokio::io::duplex(1024);
    /// let (_reader, writer) = WebSocketStream::from_raw(a, Role::Server, Config::default()).split();
    /// writer.set_high_water_mark(16 * 1024);
    /// ```
    pub fn set_high_water_mark(&self, bytes: usize) {
        self.shared.set_high_water_mark(bytes);
    }

    /// The connection's state: open, closing, or closed.
    ///
    /// ```
    /// use ws_tokio::{Config, ReadyState, Role, WebSocketStream};
    /// let (a, _b) = tokio::io::duplex(1024);
    /// let (_reader, writer) = WebSocketStream::from_raw(a, Role::Server, Config::default()).split();
    /// assert_eq!(writer.ready_state(), ReadyState::Open);
    /// ```
    pub fn ready_state(&self) -> ReadyState {
        self.shared.with_conn(Connection::ready_state)
    }
}

/// Waits for room, queues `message` (a message or a frame), and writes it out.
pub(crate) fn send<S: AsyncRead + AsyncWrite + Unpin, T: Outgoing>(
    shared: &Shared<S>,
    message: T,
) -> Sending<'_, S, T> {
    Sending {
        shared,
        message: Some(message),
    }
}

/// The future of `send`: a reference and the message, no more (an `async`
/// block would carry the message twice, and it sits in the future of
/// every task that serves a connection).
pub(crate) struct Sending<'a, S, T = Message> {
    shared: &'a Shared<S>,
    /// Until it is queued.
    message: Option<T>,
}

impl<S: AsyncRead + AsyncWrite + Unpin, T: Outgoing + Unpin> Future for Sending<'_, S, T> {
    type Output = Result<(), Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        this.shared.poll_send(&mut this.message, cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for WebSocketStream<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.shared.poll_next(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> FusedStream for WebSocketStream<S> {
    fn is_terminated(&self) -> bool {
        self.shared.is_terminated()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for ReadHalf<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.shared.poll_next(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> FusedStream for ReadHalf<S> {
    fn is_terminated(&self) -> bool {
        self.shared.is_terminated()
    }
}

/// `Sink` for both the whole stream and the write half.
macro_rules! impl_sink {
    ($ty:ident) => {
        impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for $ty<S> {
            type Error = Error;

            /// Ready once at most the high-water mark is queued.
            fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
                self.shared.poll_ready(cx)
            }

            fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
                self.shared.start_send(item)
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
                self.shared.poll_flush(cx)
            }

            /// Sends a 1000 close frame unless one was sent, and writes
            /// everything; it does not wait for the peer's answer (the
            /// stream side receives it).
            fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
                self.shared.poll_close(cx)
            }
        }
    };
}

impl_sink!(WebSocketStream);
impl_sink!(WriteHalf);

macro_rules! impl_debug {
    ($ty:ident) => {
        impl<S> fmt::Debug for $ty<S> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($ty))
                    .field("role", &self.shared.with_conn(Connection::role))
                    .field(
                        "ready_state",
                        &self.shared.with_conn(Connection::ready_state),
                    )
                    .finish_non_exhaustive()
            }
        }
    };
}

impl_debug!(WebSocketStream);
impl_debug!(ReadHalf);
impl_debug!(WriteHalf);
