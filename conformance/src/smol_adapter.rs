//! Glue for the smol example adapter (`examples/ws-smol`): `smol::block_on`
//! around every call, raced against a `smol::Timer` for the suite's bound.

use std::future::Future;
use std::net::TcpStream;
use std::time::Duration;

use smol::future::FutureExt;
use smol::{Async, Timer};
use ws_proto::handshake::{ClientRequest, Request, Response, ServerResponse};
use ws_proto::{CloseCode, Config, Message};
use ws_smol_example::{Error, WebSocket};

use crate::{Adapter, Conn, Failure};

/// The smol example adapter.
#[derive(Debug)]
pub struct SmolAdapter;

/// A ws-smol connection over TCP.
#[derive(Debug)]
pub struct SmolConn {
    ws: WebSocket<Async<TcpStream>>,
}

/// ws-smol's `Error` as a [`Failure`]. The one place to update when
/// ws-smol's error enum changes.
fn failure(err: Error) -> Failure {
    match err {
        Error::Handshake(err) => Failure::from(err),
        Error::Io(err) => Failure::Io(err.kind()),
        Error::Protocol(err) => Failure::Protocol(err.close_code()),
        Error::Send(err) => Failure::SendRefused(err.to_string()),
        Error::ConnectionClosed => Failure::Closed,
        other => Failure::Other(other.to_string()),
    }
}

/// The handshake gets its own limit plus this much from the suite, so an
/// adapter that ignores its limit fails the case instead of hanging it.
const HANDSHAKE_SLACK: Duration = Duration::from_secs(5);

/// Runs `future` to completion on this thread, or gives `late` once
/// `limit` has passed.
fn block_on_within<T>(limit: Duration, late: T, future: impl Future<Output = T>) -> T {
    smol::block_on(future.or(async {
        Timer::after(limit).await;
        late
    }))
}

/// `tcp` registered with smol's reactor.
fn register(tcp: TcpStream) -> Result<Async<TcpStream>, Failure> {
    Async::new(tcp).map_err(|e| Failure::Io(e.kind()))
}

impl Adapter for SmolAdapter {
    type Conn = SmolConn;
    const NAME: &'static str = "smol";

    fn accept<F>(tcp: TcpStream, config: Config, answer: F) -> Result<SmolConn, Failure>
    where
        F: FnOnce(&Request) -> ServerResponse,
    {
        let tcp = register(tcp)?;
        let limit = config.get_handshake_timeout() + HANDSHAKE_SLACK;
        let accepting = async {
            ws_smol_example::accept_with(tcp, config, answer)
                .await
                .map_err(failure)
        };
        let ws = block_on_within(limit, Err(Failure::WaitTimedOut), accepting)?;
        Ok(SmolConn { ws })
    }

    fn client(
        tcp: TcpStream,
        request: ClientRequest,
        config: Config,
    ) -> Result<(SmolConn, Response), Failure> {
        let tcp = register(tcp)?;
        let limit = config.get_handshake_timeout() + HANDSHAKE_SLACK;
        let connecting = async {
            ws_smol_example::client(request, tcp, config)
                .await
                .map_err(failure)
        };
        let (ws, response) = block_on_within(limit, Err(Failure::WaitTimedOut), connecting)?;
        Ok((SmolConn { ws }, response))
    }
}

impl Conn for SmolConn {
    fn send_within(&mut self, message: Message, limit: Duration) -> Result<(), Failure> {
        let ws = &mut self.ws;
        let sending = async { ws.send(message).await.map_err(failure) };
        block_on_within(limit, Err(Failure::WaitTimedOut), sending)
    }

    fn recv_within(&mut self, limit: Duration) -> Option<Result<Message, Failure>> {
        let ws = &mut self.ws;
        let receiving = async { ws.recv().await.map(|item| item.map_err(failure)) };
        block_on_within(limit, Some(Err(Failure::WaitTimedOut)), receiving)
    }

    fn close_within(
        &mut self,
        code: CloseCode,
        reason: &str,
        limit: Duration,
    ) -> Result<(), Failure> {
        let ws = &mut self.ws;
        let closing = async { ws.close(code, reason).await.map(drop).map_err(failure) };
        block_on_within(limit, Err(Failure::WaitTimedOut), closing)
    }

    fn buffered_amount(&self) -> Option<usize> {
        Some(self.ws.buffered_amount())
    }
}
