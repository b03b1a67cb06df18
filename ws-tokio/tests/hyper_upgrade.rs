//! `ws_tokio::upgrade` on hyper's own HTTP/1.1 server
//! (`hyper::server::conn::http1` with upgrades) over loopback.

mod common;

use std::convert::Infallible;

use bytes::Bytes;
use common::{listener, within, AbortOnDrop};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use ws_tokio::upgrade::{self, HttpResponse};
use ws_tokio::{
    connect, connect_with, ClientRequest, CloseCode, Config, Message, Request, ServerResponse,
};

/// What the server saw of each accepted upgrade: path, subprotocol.
type Seen = mpsc::UnboundedSender<(String, Option<String>)>;

async fn handle(mut request: http::Request<Incoming>, seen: Seen) -> HttpResponse {
    if !upgrade::is_upgrade_request(&request) {
        return http::Response::new(Full::new(Bytes::from_static(b"a page")));
    }
    let answer = |request: &Request| {
        if request.origin().is_some_and(|o| o.contains("evil")) {
            return ServerResponse::reject(403, "cross-site");
        }
        request.accept_preferring(["echo.v2", "echo.v1"])
    };
    let config = Config::default().max_message_size(64 * 1024);
    let (response, websocket) = match upgrade::upgrade_with(&mut request, config, answer) {
        Ok(accepted) => accepted,
        Err(refusal) => return refusal,
    };
    let _ = seen.send((
        websocket.request().path().to_string(),
        websocket.protocol().map(str::to_string),
    ));
    tokio::spawn(async move {
        let Ok(mut ws) = websocket.await else { return };
        while let Some(Ok(message)) = ws.recv().await {
            if message.is_data() && ws.send(message).await.is_err() {
                return;
            }
        }
    });
    response
}

/// A hyper server; `upgrades` off shows what happens without them.
async fn server(
    upgrades: bool,
) -> (
    std::net::SocketAddr,
    AbortOnDrop,
    mpsc::UnboundedReceiver<(String, Option<String>)>,
) {
    let (listener, addr) = listener().await;
    let (seen, seen_rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let seen = seen.clone();
            let service = service_fn(move |request| {
                let seen = seen.clone();
                async move { Ok::<_, Infallible>(handle(request, seen).await) }
            });
            let connection = http1::Builder::new().serve_connection(TokioIo::new(tcp), service);
            if upgrades {
                tokio::spawn(connection.with_upgrades());
            } else {
                tokio::spawn(connection);
            }
        }
    });
    (addr, AbortOnDrop(task), seen_rx)
}

#[tokio::test]
async fn hyper_upgrades_with_deflate_and_a_subprotocol() {
    within(async {
        let (addr, _server, mut seen) = server(true).await;
        let request = ClientRequest::from_url(&format!("ws://{addr}/echo?room=1"))
            .unwrap()
            .protocol("echo.v1")
            .protocol("echo.v2");
        let (mut ws, response) = connect_with(request, Config::default(), None)
            .await
            .unwrap();
        assert_eq!(response.protocol(), Some("echo.v2"));
        assert_eq!(
            response.header("sec-websocket-extensions"),
            Some("permessage-deflate")
        );
        assert_eq!(
            seen.recv().await,
            Some(("/echo".to_string(), Some("echo.v2".to_string())))
        );
        for message in [
            Message::text("hello ".repeat(500)),
            Message::binary(vec![1u8; 10_000]),
        ] {
            ws.send(message.clone()).await.unwrap();
            assert_eq!(ws.recv().await.unwrap().unwrap(), message);
        }
        ws.close(CloseCode::NORMAL, "").await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_page_then_an_upgrade_on_one_connection() {
    within(async {
        let (addr, _server, _seen) = server(true).await;
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        let page = format!("GET / HTTP/1.1\r\nHost: {addr}\r\n\r\n");
        tcp.write_all(page.as_bytes()).await.unwrap();
        let mut got = Vec::new();
        while !got.ends_with(b"a page") {
            let mut chunk = [0u8; 256];
            let n = tcp.read(&mut chunk).await.unwrap();
            assert!(n > 0, "closed early");
            got.extend_from_slice(&chunk[..n]);
        }
        // The same kept-alive connection upgrades (a text frame "hi",
        // masked, follows the head at once).
        let upgrade = format!(
            "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        let mut bytes = upgrade.into_bytes();
        bytes.extend_from_slice(&[0x81, 0x82, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2]);
        tcp.write_all(&bytes).await.unwrap();
        let mut got = Vec::new();
        while !got.ends_with(b"\x81\x02hi") {
            let mut chunk = [0u8; 256];
            let n = tcp.read(&mut chunk).await.unwrap();
            assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&got));
            got.extend_from_slice(&chunk[..n]);
        }
        assert!(got.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
    })
    .await;
}

#[tokio::test]
async fn refusals_are_ready_made_responses() {
    within(async {
        let (addr, _server, _seen) = server(true).await;
        let request = ClientRequest::from_url(&format!("ws://{addr}/echo"))
            .unwrap()
            .header("Origin", "https://evil.example");
        let err = connect_with(request, Config::default(), None)
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(403), "{err}");

        let key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
        let up = "Upgrade: websocket\r\nConnection: Upgrade\r\n";
        for (head, status) in [
            (format!("GET / HTTP/1.1\r\nHost: h\r\n{up}Sec-WebSocket-Version: 13\r\n\r\n"), 400),
            (format!("GET / HTTP/1.1\r\nHost: h\r\n{up}{key}Sec-WebSocket-Version: 7\r\n\r\n"), 426),
            (format!("PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n{up}{key}Sec-WebSocket-Version: 13\r\n\r\n"), 405),
        ] {
            let mut tcp = TcpStream::connect(addr).await.unwrap();
            tcp.write_all(head.as_bytes()).await.unwrap();
            let mut response = Vec::new();
            tcp.read_to_end(&mut response).await.unwrap();
            let response = String::from_utf8_lossy(&response).to_ascii_lowercase();
            assert!(response.starts_with(&format!("http/1.1 {status} ")), "{response}");
            assert_eq!(
                response.contains("sec-websocket-version: 13"),
                status == 426,
                "{response}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn without_upgrades_on_the_connection_the_upgrade_fails() {
    within(async {
        let (listener, addr) = listener().await;
        let (result_tx, mut result_rx) = mpsc::unbounded_channel();
        let _server = AbortOnDrop(tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let service = service_fn(move |mut request: http::Request<Incoming>| {
                let result_tx = result_tx.clone();
                async move {
                    let response = match upgrade::upgrade(&mut request, Config::default()) {
                        Ok((response, websocket)) => {
                            tokio::spawn(async move {
                                let _ = result_tx.send(websocket.await.map(drop));
                            });
                            response
                        }
                        Err(refusal) => refusal,
                    };
                    Ok::<_, Infallible>(response)
                }
            });
            // No `.with_upgrades()`: a mistake the Upgrade reports.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), service)
                .await;
        }));
        let _ = connect(&format!("ws://{addr}/")).await;
        let outcome = result_rx.recv().await.unwrap();
        assert!(outcome.is_err(), "{outcome:?}");
    })
    .await;
}
