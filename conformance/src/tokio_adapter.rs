//! Glue for ws-tokio: a current-thread tokio runtime per connection, and
//! `block_on` with `tokio::time::timeout` around every call.

use std::net::TcpStream;
use std::time::Duration;

use tokio::runtime::{Builder, Runtime};
use ws_proto::handshake::{ClientRequest, Request, Response, ServerResponse};
use ws_proto::{CloseCode, Config, Frame, Message};
use ws_tokio::{Error, WebSocketStream};

use crate::{Adapter, Conn, Failure, FrameConn};

/// The ws-tokio adapter (plain TCP, HTTP/1.1 upgrade).
#[derive(Debug)]
pub struct TokioAdapter;

/// A ws-tokio connection with the runtime that drives it.
#[derive(Debug)]
pub struct TokioConn {
    // Declared first: dropped while the runtime still exists.
    ws: WebSocketStream<tokio::net::TcpStream>,
    runtime: Runtime,
}

/// ws-tokio's `Error` as a [`Failure`]: the core's handshake errors as
/// they are. The one place to update when ws-tokio's error enum changes
/// (the HTTP/2 glue uses it too: same error type).
pub(crate) fn failure(err: Error) -> Failure {
    match err {
        Error::Handshake(err) => Failure::from(err),
        Error::Io(err) => Failure::Io(err.kind()),
        Error::Protocol(err) => Failure::Protocol(err.close_code()),
        Error::Send(err) => Failure::SendRefused(err.to_string()),
        Error::ConnectionClosed => Failure::Closed,
        other => Failure::Other(other.to_string()),
    }
}

/// A current-thread runtime with I/O and timers.
fn runtime() -> Result<Runtime, Failure> {
    Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Io(e.kind()))
}

/// `tcp` registered with `runtime`'s reactor.
fn register(runtime: &Runtime, tcp: TcpStream) -> Result<tokio::net::TcpStream, Failure> {
    let _entered = runtime.enter();
    tcp.set_nonblocking(true)
        .map_err(|e| Failure::Io(e.kind()))?;
    tokio::net::TcpStream::from_std(tcp).map_err(|e| Failure::Io(e.kind()))
}

/// Runs `future` on `runtime`, for at most `limit` (`None` then). The
/// timer is made inside the runtime, which tokio requires.
fn block_on_within<F: std::future::Future>(
    runtime: &Runtime,
    limit: Duration,
    future: F,
) -> Option<F::Output> {
    runtime.block_on(async { tokio::time::timeout(limit, future).await.ok() })
}

/// The handshake gets its own limit plus this much from the suite, so an
/// adapter that ignores its limit fails the case instead of hanging it.
const HANDSHAKE_SLACK: Duration = Duration::from_secs(5);

impl Adapter for TokioAdapter {
    type Conn = TokioConn;
    const NAME: &'static str = "tokio";

    fn accept<F>(tcp: TcpStream, config: Config, answer: F) -> Result<TokioConn, Failure>
    where
        F: FnOnce(&Request) -> ServerResponse,
    {
        let runtime = runtime()?;
        let tcp = register(&runtime, tcp)?;
        let limit = config.get_handshake_timeout() + HANDSHAKE_SLACK;
        let accepting = ws_tokio::accept_with(tcp, config, answer);
        let ws = block_on_within(&runtime, limit, accepting)
            .ok_or(Failure::WaitTimedOut)?
            .map_err(failure)?;
        Ok(TokioConn { ws, runtime })
    }

    fn client(
        tcp: TcpStream,
        request: ClientRequest,
        config: Config,
    ) -> Result<(TokioConn, Response), Failure> {
        let runtime = runtime()?;
        let tcp = register(&runtime, tcp)?;
        let limit = config.get_handshake_timeout() + HANDSHAKE_SLACK;
        let connecting = ws_tokio::client(request, tcp, config);
        let (ws, response) = block_on_within(&runtime, limit, connecting)
            .ok_or(Failure::WaitTimedOut)?
            .map_err(failure)?;
        Ok((TokioConn { ws, runtime }, response))
    }
}

impl Conn for TokioConn {
    fn send_within(&mut self, message: Message, limit: Duration) -> Result<(), Failure> {
        let Self { ws, runtime } = self;
        block_on_within(runtime, limit, ws.send(message))
            .ok_or(Failure::WaitTimedOut)?
            .map_err(failure)
    }

    fn recv_within(&mut self, limit: Duration) -> Option<Result<Message, Failure>> {
        let Self { ws, runtime } = self;
        match block_on_within(runtime, limit, ws.recv()) {
            None => Some(Err(Failure::WaitTimedOut)),
            Some(item) => item.map(|r| r.map_err(failure)),
        }
    }

    fn close_within(
        &mut self,
        code: CloseCode,
        reason: &str,
        limit: Duration,
    ) -> Result<(), Failure> {
        let Self { ws, runtime } = self;
        block_on_within(runtime, limit, ws.close(code, reason))
            .ok_or(Failure::WaitTimedOut)?
            .map_err(failure)
    }

    fn buffered_amount(&self) -> Option<usize> {
        Some(self.ws.buffered_amount())
    }
}

impl FrameConn for TokioConn {
    fn send_frame_within(&mut self, frame: Frame, limit: Duration) -> Result<(), Failure> {
        let Self { ws, runtime } = self;
        block_on_within(runtime, limit, ws.send_frame(frame))
            .ok_or(Failure::WaitTimedOut)?
            .map_err(failure)
    }

    fn recv_frame_within(&mut self, limit: Duration) -> Option<Result<Frame, Failure>> {
        let Self { ws, runtime } = self;
        match block_on_within(runtime, limit, ws.recv_frame()) {
            None => Some(Err(Failure::WaitTimedOut)),
            Some(item) => item.map(|r| r.map_err(failure)),
        }
    }
}
