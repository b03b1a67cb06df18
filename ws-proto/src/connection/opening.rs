//! The opening handshake inside the connection (RFC 6455 section 4): a
//! connection built with [`Connection::server`] or [`Connection::client`]
//! starts [`Connecting`](super::ReadyState::Connecting), parses the peer's
//! head out of the same read buffer the frames use, and opens in place, so
//! the bytes that followed the head are decoded as frames without being
//! copied or read twice.
//!
//! The steps, as data:
//!
//! | role | step | leaves it |
//! |---|---|---|
//! | server | waiting for the request | a whole request: [`Event::Request`](crate::Event::Request); a bad one: its error response is queued and the connection fails |
//! | server | waiting for the application's answer | [`Connection::respond`]: 101 opens, anything else is queued and fails the connection |
//! | client | waiting for the response (request queued at construction) | 101 checked: [`Event::Response`](crate::Event::Response) and open; otherwise it fails |
//!
//! Every step ends with [`HandshakeError::TimedOut`] once the handshake
//! timeout passes, and with [`HandshakeError::PeerClosed`] at end of stream.

#[allow(unused_imports)]
use crate::prelude::*;
use bytes::{Buf, Bytes};

use super::receive::Ready;
use super::Connection;
use crate::handshake::{
    answer_extensions, ClientHandshake, ClientRequest, HandshakeConfig, HandshakeError, Request,
    ResponseError, ServerResponse,
};
use crate::{Config, Error, Extensions, Instant, Role, SendError};

/// The most of a refusal's body a client waits for (the rest is not read).
const MAX_REFUSAL_BODY: usize = 1024;

/// The limit `ClientHandshake::parse_response` puts on a response head.
const MAX_RESPONSE_HEAD: usize = 16 * 1024;

/// The handshake's state while the connection is connecting. Boxed in the
/// connection, and dropped when it opens.
#[derive(Debug)]
pub(super) struct Opening {
    config: HandshakeConfig,
    /// Armed by the first `poll_timeout`.
    deadline: Option<Instant>,
    /// How much of the read buffer is known to hold no end of a head, so
    /// that a head sent a byte at a time is scanned once, not parsed again
    /// from its start at every byte (quadratic work a slow client could
    /// make a server do).
    scanned: usize,
    step: Step,
}

#[derive(Debug)]
#[allow(clippy::enum_variant_names)] // each step is something awaited
enum Step {
    /// Server: the request head has not arrived in full.
    AwaitingRequest,
    /// Server: the request was handed out; the application answers with
    /// `respond`. What is kept of it: the extensions it offered, to
    /// negotiate them (not the whole request: no copy of every header).
    AwaitingAnswer(Vec<String>),
    /// Client: the request is queued; the response has not arrived in full.
    AwaitingResponse(ClientHandshake),
}

impl Connection {
    /// A server connection that runs the opening handshake itself: feed it
    /// what the transport reads, and it reports the client's request as
    /// [`Event::Request`](crate::Event::Request); answer with
    /// [`respond`](Self::respond). A request failing the checks of section
    /// 4.2.1 is answered with the matching error status, and
    /// [`poll_event`](Self::poll_event) returns
    /// [`HandshakeError::Request`]. The handshake timeout and head limits are
    /// the config's ([`Config::handshake_timeout`], [`Config::handshake_limits`]).
    ///
    /// ```
    /// use ws_proto::{Config, Connection, Event, ReadyState};
    /// let mut server = Connection::server(Config::default());
    /// assert_eq!(server.ready_state(), ReadyState::Connecting);
    /// server.receive(b"GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
    ///     Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    /// let Ok(Some(Event::Request(request))) = server.poll_event() else { panic!() };
    /// assert_eq!(request.path(), "/chat");
    /// server.respond(request.accept()).unwrap();
    /// assert_eq!(server.ready_state(), ReadyState::Open);
    /// let answer = server.poll_transmit().unwrap();
    /// assert!(answer.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
    /// ```
    pub fn server(config: Config) -> Self {
        let handshake = config.handshake.clone();
        let mut conn = Self::with_extensions(Role::Server, config, Extensions::none());
        conn.opening = Some(Box::new(Opening {
            config: handshake,
            deadline: None,
            scanned: 0,
            step: Step::AwaitingRequest,
        }));
        conn
    }

    /// A client connection that runs the opening handshake itself: the
    /// request (with a fresh key from the config's randomness and the
    /// config's permessage-deflate offer) is queued at once for
    /// [`poll_transmit`](Self::poll_transmit); feed it what the transport
    /// reads, and a valid 101 is reported as
    /// [`Event::Response`](crate::Event::Response), after which the connection
    /// is open. Any other answer fails it with [`HandshakeError::Response`]
    /// (a refusal's status, headers and the start of its body in
    /// [`ResponseError::Rejected`]).
    ///
    /// ```
    /// use ws_proto::handshake::ClientRequest;
    /// use ws_proto::{Config, Connection, Event, ReadyState};
    /// let request = ClientRequest::from_url("ws://example.com/feed").unwrap();
    /// let mut client = Connection::client(request, Config::default());
    /// assert_eq!(client.ready_state(), ReadyState::Connecting);
    /// let head = client.poll_transmit().unwrap();
    /// assert!(head.starts_with(b"GET /feed HTTP/1.1\r\nHost: example.com\r\n"));
    /// client.receive(b"HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope");
    /// let err = client.poll_event().unwrap_err();
    /// assert_eq!(err.status(), Some(404));
    /// assert!(client.should_close_transport());
    /// ```
    pub fn client(request: ClientRequest, config: Config) -> Self {
        let mut config = config;
        let handshake = config.handshake.clone();
        let (head, pending) = request
            .offer_extensions(&handshake)
            .into_handshake(config.randomness_mut());
        let mut conn = Self::with_extensions(Role::Client, config, Extensions::none());
        conn.outbound.push_bytes(Bytes::from(head));
        conn.opening = Some(Box::new(Opening {
            config: handshake,
            deadline: None,
            scanned: 0,
            step: Step::AwaitingResponse(pending),
        }));
        conn
    }

    /// Server: answers the request reported by
    /// [`Event::Request`](crate::Event::Request). An acceptance
    /// ([`Request::accept`], [`Request::accept_with_protocol`]) gets the
    /// permessage-deflate answer the config allows added, is queued, and
    /// opens the connection: frames may be sent at once and the bytes that
    /// followed the request are decoded next. Any other response (for
    /// example [`ServerResponse::reject`]) is queued, the connection fails
    /// with [`HandshakeError::Refused`] and should be closed once it is
    /// written.
    ///
    /// ```
    /// use ws_proto::handshake::{HandshakeError, ServerResponse};
    /// use ws_proto::{Config, Connection, Error, Event};
    /// let mut server = Connection::server(Config::default());
    /// server.receive(b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
    ///     Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    /// assert!(matches!(server.poll_event(), Ok(Some(Event::Request(_)))));
    /// server.respond(ServerResponse::reject(403, "no")).unwrap();
    /// assert_eq!(server.poll_event(), Err(Error::Handshake(HandshakeError::Refused { status: 403 })));
    /// assert!(server.poll_transmit().unwrap().starts_with(b"HTTP/1.1 403 Forbidden\r\n"));
    /// assert!(server.should_close_transport());
    /// ```
    pub fn respond(&mut self, response: ServerResponse) -> Result<(), SendError> {
        let Some(opening) = self.opening.as_deref() else {
            return Err(SendError::NoRequestToAnswer);
        };
        let Step::AwaitingAnswer(offers) = &opening.step else {
            return Err(SendError::NoRequestToAnswer);
        };
        let offers = offers.iter().map(String::as_str);
        let (response, extensions) = answer_extensions(offers, response, &opening.config);
        self.outbound.push_bytes(Bytes::from(response.to_bytes()));
        if response.is_accept() {
            self.opening = None;
            self.use_extensions(extensions);
        } else {
            let _ = self.fail_handshake(HandshakeError::Refused {
                status: response.status(),
            });
        }
        Ok(())
    }

    /// Whether the opening handshake is still running.
    #[inline(always)]
    pub(super) fn is_connecting(&self) -> bool {
        self.opening.is_some()
    }

    /// The handshake's deadline, armed at the first call.
    pub(super) fn opening_deadline(&mut self, now: Instant) -> Option<Instant> {
        let opening = self.opening.as_deref_mut()?;
        // A timeout past the end of time (`Duration::MAX`) never fires.
        if opening.deadline.is_none() {
            opening.deadline = crate::time::later(now, opening.config.timeout);
        }
        opening.deadline
    }

    /// The handshake timer: past the deadline, the handshake fails.
    pub(super) fn opening_timeout(&mut self, now: Instant) {
        let Some(opening) = self.opening.as_deref() else {
            return;
        };
        if opening.deadline.is_some_and(|deadline| now >= deadline) {
            let after = opening.config.timeout;
            let _ = self.fail_handshake(HandshakeError::TimedOut { after });
        }
    }

    /// The handshake's part of `poll_event`: parse what has arrived.
    #[cold]
    #[inline(never)]
    pub(super) fn poll_opening(&mut self) -> Result<Option<Ready>, Error> {
        let Some(opening) = self.opening.as_deref_mut() else {
            return Ok(None);
        };
        let eof = self.close.eof;
        // At the limit the head is parsed whatever it holds, so that one
        // too long is refused instead of buffered until the timeout.
        let head_limit = match opening.step {
            Step::AwaitingRequest => opening.config.limits.max_header_bytes,
            Step::AwaitingResponse(_) => MAX_RESPONSE_HEAD,
            Step::AwaitingAnswer(_) => usize::MAX,
        };
        // The first bytes are parsed at once, so that something that is
        // not HTTP at all (a TLS handshake on a plain port) is refused
        // without waiting for the limit or the timeout.
        let first_look = opening.scanned == 0;
        if !matches!(opening.step, Step::AwaitingAnswer(_))
            && !eof
            && self.read_buf.len() < head_limit
            && !head_may_end(&self.read_buf, &mut opening.scanned)
            && !first_look
        {
            return Ok(None);
        }
        match &opening.step {
            Step::AwaitingRequest => {
                match Request::parse_with_limits(&self.read_buf, opening.config.limits) {
                    Ok(Some((request, used))) => {
                        self.read_buf.advance(used);
                        let offers = request.extension_offers().map(String::from).collect();
                        opening.step = Step::AwaitingAnswer(offers);
                        Ok(Some(Ready::Request(Box::new(request))))
                    }
                    Ok(None) if eof => {
                        Err(self.fail_handshake(HandshakeError::PeerClosed { peer: Role::Client }))
                    }
                    Ok(None) => Ok(None),
                    Err(err) => {
                        let answer = ServerResponse::from_error(&err).to_bytes();
                        self.outbound.push_bytes(Bytes::from(answer));
                        Err(self.fail_handshake(HandshakeError::Request(err)))
                    }
                }
            }
            // The application has the request; frames that follow it wait.
            Step::AwaitingAnswer(_) => Ok(None),
            Step::AwaitingResponse(pending) => match pending.parse_response(&self.read_buf) {
                Ok(Some((response, used))) => {
                    self.read_buf.advance(used);
                    self.opening = None;
                    self.use_extensions(response.negotiated().clone());
                    Ok(Some(Ready::Response(Box::new(response))))
                }
                Ok(None) if eof => {
                    Err(self.fail_handshake(HandshakeError::PeerClosed { peer: Role::Server }))
                }
                Ok(None) => Ok(None),
                Err(ResponseError::Rejected(rejection))
                    if !eof && rejection.body.len() < refusal_body_len(&rejection.headers) =>
                {
                    // The body explains the refusal: wait for it (bounded by
                    // MAX_REFUSAL_BODY, the timeout and end of stream).
                    Ok(None)
                }
                Err(err) => Err(self.fail_handshake(HandshakeError::Response(err))),
            },
        }
    }

    /// Fails the handshake (see `record_failure`).
    pub(super) fn fail_handshake(&mut self, err: HandshakeError) -> Error {
        self.opening = None;
        self.record_failure(Error::Handshake(err))
    }
}

/// Whether `buf` holds the blank line that ends an HTTP head (`\n\n` or
/// `\n\r\n`, as the parser accepts either) beyond the first `scanned`
/// bytes, which were looked at before; `scanned` moves on to where the
/// next look starts.
fn head_may_end(buf: &[u8], scanned: &mut usize) -> bool {
    // Step back over a line end that a previous look saw only half of.
    let start = scanned.saturating_sub(2);
    let found = buf[start..]
        .windows(2)
        .enumerate()
        .any(|(i, pair)| match pair {
            [b'\n', b'\n'] => true,
            [b'\n', b'\r'] => buf.get(start + i + 2) == Some(&b'\n'),
            _ => false,
        });
    if !found {
        *scanned = buf.len();
    }
    found
}

/// How much of a refusal's body to wait for: its `Content-Length`, up to
/// [`MAX_REFUSAL_BODY`]; nothing without one.
fn refusal_body_len(headers: &[crate::handshake::Header]) -> usize {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
        .and_then(|h| core::str::from_utf8(&h.value).ok())
        .and_then(|v| v.trim().parse::<usize>().ok())
        .map_or(0, |len| len.min(MAX_REFUSAL_BODY))
}
