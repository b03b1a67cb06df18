//! Relaying two WebSocket connections frame by frame: the data path of a
//! reverse proxy or gateway. The handshake decisions (what to ask the
//! backend, what to answer the client) are the core's
//! ([`Relay`](ws_proto::handshake::Relay)); this module moves the frames.

use std::fmt;
use std::future::{poll_fn, Future};
use std::net::IpAddr;
use std::task::{ready, Context, Poll};

use ws_proto::frame::OpCode;
use ws_proto::handshake::proxy::ProxySetting;
use ws_proto::handshake::{HandshakeError, Leg, Relay};
use ws_proto::{Config, ReadyState};

use crate::driver::Shared;
use crate::{connect_with_proxy, read_request, Error, Transport, WebSocketStream};

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
pub fn proxy<S: Transport + 'static>(
    stream: S,
    client_addr: Option<IpAddr>,
    backend_url: &str,
    rules: &Relay,
    config: Config,
    max_chunk: usize,
) -> impl Future<Output = Result<RelayReport, Error>> + 'static {
    // Not an `async fn`, whose arguments would stay in the future for the
    // relay's whole life: the handshakes go in a box of their own (with
    // copies of the URL and rules), freed once both legs are open, and an
    // idle pair's task keeps the relay's state and that box's pointer (the
    // handshakes' futures take KiBs).
    let (backend_url, rules) = (backend_url.to_owned(), rules.clone());
    let opening = Box::pin(async move {
        open_pair(stream, client_addr, &backend_url, &rules, config, max_chunk).await
    });
    async move {
        let (to_client, to_backend) = opening.await?;
        Ok(relay(to_client, to_backend).await)
    }
}

/// [`proxy`]'s handshakes: both legs, open.
async fn open_pair<S: Transport>(
    stream: S,
    client_addr: Option<IpAddr>,
    backend_url: &str,
    rules: &Relay,
    config: Config,
    max_chunk: usize,
) -> Result<(WebSocketStream<S>, WebSocketStream<crate::MaybeTlsStream>), Error> {
    let leg = Relay::leg_config(config, max_chunk);
    let incoming = read_request(stream, leg.clone()).await?;
    let request = rules.backend_request(incoming.request(), backend_url, client_addr)?;
    let opened = connect_with_proxy(request, leg, None, ProxySetting::Direct).await;
    let (to_backend, response) = match opened {
        Ok(opened) => opened,
        Err(err) => {
            let timed_out = matches!(err, Error::Handshake(HandshakeError::TimedOut { .. }));
            // The error itself is returned (for the log); the client's
            // answer says only what happened.
            let answer = Relay::refusal(err.status(), timed_out);
            let _ = incoming.respond(answer).await;
            return Err(err);
        }
    };
    let answer = rules.client_answer(incoming.request(), &response);
    drop(response);
    let to_client = incoming.respond(answer).await?;
    Ok((to_client, to_backend))
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
/// the peers do, nor send a protocol error's close frame at once
/// ([`auto_failure_close(false)`](crate::Config::auto_failure_close)), so
/// that a client that breaks the protocol still gets what the backend had
/// in flight before the close: [`Relay::leg_config`] sets all of this.
///
/// Memory stays bounded whatever the message size: a piece (at most the
/// connection's frame chunk) is read only when the other side's write
/// queue is below its high-water mark, and queued there at once; an idle
/// pair's state is about 200 bytes beside the two connections.
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
/// use ws_tokio::ws_proto::handshake::Relay;
/// let leg = || Relay::leg_config(Config::default(), 16 * 1024);
/// let (c, a) = tokio::io::duplex(4096);
/// let (b, u) = tokio::io::duplex(4096);
/// let mut client = WebSocketStream::from_raw(c, Role::Client, Config::default());
/// let client_leg = WebSocketStream::from_raw(a, Role::Server, leg());
/// let backend_leg = WebSocketStream::from_raw(b, Role::Client, leg());
/// let mut backend = WebSocketStream::from_raw(u, Role::Server, Config::default());
/// let relayed = tokio::spawn(relay(client_leg, backend_leg));
/// tokio::spawn(async move {
///     // An echo server as the backend.
///     while let Some(Ok(message)) = backend.recv().await {
///         if message.is_data() && backend.send(message).await.is_err() {
///             break;
///         }
///     }
/// });
///
/// client.send(Message::text("through")).await?;
/// assert_eq!(client.recv().await.transpose()?, Some(Message::text("through")));
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
    // One small state machine per direction, polled from this task: an idle
    // pair's future is these two and the two streams (a `join!` of two
    // `async` loops over split halves took 536 bytes).
    let mut to_backend = Pass::new(Leg::Backend);
    let mut to_client = Pass::new(Leg::Client);
    let (client, backend) = (client.shared(), backend.shared());
    poll_fn(|cx| {
        let up = to_backend.poll(cx, client, backend);
        let down = to_client.poll(cx, backend, client);
        if up.is_ready() && down.is_ready() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    RelayReport {
        to_backend: to_backend.into_direction(),
        to_client: to_client.into_direction(),
    }
}

/// One direction of a relay: frames from one connection to the other (the
/// leg `toward`) until the first has ended. A frame is read only once the
/// other side has room, and queued there at once, so none is held here.
struct Pass {
    toward: Leg,
    step: Step,
    frames: u64,
    bytes: u64,
}

/// Where a [`Pass`] is. Errors are boxed: an idle pair's task keeps two of
/// these.
enum Step {
    /// Waiting for room on the other side, then for the next frame.
    Read,
    /// Writing out a frame queued on the other side (`last`: a close
    /// frame, after which `from` only ends).
    Flush { last: bool },
    /// A close frame passed on: waiting for `from` to end.
    Finish,
    /// Closing the other leg, the first having ended (how) without a
    /// close frame to pass on.
    Close(Option<Box<Error>>),
    /// Ended, and how.
    Done(Option<Box<Error>>),
}

impl Pass {
    fn new(toward: Leg) -> Self {
        Self {
            toward,
            step: Step::Read,
            frames: 0,
            bytes: 0,
        }
    }

    fn poll<R: Transport, W: Transport>(
        &mut self,
        cx: &mut Context<'_>,
        from: &Shared<R>,
        to: &Shared<W>,
    ) -> Poll<()> {
        loop {
            match &mut self.step {
                Step::Read => {
                    if let Err(err) = ready!(to.poll_ready(cx)) {
                        // The other side is gone; `from` learns of it when
                        // the other direction passes that side's ending on.
                        self.step = Step::Done(Some(Box::new(err)));
                        continue;
                    }
                    match ready!(from.poll_next_frame(cx)) {
                        Some(Ok(frame)) => {
                            let len = frame.data.len() as u64;
                            let last = frame.opcode == OpCode::Close;
                            self.step = match to.start_send(frame) {
                                Ok(()) => {
                                    self.frames += 1;
                                    self.bytes += len;
                                    Step::Flush { last }
                                }
                                Err(err) => Step::Done(Some(Box::new(err))),
                            };
                        }
                        Some(Err(err)) => self.fail(from, to, err),
                        // After `from`'s close frame (passed on already), or
                        // its transport closed without one.
                        None => self.end(to, None),
                    }
                }
                Step::Flush { last } => {
                    let last = *last;
                    self.step = match ready!(to.poll_flush(cx)) {
                        Ok(()) if last => Step::Finish,
                        Ok(()) => Step::Read,
                        Err(err) => Step::Done(Some(Box::new(err))),
                    };
                }
                Step::Finish => {
                    // Nothing follows a close frame but the end.
                    self.step = match ready!(from.poll_next_frame(cx)) {
                        Some(Ok(_)) => continue,
                        Some(Err(err)) => Step::Done(Some(Box::new(err))),
                        None => Step::Done(None),
                    };
                }
                Step::Close(ended) => {
                    // A side already gone: the transport closing is the
                    // ending then.
                    let _ = ready!(to.poll_close(cx));
                    self.step = Step::Done(ended.take());
                }
                Step::Done(_) => return Poll::Ready(()),
            }
        }
    }

    /// `from` failed. When its peer broke the protocol, `from` owes that
    /// peer the failure's close frame (the legs' `auto_failure_close` is
    /// off), and [`Relay::passes_failure_on`] says whether it goes to `to`
    /// first (whose answer then closes `from`) or to `from` at once.
    ///
    /// Otherwise (the transport failed) as [`end`](Self::end).
    fn fail<R: Transport, W: Transport>(&mut self, from: &Shared<R>, to: &Shared<W>, err: Error) {
        let owed = match &err {
            Error::Protocol(protocol) => Some(protocol.close_frame()),
            _ => None,
        };
        if let Some(frame) = owed {
            let passed_on = Relay::passes_failure_on(self.toward.other())
                && to.with_conn(|conn| conn.ready_state()) == ReadyState::Open
                && to.start_close(frame.code, &frame.reason).is_ok();
            if passed_on {
                self.step = Step::Close(Some(Box::new(err)));
                return;
            }
            // No one to pass it to: `from`'s peer gets its close now.
            let _ = from.start_close(frame.code, &frame.reason);
        }
        self.end(to, Some(Box::new(err)));
    }

    /// `from` ended (`failed` with an error): closes `to` when no close
    /// frame was passed on to it.
    fn end<W: Transport>(&mut self, to: &Shared<W>, failed: Option<Box<Error>>) {
        let (code, reason) = Relay::close_for(self.toward, failed.is_some());
        // Refused while a frame of ours is half sent (a close cannot go
        // inside it): the transport closing is the ending then.
        let closing = to.with_conn(|conn| conn.ready_state()) == ReadyState::Open
            && to.start_close(code, reason).is_ok();
        self.step = if closing {
            Step::Close(failed)
        } else {
            Step::Done(failed)
        };
    }

    fn into_direction(self) -> Direction {
        let ended = match self.step {
            Step::Done(Some(err)) | Step::Close(Some(err)) => Err(*err),
            // `relay` returns once both directions are done.
            _ => Ok(()),
        };
        Direction {
            frames: self.frames,
            bytes: self.bytes,
            ended,
        }
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
        Relay::leg_config(Config::default(), 16 * 1024)
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
    async fn a_client_that_breaks_the_protocol_gets_what_was_in_flight_then_its_1002() {
        bounded(async {
            let (c, a) = tokio::io::duplex(64 * 1024);
            let (b, u) = tokio::io::duplex(64 * 1024);
            let mut backend = WebSocketStream::from_raw(u, Role::Server, Config::default());
            let relayed = tokio::spawn(relay(
                WebSocketStream::from_raw(a, Role::Server, leg()),
                WebSocketStream::from_raw(b, Role::Client, leg()),
            ));
            let mut raw_client = c;
            // A masked text "ok" (zero mask), then an unmasked frame (a
            // protocol error) in the same write, as Autobahn's 3.x cases do.
            raw_client
                .write_all(b"\x81\x82\0\0\0\0ok\x81\x02hi")
                .await
                .unwrap();
            // The backend echoes "ok", then gets the failure's own close.
            assert_eq!(backend.recv().await.unwrap().unwrap(), Message::text("ok"));
            backend.send(Message::text("ok")).await.unwrap();
            let Some(Ok(Message::Close(frame))) = backend.recv().await else {
                panic!("no close at the backend")
            };
            assert_eq!(frame.code, CloseCode::PROTOCOL_ERROR);
            assert!(backend.recv().await.is_none());
            // The client gets the echo first, then 1002 (the backend's answer).
            let mut wire = Vec::new();
            tokio::io::AsyncReadExt::read_to_end(&mut raw_client, &mut wire)
                .await
                .unwrap();
            assert!(wire.starts_with(b"\x81\x02ok\x88"), "{wire:?}");
            assert_eq!(&wire[6..8], &1002u16.to_be_bytes(), "{wire:?}");
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
