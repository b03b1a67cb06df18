//! WebSocket over HTTP/2 (RFC 8441): a hyper h2c server (prior knowledge,
//! plain TCP on loopback) and one hyper client connection carrying several
//! WebSockets at once. Run with `cargo test -p ws-tokio --features h2`.

#![cfg(feature = "h2")]

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Incoming};
use hyper::client::conn::http2 as client_h2;
use hyper::ext::Protocol;
use hyper::server::conn::http2 as server_h2;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use ws_tokio::ws_proto::handshake::{HandshakeError, RequestError, ResponseError};
use ws_tokio::{h2, ClientRequest, CloseCode, Config, Error, Message, ServerResponse};

/// Every test is bounded by this.
const LIMIT: Duration = Duration::from_secs(60);

async fn within<F: Future>(future: F) -> F::Output {
    tokio::time::timeout(LIMIT, future)
        .await
        .expect("test timed out")
}

/// What the server saw, reported to the test.
#[derive(Debug)]
enum Seen {
    /// A WebSocket on this path ended with this close code.
    Closed(String, CloseCode),
    /// A request was refused.
    Refused(Error),
}

/// A hyper HTTP/2 server on one loopback connection (the test opens only
/// one). With `extended_connect` it sends SETTINGS_ENABLE_CONNECT_PROTOCOL.
/// WebSockets on `/ws/N` echo data; the text "close me" makes the server
/// close with 4100 + N. Other paths are refused with 404.
async fn server(extended_connect: bool) -> (SocketAddr, mpsc::UnboundedReceiver<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (seen, events) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let service = service_fn(move |request: http::Request<Incoming>| {
            let seen = seen.clone();
            async move {
                let (response, upgrade) =
                    h2::accept_with::<_, String, _>(request, Config::default(), |req| {
                        if req.path().starts_with("/ws/") {
                            req.accept()
                        } else {
                            ServerResponse::reject(404, "no such room")
                        }
                    });
                match upgrade {
                    Ok(upgrade) => {
                        tokio::spawn(echo(upgrade, seen));
                    }
                    Err(err) => {
                        let _ = seen.send(Seen::Refused(err));
                    }
                }
                Ok::<_, Infallible>(response)
            }
        });
        let mut builder = server_h2::Builder::new(TokioExecutor::new());
        if extended_connect {
            builder.enable_connect_protocol();
        }
        let _ = builder.serve_connection(TokioIo::new(tcp), service).await;
    });
    (addr, events)
}

async fn echo(upgrade: h2::Upgrade, seen: mpsc::UnboundedSender<Seen>) {
    let path = upgrade.request().path().to_string();
    let n: u16 = path["/ws/".len()..].parse().unwrap();
    let mut ws = upgrade.await.unwrap();
    while let Some(message) = ws.recv().await {
        match message.unwrap() {
            Message::Text(text) if text.as_str() == "close me" => {
                // `close` reads until the client's answer and the end, so
                // the loop ends next; report the code from here.
                ws.close(CloseCode(4100 + n), "server says bye")
                    .await
                    .unwrap();
                let _ = seen.send(Seen::Closed(path.clone(), CloseCode(4100 + n)));
            }
            message @ (Message::Text(_) | Message::Binary(_)) => ws.send(message).await.unwrap(),
            Message::Close(frame) => {
                let _ = seen.send(Seen::Closed(path.clone(), frame.code));
            }
            _ => {}
        }
    }
}

/// One HTTP/2 client connection (prior knowledge) to `addr`.
async fn client(addr: SocketAddr) -> client_h2::SendRequest<String> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (sender, connection) = client_h2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(connection);
    sender
}

/// The whole body of a response, as text.
async fn body_text(mut body: Incoming) -> String {
    let mut text = Vec::new();
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        if let Ok(data) = frame.unwrap().into_data() {
            text.extend_from_slice(&data);
        }
    }
    String::from_utf8(text).unwrap()
}

fn payload(len: usize, seed: usize) -> Vec<u8> {
    (0..len).map(|i| ((i * 31 + seed) % 251) as u8).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_websockets_share_one_connection() {
    within(async {
        let (addr, mut events) = server(true).await;
        let sender = client(addr).await;
        let mut tasks = Vec::new();
        for n in 0..5u16 {
            let sender = sender.clone();
            tasks.push(tokio::spawn(async move {
                let url = format!("ws://{addr}/ws/{n}");
                let request = ClientRequest::from_url(&url).unwrap();
                let (mut ws, response) = h2::connect(&sender, request, Config::default())
                    .await
                    .unwrap();
                assert!(
                    response.negotiated().contains("permessage-deflate"),
                    "permessage-deflate over HTTP/2"
                );
                assert!(response
                    .header("sec-websocket-extensions")
                    .is_some_and(|v| v.starts_with("permessage-deflate")));
                // Messages of every length class; one socket also moves 1 MiB.
                let mut lengths = vec![0, 1, 125, 126, 65_535, 65_536, 200_000];
                if n == 0 {
                    lengths.push(1 << 20);
                }
                for len in lengths {
                    let data = Bytes::from(payload(len, n as usize));
                    ws.send(Message::Binary(data.clone())).await.unwrap();
                    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::Binary(data));
                    let text = format!("{n}:") + &"é".repeat(len / 2);
                    ws.send(Message::text(text.clone())).await.unwrap();
                    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text(text));
                }
                if n % 2 == 0 {
                    // The client closes with its own code.
                    ws.close(CloseCode(4000 + n), "client says bye")
                        .await
                        .unwrap();
                    assert!(ws.recv().await.is_none());
                    CloseCode(4000 + n)
                } else {
                    // The server closes: the client sees its code and reason.
                    ws.send(Message::text("close me")).await.unwrap();
                    match ws.recv().await.unwrap().unwrap() {
                        Message::Close(frame) => {
                            assert_eq!(frame.reason.as_str(), "server says bye");
                            assert!(ws.recv().await.is_none());
                            frame.code
                        }
                        other => panic!("expected the server's close, got {other:?}"),
                    }
                }
            }));
        }
        let mut client_codes = Vec::new();
        for task in tasks {
            client_codes.push(task.await.unwrap().0);
        }
        assert_eq!(client_codes, [4000, 4101, 4002, 4103, 4004]);

        let mut server_codes = Vec::new();
        while server_codes.len() < 5 {
            match events.recv().await.unwrap() {
                Seen::Closed(path, code) => server_codes.push((path, code.0)),
                Seen::Refused(err) => panic!("refused: {err}"),
            }
        }
        server_codes.sort();
        let expected: Vec<(String, u16)> = (0..5u16)
            .map(|n| {
                let code = if n % 2 == 0 { 4000 + n } else { 4100 + n };
                (format!("/ws/{n}"), code)
            })
            .collect();
        assert_eq!(server_codes, expected);

        // The connection still takes new WebSockets after those ended.
        let request = ClientRequest::from_url(&format!("ws://{addr}/ws/9")).unwrap();
        let (mut ws, _) = h2::connect(&sender, request, Config::default())
            .await
            .unwrap();
        ws.send(Message::Ping(Bytes::from_static(b"still there")))
            .await
            .unwrap();
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            Message::Pong(Bytes::from_static(b"still there"))
        );
        ws.close(CloseCode::NORMAL, "").await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn without_deflate_in_the_config_nothing_is_negotiated() {
    within(async {
        let (addr, _events) = server(true).await;
        let sender = client(addr).await;
        let request = ClientRequest::from_url(&format!("ws://{addr}/ws/1")).unwrap();
        let config = Config::default().deflate(None);
        let (mut ws, response) = h2::connect(&sender, request, config).await.unwrap();
        assert!(response.negotiated().is_empty());
        ws.send(Message::text("plain")).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("plain"));
        ws.close(CloseCode::NORMAL, "").await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_protocol_other_than_websocket_is_refused() {
    within(async {
        let (addr, mut events) = server(true).await;
        let mut sender = client(addr).await;
        let (request, _) = ClientRequest::from_url(&format!("ws://{addr}/ws/1"))
            .unwrap()
            .into_h2();
        let mut request = request.map(|()| String::new());
        request
            .extensions_mut()
            .insert(Protocol::from_static("mqtt"));
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.status(), 400);
        let body = body_text(response.into_body()).await;
        assert!(body.contains("\"mqtt\", not websocket"), "{body}");
        match events.recv().await.unwrap() {
            Seen::Refused(Error::Handshake(HandshakeError::Request(
                RequestError::ProtocolNotWebSocket(Some(p)),
            ))) => {
                assert_eq!(p, "mqtt")
            }
            other => panic!("{other:?}"),
        }
    })
    .await;
}

#[tokio::test]
async fn a_refusal_reaches_the_client_as_a_clear_error() {
    within(async {
        let (addr, mut events) = server(true).await;
        let sender = client(addr).await;
        let request = ClientRequest::from_url(&format!("ws://{addr}/nowhere")).unwrap();
        let err = h2::connect(&sender, request, Config::default())
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(404));
        assert!(
            matches!(&err, Error::Handshake(HandshakeError::Response(ResponseError::Rejected(r)))
                if r.status == 404 && r.body == b"no such room"),
            "{err:?}"
        );
        assert!(err.to_string().contains("404"), "{err}");
        assert!(matches!(
            events.recv().await.unwrap(),
            Seen::Refused(Error::Handshake(HandshakeError::Refused { status: 404 }))
        ));
    })
    .await;
}

#[tokio::test]
async fn a_server_without_extended_connect_fails_the_client_promptly() {
    within(async {
        let (addr, _events) = server(false).await;
        let sender = client(addr).await;
        let request = ClientRequest::from_url(&format!("ws://{addr}/ws/1")).unwrap();
        let err = h2::connect(&sender, request, Config::default())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Io(_)), "{err:?}");
    })
    .await;
}
