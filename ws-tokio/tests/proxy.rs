//! `connect_with_proxy` over loopback with in-test proxies: an HTTP CONNECT
//! proxy that checks Basic credentials and tunnels, and a proxy that never
//! answers (the handshake timeout covers the tunnel). The real proxies
//! (tinyproxy, microsocks) are in tests/proxy/run.sh.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use ws_tokio::ws_proto::handshake::proxy::{Proxy, ProxyError, ProxySetting};
use ws_tokio::{accept, connect_with_proxy, ClientRequest, Config, Error, Message};

mod common;
use common::{listener, within};

/// A WebSocket echo server; returns its port.
async fn echo_server() -> u16 {
    let (listener, addr) = listener().await;
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                if let Ok(ws) = accept(tcp).await {
                    common::echo(ws).await;
                }
            });
        }
    });
    addr.port()
}

/// An HTTP CONNECT proxy wanting `Proxy-Authorization: Basic dTpw` (u:p);
/// returns its port.
async fn connect_proxy() -> u16 {
    let (listener, addr) = listener().await;
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 4096 {
                    if client.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                if !head.contains("Proxy-Authorization: Basic dTpw\r\n") {
                    let _ = client
                        .write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n")
                        .await;
                    return;
                }
                let target = head.split(' ').nth(1).unwrap_or_default().to_string();
                let Ok(mut upstream) = TcpStream::connect(target).await else {
                    let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
                    return;
                };
                let _ = client
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await;
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            });
        }
    });
    addr.port()
}

fn request(port: u16) -> ClientRequest {
    ClientRequest::from_url(&format!("ws://127.0.0.1:{port}/")).unwrap()
}

#[tokio::test]
async fn echo_through_an_http_proxy_with_credentials() {
    let (server, proxy) = (echo_server().await, connect_proxy().await);
    let proxy = Proxy::parse(&format!("http://u:p@127.0.0.1:{proxy}")).unwrap();
    let (mut ws, _) = within(connect_with_proxy(
        request(server),
        Config::default(),
        None,
        ProxySetting::Use(proxy),
    ))
    .await
    .unwrap();
    ws.send(Message::text("through")).await.unwrap();
    assert_eq!(
        within(ws.recv()).await.unwrap().unwrap(),
        Message::text("through")
    );
}

#[tokio::test]
async fn missing_credentials_are_a_proxy_error_in_words() {
    let (server, proxy) = (echo_server().await, connect_proxy().await);
    let proxy = Proxy::parse(&format!("127.0.0.1:{proxy}")).unwrap();
    let err = within(connect_with_proxy(
        request(server),
        Config::default(),
        None,
        ProxySetting::Use(proxy),
    ))
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Proxy(ProxyError::AuthRequired {
                status: 407,
                sent_credentials: false
            })
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("needs credentials"), "{err}");
}

#[tokio::test]
async fn direct_ignores_the_environment() {
    let server = echo_server().await;
    let (mut ws, _) = within(connect_with_proxy(
        request(server),
        Config::default(),
        None,
        ProxySetting::Direct,
    ))
    .await
    .unwrap();
    ws.send(Message::text("direct")).await.unwrap();
    assert!(within(ws.recv()).await.unwrap().is_ok());
}

#[tokio::test]
async fn the_handshake_timeout_covers_a_silent_proxy() {
    let (listener, addr) = listener().await;
    let silent = tokio::spawn(async move {
        let held = listener.accept().await;
        tokio::time::sleep(Duration::from_secs(10)).await;
        drop(held);
    });
    let proxy = Proxy::parse(&format!("socks5h://127.0.0.1:{}", addr.port())).unwrap();
    let config = Config::default().handshake_timeout(Duration::from_millis(300));
    let started = std::time::Instant::now();
    let err = within(connect_with_proxy(
        request(1),
        config,
        None,
        ProxySetting::Use(proxy),
    ))
    .await
    .unwrap_err();
    assert!(err.is_handshake_timeout(), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    silent.abort();
}
