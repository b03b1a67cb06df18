//! The smol adapter against itself over loopback TCP: handshake, echo of
//! every length class up to 1 MiB, ping, and closes started by either side
//! with their code and reason seen at both ends.

use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use smol::channel::{unbounded, Sender};
use smol::future::FutureExt;
use smol::io::AsyncReadExt;
use smol::net::{TcpListener, TcpStream};
use smol::Timer;
use ws_smol_example::ws_proto::handshake::{HandshakeError, ResponseError};
use ws_smol_example::{
    accept_with, client, connect, ClientRequest, CloseCode, CloseFrame, Config, Error, Message,
    ServerResponse,
};

/// Every test is bounded by this.
const LIMIT: Duration = Duration::from_secs(30);

fn run<F: Future>(test: F) -> F::Output {
    smol::block_on(test.or(async {
        Timer::after(LIMIT).await;
        panic!("test timed out")
    }))
}

/// An echo server. WebSockets on `/` echo data; the text "close please"
/// makes the server close with 4001 "server done". Every ending the server
/// sees goes to `ends`: the peer's close frame, or the answer to its own.
async fn echo_server() -> (SocketAddr, smol::channel::Receiver<CloseFrame>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (ends, seen) = unbounded();
    smol::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            smol::spawn(serve(tcp, ends.clone())).detach();
        }
    })
    .detach();
    (addr, seen)
}

async fn serve(tcp: TcpStream, ends: Sender<CloseFrame>) {
    let refuse_others = |request: &ws_smol_example::Request| {
        if request.path() == "/" {
            request.accept()
        } else {
            ServerResponse::reject(404, "no such room")
        }
    };
    let Ok(mut ws) = accept_with(tcp, Config::default(), refuse_others).await else {
        return;
    };
    while let Some(message) = ws.recv().await {
        match message.unwrap() {
            Message::Text(text) if text.as_str() == "close please" => {
                let answer = ws.close(CloseCode(4001), "server done").await.unwrap();
                ends.send(answer).await.unwrap();
            }
            message @ (Message::Text(_) | Message::Binary(_)) => ws.send(message).await.unwrap(),
            Message::Close(frame) => ends.send(frame).await.unwrap(),
            _ => {}
        }
    }
}

#[test]
fn messages_of_every_size_echo_and_the_client_closes() {
    run(async {
        let (addr, ends) = echo_server().await;
        let (mut ws, response) = connect(&format!("ws://{addr}/")).await.unwrap();
        assert!(
            response.negotiated().contains("permessage-deflate"),
            "permessage-deflate is negotiated by default"
        );
        for len in [0, 1, 125, 126, 65_535, 65_536, 1 << 20] {
            let data = Bytes::from((0..len).map(|i| (i * 7 % 251) as u8).collect::<Vec<u8>>());
            ws.send(Message::Binary(data.clone())).await.unwrap();
            assert_eq!(
                ws.recv().await.unwrap().unwrap(),
                Message::Binary(data),
                "binary {len}"
            );
            let text = "ü".repeat(len / 2) + &"x".repeat(len % 2);
            ws.send(Message::text(text.clone())).await.unwrap();
            assert_eq!(
                ws.recv().await.unwrap().unwrap(),
                Message::text(text),
                "text {len}"
            );
        }

        ws.send(Message::Ping(Bytes::from_static(b"tick")))
            .await
            .unwrap();
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            Message::Pong(Bytes::from_static(b"tick"))
        );

        let answer = ws.close(CloseCode(4000), "client done").await.unwrap();
        assert_eq!(answer.code, CloseCode(4000), "the server echoes the code");
        assert!(ws.recv().await.is_none());
        let seen = ends.recv().await.unwrap();
        assert_eq!(
            (seen.code, seen.reason.as_str()),
            (CloseCode(4000), "client done")
        );
    });
}

#[test]
fn the_server_closes_with_its_code_and_reason() {
    run(async {
        let (addr, ends) = echo_server().await;
        let (mut ws, _) = connect(&format!("ws://{addr}/")).await.unwrap();
        ws.send(Message::text("close please")).await.unwrap();
        match ws.recv().await.unwrap().unwrap() {
            Message::Close(frame) => assert_eq!(
                (frame.code, frame.reason.as_str()),
                (CloseCode(4001), "server done")
            ),
            other => panic!("expected the server's close, got {other:?}"),
        }
        assert!(ws.recv().await.is_none(), "the server closed TCP");
        let answer = ends.recv().await.unwrap();
        assert_eq!(answer.code, CloseCode(4001), "the client echoed the code");
    });
}

#[test]
fn many_small_messages_fed_then_flushed() {
    run(async {
        let (addr, _ends) = echo_server().await;
        let (mut ws, _) = connect(&format!("ws://{addr}/")).await.unwrap();
        for i in 0..2000 {
            ws.feed(Message::text(format!("message {i}")))
                .await
                .unwrap();
        }
        ws.flush().await.unwrap();
        for i in 0..2000 {
            assert_eq!(
                ws.recv().await.unwrap().unwrap(),
                Message::text(format!("message {i}"))
            );
        }
        ws.close(CloseCode::NORMAL, "").await.unwrap();
    });
}

#[test]
fn a_refusal_is_a_clear_error() {
    run(async {
        let (addr, _ends) = echo_server().await;
        let err = connect(&format!("ws://{addr}/elsewhere"))
            .await
            .expect_err("refused");
        match &err {
            Error::Handshake(HandshakeError::Response(ResponseError::Rejected(rejection))) => {
                assert_eq!(rejection.status, 404);
                assert_eq!(rejection.body, b"no such room");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(err.status(), Some(404));
        assert!(err.to_string().contains("404"), "{err}");
    });
}

#[test]
fn without_deflate_nothing_is_negotiated() {
    run(async {
        let (addr, _ends) = echo_server().await;
        let tcp = TcpStream::connect(addr).await.unwrap();
        let request = ClientRequest::from_url(&format!("ws://{addr}/")).unwrap();
        let config = Config::default().deflate(None);
        let (mut ws, response) = client(request, tcp, config).await.unwrap();
        assert!(response.negotiated().is_empty());
        ws.send(Message::text("plain")).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("plain"));
        ws.close(CloseCode::NORMAL, "").await.unwrap();
    });
}

#[test]
fn close_is_bounded_when_the_peer_never_answers() {
    run(async {
        // A server that completes the handshake, then reads and ignores everything.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        smol::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let ws = accept_with(tcp.clone(), Config::default(), |r| r.accept())
                .await
                .unwrap();
            let mut tcp = tcp;
            let mut sink = [0u8; 1024];
            while tcp.read(&mut sink).await.unwrap_or(0) > 0 {}
            drop(ws);
        })
        .detach();

        let tcp = TcpStream::connect(addr).await.unwrap();
        let request = ClientRequest::from_url(&format!("ws://{addr}/")).unwrap();
        let config = Config::default().close_timeout(Duration::from_millis(300));
        let (mut ws, _) = client(request, tcp, config).await.unwrap();
        let start = Instant::now();
        let answer = ws.close(CloseCode::NORMAL, "bye").await.unwrap();
        assert_eq!(answer.code, CloseCode::ABNORMAL, "no answer: 1006");
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(250) && took < Duration::from_secs(5),
            "{took:?}"
        );
    });
}

#[test]
fn a_recv_given_up_loses_nothing() {
    run(async {
        let (addr, _ends) = echo_server().await;
        let (mut ws, _) = connect(&format!("ws://{addr}/")).await.unwrap();
        // A recv dropped while it waits (here by a timer, as with a timeout
        // or a select) leaves nothing behind in the read buffer.
        let gave_up = async { ws.recv().await.map(|_| ()) }
            .or(async {
                Timer::after(Duration::from_millis(100)).await;
                None
            })
            .await;
        assert!(gave_up.is_none(), "nothing to read yet");
        ws.send(Message::text("after")).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("after"));
        ws.close(CloseCode::NORMAL, "").await.unwrap();
    });
}

#[test]
fn fragments_come_out_as_fragments_when_asked_for() {
    run(async {
        let (addr, _ends) = echo_server().await;
        let tcp = TcpStream::connect(addr).await.unwrap();
        let request = ClientRequest::from_url(&format!("ws://{addr}/")).unwrap();
        let config = Config::default().deliver_fragments(true);
        let (mut ws, _) = client(request, tcp, config).await.unwrap();
        assert_eq!(ws.buffered_amount(), 0);
        ws.send(Message::text("whole")).await.unwrap();
        // The echo is one frame: a single fragment, first and last.
        match ws.recv().await.unwrap().unwrap() {
            Message::Fragment(piece) => {
                assert!(piece.is_first && piece.is_last, "{piece:?}");
                assert_eq!(&piece.data[..], b"whole");
            }
            other => panic!("expected a fragment, got {other:?}"),
        }
        ws.close(CloseCode::NORMAL, "").await.unwrap();
    });
}
