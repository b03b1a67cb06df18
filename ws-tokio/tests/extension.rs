//! A custom extension that is not permessage-deflate, negotiated between
//! the two adapters over loopback TCP: a ws-tokio server with a ws-blocking
//! client, and a ws-blocking server with a ws-tokio client. `x-xor` XORs
//! every byte of a message with a key the client offers and marks such
//! messages with RSV2; it runs alone and chained after permessage-deflate
//! (RSV1 and RSV2 on one message).

use std::net::{TcpListener as StdListener, TcpStream as StdTcp};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::net::TcpListener;
use ws_tokio::ws_proto::{Extension, MessageKind, NegotiateExtension, ProtocolError, RSV2};
use ws_tokio::{ClientRequest, CloseCode, Config, Message, Request, Response};

const LIMIT: Duration = Duration::from_secs(10);

/// Messages decoded by any `x-xor` codec in this test binary.
static DECODED: AtomicUsize = AtomicUsize::new(0);

#[derive(Debug, Clone)]
struct Xor(u8);

impl Extension for Xor {
    fn name(&self) -> &str {
        "x-xor"
    }
    fn rsv_bits(&self) -> u8 {
        RSV2
    }
    fn encode(&mut self, _kind: MessageKind, payload: Bytes) -> (Bytes, u8) {
        let out: Vec<u8> = payload.iter().map(|b| b ^ self.0).collect();
        (out.into(), RSV2)
    }
    fn decode(
        &mut self,
        _rsv: u8,
        input: &[u8],
        last: bool,
        max: usize,
        out: &mut BytesMut,
    ) -> Result<(), ProtocolError> {
        let len = out.len() + input.len();
        if len > max {
            return Err(ProtocolError::MessageTooLarge {
                len: len as u64,
                max,
            });
        }
        out.extend(input.iter().map(|b| b ^ self.0));
        if last {
            DECODED.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }
    fn clone_box(&self) -> Box<dyn Extension> {
        Box::new(self.clone())
    }
}

/// The handshake half: the client offers `x-xor; key=N`; the server
/// accepts any key from 1 to 255.
#[derive(Debug)]
struct XorOffer(u8);

impl NegotiateExtension for XorOffer {
    fn name(&self) -> &str {
        "x-xor"
    }
    fn offer(&self) -> String {
        format!("x-xor; key={}", self.0)
    }
    fn accept(&self, params: &[(String, Option<String>)]) -> Option<(String, Box<dyn Extension>)> {
        let [(name, Some(key))] = params else {
            return None;
        };
        let key: u8 = key.parse().ok().filter(|k| *k != 0 && name == "key")?;
        Some((format!("x-xor; key={key}"), Box::new(Xor(key))))
    }
    fn check(&self, params: &[(String, Option<String>)]) -> Result<Box<dyn Extension>, String> {
        match self.accept(params) {
            Some((_, codec)) if matches!(params, [(_, Some(k))] if k == &self.0.to_string()) => {
                Ok(codec)
            }
            _ => Err(format!(
                "x-xor answer {params:?} does not echo key {}",
                self.0
            )),
        }
    }
}

fn config(deflate: bool) -> Config {
    let base = if deflate {
        Config::default()
    } else {
        Config::default().deflate(None)
    };
    base.extension(XorOffer(0x5a))
}

fn messages() -> Vec<Message> {
    vec![
        Message::text("hello through x-xor"),
        Message::binary(vec![0u8, 1, 2, 0x5a, 255]),
        Message::text("é€😀 ".repeat(2000)),
        Message::binary(Bytes::new()),
    ]
}

fn check_negotiated(response: &Response, deflate: bool) {
    let names: Vec<&str> = response.negotiated().names().collect();
    let want: &[&str] = if deflate {
        &["permessage-deflate", "x-xor"]
    } else {
        &["x-xor"]
    };
    assert_eq!(names, want);
}

#[tokio::test]
async fn tokio_server_and_blocking_client_agree_on_x_xor() {
    for deflate in [false, true] {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut ws = ws_tokio::accept_with(tcp, config(deflate), Request::accept)
                .await
                .unwrap();
            while let Some(message) = ws.recv().await {
                if let m @ (Message::Text(_) | Message::Binary(_)) = message.unwrap() {
                    ws.send(m).await.unwrap();
                }
            }
        });
        let before = DECODED.load(Ordering::Relaxed);
        let client = thread::spawn(move || {
            let request = ClientRequest::from_url(&format!("ws://{addr}/")).unwrap();
            let (mut ws, response) =
                ws_blocking::connect_with(request, config(deflate), None).unwrap();
            ws.get_ref().tcp().set_read_timeout(Some(LIMIT)).unwrap();
            check_negotiated(&response, deflate);
            for sent in messages() {
                ws.send(sent.clone()).unwrap();
                assert_eq!(ws.read().unwrap(), sent);
            }
            ws.close(CloseCode::NORMAL, "").unwrap();
            while !matches!(ws.read(), Ok(Message::Close(_)) | Err(_)) {}
        });
        tokio::task::spawn_blocking(move || client.join().unwrap())
            .await
            .unwrap();
        tokio::time::timeout(LIMIT, server).await.unwrap().unwrap();
        // Every message but the empty binary one is decoded on each side
        // (an empty payload XORs to itself, still marked and decoded).
        assert!(DECODED.load(Ordering::Relaxed) - before >= 2 * messages().len());
    }
}

#[tokio::test]
async fn blocking_server_and_tokio_client_agree_on_x_xor() {
    for deflate in [false, true] {
        let listener = StdListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = thread::spawn(move || {
            let (tcp, _): (StdTcp, _) = listener.accept().unwrap();
            tcp.set_read_timeout(Some(LIMIT)).unwrap();
            let mut ws = ws_blocking::accept_with(tcp, config(deflate), Request::accept).unwrap();
            loop {
                match ws.read() {
                    Ok(m @ (Message::Text(_) | Message::Binary(_))) => ws.send(m).unwrap(),
                    Ok(Message::Close(_)) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        });
        let request = ClientRequest::from_url(&format!("ws://{addr}/")).unwrap();
        let (mut ws, response) = ws_tokio::connect_with(request, config(deflate), None)
            .await
            .unwrap();
        check_negotiated(&response, deflate);
        for sent in messages() {
            ws.send(sent.clone()).await.unwrap();
            let got = tokio::time::timeout(LIMIT, ws.recv()).await.unwrap();
            assert_eq!(got.unwrap().unwrap(), sent);
        }
        ws.send(Message::Close(ws_tokio::CloseFrame::new(
            CloseCode::NORMAL,
            "",
        )))
        .await
        .unwrap();
        while let Ok(Some(Ok(_))) = tokio::time::timeout(LIMIT, ws.recv()).await {}
        tokio::task::spawn_blocking(move || server.join().unwrap())
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_server_without_the_extension_answers_without_it() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = ws_tokio::accept_with(tcp, Config::default().deflate(None), Request::accept)
            .await
            .unwrap();
        while let Some(Ok(m)) = ws.recv().await {
            if let m @ (Message::Text(_) | Message::Binary(_)) = m {
                ws.send(m).await.unwrap();
            }
        }
    });
    let request = ClientRequest::from_url(&format!("ws://{addr}/")).unwrap();
    let (mut ws, response) = ws_tokio::connect_with(request, config(false), None)
        .await
        .unwrap();
    assert!(response.negotiated().is_empty());
    ws.send(Message::text("plain")).await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("plain"));
    drop(ws);
    tokio::time::timeout(LIMIT, server).await.unwrap().unwrap();
}
