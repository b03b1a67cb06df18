//! The reverse proxy (`ws_tokio::proxy`, what `examples/proxy.rs` runs per
//! client) over loopback TCP: what passes through the handshake, refusals,
//! and a 100 MiB message relayed in bounded memory.

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use ws_tokio::ws_proto::frame::OpCode;
use ws_tokio::ws_proto::handshake::Relay;
use ws_tokio::ws_proto::Frame;
use ws_tokio::{
    accept_with, connect_with, proxy, ClientRequest, CloseCode, Config, Error, Message, Request,
    ServerResponse, WebSocketStream,
};

/// Counts the bytes allocated and not yet freed, and the peak since reset.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        // SAFETY: the caller's layout, passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Every test ends within 60 s, passing or not.
async fn bounded<T>(test: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), test)
        .await
        .expect("the test did not finish within 60 s")
}

/// A proxy in front of `backend_url` on an ephemeral port; its address.
async fn start_proxy(backend_url: String) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let rules = Arc::new(Relay::new());
        loop {
            let Ok((tcp, peer)) = listener.accept().await else {
                return;
            };
            let (rules, backend_url) = (Arc::clone(&rules), backend_url.clone());
            tokio::spawn(async move {
                let _ = proxy(
                    tcp,
                    Some(peer.ip()),
                    &backend_url,
                    &rules,
                    Config::default(),
                    16 * 1024,
                )
                .await;
            });
        }
    });
    addr
}

/// A backend that accepts one connection with `answer` and keeps the
/// request it saw; the stream goes to `serve`.
async fn start_backend<F, Fut>(
    answer: fn(&Request) -> ServerResponse,
    config: Config,
    serve: F,
) -> (String, Arc<Mutex<Option<Request>>>)
where
    F: FnOnce(WebSocketStream<TcpStream>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/base/", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(None));
    let keep = Arc::clone(&seen);
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let opened = accept_with(tcp, config, |request: &Request| {
            *keep.lock().unwrap() = Some(request.clone());
            answer(request)
        })
        .await;
        if let Ok(ws) = opened {
            serve(ws).await;
        }
    });
    (url, seen)
}

async fn echo(mut ws: WebSocketStream<TcpStream>) {
    while let Some(Ok(message)) = ws.recv().await {
        if message.is_data() && ws.send(message).await.is_err() {
            return;
        }
    }
}

#[tokio::test]
async fn path_query_subprotocol_deflate_and_headers_pass_through() {
    bounded(async {
        let (backend, seen) = start_backend(
            |r| {
                r.accept_with_protocol("chat.v2")
                    .unwrap()
                    .header("Set-Cookie", "s=1")
            },
            Config::default(),
            echo,
        )
        .await;
        let proxy = start_proxy(backend).await;
        let request = ClientRequest::from_url(&format!("ws://{proxy}/room?id=7"))
            .unwrap()
            .protocol("chat.v1")
            .protocol("chat.v2")
            .header("Origin", "https://app.example")
            .header("Cookie", "id=42");
        let (mut client, response) = connect_with(request, Config::default(), None)
            .await
            .unwrap();
        assert_eq!(response.protocol(), Some("chat.v2"));
        assert_eq!(response.header("set-cookie"), Some("s=1"));
        assert!(
            response.negotiated().contains("permessage-deflate"),
            "deflate agreed end to end"
        );

        let request = seen
            .lock()
            .unwrap()
            .clone()
            .expect("the backend saw a request");
        assert_eq!(request.target(), "/base/room?id=7");
        assert_eq!(request.protocols(), ["chat.v1", "chat.v2"]);
        assert_eq!(request.origin(), Some("https://app.example"));
        assert_eq!(request.header("cookie"), Some("id=42"));
        assert_eq!(request.header("x-forwarded-for"), Some("127.0.0.1"));
        assert!(request
            .extension_offers()
            .any(|o| o.starts_with("permessage-deflate")));

        let text = "compressible ".repeat(1000);
        client.send(Message::text(text.as_str())).await.unwrap();
        assert_eq!(
            client.recv().await.unwrap().unwrap(),
            Message::text(text.as_str())
        );
        client.close(CloseCode::NORMAL, "bye").await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_client_without_deflate_gets_none_through_a_backend_that_has_it() {
    bounded(async {
        let (backend, seen) = start_backend(Request::accept, Config::default(), echo).await;
        let proxy = start_proxy(backend).await;
        let request = ClientRequest::from_url(&format!("ws://{proxy}/")).unwrap();
        let (mut client, response) = connect_with(request, Config::default().deflate(None), None)
            .await
            .unwrap();
        assert!(response.negotiated().is_empty());
        let request = seen
            .lock()
            .unwrap()
            .clone()
            .expect("the backend saw a request");
        assert_eq!(
            request.extension_offers().count(),
            0,
            "the proxy offered nothing of its own"
        );
        client.send(Message::text("plain")).await.unwrap();
        assert_eq!(
            client.recv().await.unwrap().unwrap(),
            Message::text("plain")
        );
    })
    .await;
}

#[tokio::test]
async fn a_backend_refusal_reaches_the_client_with_its_status() {
    bounded(async {
        let (backend, _) = start_backend(
            |_| ServerResponse::reject(403, "no"),
            Config::default(),
            echo,
        )
        .await;
        let proxy = start_proxy(backend).await;
        let err = connect_with(
            ClientRequest::from_url(&format!("ws://{proxy}/")).unwrap(),
            Config::default(),
            None,
        )
        .await
        .unwrap_err();
        assert_eq!(err.status(), Some(403), "{err}");
    })
    .await;
}

#[tokio::test]
async fn an_unreachable_backend_gets_the_client_a_502() {
    bounded(async {
        // A port nobody listens on: bound, then closed.
        let closed = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap();
        let proxy = start_proxy(format!("ws://{closed}/")).await;
        let err = connect_with(
            ClientRequest::from_url(&format!("ws://{proxy}/")).unwrap(),
            Config::default(),
            None,
        )
        .await
        .unwrap_err();
        assert_eq!(err.status(), Some(502), "{err}");
    })
    .await;
}

/// 100 MiB as one message of one frame, sent in 64 KiB pieces and read as
/// pieces at the backend, so that neither end holds it: what the process
/// allocates at its peak is the proxy's working set plus both ends' pieces.
#[tokio::test]
async fn a_100_mib_message_passes_in_bounded_memory() {
    const TOTAL: u64 = 100 << 20;
    const PIECE: usize = 64 * 1024;
    bounded(async {
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        let (backend, _) = start_backend(
            Request::accept,
            Config::default()
                .deliver_frames(PIECE)
                .max_frame_size(usize::MAX)
                .max_message_size(usize::MAX),
            |mut ws| async move {
                let (mut bytes, mut sum) = (0u64, 0u64);
                while let Some(Ok(frame)) = ws.recv_frame().await {
                    if frame.opcode == OpCode::Close {
                        break;
                    }
                    bytes += frame.data.len() as u64;
                    sum = frame
                        .data
                        .iter()
                        .fold(sum, |s, b| s.wrapping_mul(31).wrapping_add(u64::from(*b)));
                    if frame.fin && frame.remaining == 0 {
                        let _ = done_tx.send((bytes, sum));
                        break;
                    }
                }
                let _ = ws.close(CloseCode::NORMAL, "").await;
            },
        )
        .await;
        let proxy = start_proxy(backend).await;
        let (mut client, _) = connect_with(
            ClientRequest::from_url(&format!("ws://{proxy}/")).unwrap(),
            Config::default(),
            None,
        )
        .await
        .unwrap();
        let piece: Vec<u8> = (0..PIECE).map(|i| (i % 253) as u8).collect();
        let expected = (0..TOTAL / PIECE as u64)
            .flat_map(|_| piece.iter())
            .fold(0u64, |s, b| s.wrapping_mul(31).wrapping_add(u64::from(*b)));
        let baseline = LIVE.load(Ordering::Relaxed);
        PEAK.store(baseline, Ordering::Relaxed);
        let mut frame = Frame::first_piece(true, OpCode::Binary, TOTAL, piece.clone());
        client.send_frame(frame.clone()).await.unwrap();
        for _ in 1..TOTAL / PIECE as u64 {
            frame = frame.next_piece(piece.clone());
            client.send_frame(frame.clone()).await.unwrap();
        }
        let (bytes, sum) = done_rx.await.expect("the backend got the whole message");
        let peak = PEAK.load(Ordering::Relaxed) - baseline;
        assert_eq!((bytes, sum), (TOTAL, expected), "every byte, in order");
        // Client, proxy (two legs) and backend together, for 100 MiB.
        assert!(
            peak < 8 << 20,
            "peak {peak} B over the baseline for a 100 MiB message"
        );
        eprintln!(
            "100 MiB relayed; peak allocation {} KiB over the baseline",
            peak >> 10
        );
        let _ = client.close(CloseCode::NORMAL, "").await;
    })
    .await;
}

/// What `proxy` returns when the client never finishes its request.
#[tokio::test]
async fn a_client_that_sends_garbage_is_refused_by_the_proxy() {
    bounded(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let served = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            proxy(
                tcp,
                None,
                "ws://127.0.0.1:9/",
                &Relay::new(),
                Config::default(),
                1024,
            )
            .await
        });
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tokio::io::AsyncWriteExt::write_all(&mut tcp, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let err = served.await.unwrap().unwrap_err();
        assert!(matches!(err, Error::Handshake(_)), "{err}");
    })
    .await;
}
