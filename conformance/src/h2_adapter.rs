//! Glue for ws-tokio's WebSocket over HTTP/2 (RFC 8441, feature `h2`).
//!
//! The cases' peer speaks HTTP/1.1 and raw WebSocket frames over TCP, so
//! this glue puts a bridge between it and the adapter: an in-memory HTTP/2
//! connection (hyper on both ends) whose one end is the adapter under test
//! (`ws_tokio::h2::accept_with` as the server, `ws_tokio::h2::connect` as
//! the client) and whose other end translates the peer's HTTP/1.1 upgrade
//! to an extended CONNECT (or back) and then copies bytes both ways
//! between the peer's TCP stream and the HTTP/2 stream. The WebSocket
//! frames the peer writes and reads are the ones the adapter reads and
//! writes, so the message, ping, close and drop cases apply unchanged;
//! the handshake cases do not (they would test the bridge).
//!
//! Everything runs on a one-worker multi-thread runtime owned by the
//! connection, so the bridge keeps copying between the adapter calls.

use std::convert::Infallible;
use std::future::Future;
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::client::conn::http2 as client_h2;
use hyper::server::conn::http2 as server_h2;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::runtime::{Builder, Runtime};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use ws_proto::handshake::{ClientRequest, Request, Response, ResponseError, ServerResponse};
use ws_proto::{CloseCode, Config, Frame, Message, Randomness};
use ws_tokio::h2::{self, H2Stream};
use ws_tokio::WebSocketStream;

use crate::tokio_adapter::failure;
use crate::{Adapter, Conn, Failure, FrameConn};

/// The in-memory HTTP/2 connection's buffer in each direction.
const PIPE: usize = 1 << 20;

/// How long dropping a connection waits for the bridge to copy what is
/// left (the adapter's last frames) to the peer.
const BRIDGE_LINGER: Duration = Duration::from_secs(3);

/// The handshake gets its own limit plus this much from the suite.
const HANDSHAKE_SLACK: Duration = Duration::from_secs(5);

/// ws-tokio over HTTP/2, bridged to the HTTP/1.1 peer of the cases.
#[derive(Debug)]
pub struct H2Adapter;

/// A ws-tokio WebSocket over an HTTP/2 stream, with its runtime and bridge.
#[derive(Debug)]
pub struct H2Conn {
    // Dropped first, while the runtime still exists.
    ws: WebSocketStream<H2Stream>,
    /// Keeps the adapter's HTTP/2 client connection open (client side).
    _sender: Option<client_h2::SendRequest<String>>,
    /// The task copying between the peer's TCP stream and the HTTP/2 stream.
    bridge: Arc<Mutex<Option<JoinHandle<()>>>>,
    runtime: Runtime,
}

/// A failure of the bridge itself (not of the adapter).
fn bridge_failure(what: &str, err: impl std::fmt::Display) -> Failure {
    Failure::Other(format!("h2 bridge: {what}: {err}"))
}

fn runtime() -> Result<Runtime, Failure> {
    Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| Failure::Io(e.kind()))
}

/// Runs `future` on `runtime` for at most `limit` (`None` then).
fn block_on_within<F: Future>(runtime: &Runtime, limit: Duration, future: F) -> Option<F::Output> {
    runtime.block_on(async { tokio::time::timeout(limit, future).await.ok() })
}

/// `tcp` as a tokio stream (inside the runtime).
fn register(tcp: TcpStream) -> Result<tokio::net::TcpStream, Failure> {
    tcp.set_nonblocking(true)
        .map_err(|e| Failure::Io(e.kind()))?;
    tokio::net::TcpStream::from_std(tcp).map_err(|e| Failure::Io(e.kind()))
}

/// Copies between the peer's TCP stream and the bridge's end of the HTTP/2
/// stream (after `leftover`, bytes the peer sent right after its handshake)
/// until both directions have ended.
async fn pump(mut tcp: tokio::net::TcpStream, mut stream: H2Stream, leftover: Vec<u8>) {
    if !leftover.is_empty() && stream.write_all(&leftover).await.is_err() {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut tcp, &mut stream).await;
}

/// The subprotocol chosen in an HTTP/1.1 answer, if any.
fn chosen_protocol(answer: &ServerResponse) -> Option<String> {
    answer
        .headers()
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("sec-websocket-protocol"))
        .and_then(|h| h.value_str())
        .map(str::to_owned)
}

/// An h2 accept callback that accepts with `protocol` (or none).
fn accept_choosing(protocol: Option<&str>) -> impl FnOnce(&Request) -> ServerResponse + '_ {
    move |request| match protocol {
        Some(p) => request
            .accept_with_protocol(p)
            .unwrap_or_else(|e| ServerResponse::from_error(&e)),
        None => request.accept(),
    }
}

/// The server side: the peer's HTTP/1.1 request is answered by `answer`;
/// an acceptance becomes an extended CONNECT from the bridge to the
/// adapter's HTTP/2 server, whose WebSocket is returned.
async fn accept_bridged<F>(
    tcp: TcpStream,
    config: Config,
    answer: F,
) -> Result<(WebSocketStream<H2Stream>, JoinHandle<()>), Failure>
where
    F: FnOnce(&Request) -> ServerResponse,
{
    let mut tcp = register(tcp)?;
    let mut head = Vec::new();
    let (request, used) = loop {
        let mut chunk = [0; 4096];
        let n = tcp
            .read(&mut chunk)
            .await
            .map_err(|e| Failure::Io(e.kind()))?;
        if n == 0 {
            return Err(Failure::PeerClosedDuringHandshake);
        }
        head.extend_from_slice(&chunk[..n]);
        match Request::parse(&head) {
            Ok(Some(found)) => break found,
            Ok(None) => {}
            Err(err) => return Err(bridge_failure("the peer's request", err)),
        }
    };
    let leftover = head[used..].to_vec();
    let h1_answer = answer(&request);
    if !h1_answer.is_accept() {
        let _ = tcp.write_all(&h1_answer.to_bytes()).await;
        return Err(Failure::Refused {
            status: h1_answer.status(),
            body: None,
        });
    }
    let protocol = chosen_protocol(&h1_answer);

    // The adapter under test: an HTTP/2 server with extended CONNECT.
    let (server_io, client_io) = tokio::io::duplex(PIPE);
    let (upgrade_tx, upgrade_rx) = oneshot::channel();
    let upgrade_tx = Arc::new(Mutex::new(Some(upgrade_tx)));
    let service = service_fn(move |incoming: http::Request<Incoming>| {
        let (response, upgrade) = h2::accept_with::<_, String, _>(
            incoming,
            config.clone(),
            accept_choosing(protocol.as_deref()),
        );
        if let Some(tx) = upgrade_tx.lock().ok().and_then(|mut slot| slot.take()) {
            let _ = tx.send(upgrade);
        }
        async move { Ok::<_, Infallible>(response) }
    });
    tokio::spawn(async move {
        let _ = server_h2::Builder::new(TokioExecutor::new())
            .enable_connect_protocol()
            .serve_connection(TokioIo::new(server_io), service)
            .await;
    });

    // The bridge: an HTTP/2 client sending the peer's request on.
    let (sender, connection) =
        client_h2::handshake::<_, _, String>(TokioExecutor::new(), TokioIo::new(client_io))
            .await
            .map_err(|e| bridge_failure("HTTP/2 handshake", e))?;
    tokio::spawn(connection);
    let mut forwarded = ClientRequest::from_url(&format!("ws://bridge{}", request.target()))
        .map_err(|e| bridge_failure("URL", e))?;
    for offered in request.protocols() {
        forwarded = forwarded.protocol(offered.clone());
    }
    let bridge_config = Config::default().deflate(None);
    let client = tokio::spawn(async move {
        let result = h2::connect(&sender, forwarded, bridge_config).await;
        (result, sender)
    });
    let upgrade = upgrade_rx
        .await
        .map_err(|e| bridge_failure("no request reached the adapter", e))?
        .map_err(failure)?;
    let ws = upgrade.await.map_err(failure)?;
    let (connected, sender) = client.await.map_err(|e| bridge_failure("client task", e))?;
    let (bridge_ws, _) = connected.map_err(|e| bridge_failure("extended CONNECT", e))?;
    let stream = bridge_ws.into_inner();

    // The peer gets its 101; from now on bytes are copied both ways.
    tcp.write_all(&h1_answer.to_bytes())
        .await
        .map_err(|e| Failure::Io(e.kind()))?;
    let bridge = tokio::spawn(async move {
        pump(tcp, stream, leftover).await;
        drop(sender);
    });
    Ok((ws, bridge))
}

/// The client side: the adapter's extended CONNECT reaches the bridge's
/// HTTP/2 server, which sends it on to the peer as an HTTP/1.1 upgrade
/// and answers with the peer's verdict.
/// Returns the adapter's WebSocket, its HTTP/2 client handle (which keeps
/// the connection open), the bridge's slot for its copying task, and the
/// adapter's response.
#[allow(clippy::type_complexity)]
async fn client_bridged(
    tcp: TcpStream,
    request: ClientRequest,
    config: Config,
) -> Result<
    (
        WebSocketStream<H2Stream>,
        client_h2::SendRequest<String>,
        Arc<Mutex<Option<JoinHandle<()>>>>,
        Response,
    ),
    Failure,
> {
    let tcp = register(tcp)?;
    let peer_addr = tcp.peer_addr().map_err(|e| Failure::Io(e.kind()))?;
    let slot = Arc::new(Mutex::new(Some(tcp)));
    let bridge: Arc<Mutex<Option<JoinHandle<()>>>> = Arc::new(Mutex::new(None));
    let bridge_slot = Arc::clone(&bridge);
    let service = service_fn(move |incoming: http::Request<Incoming>| {
        let tcp = slot.lock().ok().and_then(|mut s| s.take());
        let bridge_slot = Arc::clone(&bridge_slot);
        async move {
            let Some(tcp) = tcp else {
                let busy = ServerResponse::reject(503, "the bridge carries one WebSocket");
                let (response, _) =
                    h2::accept_with::<_, String, _>(incoming, Config::default(), |_| busy);
                return Ok::<_, Infallible>(response);
            };
            Ok(forward_upgrade(incoming, tcp, peer_addr, &bridge_slot).await)
        }
    });
    let (server_io, client_io) = tokio::io::duplex(PIPE);
    tokio::spawn(async move {
        let _ = server_h2::Builder::new(TokioExecutor::new())
            .enable_connect_protocol()
            .serve_connection(TokioIo::new(server_io), service)
            .await;
    });

    // The adapter under test: an HTTP/2 client.
    let (sender, connection) =
        client_h2::handshake::<_, _, String>(TokioExecutor::new(), TokioIo::new(client_io))
            .await
            .map_err(|e| bridge_failure("HTTP/2 handshake", e))?;
    tokio::spawn(connection);
    let (ws, response) = h2::connect(&sender, request, config)
        .await
        .map_err(failure)?;
    Ok((ws, sender, bridge, response))
}

/// The bridge's HTTP/2 service for one extended CONNECT: the HTTP/1.1
/// handshake with the peer on `tcp`, then the same verdict over HTTP/2,
/// and (when accepted) the copying task, stored in `bridge`.
async fn forward_upgrade(
    incoming: http::Request<Incoming>,
    mut tcp: tokio::net::TcpStream,
    peer_addr: std::net::SocketAddr,
    bridge: &Mutex<Option<JoinHandle<()>>>,
) -> http::Response<String> {
    let target = incoming
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let mut forwarded = match ClientRequest::from_url(&format!("ws://{peer_addr}{target}")) {
        Ok(request) => request,
        Err(err) => return refuse(incoming, 500, err.to_string()),
    };
    let offered = incoming
        .headers()
        .get_all("sec-websocket-protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_owned())
        .collect::<Vec<_>>();
    for protocol in offered {
        forwarded = forwarded.protocol(protocol);
    }
    let (bytes, pending) = forwarded.into_handshake(&mut Randomness::os());
    if let Err(err) = tcp.write_all(&bytes).await {
        return refuse(incoming, 502, err.to_string());
    }
    let mut head = Vec::new();
    let (answer, used) = loop {
        let mut chunk = [0; 4096];
        match tcp.read(&mut chunk).await {
            Ok(0) => return refuse(incoming, 502, "the peer closed".to_owned()),
            Ok(n) => head.extend_from_slice(&chunk[..n]),
            Err(err) => return refuse(incoming, 502, err.to_string()),
        }
        match pending.parse_response(&head) {
            Ok(Some(found)) => break found,
            Ok(None) => {}
            Err(ResponseError::Rejected(rejection)) => {
                let body = String::from_utf8_lossy(&rejection.body).into_owned();
                return refuse(incoming, rejection.status, body);
            }
            Err(err) => return refuse(incoming, 502, err.to_string()),
        }
    };
    let leftover = head[used..].to_vec();
    let (response, upgrade) = h2::accept_with::<_, String, _>(
        incoming,
        Config::default().deflate(None),
        accept_choosing(answer.protocol()),
    );
    if let Ok(upgrade) = upgrade {
        let task = tokio::spawn(async move {
            if let Ok(ws) = upgrade.await {
                pump(tcp, ws.into_inner(), leftover).await;
            }
        });
        if let Ok(mut slot) = bridge.lock() {
            *slot = Some(task);
        }
    }
    response
}

/// An HTTP/2 refusal with `status` and `body`.
fn refuse(incoming: http::Request<Incoming>, status: u16, body: String) -> http::Response<String> {
    let refusal = ServerResponse::reject(status, body);
    h2::accept_with::<_, String, _>(incoming, Config::default(), |_| refusal).0
}

impl Adapter for H2Adapter {
    type Conn = H2Conn;
    const NAME: &'static str = "h2";

    fn accept<F>(tcp: TcpStream, config: Config, answer: F) -> Result<H2Conn, Failure>
    where
        F: FnOnce(&Request) -> ServerResponse,
    {
        let runtime = runtime()?;
        let limit = config.get_handshake_timeout() + HANDSHAKE_SLACK;
        let (ws, bridge) = block_on_within(&runtime, limit, accept_bridged(tcp, config, answer))
            .ok_or(Failure::WaitTimedOut)??;
        Ok(H2Conn {
            ws,
            _sender: None,
            bridge: Arc::new(Mutex::new(Some(bridge))),
            runtime,
        })
    }

    fn client(
        tcp: TcpStream,
        request: ClientRequest,
        config: Config,
    ) -> Result<(H2Conn, Response), Failure> {
        let runtime = runtime()?;
        let limit = config.get_handshake_timeout() + HANDSHAKE_SLACK;
        let (ws, sender, bridge, response) =
            block_on_within(&runtime, limit, client_bridged(tcp, request, config))
                .ok_or(Failure::WaitTimedOut)??;
        let conn = H2Conn {
            ws,
            _sender: Some(sender),
            bridge,
            runtime,
        };
        Ok((conn, response))
    }
}

impl Conn for H2Conn {
    fn send_within(&mut self, message: Message, limit: Duration) -> Result<(), Failure> {
        let Self { ws, runtime, .. } = self;
        block_on_within(runtime, limit, ws.send(message))
            .ok_or(Failure::WaitTimedOut)?
            .map_err(failure)
    }

    fn recv_within(&mut self, limit: Duration) -> Option<Result<Message, Failure>> {
        let Self { ws, runtime, .. } = self;
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
        let Self { ws, runtime, .. } = self;
        block_on_within(runtime, limit, ws.close(code, reason))
            .ok_or(Failure::WaitTimedOut)?
            .map_err(failure)
    }

    fn buffered_amount(&self) -> Option<usize> {
        Some(self.ws.buffered_amount())
    }
}

impl FrameConn for H2Conn {
    fn send_frame_within(&mut self, frame: Frame, limit: Duration) -> Result<(), Failure> {
        let Self { ws, runtime, .. } = self;
        block_on_within(runtime, limit, ws.send_frame(frame))
            .ok_or(Failure::WaitTimedOut)?
            .map_err(failure)
    }

    fn recv_frame_within(&mut self, limit: Duration) -> Option<Result<Frame, Failure>> {
        let Self { ws, runtime, .. } = self;
        match block_on_within(runtime, limit, ws.recv_frame()) {
            None => Some(Err(Failure::WaitTimedOut)),
            Some(item) => item.map(|r| r.map_err(failure)),
        }
    }
}

impl Drop for H2Conn {
    /// Lets the bridge copy the adapter's last bytes to the peer (bounded),
    /// so that tearing the runtime down does not cut them off.
    fn drop(&mut self) {
        let task = self.bridge.lock().ok().and_then(|mut slot| slot.take());
        if let Some(task) = task {
            let _ = block_on_within(&self.runtime, BRIDGE_LINGER, task);
        }
    }
}
