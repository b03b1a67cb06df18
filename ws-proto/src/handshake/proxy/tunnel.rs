//! The tunnel through a proxy as a sans-IO machine: bytes in, bytes out,
//! time passed in.

#[allow(unused_imports)]
use crate::prelude::*;
use core::time::Duration;

use super::{http, socks, Proxy, ProxyError, ProxyScheme};
use crate::Instant;

/// What a [`Tunnel`] reports.
///
/// ```
/// use ws_proto::handshake::proxy::TunnelEvent;
/// let event = TunnelEvent::Established;
/// # let _ = event;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TunnelEvent {
    /// The proxy has connected to the destination: from now on the
    /// transport carries the destination's bytes (start TLS for `wss://`,
    /// then the WebSocket handshake).
    Established,
}

/// Where the machine is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Stage {
    /// Waiting for the answer to `CONNECT`.
    HttpAnswer {
        sent_credentials: bool,
    },
    /// Waiting for the SOCKS5 method choice; the request to send after it.
    SocksMethod {
        connect: Vec<u8>,
    },
    /// Waiting for the RFC 1929 verdict.
    SocksAuth {
        connect: Vec<u8>,
    },
    /// Waiting for the reply to the SOCKS5 CONNECT.
    SocksReply,
    /// Open; `reported` once the event was handed out.
    Established {
        reported: bool,
    },
    Failed(ProxyError),
}

/// A tunnel to `host:port` through a proxy: HTTP `CONNECT` or SOCKS5, as a
/// machine with no I/O. It has the shape of [`Connection`](crate::Connection):
///
/// * **construction** queues the first bytes (the `CONNECT` request, or the
///   SOCKS5 greeting);
/// * **outputs**: [`poll_transmit`](Self::poll_transmit) gives bytes to
///   write, until `None`;
/// * **inputs**: [`receive`](Self::receive) what was read,
///   [`receive_eof`](Self::receive_eof) at end of stream,
///   [`handle_timeout`](Self::handle_timeout) when the deadline passed;
/// * **events**: [`poll_event`](Self::poll_event) gives
///   [`TunnelEvent::Established`] once, `Ok(None)` while more is needed,
///   or the failure (sticky, in words).
///
/// A driver loops: write what `poll_transmit` gives; poll; read (or sleep
/// until [`poll_timeout`](Self::poll_timeout)) and feed. After
/// `Established` the same transport carries the destination's bytes.
///
/// Since a WebSocket client (and TLS) speaks first, the destination sends
/// nothing before the client does: bytes following the proxy's answer are
/// an error ([`ProxyError::UnexpectedData`]), so no byte is ever left over
/// for the next layer. The answer's head is bounded (16 KiB for HTTP; a
/// SOCKS5 reply is at most 262 bytes) before anything is buffered.
///
/// ```
/// use ws_proto::handshake::proxy::{Proxy, ProxyError, Tunnel, TunnelEvent};
///
/// let proxy = Proxy::parse("socks5h://user:pw@127.0.0.1:1080").unwrap();
/// let mut tunnel = Tunnel::new(&proxy, "example.com", 443);
/// assert_eq!(tunnel.poll_transmit().unwrap(), [5, 2, 0, 2]); // greeting
/// tunnel.receive(&[5, 2]); // the proxy picks username/password
/// assert_eq!(tunnel.poll_event(), Ok(None));
/// assert_eq!(tunnel.poll_transmit().unwrap(), b"\x01\x04user\x02pw");
/// tunnel.receive(&[1, 0]); // accepted
/// let request = tunnel.poll_transmit().unwrap(); // CONNECT example.com:443
/// assert_eq!(&request[..5], &[5, 1, 0, 3, 11]);
/// tunnel.receive(&[5, 0, 0, 1, 10, 0, 0, 1, 0x1f, 0x90]);
/// assert_eq!(tunnel.poll_event(), Ok(Some(TunnelEvent::Established)));
/// assert!(tunnel.is_established());
///
/// // A refusal, in words.
/// let mut tunnel = Tunnel::new(&proxy, "example.com", 443);
/// tunnel.receive(&[5, 0, 5, 5]);
/// let err = tunnel.poll_event().unwrap_err();
/// assert_eq!(err, ProxyError::SocksReply { code: 5 });
/// assert!(err.to_string().contains("connection refused by the destination"));
/// ```
#[derive(Debug, Clone)]
pub struct Tunnel {
    stage: Stage,
    /// Bytes queued for the proxy.
    outbound: Vec<u8>,
    /// The answer of the current stage so far.
    inbound: Vec<u8>,
    /// All answer bytes received, for [`ProxyError::Closed`].
    received: usize,
    credentials: Option<(String, String)>,
    timeout: Option<Duration>,
    deadline: Option<Instant>,
}

impl Tunnel {
    /// A tunnel through `proxy` to `host:port` (IPv6 without brackets),
    /// with its first bytes queued. For a proxy that
    /// [resolves locally](Proxy::resolves_locally), pass the resolved
    /// address as `host`; an IP literal always goes to a SOCKS5 proxy as an
    /// address, a name as a name. A name SOCKS5 cannot carry (over 255
    /// bytes) makes a tunnel that has failed already.
    ///
    /// ```
    /// use ws_proto::handshake::proxy::{Proxy, Tunnel};
    /// let proxy = Proxy::parse("http://u:p@127.0.0.1:3128").unwrap();
    /// let mut tunnel = Tunnel::new(&proxy, "example.com", 443);
    /// let request = tunnel.poll_transmit().unwrap();
    /// assert!(request.starts_with(b"CONNECT example.com:443 HTTP/1.1\r\n"));
    /// assert_eq!(tunnel.poll_transmit(), None);
    /// ```
    pub fn new(proxy: &Proxy, host: &str, port: u16) -> Self {
        let credentials = proxy
            .credentials()
            .map(|(user, password)| (user.to_string(), password.to_string()));
        let (stage, outbound) = match proxy.scheme() {
            ProxyScheme::Http => (
                Stage::HttpAnswer {
                    sent_credentials: credentials.is_some(),
                },
                http::connect_request(host, port, proxy.credentials()),
            ),
            ProxyScheme::Socks5 | ProxyScheme::Socks5h => {
                match socks::connect_request(host, port) {
                    Ok(connect) => (
                        Stage::SocksMethod { connect },
                        socks::greeting(credentials.is_some()),
                    ),
                    Err(err) => (Stage::Failed(err), Vec::new()),
                }
            }
        };
        Self {
            stage,
            outbound,
            inbound: Vec::new(),
            received: 0,
            credentials,
            timeout: None,
            deadline: None,
        }
    }

    /// Gives up with [`ProxyError::TimedOut`] when the tunnel is not open
    /// `limit` after the first [`poll_timeout`](Self::poll_timeout). A
    /// driver that bounds the whole connection (TCP, tunnel, TLS, WebSocket
    /// handshake) by one limit passes what is left of it. Without it the
    /// tunnel has no deadline.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use ws_proto::handshake::proxy::{Proxy, ProxyError, Tunnel};
    /// let proxy = Proxy::parse("http://127.0.0.1:3128").unwrap();
    /// let mut tunnel = Tunnel::new(&proxy, "h", 80).timeout(Duration::from_secs(2));
    /// let start = Instant::now();
    /// let deadline = tunnel.poll_timeout(start).unwrap();
    /// tunnel.handle_timeout(start + Duration::from_secs(1)); // too early: nothing happens
    /// assert_eq!(tunnel.poll_event(), Ok(None));
    /// tunnel.handle_timeout(deadline);
    /// assert_eq!(tunnel.poll_event(), Err(ProxyError::TimedOut { after: Duration::from_secs(2) }));
    /// ```
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = Some(limit);
        self
    }

    /// The bytes to write to the proxy next, until `None`.
    ///
    /// ```
    /// # use ws_proto::handshake::proxy::{Proxy, Tunnel};
    /// let mut tunnel = Tunnel::new(&Proxy::parse("socks5://127.0.0.1").unwrap(), "10.0.0.1", 80);
    /// assert_eq!(tunnel.poll_transmit().unwrap(), [5, 1, 0]);
    /// ```
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        (!self.outbound.is_empty()).then(|| core::mem::take(&mut self.outbound))
    }

    /// Feeds bytes read from the proxy.
    ///
    /// ```
    /// # use ws_proto::handshake::proxy::{Proxy, Tunnel, TunnelEvent};
    /// let mut tunnel = Tunnel::new(&Proxy::parse("http://p:3128").unwrap(), "h", 443);
    /// tunnel.receive(b"HTTP/1.1 200 Connection established\r\n");
    /// assert_eq!(tunnel.poll_event(), Ok(None));
    /// tunnel.receive(b"\r\n");
    /// assert_eq!(tunnel.poll_event(), Ok(Some(TunnelEvent::Established)));
    /// ```
    pub fn receive(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            match self.stage {
                Stage::Failed(_) => return,
                Stage::Established { .. } => {
                    self.stage = Stage::Failed(ProxyError::UnexpectedData);
                    return;
                }
                _ => {}
            }
            // Take no more than the stage can need: the rest belongs to
            // the next stage (or is unexpected), and nothing grows past
            // the limit.
            let take = bytes.len().min(self.room());
            if take == 0 {
                // A stage whose message is complete has moved on (see
                // `advance`), so this is not reached; no input loops.
                self.stage = Stage::Failed(ProxyError::UnexpectedData);
                return;
            }
            self.inbound.extend_from_slice(&bytes[..take]);
            self.received += take;
            bytes = &bytes[take..];
            if let Err(err) = self.advance() {
                self.stage = Stage::Failed(err);
                return;
            }
        }
    }

    /// How many more bytes the current stage can use: at most the HTTP
    /// head limit, or exactly a SOCKS5 message's length once known.
    fn room(&self) -> usize {
        let limit = match self.stage {
            Stage::HttpAnswer { .. } => http::MAX_HEAD,
            // Method choice and RFC 1929 verdict: two bytes each.
            Stage::SocksMethod { .. } | Stage::SocksAuth { .. } => 2,
            // The first five bytes tell the reply's length.
            Stage::SocksReply => socks::reply_len(&self.inbound).unwrap_or(5),
            Stage::Established { .. } | Stage::Failed(_) => 0,
        };
        limit.saturating_sub(self.inbound.len())
    }

    /// Moves through the stages the buffered bytes complete.
    fn advance(&mut self) -> Result<(), ProxyError> {
        loop {
            let used = match &mut self.stage {
                Stage::HttpAnswer { sent_credentials } => {
                    match http::parse_response(&self.inbound, *sent_credentials)? {
                        None => return Ok(()),
                        Some(head) => {
                            let extra = self.inbound.len() - head;
                            if extra > 0 {
                                return Err(ProxyError::UnexpectedData);
                            }
                            self.stage = Stage::Established { reported: false };
                            head
                        }
                    }
                }
                Stage::SocksMethod { connect } => {
                    let offered = self.credentials.is_some();
                    match socks::parse_method(&self.inbound, offered)? {
                        None => return Ok(()),
                        Some(socks::USER_PASSWORD) => {
                            let (user, password) = self.credentials.as_ref().ok_or_else(|| {
                                ProxyError::Malformed("method not offered".into())
                            })?;
                            self.outbound
                                .extend_from_slice(&socks::auth_request(user, password));
                            self.stage = Stage::SocksAuth {
                                connect: core::mem::take(connect),
                            };
                        }
                        Some(_) => {
                            self.outbound.extend_from_slice(connect);
                            self.stage = Stage::SocksReply;
                        }
                    }
                    2
                }
                Stage::SocksAuth { connect } => match socks::parse_auth(&self.inbound)? {
                    None => return Ok(()),
                    Some(()) => {
                        self.outbound.extend_from_slice(connect);
                        self.stage = Stage::SocksReply;
                        2
                    }
                },
                Stage::SocksReply => match socks::parse_reply(&self.inbound)? {
                    None => return Ok(()),
                    Some(total) => {
                        self.stage = Stage::Established { reported: false };
                        total
                    }
                },
                Stage::Established { .. } | Stage::Failed(_) => return Ok(()),
            };
            self.inbound.drain(..used.min(self.inbound.len()));
            if !self.inbound.is_empty() {
                // Each stage takes only its own bytes (see `room`), so a
                // rest means the proxy spoke before its turn.
                return Err(ProxyError::UnexpectedData);
            }
        }
    }

    /// The proxy closed the connection.
    ///
    /// ```
    /// # use ws_proto::handshake::proxy::{Proxy, ProxyError, Tunnel};
    /// let mut tunnel = Tunnel::new(&Proxy::parse("http://p:3128").unwrap(), "h", 443);
    /// tunnel.receive_eof();
    /// assert_eq!(tunnel.poll_event(), Err(ProxyError::Closed { received: 0 }));
    /// ```
    pub fn receive_eof(&mut self) {
        if !matches!(self.stage, Stage::Established { .. } | Stage::Failed(_)) {
            self.stage = Stage::Failed(ProxyError::Closed {
                received: self.received,
            });
        }
    }

    /// The next event: [`TunnelEvent::Established`] once, then `Ok(None)`;
    /// `Ok(None)` while more bytes are needed; or the failure, every time
    /// once it happened.
    ///
    /// ```
    /// # use ws_proto::handshake::proxy::{Proxy, ProxyError, Tunnel};
    /// let mut tunnel = Tunnel::new(&Proxy::parse("http://p:3128").unwrap(), "h", 443);
    /// tunnel.receive(b"HTTP/1.1 403 Filtered\r\n\r\n");
    /// let err = ProxyError::Forbidden { reason: "Filtered".into() };
    /// assert_eq!(tunnel.poll_event(), Err(err.clone()));
    /// assert_eq!(tunnel.poll_event(), Err(err));
    /// ```
    pub fn poll_event(&mut self) -> Result<Option<TunnelEvent>, ProxyError> {
        match &mut self.stage {
            Stage::Failed(err) => Err(err.clone()),
            Stage::Established { reported } if !*reported => {
                *reported = true;
                Ok(Some(TunnelEvent::Established))
            }
            _ => Ok(None),
        }
    }

    /// When to call [`handle_timeout`](Self::handle_timeout): the deadline,
    /// set by the first call (`now` plus the [`timeout`](Self::timeout)),
    /// or `None` when there is none or the tunnel is done.
    ///
    /// ```
    /// # use ws_proto::handshake::proxy::{Proxy, Tunnel};
    /// let mut tunnel = Tunnel::new(&Proxy::parse("http://p:3128").unwrap(), "h", 443);
    /// assert_eq!(tunnel.poll_timeout(std::time::Instant::now()), None);
    /// ```
    pub fn poll_timeout(&mut self, now: Instant) -> Option<Instant> {
        if matches!(self.stage, Stage::Established { .. } | Stage::Failed(_)) {
            return None;
        }
        let limit = self.timeout?;
        if self.deadline.is_none() {
            self.deadline = later(now, limit);
        }
        self.deadline
    }

    /// Tells the tunnel the time: past the deadline it fails with
    /// [`ProxyError::TimedOut`]; before it (a spurious wake-up) nothing
    /// happens.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use ws_proto::handshake::proxy::{Proxy, Tunnel};
    /// let mut tunnel = Tunnel::new(&Proxy::parse("http://p:3128").unwrap(), "h", 443)
    ///     .timeout(Duration::from_millis(10));
    /// tunnel.handle_timeout(Instant::now()); // no deadline started yet
    /// assert_eq!(tunnel.poll_event(), Ok(None));
    /// ```
    pub fn handle_timeout(&mut self, now: Instant) {
        let (Some(deadline), Some(after)) = (self.deadline, self.timeout) else {
            return;
        };
        if now >= deadline && !matches!(self.stage, Stage::Established { .. } | Stage::Failed(_)) {
            self.stage = Stage::Failed(ProxyError::TimedOut { after });
        }
    }

    /// Whether the proxy has connected to the destination.
    ///
    /// ```
    /// # use ws_proto::handshake::proxy::{Proxy, Tunnel};
    /// let tunnel = Tunnel::new(&Proxy::parse("http://p:3128").unwrap(), "h", 443);
    /// assert!(!tunnel.is_established());
    /// ```
    pub fn is_established(&self) -> bool {
        matches!(self.stage, Stage::Established { .. })
    }
}

/// `now + limit`, or no deadline when that cannot be represented.
fn later(now: Instant, limit: Duration) -> Option<Instant> {
    #[cfg(feature = "std")]
    return now.checked_add(limit);
    #[cfg(not(feature = "std"))]
    return Some(now + limit);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        proxy: &str,
        answer: &[u8],
        cut: usize,
    ) -> (Vec<u8>, Result<Option<TunnelEvent>, ProxyError>) {
        let proxy = Proxy::parse(proxy).unwrap();
        let mut tunnel = Tunnel::new(&proxy, "example.com", 443);
        let mut sent = Vec::new();
        while let Some(bytes) = tunnel.poll_transmit() {
            sent.extend(bytes);
        }
        let (a, b) = answer.split_at(cut);
        for part in [a, b] {
            tunnel.receive(part);
            while let Some(bytes) = tunnel.poll_transmit() {
                sent.extend(bytes);
            }
        }
        (sent, tunnel.poll_event())
    }

    /// Every answer split at every byte gives the same result.
    fn every_split(
        proxy: &str,
        answer: &[u8],
    ) -> (Vec<u8>, Result<Option<TunnelEvent>, ProxyError>) {
        let whole = run(proxy, answer, answer.len());
        for cut in 0..answer.len() {
            assert_eq!(run(proxy, answer, cut), whole, "{proxy} cut at {cut}");
        }
        // A byte at a time.
        let proxy_ = Proxy::parse(proxy).unwrap();
        let mut tunnel = Tunnel::new(&proxy_, "example.com", 443);
        let mut sent = tunnel.poll_transmit().unwrap_or_default();
        for byte in answer {
            tunnel.receive(&[*byte]);
            while let Some(bytes) = tunnel.poll_transmit() {
                sent.extend(bytes);
            }
        }
        assert_eq!(
            (sent, tunnel.poll_event()),
            whole,
            "{proxy} a byte at a time"
        );
        whole
    }

    #[test]
    fn http_connect() {
        let (sent, event) = every_split(
            "http://u:p@p:1",
            b"HTTP/1.1 200 Connection established\r\nVia: x\r\n\r\n",
        );
        assert!(sent.starts_with(b"CONNECT example.com:443 HTTP/1.1\r\n"));
        assert!(sent
            .windows(28)
            .any(|w| w == b"Proxy-Authorization: Basic d"));
        assert_eq!(event, Ok(Some(TunnelEvent::Established)));
        let (_, event) = every_split(
            "http://p:1",
            b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n",
        );
        assert_eq!(
            event,
            Err(ProxyError::AuthRequired {
                status: 407,
                sent_credentials: false
            })
        );
        let (_, event) = every_split("http://p:1", b"HTTP/1.1 200 OK\r\n\r\nearly");
        assert_eq!(event, Err(ProxyError::UnexpectedData));
    }

    #[test]
    fn socks5_without_and_with_credentials() {
        let reply = [5, 0, 0, 1, 1, 2, 3, 4, 0, 1];
        let (sent, event) = every_split("socks5h://p", &[&[5, 0][..], &reply].concat());
        assert_eq!(&sent[..3], &[5, 1, 0]);
        assert_eq!(&sent[3..8], &[5, 1, 0, 3, 11]);
        assert_eq!(event, Ok(Some(TunnelEvent::Established)));

        let (sent, event) = every_split("socks5://u:pw@p", &[&[5, 2, 1, 0][..], &reply].concat());
        assert_eq!(&sent[..4], &[5, 2, 0, 2]);
        assert_eq!(&sent[4..10], &[1, 1, b'u', 2, b'p', b'w']);
        assert_eq!(&sent[10..13], &[5, 1, 0]);
        assert_eq!(event, Ok(Some(TunnelEvent::Established)));

        // The proxy may skip authentication even when it was offered.
        let (_, event) = every_split("socks5://u:pw@p", &[&[5, 0][..], &reply].concat());
        assert_eq!(event, Ok(Some(TunnelEvent::Established)));
    }

    #[test]
    fn socks5_failures() {
        let (_, event) = every_split("socks5://u:pw@p", &[5, 2, 1, 1]);
        assert_eq!(event, Err(ProxyError::SocksAuthFailed { status: 1 }));
        let (_, event) = every_split("socks5://p", &[5, 0xff]);
        assert_eq!(
            event,
            Err(ProxyError::SocksNoAcceptableMethod {
                offered_credentials: false
            })
        );
        let (_, event) = every_split("socks5://p", &[5, 0, 5, 2, 0, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(event, Err(ProxyError::SocksReply { code: 2 }));
        let (_, event) = every_split("socks5://p", &[5, 0, 5, 0, 0, 1, 0, 0, 0, 0, 0, 0, 9]);
        assert_eq!(event, Err(ProxyError::UnexpectedData));
        // The proxy answers before it was asked.
        let (_, event) = every_split("socks5://p", &[5, 0, 5]);
        assert_eq!(event, Ok(None), "the reply may start in the same read");
    }

    #[test]
    fn eof_and_sticky_errors() {
        let proxy = Proxy::parse("socks5://p").unwrap();
        let mut tunnel = Tunnel::new(&proxy, "h", 1);
        tunnel.receive(&[5]);
        tunnel.receive_eof();
        assert_eq!(tunnel.poll_event(), Err(ProxyError::Closed { received: 1 }));
        tunnel.receive(&[0]);
        assert_eq!(tunnel.poll_event(), Err(ProxyError::Closed { received: 1 }));
        let mut tunnel = Tunnel::new(&proxy, &"x".repeat(300), 1);
        assert_eq!(tunnel.poll_transmit(), None);
        assert_eq!(tunnel.poll_event(), Err(ProxyError::HostTooLong));
    }

    #[test]
    fn an_endless_head_is_cut_at_the_limit() {
        let proxy = Proxy::parse("http://p").unwrap();
        let mut tunnel = Tunnel::new(&proxy, "h", 1);
        tunnel.receive(b"HTTP/1.1 200 OK\r\n");
        let line = [b'a'; 1000];
        for _ in 0..20 {
            tunnel.receive(&line);
        }
        assert_eq!(
            tunnel.poll_event(),
            Err(ProxyError::ResponseTooLarge {
                limit: http::MAX_HEAD
            })
        );
        assert!(tunnel.inbound.len() <= http::MAX_HEAD);
    }
}
