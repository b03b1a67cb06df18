//! The opening handshake of a relay: a reverse proxy or gateway that
//! accepts a client's WebSocket, opens one to a backend for it, and passes
//! frames between the two as they arrive, without decoding them (both
//! connections in frame mode, [`Config::deliver_frames`](crate::Config::deliver_frames)).
//!
//! [`Relay`] makes the two protocol decisions such a proxy has: what to ask
//! the backend for a client's request ([`Relay::backend_request`]), and what
//! to answer the client with the backend's response
//! ([`Relay::client_answer`]). Extensions pass through end to end: the
//! client's offers go to the backend, the backend's answer comes back, and
//! both of the relay's connections accept the reserved bits the agreed
//! extensions own without running them.
//!
//! ```
//! use ws_proto::handshake::{Relay, Request};
//! use ws_proto::{Config, Connection, Event};
//!
//! let relay = Relay::new();
//! // The client's request, as the relay's server connection parsed it.
//! let (request, _) = Request::parse(
//!     b"GET /chat?room=1 HTTP/1.1\r\nHost: proxy\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
//!       Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
//!       Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
//! ).unwrap().unwrap();
//!
//! // The backend leg: the same path, query, subprotocols and offers.
//! let backend_request = relay.backend_request(&request, "ws://10.0.0.7:9001/", None).unwrap();
//! assert_eq!(backend_request.target(), "/chat?room=1");
//! let mut to_backend = Connection::client(backend_request, Config::default().deliver_frames(16 * 1024));
//! let head = to_backend.poll_transmit().unwrap();
//! assert!(String::from_utf8_lossy(&head).contains("Sec-WebSocket-Extensions: permessage-deflate\r\n"));
//!
//! // The backend accepts with deflate; the client gets the same answer.
//! let (backend_sees, _) = Request::parse(&head).unwrap().unwrap();
//! let (answer, _) = backend_sees.accept_extensions(backend_sees.accept_with_protocol("chat").unwrap(), &Config::default());
//! to_backend.receive(&answer.to_bytes());
//! let Ok(Some(Event::Response(response))) = to_backend.poll_event() else { panic!() };
//! let for_client = relay.client_answer(&request, &response);
//! let text = String::from_utf8(for_client.to_bytes()).unwrap();
//! assert!(text.starts_with("HTTP/1.1 101"));
//! assert!(text.contains("Sec-WebSocket-Protocol: chat\r\n"));
//! assert!(text.contains("Sec-WebSocket-Extensions: permessage-deflate\r\n"));
//! ```

#[allow(unused_imports)]
use crate::prelude::*;
use alloc::sync::Arc;
use bytes::{Bytes, BytesMut};
use core::net::IpAddr;

use super::headers::{self, Header};
use super::{ClientRequest, InvalidUrl, Request, Response, ServerResponse};
use crate::extensions::{parse_element, split_outside_quotes};
use crate::{CloseCode, Config, Extension, MessageKind, NegotiateExtension, ProtocolError, RSV1};

/// The handshake decisions of a relaying proxy, and the extensions it passes
/// through: permessage-deflate (RSV1) from [`Relay::new`], others added with
/// [`Relay::extension`]. The module documentation has a whole example.
///
/// What passes from the client to the backend: the path and query (after
/// the backend URL's own path), the offered subprotocols, the offers of the
/// extensions the relay knows, and every end-to-end header (`Origin`,
/// `Cookie`, `Authorization`, ...). Not passed: `Host` (the backend's own),
/// the handshake's headers (built anew for the backend), hop-by-hop headers
/// (RFC 9110 section 7.6.1, and those the `Connection` header names), and
/// offers of extensions the relay does not know, whose reserved bits it
/// could not tell apart from a protocol error.
///
/// ```
/// use ws_proto::handshake::Relay;
/// use ws_proto::RSV2;
/// let relay = Relay::new().extension("x-xor", RSV2);
/// # let _ = relay;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relay {
    /// The extensions passed through: name and the reserved bits it owns.
    known: Vec<(String, u8)>,
}

impl Default for Relay {
    fn default() -> Self {
        Self::new()
    }
}

/// Headers a relay never copies from one leg to the other: the handshake's
/// own (each leg writes its own) and the hop-by-hop ones.
const NOT_RELAYED: &[&str] = &[
    "host",
    "upgrade",
    "connection",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-accept",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
    "content-length",
    "transfer-encoding",
    "keep-alive",
    "te",
    "trailer",
    "proxy-authorization",
    "proxy-authenticate",
    "proxy-connection",
];

impl Relay {
    /// A relay that passes permessage-deflate through (its RSV1 bit).
    ///
    /// ```
    /// assert!(ws_proto::handshake::Relay::new().passes("permessage-deflate"));
    /// ```
    pub fn new() -> Self {
        Self {
            known: vec![("permessage-deflate".to_string(), RSV1)],
        }
    }

    /// Passes the extension `name` through as well; `rsv_bits` are the
    /// reserved bits it owns ([`RSV1`] | [`RSV2`](crate::RSV2) | [`RSV3`](crate::RSV3)),
    /// which the relay's connections then accept on the first frame of a
    /// data message once the backend agreed to it. A name already known
    /// takes the new bits.
    ///
    /// ```
    /// use ws_proto::handshake::Relay;
    /// assert!(Relay::new().extension("x-xor", ws_proto::RSV2).passes("X-XOR"));
    /// ```
    pub fn extension(mut self, name: impl Into<String>, rsv_bits: u8) -> Self {
        let name = name.into();
        self.known
            .retain(|(known, _)| !known.eq_ignore_ascii_case(&name));
        self.known.push((name, rsv_bits & 0b111));
        self
    }

    /// Whether offers of the extension `name` pass through (any case).
    ///
    /// ```
    /// assert!(!ws_proto::handshake::Relay::new().passes("x-unknown"));
    /// ```
    pub fn passes(&self, name: &str) -> bool {
        self.bits(name).is_some()
    }

    fn bits(&self, name: &str) -> Option<u8> {
        self.known
            .iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(name))
            .map(|(_, bits)| *bits)
    }

    /// The request to open to the backend at `backend_url` for the client's
    /// `request`: the client's path and query after the backend URL's path
    /// (`ws://b/api/` and `/chat?x=1` give `/api/chat?x=1`; queries on both
    /// are joined with `&`), its subprotocols, its offers of the extensions
    /// this relay passes, and its end-to-end headers. `forwarded_for`, the
    /// client's address, is appended to `X-Forwarded-For`.
    ///
    /// Open the backend's [`Connection::client`](crate::Connection::client)
    /// with this request: its offers come with implementations that accept
    /// whatever parameters the backend answers with (the client checks
    /// them) and own the extension's bits without decoding, so that
    /// connection must deliver frames. The configuration's own extensions
    /// (permessage-deflate by default) are not offered: the backend is
    /// offered what the client offered, nothing else.
    ///
    /// ```
    /// use ws_proto::handshake::{Relay, Request};
    /// let request = Request::example(); // GET /chat?room=1, Origin, subprotocol "chat"
    /// let to_backend = Relay::new()
    ///     .backend_request(&request, "wss://backend.internal/api/", Some([10, 0, 0, 9].into()))
    ///     .unwrap();
    /// assert_eq!(to_backend.target(), "/api/chat?room=1");
    /// assert_eq!(to_backend.host(), "backend.internal");
    /// ```
    pub fn backend_request(
        &self,
        request: &Request,
        backend_url: &str,
        forwarded_for: Option<IpAddr>,
    ) -> Result<ClientRequest, InvalidUrl> {
        let mut out = ClientRequest::from_url(backend_url)?;
        let target = join_targets(out.target(), request.target());
        out.set_target(target);
        for protocol in request.protocols() {
            out = out.protocol(protocol.as_str());
        }
        // The offers, grouped by extension (one implementation per name).
        let mut offers: Vec<RelayedOffer> = Vec::new();
        for element in request
            .extension_offers_raw()
            .flat_map(split_outside_quotes)
        {
            let Ok((name, _)) = parse_element(element) else {
                continue;
            };
            let Some(bits) = self.bits(name) else {
                continue;
            };
            match offers
                .iter_mut()
                .find(|o| o.name.eq_ignore_ascii_case(name))
            {
                Some(offer) => offer.elements.push(element.to_string()),
                None => offers.push(RelayedOffer {
                    name: name.to_string(),
                    rsv_bits: bits,
                    elements: vec![element.to_string()],
                }),
            }
        }
        for offer in offers {
            out = out.offer_implemented(Arc::new(offer));
        }
        // Only what the client offered: an extension the backend agreed to
        // on the relay's offer alone would reach a client that never asked.
        out = out.offers_final();
        let mut forwarded = None;
        for h in end_to_end(request.headers()) {
            if h.name.eq_ignore_ascii_case("x-forwarded-for") && forwarded_for.is_some() {
                forwarded = Some(h.value.clone());
                continue;
            }
            out = out.header(h.name.clone(), h.value.clone());
        }
        if let Some(addr) = forwarded_for {
            let mut value = forwarded.unwrap_or_default();
            if !value.is_empty() {
                value.extend_from_slice(b", ");
            }
            value.extend_from_slice(addr.to_string().as_bytes());
            out = out.header("X-Forwarded-For", value);
        }
        Ok(out)
    }

    /// The answer for the client once the backend accepted: 101 with the
    /// backend's subprotocol, its extension answer (the relay's server
    /// connection then owns those extensions' bits, see
    /// [`ServerResponse::with_extensions`]) and its end-to-end headers
    /// (`Set-Cookie`, ...).
    ///
    /// A backend that chose a subprotocol the client did not offer gets the
    /// client a 502 instead (the client would fail the connection anyway).
    ///
    /// ```
    /// # use ws_proto::handshake::{ClientRequest, Relay, Request};
    /// # use ws_proto::{Config, Connection, Event};
    /// let relay = Relay::new();
    /// let request = Request::example(); // offers subprotocol "chat"
    /// let mut to_backend = Connection::client(relay.backend_request(&request, "ws://b/", None).unwrap(), Config::default());
    /// let (backend_sees, _) = Request::parse(&to_backend.poll_transmit().unwrap()).unwrap().unwrap();
    /// to_backend.receive(&backend_sees.accept_with_protocol("chat").unwrap().header("Set-Cookie", "s=1").to_bytes());
    /// let Ok(Some(Event::Response(response))) = to_backend.poll_event() else { panic!() };
    /// let answer = String::from_utf8(relay.client_answer(&request, &response).to_bytes()).unwrap();
    /// assert!(answer.contains("Sec-WebSocket-Protocol: chat\r\nSet-Cookie: s=1\r\n"));
    /// ```
    pub fn client_answer(&self, request: &Request, response: &Response) -> ServerResponse {
        let mut answer = match response.protocol() {
            Some(protocol) => match request.accept_with_protocol(protocol) {
                Ok(answer) => answer,
                Err(_) => {
                    return ServerResponse::reject(
                        502,
                        format!("the backend chose subprotocol {protocol:?}, which the client did not offer"),
                    )
                }
            },
            None => request.accept(),
        };
        for h in end_to_end(response.headers()) {
            answer = answer.header(h.name.clone(), h.value.clone());
        }
        answer.with_extensions(response.negotiated().clone())
    }
}

impl Relay {
    /// `base` made fit for either leg of a relay: frames delivered in
    /// pieces of at most `max_chunk` bytes, pings and close frames passed
    /// on rather than answered (the peers answer them), a protocol error's
    /// close frame left to the relay (which passes the failure on first,
    /// see [`Config::auto_failure_close`]), and no size limit of the
    /// relay's own (the backend's apply). The other settings of
    /// `base` (timeouts, handshake limits) stay.
    ///
    /// ```
    /// use ws_proto::handshake::Relay;
    /// let leg = Relay::leg_config(ws_proto::Config::default(), 64 * 1024);
    /// assert_eq!(leg.get_max_frame_size(), usize::MAX);
    /// assert_eq!(leg.get_max_message_size(), usize::MAX);
    /// ```
    pub fn leg_config(base: Config, max_chunk: usize) -> Config {
        base.deliver_frames(max_chunk)
            .auto_pong(false)
            .auto_close_reply(false)
            .auto_failure_close(false)
            .max_frame_size(usize::MAX)
            .max_message_size(usize::MAX)
    }

    /// The answer for the client when the backend's connection could not be
    /// opened: the backend's own refusal status (`backend_status`, 400 and
    /// up) passed on, 504 when it did not answer in time (`timed_out`), 502
    /// otherwise. The body says which, and no more: the backend's address
    /// and its error in full are for the relay's log, not for the client.
    ///
    /// ```
    /// use ws_proto::handshake::Relay;
    /// let refused = Relay::refusal(Some(403), false);
    /// assert_eq!(refused.status(), 403);
    /// assert_eq!(Relay::refusal(None, true).status(), 504);
    /// assert_eq!(Relay::refusal(None, false).status(), 502);
    /// ```
    pub fn refusal(backend_status: Option<u16>, timed_out: bool) -> ServerResponse {
        match backend_status {
            Some(status) if (400..600).contains(&status) => ServerResponse::reject(
                status,
                format!("the backend refused the WebSocket handshake with status {status}"),
            ),
            _ if timed_out => ServerResponse::reject(
                504,
                "the backend did not answer within the handshake timeout",
            ),
            _ => ServerResponse::reject(
                502,
                "no WebSocket connection to the backend could be opened",
            ),
        }
    }
}

/// One of a relay's two connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leg {
    /// The connection the client opened to the relay.
    Client,
    /// The connection the relay opened to the backend.
    Backend,
}

impl Leg {
    /// The relay's other connection.
    ///
    /// ```
    /// use ws_proto::handshake::Leg;
    /// assert_eq!(Leg::Client.other(), Leg::Backend);
    /// assert_eq!(Leg::Backend.other(), Leg::Client);
    /// ```
    pub fn other(self) -> Self {
        match self {
            Self::Client => Self::Backend,
            Self::Backend => Self::Client,
        }
    }
}

impl Relay {
    /// The close a relay sends on the leg `toward` when the other leg ended
    /// without a close frame to pass on: `other_failed` when the other
    /// peer broke the protocol (the relay's connection to it failed, and
    /// told it why), otherwise it went away (its transport closed, or its
    /// close timed out).
    ///
    /// * Toward the client when the backend failed: 1014 (bad gateway).
    /// * Otherwise: 1001 (going away), as the other end of the relay is gone.
    ///
    /// A close frame the other peer did send is passed on as it was, not
    /// replaced by one of these.
    ///
    /// ```
    /// use ws_proto::handshake::{Leg, Relay};
    /// use ws_proto::CloseCode;
    /// assert_eq!(Relay::close_for(Leg::Client, true).0, CloseCode::BAD_GATEWAY);
    /// assert_eq!(Relay::close_for(Leg::Backend, true).0, CloseCode::GOING_AWAY);
    /// ```
    pub fn close_for(toward: Leg, other_failed: bool) -> (CloseCode, &'static str) {
        match (toward, other_failed) {
            (Leg::Client, true) => (
                CloseCode::BAD_GATEWAY,
                "the backend broke the WebSocket protocol",
            ),
            (Leg::Client, false) => (CloseCode::GOING_AWAY, "the backend went away"),
            (Leg::Backend, true) => (
                CloseCode::GOING_AWAY,
                "the client broke the WebSocket protocol",
            ),
            (Leg::Backend, false) => (CloseCode::GOING_AWAY, "the client went away"),
        }
    }

    /// Whether a relay passes a protocol failure on the leg `failed` to the
    /// other leg's peer, rather than closing the failed leg at once.
    ///
    /// The legs run with [`Config::auto_failure_close`] off, so a leg whose
    /// peer broke the protocol reports it once and owes that peer the
    /// failure's close frame ([`ProtocolError::close_frame`]); this says who
    /// gets that frame first.
    ///
    /// * The client broke the protocol (returns `true`): the close frame goes to the
    ///   backend while it is open. The backend answers it after what it
    ///   still has in flight, and all of that reaches the client, the close
    ///   last, as if the client had talked to the backend directly. Were the
    ///   client closed at once, it would lose the echoes of the frames it
    ///   sent before the bad one (Autobahn's cases 3.2 to 5.15 check that).
    /// * The backend broke the protocol (returns `false`): the backend leg sends the
    ///   close frame at once, and the client gets
    ///   [`close_for(Leg::Client, true)`](Self::close_for) (1014).
    ///
    /// When the other leg cannot take a close (it is already closing, or a
    /// frame of the relay's is half sent on it), the failed leg is closed at
    /// once either way.
    ///
    /// ```
    /// use ws_proto::handshake::{Leg, Relay};
    /// assert!(Relay::passes_failure_on(Leg::Client));
    /// assert!(!Relay::passes_failure_on(Leg::Backend));
    /// ```
    ///
    /// [`Config::auto_failure_close`]: crate::Config::auto_failure_close
    /// [`ProtocolError::close_frame`]: crate::ProtocolError::close_frame
    pub fn passes_failure_on(failed: Leg) -> bool {
        failed == Leg::Client
    }
}

/// The headers of `all` that a relay copies to the other leg.
fn end_to_end(all: &[Header]) -> impl Iterator<Item = &Header> {
    // Headers the `Connection` header names are hop-by-hop too.
    let named: Vec<&str> = headers::tokens(all, "connection").collect();
    all.iter().filter(move |h| {
        !NOT_RELAYED.iter().any(|n| h.name.eq_ignore_ascii_case(n))
            && !named.iter().any(|n| h.name.eq_ignore_ascii_case(n))
    })
}

/// The backend's path, then the client's; both queries, joined by `&`.
fn join_targets(backend: &str, client: &str) -> String {
    let (b_path, b_query) = backend.split_once('?').unwrap_or((backend, ""));
    let (c_path, c_query) = client.split_once('?').unwrap_or((client, ""));
    let mut target = String::from(b_path.trim_end_matches('/'));
    if c_path.starts_with('/') {
        target.push_str(c_path);
    } else {
        target.push('/');
        target.push_str(c_path);
    }
    let query: Vec<&str> = [b_query, c_query]
        .into_iter()
        .filter(|q| !q.is_empty())
        .collect();
    if !query.is_empty() {
        target.push('?');
        target.push_str(&query.join("&"));
    }
    target
}

/// The client's offers of one extension, passed to the backend as they
/// were written; whatever the backend answers is taken (the client checks
/// it against its own offer).
#[derive(Debug)]
struct RelayedOffer {
    name: String,
    rsv_bits: u8,
    elements: Vec<String>,
}

impl NegotiateExtension for RelayedOffer {
    fn name(&self) -> &str {
        &self.name
    }

    fn offer(&self) -> String {
        self.elements.join(", ")
    }

    fn accept(&self, _params: &[(String, Option<String>)]) -> Option<(String, Box<dyn Extension>)> {
        // Only offered (client side); a relay answers with the backend's answer.
        None
    }

    fn check(&self, _params: &[(String, Option<String>)]) -> Result<Box<dyn Extension>, String> {
        Ok(Box::new(Relayed {
            name: self.name.clone(),
            rsv_bits: self.rsv_bits,
        }))
    }
}

/// An extension a relay passes through: it owns the extension's reserved
/// bits, so frames that carry them are accepted and delivered as they came
/// (frame mode), but it cannot decode a message (message mode fails such a
/// message with [`ProtocolError::ExtensionFailed`]) and sends messages
/// untransformed.
#[derive(Debug, Clone)]
struct Relayed {
    name: String,
    rsv_bits: u8,
}

impl Extension for Relayed {
    fn name(&self) -> &str {
        &self.name
    }

    fn rsv_bits(&self) -> u8 {
        self.rsv_bits
    }

    fn encode(&mut self, _kind: MessageKind, payload: Bytes) -> (Bytes, u8) {
        (payload, 0)
    }

    fn decode(
        &mut self,
        _rsv: u8,
        _input: &[u8],
        _last: bool,
        _max: usize,
        _out: &mut BytesMut,
    ) -> Result<(), ProtocolError> {
        Err(ProtocolError::ExtensionFailed {
            reason: format!(
                "{} is relayed, not decoded: a relaying connection delivers frames (Config::deliver_frames)",
                self.name
            )
            .into(),
        })
    }

    fn clone_box(&self) -> Box<dyn Extension> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Connection, Event, RSV2};

    const OFFERING: &[u8] = b"GET /feed?a=1 HTTP/1.1\r\nHost: proxy.example\r\nUpgrade: websocket\r\n\
        Connection: Upgrade, X-Hop\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: v2, v1\r\n\
        Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, x-unknown, permessage-deflate\r\n\
        Sec-WebSocket-Extensions: x-xor; key=\"7, 8\"\r\n\
        Origin: https://app.example\r\nCookie: id=42\r\nX-Hop: drop me\r\nKeep-Alive: 5\r\n\
        X-Forwarded-For: 192.0.2.1\r\n\r\n";

    fn request() -> Request {
        Request::parse(OFFERING).unwrap().unwrap().0
    }

    fn head_of(conn: &mut Connection) -> String {
        String::from_utf8(conn.poll_transmit().unwrap().to_vec()).unwrap()
    }

    #[test]
    fn targets_join_the_backend_path_and_both_queries() {
        assert_eq!(join_targets("/", "/chat"), "/chat");
        assert_eq!(join_targets("/api/", "/chat?x=1"), "/api/chat?x=1");
        assert_eq!(join_targets("/api?k=v", "/chat?x=1"), "/api/chat?k=v&x=1");
        assert_eq!(join_targets("/", "/"), "/");
    }

    #[test]
    fn the_backend_gets_path_protocols_known_offers_and_end_to_end_headers() {
        let relay = Relay::new().extension("x-xor", RSV2);
        let to_backend = relay
            .backend_request(&request(), "ws://backend:9001/", Some([10, 1, 2, 3].into()))
            .unwrap();
        let mut conn = Connection::client(to_backend, Config::default());
        let head = head_of(&mut conn);
        assert!(
            head.starts_with("GET /feed?a=1 HTTP/1.1\r\nHost: backend:9001\r\n"),
            "{head}"
        );
        assert!(
            head.contains("Sec-WebSocket-Protocol: v2, v1\r\n"),
            "{head}"
        );
        // Known offers, as written, deflate's two offers together; the
        // unknown one dropped; the configuration's deflate not offered twice.
        assert!(
            head.contains(
                "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, permessage-deflate, x-xor; key=\"7, 8\"\r\n"
            ),
            "{head}"
        );
        assert!(!head.contains("x-unknown"), "{head}");
        assert!(
            head.contains("Origin: https://app.example\r\nCookie: id=42\r\n"),
            "{head}"
        );
        assert!(
            head.contains("X-Forwarded-For: 192.0.2.1, 10.1.2.3\r\n"),
            "{head}"
        );
        assert!(
            !head.contains("X-Hop") && !head.contains("Keep-Alive"),
            "{head}"
        );
        assert_eq!(head.matches("Host:").count(), 1, "{head}");
    }

    /// Relays the backend's answer to the client; returns the client's
    /// response and both of the relay's connections (frame mode).
    fn relayed(backend: Config) -> (Connection, Connection, Connection, Connection) {
        let relay = Relay::new().extension("x-xor", RSV2);
        let frames = || Config::default().deliver_frames(1024);
        // Client -> relay.
        let mut client = Connection::client(
            ClientRequest::from_url("ws://proxy.example/feed").unwrap(),
            Config::default(),
        );
        let mut relay_server = Connection::server(frames());
        relay_server.receive(&client.poll_transmit().unwrap());
        let Ok(Some(Event::Request(request))) = relay_server.poll_event() else {
            panic!("no request")
        };
        // Relay -> backend.
        let to_backend = relay
            .backend_request(&request, "ws://backend/", None)
            .unwrap();
        let mut relay_client = Connection::client(to_backend, frames());
        let mut server = Connection::server(backend);
        server.receive(&relay_client.poll_transmit().unwrap());
        let Ok(Some(Event::Request(backend_sees))) = server.poll_event() else {
            panic!("no request at the backend")
        };
        server.respond(backend_sees.accept()).unwrap();
        relay_client.receive(&server.poll_transmit().unwrap());
        let Ok(Some(Event::Response(response))) = relay_client.poll_event() else {
            panic!("backend refused")
        };
        // Relay -> client.
        relay_server
            .respond(relay.client_answer(&request, &response))
            .unwrap();
        client.receive(&relay_server.poll_transmit().unwrap());
        assert!(matches!(client.poll_event(), Ok(Some(Event::Response(_)))));
        (client, relay_server, relay_client, server)
    }

    /// Moves every frame `from` delivers to `to`.
    fn forward(from: &mut Connection, to: &mut Connection) -> usize {
        let mut n = 0;
        while let Ok(Some(event)) = from.poll_event() {
            let Some(frame) = event.into_frame() else {
                continue;
            };
            to.send_frame(frame).unwrap();
            n += 1;
        }
        n
    }

    #[test]
    #[cfg(feature = "deflate")]
    fn deflate_passes_end_to_end_and_the_relay_carries_rsv1_without_inflating() {
        let (mut client, mut relay_server, mut relay_client, mut server) =
            relayed(Config::default());
        let text = "compress me ".repeat(100);
        client.send_text(text.as_str()).unwrap();
        let mut wire = 0;
        while let Some(bytes) = client.poll_transmit() {
            assert_ne!(
                bytes[0] & 0x40,
                0,
                "compressed (RSV1), so deflate was agreed end to end"
            );
            wire += bytes.len();
            relay_server.receive(&bytes);
        }
        assert!(wire < 200, "compressed: {wire} bytes");
        assert_eq!(forward(&mut relay_server, &mut relay_client), 1);
        while let Some(bytes) = relay_client.poll_transmit() {
            server.receive(&bytes);
        }
        assert_eq!(
            server.poll_event(),
            Ok(Some(Event::Text(text.as_str().into())))
        );
    }

    #[test]
    fn a_client_that_offers_no_extension_gets_the_backend_none_offered() {
        let (request, _) = Request::parse(
            b"GET / HTTP/1.1\r\nHost: p\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        )
        .unwrap()
        .unwrap();
        let to_backend = Relay::new()
            .backend_request(&request, "ws://b/", None)
            .unwrap();
        // The default configuration would offer permessage-deflate.
        let mut conn = Connection::client(to_backend, Config::default());
        let head = head_of(&mut conn);
        assert!(!head.contains("Sec-WebSocket-Extensions"), "{head}");
    }

    #[test]
    fn a_relayed_extension_in_message_mode_fails_in_words() {
        let mut codec = Relayed {
            name: "permessage-deflate".into(),
            rsv_bits: RSV1,
        };
        let err = codec
            .decode(RSV1, b"x", true, 100, &mut BytesMut::new())
            .unwrap_err();
        assert!(err.to_string().contains("deliver_frames"), "{err}");
        assert_eq!(
            codec.encode(MessageKind::Text, Bytes::from_static(b"hi")).1,
            0
        );
    }

    #[test]
    #[cfg(feature = "deflate")]
    fn without_an_agreed_extension_reserved_bits_stay_a_protocol_error_at_the_relay() {
        let (_, mut relay_server, _, _) = relayed(Config::default().deflate(None));
        // A masked text frame "hi" with RSV1, although nothing was agreed.
        let mut wire = vec![0x80 | 0x40 | 0x1, 0x80 | 2, 0, 0, 0, 0];
        wire.extend_from_slice(b"hi");
        relay_server.receive(&wire);
        let err = loop {
            match relay_server.poll_event() {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("accepted an unowned reserved bit"),
                Err(err) => break err,
            }
        };
        assert_eq!(
            err.close_code(),
            Some(crate::CloseCode::PROTOCOL_ERROR),
            "{err}"
        );
    }

    #[test]
    fn a_subprotocol_the_client_did_not_offer_gets_it_a_502() {
        let request = Request::example(); // offers "chat"
        let answer = Relay::new().client_answer(&request, &Response::for_tests(Some("mqtt")));
        assert_eq!(answer.status(), 502);
        assert!(String::from_utf8_lossy(answer.body()).contains("mqtt"));
        let answer = Relay::new().client_answer(&request, &Response::for_tests(Some("chat")));
        assert_eq!(answer.status(), 101);
    }
}
