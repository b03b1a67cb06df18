//! ws-tokio's axum extractor in a real axum router, served by `axum::serve`
//! over loopback: permessage-deflate, a browser's request, subprotocol
//! selection, limits and the refusals the core decides.

mod common;

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use common::{close_of, listener, within, AbortOnDrop};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use ws_tokio::axum::{WebSocket, WebSocketUpgrade, WebSocketUpgradeRejection};
use ws_tokio::{client, connect, ClientRequest, CloseCode, Config, Message};

/// Says which subprotocol was chosen, then echoes; 1 KiB messages at most.
async fn echo_handler(ws: WebSocketUpgrade) -> Response {
    let chosen = format!("protocol: {:?}", ws.selected_protocol());
    ws.protocols(["chat.v2", "chat.v1"])
        .max_message_size(1024)
        .on_upgrade(move |mut socket: WebSocket| async move {
            let chosen = format!("{chosen} -> {:?}", socket.role());
            if socket.send(Message::text(chosen)).await.is_err() {
                return;
            }
            while let Some(Ok(message)) = socket.recv().await {
                if message.is_data() && socket.send(message).await.is_err() {
                    return;
                }
            }
        })
}

/// Reports the protocol chosen by `protocols`, before and after.
async fn protocol_handler(ws: WebSocketUpgrade) -> Response {
    let ws = ws.protocols(["chat.v2", "chat.v1"]);
    let chosen = ws.selected_protocol().unwrap_or("none").to_string();
    ws.on_upgrade(move |mut socket| async move {
        let _ = socket.send(Message::text(chosen)).await;
        let _ = socket.close(CloseCode::NORMAL, "").await;
    })
}

/// A page and a WebSocket on one path.
async fn page_or_socket(ws: Option<WebSocketUpgrade>) -> Response {
    match ws {
        Some(ws) => ws.on_upgrade(|mut socket| async move {
            let _ = socket.send(Message::text("socket")).await;
            let _ = socket.close(CloseCode::NORMAL, "").await;
        }),
        None => "page".into_response(),
    }
}

async fn server() -> (std::net::SocketAddr, AbortOnDrop) {
    let app = Router::new()
        .route("/echo", any(echo_handler))
        .route("/protocol", any(protocol_handler))
        .route("/both", get(page_or_socket));
    let (listener, addr) = listener().await;
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, AbortOnDrop(task))
}

/// Writes `head` and reads until the server closes the connection.
async fn exchange(addr: std::net::SocketAddr, head: &str) -> String {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tcp.read_to_end(&mut response).await.unwrap();
    String::from_utf8_lossy(&response).into_owned()
}

/// The part of a response before its body, in lower case.
fn head_of(response: &str) -> String {
    response
        .split("\r\n\r\n")
        .next()
        .unwrap_or("")
        .to_ascii_lowercase()
}

#[tokio::test]
async fn deflate_is_negotiated_with_a_ws_tokio_client() {
    within(async {
        let (addr, _server) = server().await;
        // ws-tokio's client offers permessage-deflate by default.
        let (mut ws, response) = connect(&format!("ws://{addr}/echo")).await.unwrap();
        let agreed = response.header("sec-websocket-extensions").unwrap();
        assert!(agreed.starts_with("permessage-deflate"), "{agreed}");
        assert!(!response.negotiated().is_empty());
        let hello = ws.recv().await.unwrap().unwrap();
        assert_eq!(hello, Message::text("protocol: None -> Server"));
        // Compressible and not: both come back whole.
        let line = Message::text("hello hello hello hello hello ".repeat(30));
        ws.send(line.clone()).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), line);
        let bytes = Message::binary((0..=255u8).collect::<Vec<u8>>());
        ws.send(bytes.clone()).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), bytes);
        ws.close(CloseCode::NORMAL, "").await.unwrap();
    })
    .await;
}

/// Chrome's opening request, header for header.
fn chrome_head(addr: std::net::SocketAddr) -> String {
    format!(
        "GET /echo HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nPragma: no-cache\r\n\
         Cache-Control: no-cache\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) \
         AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36\r\n\
         Upgrade: websocket\r\nOrigin: http://{addr}\r\nSec-WebSocket-Version: 13\r\n\
         Accept-Encoding: gzip, deflate, br, zstd\r\nAccept-Language: en-US,en;q=0.9\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: chat.v1\r\n\
         Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"
    )
}

#[tokio::test]
async fn a_browser_request_gets_deflate_and_a_subprotocol() {
    within(async {
        let (addr, _server) = server().await;
        // On the wire: Chrome's request, and the 101 it gets.
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(chrome_head(addr).as_bytes()).await.unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8; 1];
            assert_eq!(tcp.read(&mut byte).await.unwrap(), 1, "closed early");
            head.push(byte[0]);
        }
        let head = String::from_utf8(head).unwrap().to_ascii_lowercase();
        assert!(
            head.starts_with("http/1.1 101 switching protocols\r\n"),
            "{head}"
        );
        for line in [
            "upgrade: websocket",
            "sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo=",
            "sec-websocket-protocol: chat.v1",
            "sec-websocket-extensions: permessage-deflate\r\n",
        ] {
            assert!(head.contains(line), "{line} in {head}");
        }
        drop(tcp);

        // The same headers from a client that can read compressed frames
        // (ws-tokio's default offer is Chrome's).
        let request = ClientRequest::from_url(&format!("ws://{addr}/echo"))
            .unwrap()
            .header("Pragma", "no-cache")
            .header("Cache-Control", "no-cache")
            .header(
                "User-Agent",
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                 Chrome/131.0.0.0 Safari/537.36",
            )
            .header("Origin", format!("http://{addr}"))
            .header("Accept-Encoding", "gzip, deflate, br, zstd")
            .header("Accept-Language", "en-US,en;q=0.9")
            .protocol("chat.v1");
        let tcp = TcpStream::connect(addr).await.unwrap();
        let (mut ws, response) = client(request, tcp, Config::default()).await.unwrap();
        assert_eq!(response.protocol(), Some("chat.v1"));
        assert_eq!(
            response.header("sec-websocket-extensions"),
            Some("permessage-deflate")
        );
        let hello = ws.recv().await.unwrap().unwrap();
        assert_eq!(hello, Message::text("protocol: None -> Server"));
        let line = Message::text(r#"{"name":"alice","text":"hi"}"#.repeat(20));
        ws.send(line.clone()).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), line);
        ws.close(CloseCode::NORMAL, "").await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn the_server_order_of_preference_chooses_the_subprotocol() {
    within(async {
        let (addr, _server) = server().await;
        let cases: [(&[&str], Option<&str>); 4] = [
            (&["chat.v1", "chat.v2"], Some("chat.v2")),
            (&["chat.v1"], Some("chat.v1")),
            (&["mqtt"], None),
            (&[], None),
        ];
        for (offered, chosen) in cases {
            let mut request = ClientRequest::from_url(&format!("ws://{addr}/protocol")).unwrap();
            for p in offered {
                request = request.protocol(*p);
            }
            let tcp = TcpStream::connect(addr).await.unwrap();
            let (mut ws, response) = client(request, tcp, Config::default()).await.unwrap();
            assert_eq!(response.protocol(), chosen, "{offered:?}");
            let told = ws.recv().await.unwrap().unwrap();
            assert_eq!(told, Message::text(chosen.unwrap_or("none")), "{offered:?}");
            while ws.recv().await.is_some() {}
        }
    })
    .await;
}

#[tokio::test]
async fn the_limits_set_on_the_extractor_hold() {
    within(async {
        let (addr, _server) = server().await;
        let (mut ws, _) = connect(&format!("ws://{addr}/echo")).await.unwrap();
        let _hello = ws.recv().await.unwrap().unwrap();
        ws.send(Message::binary(vec![7u8; 2048])).await.unwrap();
        let close = ws.recv().await.unwrap().unwrap();
        assert_eq!(
            close_of(&close).map(|(code, _)| code),
            Some(1009),
            "{close:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn refusals_carry_the_core_status_and_reason() {
    within(async {
        let (addr, _server) = server().await;
        let key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
        let upgrade = "Upgrade: websocket\r\nConnection: Upgrade\r\n";
        let end = "Connection: close\r\n\r\n";
        let cases = [
            (
                format!("GET /echo HTTP/1.1\r\nHost: {addr}\r\n{upgrade}Sec-WebSocket-Version: 13\r\n{end}"),
                400,
                "sec-websocket-key",
            ),
            (
                format!("GET /echo HTTP/1.1\r\nHost: {addr}\r\n{upgrade}{key}Sec-WebSocket-Version: 8\r\n{end}"),
                426,
                "\"8\"",
            ),
            (
                format!("POST /echo HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\n{upgrade}{key}Sec-WebSocket-Version: 13\r\n{end}"),
                405,
                "post",
            ),
            // Not an upgrade at all: the extractor's rejection.
            (format!("GET /echo HTTP/1.1\r\nHost: {addr}\r\n{end}"), 426, "upgrade: websocket"),
        ];
        for (head, status, says) in cases {
            let response = exchange(addr, &head).await;
            assert!(
                response.starts_with(&format!("HTTP/1.1 {status} ")),
                "{head}: {response}"
            );
            assert!(
                response.to_ascii_lowercase().contains(says),
                "{head}: {response}"
            );
            let names_version = head_of(&response).contains("sec-websocket-version: 13");
            assert_eq!(names_version, status == 426, "{response}");
        }
    })
    .await;
}

#[tokio::test]
async fn one_path_serves_a_page_and_a_socket() {
    within(async {
        let (addr, _server) = server().await;
        let page = exchange(
            addr,
            &format!("GET /both HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
        )
        .await;
        assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
        assert!(page.ends_with("\r\n\r\npage"), "{page}");
        let (mut ws, _) = connect(&format!("ws://{addr}/both")).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("socket"));
        while ws.recv().await.is_some() {}
    })
    .await;
}

#[tokio::test]
async fn a_request_hyper_cannot_upgrade_is_rejected() {
    // A valid upgrade request that did not come through hyper's server
    // carries no upgrade handle.
    let request = http::Request::get("/ws")
        .header("host", "h")
        .header("upgrade", "websocket")
        .header("connection", "Upgrade")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("sec-websocket-version", "13")
        .body(())
        .unwrap();
    let (mut parts, ()) = request.into_parts();
    let rejection = WebSocketUpgrade::from_request_parts(&mut parts, &())
        .await
        .unwrap_err();
    assert_eq!(
        rejection,
        WebSocketUpgradeRejection::ConnectionNotUpgradable
    );
    assert_eq!(rejection.into_response().status(), 426);
}
