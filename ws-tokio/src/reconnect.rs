//! A client that reconnects after the connection is lost, opt-in.
//!
//! Nothing here is a protocol rule: the close codes come from the core, and
//! each connection is an ordinary [`WebSocketStream`]. This module decides
//! when to dial again, and makes every loss and every new connection an
//! event the application sees, so it can send again what the peer may have
//! missed. Messages are never queued across a disconnect.

use core::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{ready, Context, Poll};
use std::time::Duration;

use futures_core::{FusedStream, Stream};
use tokio::time::{Instant, Sleep};
use ws_proto::handshake::{ClientRequest, Response};
use ws_proto::{CloseCode, CloseFrame, Config, Message, Randomness};

use crate::driver::Shared;
use crate::stream::send;
use crate::{connect_with, Connector, Error, MaybeTlsStream, ReadHalf, WebSocketStream};

/// When and how often [`Reconnecting`] dials again.
///
/// The delay before attempt `n` (counting consecutive failures, where a
/// connection that dropped before [`healthy_after`](Self::healthy_after)
/// counts as one) is `base * 2^(n-1)`, capped at `max_delay`; with jitter
/// (the default) a random point in its upper half, so many clients dropped
/// at once do not return in lockstep. A connection that stayed up for
/// `healthy_after` resets the count.
///
/// Never reconnects after close code 1008 (policy violation: the server
/// does not want this client back) or after a code marked
/// [`final_code`](Self::final_code).
///
/// ```
/// use std::time::Duration;
/// use ws_tokio::{CloseCode, ReconnectPolicy};
/// let policy = ReconnectPolicy::default()
///     .base_delay(Duration::from_millis(500))
///     .max_delay(Duration::from_secs(20))
///     .max_attempts(Some(10))
///     .final_code(CloseCode(4000))
///     .jitter(false);
/// assert_eq!(policy.delay_for(1), Duration::from_millis(500));
/// assert_eq!(policy.delay_for(3), Duration::from_secs(2));
/// assert_eq!(policy.delay_for(30), Duration::from_secs(20));
/// assert!(policy.is_final(CloseCode(4000)) && policy.is_final(CloseCode::POLICY_VIOLATION));
/// ```
#[derive(Debug, Clone)]
pub struct ReconnectPolicy {
    base: Duration,
    cap: Duration,
    max_attempts: Option<u32>,
    healthy_after: Duration,
    final_codes: Vec<CloseCode>,
    jitter: bool,
}

impl Default for ReconnectPolicy {
    /// 1 s, 2 s, 4 s … capped at 30 s, with jitter, retrying forever; a
    /// connection that lasted 30 s resets the delay; only 1008 is final.
    fn default() -> Self {
        Self {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(30),
            max_attempts: None,
            healthy_after: Duration::from_secs(30),
            final_codes: Vec::new(),
            jitter: true,
        }
    }
}

impl ReconnectPolicy {
    /// The first delay (default 1 s).
    ///
    /// ```
    /// let p = ws_tokio::ReconnectPolicy::default().base_delay(std::time::Duration::from_millis(100));
    /// # let _ = p;
    /// ```
    pub fn base_delay(mut self, delay: Duration) -> Self {
        self.base = delay;
        self
    }

    /// The longest delay (default 30 s).
    ///
    /// ```
    /// let p = ws_tokio::ReconnectPolicy::default().max_delay(std::time::Duration::from_secs(60));
    /// # let _ = p;
    /// ```
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.cap = delay;
        self
    }

    /// How many attempts to make after a loss before giving up with
    /// [`Error::GaveUp`] (default `None`: keep trying).
    ///
    /// ```
    /// let p = ws_tokio::ReconnectPolicy::default().max_attempts(Some(5));
    /// # let _ = p;
    /// ```
    pub fn max_attempts(mut self, attempts: Option<u32>) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// How long a connection must stay up for the backoff to start over
    /// from the base delay (default 30 s). A server that accepts and then
    /// drops at once keeps the delays growing.
    ///
    /// ```
    /// let p = ws_tokio::ReconnectPolicy::default().healthy_after(std::time::Duration::from_secs(10));
    /// # let _ = p;
    /// ```
    pub fn healthy_after(mut self, period: Duration) -> Self {
        self.healthy_after = period;
        self
    }

    /// Marks a close code after which the client must not reconnect, such
    /// as an application's "you are banned" or "logged out elsewhere" (a
    /// 4000-4999 code). 1008 is always final.
    ///
    /// ```
    /// use ws_tokio::{CloseCode, ReconnectPolicy};
    /// let p = ReconnectPolicy::default().final_code(CloseCode(4001)).final_code(CloseCode(4003));
    /// assert!(p.is_final(CloseCode(4003)));
    /// ```
    pub fn final_code(mut self, code: CloseCode) -> Self {
        if !self.final_codes.contains(&code) {
            self.final_codes.push(code);
        }
        self
    }

    /// Randomize each delay within its upper half (default `true`).
    ///
    /// ```
    /// let p = ws_tokio::ReconnectPolicy::default().jitter(false);
    /// # let _ = p;
    /// ```
    pub fn jitter(mut self, on: bool) -> Self {
        self.jitter = on;
        self
    }

    /// Whether a close with `code` ends the reconnecting for good.
    ///
    /// ```
    /// use ws_tokio::{CloseCode, ReconnectPolicy};
    /// assert!(ReconnectPolicy::default().is_final(CloseCode::POLICY_VIOLATION));
    /// assert!(!ReconnectPolicy::default().is_final(CloseCode::GOING_AWAY));
    /// ```
    pub fn is_final(&self, code: CloseCode) -> bool {
        code == CloseCode::POLICY_VIOLATION || self.final_codes.contains(&code)
    }

    /// The delay before attempt `n` (1-based) without jitter: the largest
    /// delay jitter can give.
    ///
    /// ```
    /// use std::time::Duration;
    /// let p = ws_tokio::ReconnectPolicy::default();
    /// assert_eq!(p.delay_for(1), Duration::from_secs(1));
    /// assert_eq!(p.delay_for(2), Duration::from_secs(2));
    /// assert_eq!(p.delay_for(100), Duration::from_secs(30));
    /// ```
    pub fn delay_for(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        self.base
            .checked_mul(1 << doublings)
            .unwrap_or(self.cap)
            .min(self.cap)
    }

    /// [`delay_for`](Self::delay_for) with jitter applied: a point in
    /// `[d/2, d]` chosen by `random`.
    fn jittered(&self, attempt: u32, random: &mut Randomness) -> Duration {
        let ceiling = self.delay_for(attempt);
        if !self.jitter {
            return ceiling;
        }
        let mut bytes = [0u8; 4];
        random.fill(&mut bytes);
        let fraction = f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX);
        (ceiling / 2)
            .saturating_add((ceiling / 2).mul_f64(fraction))
            .min(ceiling)
    }
}

/// What [`Reconnecting`] yields besides errors.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReconnectEvent {
    /// A message from the server: text, binary, ping or pong (pings are
    /// answered already). A close never comes as a message: it is a
    /// [`Disconnected`](Self::Disconnected), or the end.
    Message(Message),
    /// The connection was lost; the next attempt starts after `retry_in`.
    /// Anything sent and not acknowledged by the application's own protocol
    /// may not have arrived: send it again after
    /// [`Reconnected`](Self::Reconnected). Sends fail with
    /// [`Error::NotConnected`] until then.
    Disconnected {
        /// The server's close frame, or code 1006 when the transport
        /// dropped ([`CloseKind::of`](crate::CloseKind::of) sorts it).
        close: CloseFrame,
        /// The error that ended the connection, if one did (a protocol
        /// error from the server, a broken transport).
        error: Option<Error>,
        /// When the first attempt will be made.
        retry_in: Duration,
    },
    /// An attempt failed; the next starts after `retry_in`.
    RetryFailed {
        /// The attempt's number since the loss, from 1.
        attempt: u32,
        /// Why it failed (refused, timed out, connection refused, ...).
        error: Error,
        /// When the next attempt will be made.
        retry_in: Duration,
    },
    /// A new connection is open and sends work again: restore the
    /// session (subscribe again, resend what was not acknowledged).
    Reconnected {
        /// Which attempt since the loss succeeded, from 1.
        attempt: u32,
        /// The server's handshake response.
        response: Response,
    },
}

/// The current connection's write side, shared with [`ReconnectSender`]s.
type Slot = Arc<Mutex<Option<Arc<Shared<MaybeTlsStream>>>>>;

fn lock(slot: &Slot) -> MutexGuard<'_, Option<Arc<Shared<MaybeTlsStream>>>> {
    // The slot only ever holds a handle; a panic elsewhere cannot leave it torn.
    slot.lock().unwrap_or_else(PoisonError::into_inner)
}

type Dial = Pin<
    Box<dyn Future<Output = Result<(WebSocketStream<MaybeTlsStream>, Response), Error>> + Send>,
>;

enum Phase {
    Open(ReadHalf<MaybeTlsStream>),
    Waiting(Pin<Box<Sleep>>),
    Dialing(Dial),
    Ended,
}

/// A client connection that dials again, with backoff, when it is lost.
///
/// * It is a [`Stream`] of [`ReconnectEvent`]s (also [`next`](Self::next)):
///   messages, and a visible event for every loss, failed attempt and new
///   connection. It ends (`None`) after [`close`](Self::close), after an
///   [`Error::FinalClose`] (code 1008 or one the policy marks final), or
///   after [`Error::GaveUp`]. Keep polling it: it also answers pings, runs
///   the close handshake and the core's timers, and drives the reconnects.
/// * [`send`](Self::send) (or a [`ReconnectSender`] from
///   [`sender`](Self::sender), for other tasks) writes to the connection
///   open at that moment. Between connections it fails at once with
///   [`Error::NotConnected`]: nothing is queued for later, so nothing is
///   lost silently. `Ok` means the message was handed to the transport; a
///   connection that drops right after can still lose it, which is why the
///   [`Reconnected`](ReconnectEvent::Reconnected) event exists.
///
/// The first connection is made by [`connect`](Self::connect) and its
/// failure returned as is; only later losses are retried.
///
/// ```
/// use std::time::Duration;
/// use ws_tokio::{ClientRequest, CloseCode, Config, Message, ReconnectEvent, ReconnectPolicy, Reconnecting};
///
/// # async fn demo() -> Result<(), ws_tokio::Error> {
/// let request = ClientRequest::from_url("ws://127.0.0.1:9001/feed")?;
/// let policy = ReconnectPolicy::default().final_code(CloseCode(4000));
/// let (mut client, _response) = Reconnecting::connect(request, Config::default(), None, policy).await?;
/// client.send(Message::text("subscribe")).await?;
/// while let Some(event) = client.next().await {
///     match event? {
///         ReconnectEvent::Message(message) => println!("{message:?}"),
///         ReconnectEvent::Disconnected { close, retry_in, .. } => {
///             println!("lost ({}), retrying in {retry_in:?}", close.code);
///         }
///         ReconnectEvent::Reconnected { attempt, .. } => {
///             println!("back after {attempt} attempts");
///             client.send(Message::text("subscribe")).await?;
///         }
///         _ => {}
///     }
/// }
/// # Ok(())
/// # }
/// ```
pub struct Reconnecting {
    request: ClientRequest,
    config: Config,
    connector: Option<Connector>,
    policy: ReconnectPolicy,
    random: Randomness,
    writer: Slot,
    phase: Phase,
    /// Consecutive failures: failed attempts, and connections that dropped
    /// before `healthy_after`.
    failures: u32,
    /// Attempts since the last loss.
    attempt: u32,
    connected_at: Instant,
}

impl Reconnecting {
    /// Connects (as [`connect_with`]) and returns the client and the first
    /// handshake response; a failure of this first connection is returned
    /// as is, without retrying.
    ///
    /// ```
    /// use ws_tokio::{ClientRequest, Config, ReconnectPolicy, Reconnecting};
    /// # async fn demo() -> Result<(), ws_tokio::Error> {
    /// let request = ClientRequest::from_url("ws://127.0.0.1:9001/")?;
    /// let (client, response) = Reconnecting::connect(request, Config::default(), None, ReconnectPolicy::default()).await?;
    /// # drop((client, response));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect(
        request: ClientRequest,
        config: Config,
        connector: Option<Connector>,
        policy: ReconnectPolicy,
    ) -> Result<(Self, Response), Error> {
        let (ws, response) =
            connect_with(request.clone(), config.clone(), connector.clone()).await?;
        let mut config = config;
        // Jitter from the configured source, so a seeded config repeats.
        let random = config.randomness_mut().clone();
        let mut client = Self {
            request,
            config,
            connector,
            policy,
            random,
            writer: Arc::new(Mutex::new(None)),
            phase: Phase::Ended,
            failures: 0,
            attempt: 0,
            connected_at: Instant::now(),
        };
        client.install(ws);
        Ok((client, response))
    }

    /// The next event, `None` once the client has ended. Cancel-safe: it can
    /// be raced in `tokio::select!` without losing messages.
    ///
    /// ```
    /// # async fn demo(mut client: ws_tokio::Reconnecting) {
    /// while let Some(Ok(event)) = client.next().await {
    ///     println!("{event:?}");
    /// }
    /// # }
    /// ```
    pub async fn next(&mut self) -> Option<Result<ReconnectEvent, Error>> {
        poll_fn(|cx| self.poll_event(cx)).await
    }

    /// Sends on the connection open now and waits until it is written;
    /// [`Error::NotConnected`] between connections (nothing is queued).
    ///
    /// ```
    /// # async fn demo(client: ws_tokio::Reconnecting) {
    /// use ws_tokio::{Error, Message};
    /// match client.send(Message::text("hello")).await {
    ///     Ok(()) => {}
    ///     Err(Error::NotConnected) => { /* send it again after Reconnected */ }
    ///     Err(other) => eprintln!("{other}"),
    /// }
    /// # }
    /// ```
    pub async fn send(&self, message: Message) -> Result<(), Error> {
        send_on(&self.writer, message).await
    }

    /// A handle that sends on whichever connection is open, for other tasks.
    ///
    /// ```
    /// # async fn demo(client: ws_tokio::Reconnecting) {
    /// let sender = client.sender();
    /// tokio::spawn(async move {
    ///     let _ = sender.send(ws_tokio::Message::text("tick")).await;
    /// });
    /// # }
    /// ```
    pub fn sender(&self) -> ReconnectSender {
        ReconnectSender {
            writer: Arc::clone(&self.writer),
        }
    }

    /// Whether a connection is open right now.
    ///
    /// ```
    /// # fn demo(client: &ws_tokio::Reconnecting) {
    /// if !client.is_connected() { println!("reconnecting…"); }
    /// # }
    /// ```
    pub fn is_connected(&self) -> bool {
        matches!(self.phase, Phase::Open(_))
    }

    /// Closes the open connection with `code` and `reason` (waiting for the
    /// server's answer, bounded by the close timeout) and stops
    /// reconnecting; the stream then ends. Messages still arriving are
    /// discarded.
    ///
    /// ```
    /// # async fn demo(mut client: ws_tokio::Reconnecting) -> Result<(), ws_tokio::Error> {
    /// client.close(ws_tokio::CloseCode::NORMAL, "bye").await?;
    /// assert!(client.next().await.is_none());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        let shared = lock(&self.writer).take();
        let phase = core::mem::replace(&mut self.phase, Phase::Ended);
        if let (Phase::Open(mut reader), Some(shared)) = (phase, shared) {
            shared.start_close(code, reason)?;
            // The reader writes the close frame and runs the close timer.
            while let Some(item) = reader.recv().await {
                item?;
            }
        }
        Ok(())
    }

    fn install(&mut self, ws: WebSocketStream<MaybeTlsStream>) {
        let (reader, writer) = ws.split();
        *lock(&self.writer) = Some(writer.into_shared());
        self.phase = Phase::Open(reader);
        self.connected_at = Instant::now();
    }

    /// The connection is gone: ends, or schedules the first attempt.
    fn lost(&mut self, close: CloseFrame, error: Option<Error>) -> Result<ReconnectEvent, Error> {
        lock(&self.writer).take();
        if let Phase::Open(reader) = core::mem::replace(&mut self.phase, Phase::Ended) {
            // Let the old connection finish its close handshake (bounded by
            // the close timeout) without holding up the new one.
            tokio::spawn(async move {
                let mut reader = reader;
                while reader.recv().await.is_some() {}
            });
        }
        if self.policy.is_final(close.code) {
            return Err(Error::FinalClose(close));
        }
        if self.connected_at.elapsed() >= self.policy.healthy_after {
            self.failures = 0;
        }
        self.failures = self.failures.saturating_add(1);
        self.attempt = 0;
        let retry_in = self.schedule();
        Ok(ReconnectEvent::Disconnected {
            close,
            error,
            retry_in,
        })
    }

    fn schedule(&mut self) -> Duration {
        let delay = self.policy.jittered(self.failures, &mut self.random);
        self.phase = Phase::Waiting(Box::pin(tokio::time::sleep(delay)));
        delay
    }

    fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<ReconnectEvent, Error>>> {
        loop {
            match &mut self.phase {
                Phase::Ended => return Poll::Ready(None),
                Phase::Open(reader) => {
                    let item = ready!(Pin::new(reader).poll_next(cx));
                    let event = match item {
                        Some(Ok(Message::Close(frame))) => self.lost(frame, None),
                        Some(Ok(message)) => Ok(ReconnectEvent::Message(message)),
                        Some(Err(error)) => {
                            let code = error.close_code().unwrap_or(CloseCode::ABNORMAL);
                            self.lost(CloseFrame::new(code, ""), Some(error))
                        }
                        None => self.lost(CloseFrame::new(CloseCode::ABNORMAL, ""), None),
                    };
                    return Poll::Ready(Some(event));
                }
                Phase::Waiting(sleep) => {
                    ready!(sleep.as_mut().poll(cx));
                    self.attempt += 1;
                    let dial = connect_with(
                        self.request.clone(),
                        self.config.clone(),
                        self.connector.clone(),
                    );
                    self.phase = Phase::Dialing(Box::pin(dial));
                }
                Phase::Dialing(dial) => {
                    let result = ready!(dial.as_mut().poll(cx));
                    let attempt = self.attempt;
                    return Poll::Ready(Some(match result {
                        Ok((ws, response)) => {
                            self.install(ws);
                            Ok(ReconnectEvent::Reconnected { attempt, response })
                        }
                        Err(error) => {
                            if self.policy.max_attempts.is_some_and(|max| attempt >= max) {
                                self.phase = Phase::Ended;
                                Err(Error::GaveUp {
                                    attempts: attempt,
                                    last: Box::new(error),
                                })
                            } else {
                                self.failures = self.failures.saturating_add(1);
                                let retry_in = self.schedule();
                                Ok(ReconnectEvent::RetryFailed {
                                    attempt,
                                    error,
                                    retry_in,
                                })
                            }
                        }
                    }));
                }
            }
        }
    }
}

impl Stream for Reconnecting {
    type Item = Result<ReconnectEvent, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_event(cx)
    }
}

impl FusedStream for Reconnecting {
    fn is_terminated(&self) -> bool {
        matches!(self.phase, Phase::Ended)
    }
}

impl fmt::Debug for Reconnecting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let phase = match self.phase {
            Phase::Open(_) => "open",
            Phase::Waiting(_) => "waiting",
            Phase::Dialing(_) => "dialing",
            Phase::Ended => "ended",
        };
        f.debug_struct("Reconnecting")
            .field("url_host", &self.request.host())
            .field("phase", &phase)
            .field("failures", &self.failures)
            .field("attempt", &self.attempt)
            .finish_non_exhaustive()
    }
}

/// Sends on whichever connection a [`Reconnecting`] client has open; from
/// [`Reconnecting::sender`]. Cheap to clone.
///
/// ```
/// # async fn demo(client: &ws_tokio::Reconnecting) -> Result<(), ws_tokio::Error> {
/// let sender = client.sender();
/// sender.send(ws_tokio::Message::binary(vec![1, 2, 3])).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct ReconnectSender {
    writer: Slot,
}

impl ReconnectSender {
    /// Sends and waits until written; [`Error::NotConnected`] between
    /// connections (see [`Reconnecting::send`]).
    ///
    /// ```
    /// # async fn demo(sender: ws_tokio::ReconnectSender) {
    /// if let Err(err) = sender.send(ws_tokio::Message::text("hi")).await {
    ///     eprintln!("not sent: {err}");
    /// }
    /// # }
    /// ```
    pub async fn send(&self, message: Message) -> Result<(), Error> {
        send_on(&self.writer, message).await
    }

    /// Whether a connection is open right now (it may drop at any moment).
    ///
    /// ```
    /// # fn demo(sender: &ws_tokio::ReconnectSender) -> bool {
    /// sender.is_connected()
    /// # }
    /// ```
    pub fn is_connected(&self) -> bool {
        lock(&self.writer).is_some()
    }
}

impl fmt::Debug for ReconnectSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReconnectSender")
            .field("connected", &self.is_connected())
            .finish()
    }
}

async fn send_on(writer: &Slot, message: Message) -> Result<(), Error> {
    // Take a handle and let the slot go, so a slow write never blocks the
    // reader from swapping connections.
    let shared = lock(writer).clone().ok_or(Error::NotConnected)?;
    send(&shared, message).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap() {
        let policy = ReconnectPolicy::default()
            .base_delay(Duration::from_millis(100))
            .max_delay(Duration::from_millis(1000))
            .jitter(false);
        let delays: Vec<u64> = (1..=7)
            .map(|n| policy.delay_for(n).as_millis() as u64)
            .collect();
        assert_eq!(delays, [100, 200, 400, 800, 1000, 1000, 1000]);
        assert_eq!(policy.delay_for(0), Duration::from_millis(100));
        assert_eq!(policy.delay_for(u32::MAX), Duration::from_millis(1000));
    }

    #[test]
    fn jitter_stays_in_the_upper_half() {
        let policy = ReconnectPolicy::default();
        let mut random = Randomness::seeded(5);
        let mut seen = std::collections::HashSet::new();
        for attempt in 1..=8 {
            let ceiling = policy.delay_for(attempt);
            for _ in 0..50 {
                let d = policy.jittered(attempt, &mut random);
                assert!(d >= ceiling / 2 && d <= ceiling, "{d:?} for {ceiling:?}");
                seen.insert(d);
            }
        }
        assert!(seen.len() > 100, "jitter varies");
    }

    #[test]
    fn huge_settings_do_not_overflow() {
        let policy = ReconnectPolicy::default()
            .base_delay(Duration::MAX)
            .max_delay(Duration::MAX);
        assert_eq!(policy.delay_for(40), Duration::MAX);
        let _ = policy.jittered(40, &mut Randomness::seeded(1));
    }
}
