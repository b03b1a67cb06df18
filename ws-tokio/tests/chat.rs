//! The chat example's server: the page over plain HTTP and the broadcast
//! over WebSocket, on one port, through an axum router.

#[path = "../examples/chat/server.rs"]
mod server;

mod common;

use common::{listener, within, AbortOnDrop};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use ws_tokio::{connect, connect_with, ClientRequest, CloseCode, Config, Message};

async fn chat_server() -> (std::net::SocketAddr, AbortOnDrop) {
    let (listener, addr) = listener().await;
    (addr, AbortOnDrop(tokio::spawn(server::serve(listener))))
}

async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    send_head(
        addr,
        &format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/html\r\nConnection: close\r\n\r\n"
        ),
    )
    .await
}

/// Writes `head` and reads the answer until the server closes.
async fn send_head(addr: std::net::SocketAddr, head: &str) -> String {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tcp.read_to_end(&mut response).await.unwrap();
    String::from_utf8(response).unwrap()
}

/// The next message that is not a presence notice.
async fn next_chat_line<S>(ws: &mut ws_tokio::WebSocketStream<S>) -> Message
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        let message = ws.recv().await.unwrap().unwrap();
        match &message {
            Message::Text(text) if text.contains("\"system\"") => continue,
            _ => return message,
        }
    }
}

#[tokio::test]
async fn the_page_is_served_over_plain_http() {
    within(async {
        let (addr, _server) = chat_server().await;
        let response = http_get(addr, "/").await;
        assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
        assert!(response
            .to_ascii_lowercase()
            .contains("content-type: text/html"));
        let body = response.split_once("\r\n\r\n").unwrap().1;
        assert_eq!(body, server::PAGE);
        assert!(body.contains("new WebSocket("));
        assert!(http_get(addr, "/nothing-here")
            .await
            .starts_with("HTTP/1.1 404 "));
    })
    .await;
}

#[tokio::test]
async fn a_message_reaches_every_browser() {
    within(async {
        let (addr, _server) = chat_server().await;
        let (mut alice, _) = connect(&format!("ws://{addr}/ws")).await.unwrap();
        let (mut bob, _) = connect(&format!("ws://{addr}/ws")).await.unwrap();
        // Alice sees Bob join, so both are subscribed before anyone talks.
        let notice = alice.recv().await.unwrap().unwrap(); // her own join
        assert!(
            matches!(&notice, Message::Text(t) if t.contains("joined")),
            "{notice:?}"
        );
        let notice = alice.recv().await.unwrap().unwrap(); // Bob's
        assert!(
            matches!(&notice, Message::Text(t) if t.contains("\"online\":2")),
            "{notice:?}"
        );

        let line = Message::text(r#"{"name":"alice","text":"hello"}"#);
        alice.send(line.clone()).await.unwrap();
        assert_eq!(next_chat_line(&mut alice).await, line);
        assert_eq!(next_chat_line(&mut bob).await, line);
        alice.close(CloseCode::NORMAL, "").await.unwrap();
        bob.close(CloseCode::NORMAL, "").await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn pages_from_other_sites_are_refused() {
    within(async {
        let (addr, _server) = chat_server().await;
        let request = ClientRequest::from_url(&format!("ws://{addr}/ws"))
            .unwrap()
            .header("Origin", "https://evil.example");
        let err = connect_with(request, Config::default(), None)
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(403), "{err}");
        let request = ClientRequest::from_url(&format!("ws://{addr}/ws"))
            .unwrap()
            .header("Origin", format!("http://{addr}"));
        let (mut ws, _) = connect_with(request, Config::default(), None)
            .await
            .unwrap();
        ws.close(CloseCode::NORMAL, "").await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn bad_requests_get_the_core_status() {
    within(async {
        let (addr, _server) = chat_server().await;
        let upgrade = "Upgrade: websocket\r\nConnection: Upgrade\r\n\
            Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
        let cases = [
            // Not an upgrade: the extractor's rejection.
            (format!("GET /ws HTTP/1.1\r\nHost: {addr}\r\n"), "426 "),
            (format!("POST /ws HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\n{upgrade}Sec-WebSocket-Version: 13\r\n"), "405 "),
            (format!("GET /ws HTTP/1.1\r\nHost: {addr}\r\n{upgrade}Sec-WebSocket-Version: 8\r\n"), "426 "),
            (format!("GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"), "400 "),
            // A head over 16 KiB.
            (format!("GET / HTTP/1.1\r\nHost: {addr}\r\nX-Big: {}\r\n", "a".repeat(20_000)), "431 "),
        ];
        for (head, status) in cases {
            let response = send_head(addr, &format!("{head}Connection: close\r\n\r\n")).await;
            assert!(
                response.starts_with(&format!("HTTP/1.1 {status}")),
                "{head:.60}: {response}"
            );
        }
    })
    .await;
}
