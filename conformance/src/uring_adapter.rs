//! Glue for ws-uring: its blocking `WebSocket` (a runtime of its own per
//! connection), bounded with its `_timeout` calls. On a machine whose
//! kernel refuses io_uring, [`Adapter::unavailable`] says why and the
//! cases are skipped.

use std::net::TcpStream;
use std::sync::OnceLock;
use std::time::Duration;

use ws_proto::handshake::{ClientRequest, Request, Response, ServerResponse};
use ws_proto::{CloseCode, Config, Frame, Message};
use ws_uring::{Error, WebSocket};

use crate::{Adapter, Conn, Failure, FrameConn};

/// The ws-uring adapter.
#[derive(Debug)]
pub struct UringAdapter;

/// A ws-uring connection over TCP.
#[derive(Debug)]
pub struct UringConn {
    ws: WebSocket,
}

/// ws-uring's `Error` as a [`Failure`]. The one place to update when
/// ws-uring's error enum changes.
fn failure(err: Error) -> Failure {
    match err {
        Error::Handshake(err) => Failure::from(err),
        Error::Io(err) => Failure::Io(err.kind()),
        Error::Protocol(err) => Failure::Protocol(err.close_code()),
        Error::Send(err) => Failure::SendRefused(err.to_string()),
        Error::ConnectionClosed => Failure::Closed,
        Error::TimedOut => Failure::WaitTimedOut,
        other => Failure::Other(other.to_string()),
    }
}

impl Adapter for UringAdapter {
    type Conn = UringConn;
    const NAME: &'static str = "uring";

    /// Whether this kernel runs io_uring, asked once per test process.
    fn unavailable() -> Option<String> {
        static WHY: OnceLock<Option<String>> = OnceLock::new();
        WHY.get_or_init(|| match ws_uring::Runtime::new() {
            Err(err) if err.is_unavailable() => Some(err.to_string()),
            _ => None,
        })
        .clone()
    }

    fn accept<F>(tcp: TcpStream, config: Config, answer: F) -> Result<UringConn, Failure>
    where
        F: FnOnce(&Request) -> ServerResponse,
    {
        let ws = ws_uring::accept_with(tcp, config, answer).map_err(failure)?;
        Ok(UringConn { ws })
    }

    fn client(
        tcp: TcpStream,
        request: ClientRequest,
        config: Config,
    ) -> Result<(UringConn, Response), Failure> {
        let (ws, response) = ws_uring::client(request, tcp, config).map_err(failure)?;
        Ok((UringConn { ws }, response))
    }
}

impl Conn for UringConn {
    fn send_within(&mut self, message: Message, limit: Duration) -> Result<(), Failure> {
        self.ws.send_timeout(message, limit).map_err(failure)
    }

    fn recv_within(&mut self, limit: Duration) -> Option<Result<Message, Failure>> {
        self.ws.recv_timeout(limit).map(|r| r.map_err(failure))
    }

    /// `close_timeout` sends the close frame and runs the connection to its
    /// end, dropping what still arrives.
    fn close_within(
        &mut self,
        code: CloseCode,
        reason: &str,
        limit: Duration,
    ) -> Result<(), Failure> {
        self.ws.close_timeout(code, reason, limit).map_err(failure)
    }

    fn buffered_amount(&self) -> Option<usize> {
        Some(self.ws.buffered_amount())
    }
}

impl FrameConn for UringConn {
    fn send_frame_within(&mut self, frame: Frame, limit: Duration) -> Result<(), Failure> {
        self.ws.send_frame_timeout(frame, limit).map_err(failure)
    }

    fn recv_frame_within(&mut self, limit: Duration) -> Option<Result<Frame, Failure>> {
        self.ws
            .recv_frame_timeout(limit)
            .map(|r| r.map_err(failure))
    }
}
