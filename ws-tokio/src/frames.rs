//! Frames as a [`Stream`] and a [`Sink`]: a connection (or one of its
//! halves) seen frame by frame, for code that relays frames with
//! `StreamExt::forward` or reads them with stream combinators.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_sink::Sink;
use tokio::io::{AsyncRead, AsyncWrite};
use ws_proto::Frame;

use crate::{Error, ReadHalf, WebSocketStream, WriteHalf};

/// A [`WebSocketStream`], [`ReadHalf`] or [`WriteHalf`] as a [`Stream`] of
/// received [`Frame`]s (what [`WebSocketStream::recv_frame`] returns; the
/// stream ends after the peer's close frame, or without one when the
/// connection dropped) and a [`Sink`] of frames to send (what
/// [`WebSocketStream::send_frame`] takes). Closing the sink sends a bare
/// close frame unless one was sent, as the message sink does.
///
/// Relaying one leg of a proxy is then one line (frame mode on both
/// connections, see [`Config::deliver_frames`](ws_proto::Config::deliver_frames)):
///
/// ```
/// use futures_util::StreamExt;
/// use ws_tokio::ws_proto::{frame::OpCode, Frame};
/// use ws_tokio::{Config, Frames, Role, WebSocketStream};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), ws_tokio::Error> {
/// let frames = || Config::default().deliver_frames(64 * 1024);
/// let (a, b) = tokio::io::duplex(4096);
/// let (c, d) = tokio::io::duplex(4096);
/// let mut client = WebSocketStream::from_raw(a, Role::Client, Config::default());
/// let (from_client, _) = WebSocketStream::from_raw(b, Role::Server, frames()).split();
/// let (_, to_upstream) = WebSocketStream::from_raw(c, Role::Client, frames()).split();
/// let mut upstream = WebSocketStream::from_raw(d, Role::Server, frames());
/// tokio::spawn(Frames::new(from_client).forward(Frames::new(to_upstream)));
/// client.send_frame(Frame::new(true, OpCode::Binary, vec![1, 2, 3])).await?;
/// let frame = upstream.recv_frame().await.transpose()?.unwrap();
/// assert_eq!(&frame.data[..], &[1, 2, 3]);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Frames<T> {
    inner: T,
}

impl<T> Frames<T> {
    /// Frames over `inner` (a [`WebSocketStream`], [`ReadHalf`] or [`WriteHalf`]).
    ///
    /// ```
    /// use ws_tokio::{Config, Frames, Role, WebSocketStream};
    /// let (a, _b) = tokio::io::duplex(64);
    /// let frames = Frames::new(WebSocketStream::from_raw(a, Role::Server, Config::default()));
    /// # let _ = frames;
    /// ```
    pub fn new(inner: T) -> Self {
        Self { inner }
    }

    /// The connection (or half) back.
    ///
    /// ```
    /// use ws_tokio::{Config, Frames, Role, WebSocketStream};
    /// let (a, _b) = tokio::io::duplex(64);
    /// let ws = Frames::new(WebSocketStream::from_raw(a, Role::Server, Config::default())).into_inner();
    /// # let _ = ws;
    /// ```
    pub fn into_inner(self) -> T {
        self.inner
    }

    /// The connection (or half).
    ///
    /// ```
    /// use ws_tokio::{Config, Frames, ReadyState, Role, WebSocketStream};
    /// let (a, _b) = tokio::io::duplex(64);
    /// let frames = Frames::new(WebSocketStream::from_raw(a, Role::Server, Config::default()));
    /// assert_eq!(frames.get_ref().ready_state(), ReadyState::Open);
    /// ```
    pub fn get_ref(&self) -> &T {
        &self.inner
    }
}

/// `Stream` for the whole stream and the read half.
macro_rules! impl_stream {
    ($ty:ident) => {
        impl<S: AsyncRead + AsyncWrite + Unpin> Stream for Frames<$ty<S>> {
            type Item = Result<Frame, Error>;

            fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
                self.inner.shared().poll_next_frame(cx)
            }
        }
    };
}

impl_stream!(WebSocketStream);
impl_stream!(ReadHalf);

/// `Sink` for the whole stream and the write half.
macro_rules! impl_sink {
    ($ty:ident) => {
        impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Frame> for Frames<$ty<S>> {
            type Error = Error;

            /// Ready once at most the high-water mark is queued.
            fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
                self.inner.shared().poll_ready(cx)
            }

            fn start_send(self: Pin<&mut Self>, item: Frame) -> Result<(), Error> {
                self.inner.shared().start_send(item)
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
                self.inner.shared().poll_flush(cx)
            }

            /// Sends a 1000 close frame unless one was sent (a relayed
            /// close frame counts), and writes everything.
            fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
                self.inner.shared().poll_close(cx)
            }
        }
    };
}

impl_sink!(WebSocketStream);
impl_sink!(WriteHalf);
