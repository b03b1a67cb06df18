//! Glue for ws-blocking: direct calls, bounded with the socket's read and
//! write timeouts (which ws-blocking documents as leaving the connection
//! usable).

use std::net::TcpStream;
use std::time::{Duration, Instant};

use ws_blocking::{Error, WebSocket};
use ws_proto::handshake::{ClientRequest, Request, Response, ServerResponse};
use ws_proto::{CloseCode, Config, Frame, Message};

use crate::{Adapter, Conn, Failure, FrameConn};

/// At most this many messages are read (and discarded) while closing.
const MAX_READS_WHILE_CLOSING: usize = 1000;

/// The ws-blocking adapter.
#[derive(Debug)]
pub struct BlockingAdapter;

/// A ws-blocking connection over TCP.
#[derive(Debug)]
pub struct BlockingConn {
    ws: WebSocket<TcpStream>,
}

/// ws-blocking's `Error` as a [`Failure`]. The one place to update when
/// ws-blocking's error enum changes.
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

impl Adapter for BlockingAdapter {
    type Conn = BlockingConn;
    const NAME: &'static str = "blocking";

    fn accept<F>(tcp: TcpStream, config: Config, answer: F) -> Result<BlockingConn, Failure>
    where
        F: FnOnce(&Request) -> ServerResponse,
    {
        let ws = ws_blocking::accept_with(tcp, config, answer).map_err(failure)?;
        Ok(BlockingConn { ws })
    }

    fn client(
        tcp: TcpStream,
        request: ClientRequest,
        config: Config,
    ) -> Result<(BlockingConn, Response), Failure> {
        let (ws, response) = ws_blocking::client(request, tcp, config).map_err(failure)?;
        Ok((BlockingConn { ws }, response))
    }
}

impl BlockingConn {
    /// Bounds the next reads by `limit` (at least a millisecond: a zero
    /// timeout is refused by the OS).
    fn bound_reads(&mut self, limit: Duration) -> Result<(), Failure> {
        let limit = limit.max(Duration::from_millis(1));
        self.ws
            .get_mut()
            .set_read_timeout(Some(limit))
            .map_err(|e| Failure::Io(e.kind()))
    }

    /// One `read`, mapped: a timeout of ours is [`Failure::WaitTimedOut`],
    /// the end of the connection `None`.
    fn read(&mut self) -> Option<Result<Message, Failure>> {
        match self.ws.read() {
            Ok(message) => Some(Ok(message)),
            Err(Error::ConnectionClosed) => None,
            Err(err) if err.is_timeout() => Some(Err(Failure::WaitTimedOut)),
            Err(err) => Some(Err(failure(err))),
        }
    }
}

impl Conn for BlockingConn {
    fn send_within(&mut self, message: Message, limit: Duration) -> Result<(), Failure> {
        self.ws
            .get_mut()
            .set_write_timeout(Some(limit.max(Duration::from_millis(1))))
            .map_err(|e| Failure::Io(e.kind()))?;
        match self.ws.send(message) {
            Ok(()) => Ok(()),
            Err(err) if err.is_timeout() => Err(Failure::WaitTimedOut),
            Err(err) => Err(failure(err)),
        }
    }

    fn recv_within(&mut self, limit: Duration) -> Option<Result<Message, Failure>> {
        if let Err(failure) = self.bound_reads(limit) {
            return Some(Err(failure));
        }
        self.read()
    }

    /// `close` sends the close frame; then, as ws-blocking documents, read
    /// until the peer's `Message::Close` (or the end).
    fn close_within(
        &mut self,
        code: CloseCode,
        reason: &str,
        limit: Duration,
    ) -> Result<(), Failure> {
        let deadline = Instant::now() + limit;
        self.ws
            .get_mut()
            .set_write_timeout(Some(limit))
            .map_err(|e| Failure::Io(e.kind()))?;
        match self.ws.close(code, reason) {
            Ok(()) => {}
            Err(err) if err.is_timeout() => return Err(Failure::WaitTimedOut),
            Err(err) => return Err(failure(err)),
        }
        for _ in 0..MAX_READS_WHILE_CLOSING {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Failure::WaitTimedOut);
            }
            self.bound_reads(left)?;
            match self.read() {
                None | Some(Ok(Message::Close(_))) => return Ok(()),
                Some(Ok(_)) => {}
                Some(Err(failure)) => return Err(failure),
            }
        }
        Err(Failure::Other(format!(
            "no close answer in {MAX_READS_WHILE_CLOSING} messages"
        )))
    }

    fn buffered_amount(&self) -> Option<usize> {
        Some(self.ws.connection().buffered_amount())
    }
}

impl FrameConn for BlockingConn {
    fn send_frame_within(&mut self, frame: Frame, limit: Duration) -> Result<(), Failure> {
        self.ws
            .get_mut()
            .set_write_timeout(Some(limit.max(Duration::from_millis(1))))
            .map_err(|e| Failure::Io(e.kind()))?;
        match self.ws.write_frame(frame) {
            Ok(()) => Ok(()),
            Err(err) if err.is_timeout() => Err(Failure::WaitTimedOut),
            Err(err) => Err(failure(err)),
        }
    }

    /// `read_frame`: `Ok(None)` is an end without a close frame, and
    /// `ConnectionClosed` a read after the end; both are the end here.
    fn recv_frame_within(&mut self, limit: Duration) -> Option<Result<Frame, Failure>> {
        if let Err(failure) = self.bound_reads(limit) {
            return Some(Err(failure));
        }
        match self.ws.read_frame() {
            Ok(frame) => frame.map(Ok),
            Err(Error::ConnectionClosed) => None,
            Err(err) if err.is_timeout() => Some(Err(Failure::WaitTimedOut)),
            Err(err) => Some(Err(failure(err))),
        }
    }
}
