//! Relaying two WebSocket connections frame by frame: the data path of a
//! reverse proxy or gateway. The handshake decisions (what to ask the
//! backend, what to answer the client) are the core's
//! ([`Relay`](ws_proto::handshake::Relay)); this module moves the frames.

use std::fmt;
use std::net::IpAddr;

use ws_proto::handshake::proxy::ProxySetting;
use ws_proto::handshake::{HandshakeError, Leg, Relay};
use ws_proto::{Config, ReadyState};

use crate::{
    connect_with_proxy, read_request, Error, ReadHalf, Transport, WebSocketStream, WriteHalf,
};

/// Serves one client of a reverse proxy: reads its opening request from
/// `stream`, opens the backend's connection at `backend_url` as `rules`
/// decide ([`Relay::backend_request`]: path, query, subprotocols,
/// extension offers, headers, `X-Forwarded-For` with `client_addr`),
/// answers the client with the backend's answer
/// ([`Relay::client_answer`]), then [`relay`]s frames until both sides
/// have ended.
///
/// Both legs take `config` made fit by [`Relay::leg_config`] (frames in
/// pieces of at most `max_chunk` bytes). The backend is reached directly,
/// not through an HTTP proxy, within the handshake timeout; a backend that
/// refuses or cannot be reached gets the client [`Relay::refusal`]'s
/// answer and this returns the backend's error.
///
/// ```
/// use ws_tokio::ws_proto::handshake::Relay;
/// use ws_tokio::{proxy, Config};
///
/// # async fn demo() -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:9003").await?;
/// loop {
///     let (tcp, peer) = listener.accept().await?;
///     tokio::spawn(async move {
///         let rules = Relay::new();
///         match proxy(tcp, Some(peer.ip()), "ws://127.0.0.1:9001/", &rules, Config::default(), 64 * 1024).await {
///             Ok(report) => println!("{peer}: {report}"),
///             Err(err) => eprintln!("{peer}: {err}"),
///         }
///     });
/// }
/// # }
/// ```
pub async fn proxy<S: Transport>(
    stream: S,
    client_addr: Option<IpAddr>,
    backend_url: &str,
    rules: &Relay,
    config: Config,
    max_chunk: usize,
) -> Result<RelayReport, Error> {
    let leg = Relay::leg_config(config, max_chunk);
    let incoming = read_request(stream, leg.clone()).await?;
    let request = rules.backend_request(incoming.request(), backend_url, client_addr)?;
    let opened = connect_with_proxy(request, leg, None, ProxySetting::Direct).await;
    let (to_backend, response) = match opened {
        Ok(opened) => opened,
        Err(err) => {
            let timed_out = matches!(err, Error::Handshake(HandshakeError::TimedOut { .. }));
            let answer = Relay::refusal(err.status(), timed_out, &err.to_string());
            // The client learns of it; the backend's error is returned.
            let _ = incoming.respond(answer).await;
            return Err(err);
        }
    };
    let answer = rules.client_answer(incoming.request(), &response);
    let to_client = incoming.respond(answer).await?;
    Ok(relay(to_client, to_backend).await)
}

/// How one direction of a relay went: frames (or pieces of frames) and
/// payload bytes passed, and how it ended.
#[derive(Debug)]
pub struct Direction {
    /// Frames and pieces of frames passed on.
    pub frames: u64,
    /// Payload bytes passed on.
    pub bytes: u64,
    /// `Ok` when the sending side ended with a close frame (passed on) or
    /// its transport closed; the error when reading from it or writing to
    /// the other side failed.
    pub ended: Result<(), Error>,
}

/// What [`relay`] did, per direction.
#[derive(Debug)]
pub struct RelayReport {
    /// From the client to the backend.
    pub to_backend: Direction,
    /// From the backend to the client.
    pub to_client: Direction,
}

impl fmt::Display for RelayReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let side = |d: &Direction| match &d.ended {
            Ok(()) => format!("{} frames, {} B", d.frames, d.bytes),
            Err(err) => format!("{} frames, {} B, ended by: {err}", d.frames, d.bytes),
        };
        write!(
            f,
            "to backend {}; to client {}",
            side(&self.to_backend),
            side(&self.to_client)
        )
    }
}

/// Passes frames between `client` and `backend` as they arrive, in both
/// directions, until both have ended: data frames and pieces of frames
/// without reassembling messages, pings, pongs and close frames included,
/// so the close handshake runs end to end. Both connections must deliver
/// frames ([`Config::deliver_frames`](crate::Config::deliver_frames)), and
/// should neither answer pings nor close frames themselves
/// ([`auto_pong(false)`](crate::Config::auto_pong),
/// [`auto_close_reply(false)`](crate::Config::auto_close_reply)) so that
/// the peers do.
///
/// Memory stays bounded whatever the message size: one piece per
/// direction (at most the connection's frame chunk) is in flight, and a
/// piece is passed on only when the other side's write queue is below its
/// high-water mark.
///
/// When one side ends without a close frame to pass on (its transport
/// closed, or it broke the protocol and its connection failed), the other
/// gets the close [`Relay::close_for`] chooses (1001, or 1014 toward the
/// client when the backend failed). Runs on the calling task: one task per
/// relayed pair.
///
/// ```
/// use ws_tokio::{relay, Config, Message, Role, WebSocketStream};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), ws_tokio::Error> {
/// let leg = || Config::default().deliver_frames(16 * 1024).auto_pong(false).auto_close_reply(false);
/// let (c, a) = tokio::io::duplex(4096);
/// let (b, u) = tokio::io::duplex(4096);
/// let mut client = WebSocketStream::from_raw(c, Role::Client, Config::default());
/// let client_leg = WebSocketStream::from_raw(a, Role::Server, leg());
/// let backend_leg = WebSocketStream::from_raw(b, Role::Client, leg());
/// let mut backend = WebSocketStream::from_raw(u, Role::Server, Config::default());
/// let relayed = tokio::spawn(relay(client_leg, backend_leg));
///
/// client.send(Message::text("through")).await?;
/// assert_eq!(backend.recv().await.transpose()?, Some(Message::text("through")));
/// client.close(ws_tokio::CloseCode::NORMAL, "bye").await?; // the backend answers
/// let report = relayed.await.unwrap();
/// assert!(report.to_backend.ended.is_ok() && report.to_client.ended.is_ok());
/// # Ok(())
/// # }
/// ```
pub async fn relay<C: Transport, B: Transport>(
    client: WebSocketStream<C>,
    backend: WebSocketStream<B>,
) -> RelayReport {
    let (mut from_client, mut to_client) = client.split();
    let (mut from_backend, mut to_backend) = backend.split();
    let (to_backend, to_client) = tokio::join!(
        pass(&mut from_client, &mut to_backend, Leg::Backend),
        pass(&mut from_backend, &mut to_client, Leg::Client),
    );
    RelayReport {
        to_backend,
        to_client,
    }
}

/// One direction: frames from `from` to `to` (the leg `toward`) until
/// `from` ends.
async fn pass<R: Transport, W: Transport>(
    from: &mut ReadHalf<R>,
    to: &mut WriteHalf<W>,
    toward: Leg,
) -> Direction {
    let mut frames = 0;
    let mut bytes = 0;
    let ended = loop {
        match from.recv_frame().await {
            Some(Ok(frame)) => {
                let len = frame.data.len() as u64;
                if let Err(err) = to.send_frame(frame).await {
                    // The other side is gone; `from` learns of it when the
                    // other direction passes that side's ending on.
                    break Err(err);
                }
                frames += 1;
                bytes += len;
            }
            Some(Err(err)) => {
                // `from`'s connection failed and told its peer why.
                end(to, toward, true).await;
                break Err(err);
            }
            None => {
                // After `from`'s close frame (passed on already), or its
                // transport closed without one.
                end(to, toward, false).await;
                break Ok(());
            }
        }
    };
    Direction {
        frames,
        bytes,
        ended,
    }
}

/// Closes `to` when no close frame was passed on to it.
async fn end<W: Transport>(to: &mut WriteHalf<W>, toward: Leg, other_failed: bool) {
    if to.ready_state() == ReadyState::Open {
        let (code, reason) = Relay::close_for(toward, other_failed);
        // A side already gone, or a frame of ours half sent (a close cannot
        // go inside it): the transport closing is the ending then.
        let _ = to.close(code, reason).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CloseCode, Config, Message, Role};
    use bytes::Bytes;
    use std::time::Duration;
    use tokio::io::{AsyncWriteExt, DuplexStream};

    fn leg() -> Config {
        Config::default()
            .deliver_frames(16 * 1024)
            .auto_pong(false)
            .auto_close_reply(false)
    }

    type Ws = WebSocketStream<DuplexStream>;

    /// Every test ends within 20 s, passing or not.
    async fn bounded(test: impl std::future::Future<Output = ()>) {
        tokio::time::timeout(Duration::from_secs(20), test)
            .await
            .expect("the test did not finish within 20 s");
    }

    /// client <-> relay <-> backend, with both peers' raw transports kept
    /// for the tests that break them.
    fn pair() -> (Ws, tokio::task::JoinHandle<RelayReport>, Ws) {
        let (c, a) = tokio::io::duplex(64 * 1024);
        let (b, u) = tokio::io::duplex(64 * 1024);
        let client = WebSocketStream::from_raw(c, Role::Client, Config::default());
        let backend = WebSocketStream::from_raw(u, Role::Server, Config::default());
        let relayed = tokio::spawn(relay(
            WebSocketStream::from_raw(a, Role::Server, leg()),
            WebSocketStream::from_raw(b, Role::Client, leg()),
        ));
        (client, relayed, backend)
    }

    #[tokio::test]
    async fn messages_pings_and_the_close_handshake_pass_end_to_end() {
        bounded(async {
            let (mut client, relayed, mut backend) = pair();
            let big: Bytes = (0..300_000).map(|i| (i % 251) as u8).collect();
            // Backpressure holds the client's send until the backend reads:
            // both at once.
            let (sent, received) = tokio::join!(
                async {
                    client.send(Message::binary(big.clone())).await?;
                    client.send(Message::Ping("p".into())).await
                },
                backend.recv()
            );
            sent.unwrap();
            assert_eq!(received.unwrap().unwrap(), Message::binary(big));
            // The backend itself answers the ping (the relay does not).
            assert_eq!(
                backend.recv().await.unwrap().unwrap(),
                Message::Ping("p".into())
            );
            assert_eq!(
                client.recv().await.unwrap().unwrap(),
                Message::Pong("p".into())
            );
            // The backend's close needs the client's answer: both at once.
            let closing =
                tokio::spawn(async move { backend.close(CloseCode::from(4001), "done").await });
            let Some(Ok(Message::Close(frame))) = client.recv().await else {
                panic!("no close at the client")
            };
            assert_eq!(
                (frame.code, frame.reason.as_str()),
                (CloseCode::from(4001), "done")
            );
            assert!(client.recv().await.is_none());
            closing.await.unwrap().unwrap();
            let report = tokio::time::timeout(Duration::from_secs(5), relayed)
                .await
                .unwrap()
                .unwrap();
            assert!(report.to_backend.ended.is_ok(), "{report}");
            assert!(report.to_client.ended.is_ok(), "{report}");
            assert_eq!(
                report.to_backend.bytes,
                300_000 + 1 + 6,
                "binary, ping, close reply: {report}"
            );
        })
        .await;
    }

    #[tokio::test]
    async fn a_client_that_breaks_the_protocol_gets_1002_and_the_backend_1001() {
        bounded(async {
            let (c, a) = tokio::io::duplex(64 * 1024);
            let (b, u) = tokio::io::duplex(64 * 1024);
            let mut backend = WebSocketStream::from_raw(u, Role::Server, Config::default());
            let relayed = tokio::spawn(relay(
                WebSocketStream::from_raw(a, Role::Server, leg()),
                WebSocketStream::from_raw(b, Role::Client, leg()),
            ));
            let mut raw_client = c;
            // An unmasked frame from a client: a protocol error.
            raw_client.write_all(b"\x81\x02hi").await.unwrap();
            let Some(Ok(Message::Close(frame))) = backend.recv().await else {
                panic!("no close at the backend")
            };
            assert_eq!(frame.code, CloseCode::GOING_AWAY);
            assert!(backend.recv().await.is_none());
            let report = tokio::time::timeout(Duration::from_secs(5), relayed)
                .await
                .unwrap()
                .unwrap();
            assert!(report.to_backend.ended.is_err(), "{report}");
        })
        .await;
    }

    #[tokio::test]
    async fn a_backend_that_breaks_the_protocol_gets_the_client_1014() {
        bounded(async {
            let (c, a) = tokio::io::duplex(64 * 1024);
            let (b, u) = tokio::io::duplex(64 * 1024);
            let mut client = WebSocketStream::from_raw(c, Role::Client, Config::default());
            let relayed = tokio::spawn(relay(
                WebSocketStream::from_raw(a, Role::Server, leg()),
                WebSocketStream::from_raw(b, Role::Client, leg()),
            ));
            let mut raw_backend = u;
            // Invalid UTF-8 in a text frame.
            raw_backend.write_all(b"\x81\x02\xff\xfe").await.unwrap();
            let Some(Ok(Message::Close(frame))) = client.recv().await else {
                panic!("no close at the client")
            };
            assert_eq!(frame.code, CloseCode::BAD_GATEWAY);
            drop(raw_backend);
            let report = tokio::time::timeout(Duration::from_secs(10), relayed)
                .await
                .unwrap()
                .unwrap();
            assert!(report.to_client.ended.is_err(), "{report}");
        })
        .await;
    }

    #[tokio::test]
    async fn a_backend_that_drops_gets_the_client_1001() {
        bounded(async {
            let (mut client, relayed, backend) = pair();
            drop(backend);
            let Some(Ok(Message::Close(frame))) = client.recv().await else {
                panic!("no close at the client")
            };
            assert_eq!(frame.code, CloseCode::GOING_AWAY);
            assert!(client.recv().await.is_none());
            tokio::time::timeout(Duration::from_secs(10), relayed)
                .await
                .unwrap()
                .unwrap();
        })
        .await;
    }
}
