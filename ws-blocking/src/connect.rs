//! Connecting to a URL: TCP, TLS for `wss://`, then the client handshake.

use std::io;
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use ws_proto::handshake::proxy::ProxySetting;
use ws_proto::handshake::{ClientRequest, HandshakeError, Response};
use ws_proto::Config;

use crate::{client, Error, MaybeTlsStream, WebSocket};

/// The TLS settings [`connect_with`] may be given for `wss://`: a rustls
/// client configuration (root certificates, client certificates, ALPN).
/// Without the `rustls` feature this type has no values, so only `None`
/// can be passed.
///
/// ```
/// # #[cfg(feature = "rustls")] {
/// use std::sync::Arc;
/// use ws_blocking::rustls::{self, ClientConfig, RootCertStore};
/// let provider = Arc::new(rustls::crypto::ring::default_provider());
/// let config: ws_blocking::TlsConfig = Arc::new(
///     ClientConfig::builder_with_provider(provider)
///         .with_safe_default_protocol_versions()
///         .unwrap()
///         .with_root_certificates(RootCertStore::empty())
///         .with_no_client_auth(),
/// );
/// # let _ = config; }
/// ```
#[cfg(feature = "rustls")]
pub type TlsConfig = std::sync::Arc<rustls::ClientConfig>;

/// The TLS settings [`connect_with`] may be given for `wss://`. This build
/// has no TLS (the `rustls` feature is off), so the type has no values and
/// only `None` can be passed.
///
/// ```
/// let no_tls: Option<ws_blocking::TlsConfig> = None;
/// # let _ = no_tls;
/// ```
#[cfg(not(feature = "rustls"))]
#[derive(Debug, Clone)]
pub enum TlsConfig {}

/// Connects to a `ws://` or `wss://` URL with the default [`Config`] and, for
/// `wss://`, the Mozilla root certificates (`webpki-roots`). Returns the
/// connection and the server's handshake response.
///
/// Connecting, TLS and the opening handshake together must finish within
/// the handshake timeout (10 s by default; see [`connect_with`]). When the
/// environment names a proxy for the URL, the connection goes through it
/// (see [`connect_with_proxy`]).
///
/// ```no_run
/// use ws_blocking::{connect, Message};
/// let (mut ws, response) = connect("wss://echo.example.com/")?;
/// println!("headers: {:?}", response.headers());
/// ws.send(Message::text("hi"))?;
/// # Ok::<(), ws_blocking::Error>(())
/// ```
pub fn connect(url: &str) -> Result<(WebSocket<MaybeTlsStream>, Response), Error> {
    connect_with(ClientRequest::from_url(url)?, Config::default(), None)
}

/// Connects with a request you built (subprotocols, extra headers such as
/// `Origin` or `Authorization`), a [`Config`] and, for `wss://`, optionally
/// your own TLS configuration (custom root certificates, client
/// certificates); `None` uses the Mozilla roots. The TCP socket gets
/// `TCP_NODELAY`, since whole frames are written at once.
///
/// The TCP connection (each resolved address in turn), TLS and the opening
/// handshake together must finish within [`Config::handshake_timeout`], or
/// the result is `Error::Handshake(HandshakeError::TimedOut { after })`
/// with `after` that limit: TCP and TLS are bounded by a deadline that
/// far away, and the WebSocket handshake gets what is left of it as the
/// core's handshake timeout. A refusal (a non-101 answer, from the server
/// or a proxy) is `Error::Handshake(HandshakeError::Response(_))`; its
/// message names the status and the likely cause, [`Error::status`] the
/// status.
///
/// ```no_run
/// use ws_blocking::{connect_with, ClientRequest, Config};
/// let request = ClientRequest::from_url("ws://127.0.0.1:9001/feed")?
///     .protocol("feed.v1")
///     .header("Origin", "http://127.0.0.1");
/// let config = Config::default().max_message_size(1 << 20);
/// let (ws, response) = connect_with(request, config, None)?;
/// assert_eq!(response.protocol(), Some("feed.v1"));
/// # drop(ws);
/// # Ok::<(), ws_blocking::Error>(())
/// ```
pub fn connect_with(
    request: ClientRequest,
    config: Config,
    tls: Option<TlsConfig>,
) -> Result<(WebSocket<MaybeTlsStream>, Response), Error> {
    connect_with_proxy(request, config, tls, ProxySetting::FromEnv)
}

/// [`connect_with`] through the proxy `proxy` says:
/// [`ProxySetting::FromEnv`] (what [`connect`] and [`connect_with`] do:
/// `HTTPS_PROXY` for `wss://`, `HTTP_PROXY` for `ws://`, `ALL_PROXY`, less
/// `NO_PROXY`), [`ProxySetting::Use`] a given one, or
/// [`ProxySetting::Direct`].
///
/// Through a proxy the client connects TCP to it, opens a tunnel (HTTP
/// `CONNECT` with Basic credentials from the proxy URL, or SOCKS5 with
/// username/password), runs TLS inside it for `wss://`, then the opening
/// handshake, all within [`Config::handshake_timeout`]. A proxy's refusal
/// is [`Error::Proxy`], in words.
///
/// ```no_run
/// use ws_blocking::{connect_with_proxy, ClientRequest, Config};
/// use ws_blocking::ws_proto::handshake::proxy::{Proxy, ProxySetting};
/// let proxy = Proxy::parse("http://user:pass@127.0.0.1:3128")?;
/// let request = ClientRequest::from_url("wss://example.com/feed")?;
/// let (ws, _) = connect_with_proxy(request, Config::default(), None, ProxySetting::Use(proxy))?;
/// # drop(ws);
/// # Ok::<(), ws_blocking::Error>(())
/// ```
pub fn connect_with_proxy(
    request: ClientRequest,
    config: Config,
    tls: Option<TlsConfig>,
    proxy: ProxySetting,
) -> Result<(WebSocket<MaybeTlsStream>, Response), Error> {
    #[cfg(not(feature = "rustls"))]
    if request.is_secure() {
        let _ = tls;
        return Err(Error::TlsUnavailable);
    }
    let proxy = proxy.resolve(&request)?;
    let deadline = Deadline::after(config.get_handshake_timeout());
    let tcp = match proxy {
        Some(proxy) => crate::proxy::tunnel(&proxy, request.host(), request.port(), &deadline)?,
        None => connect_tcp(request.host(), request.port(), &deadline)?,
    };
    tcp.set_nodelay(true)?;
    #[cfg(feature = "rustls")]
    let stream = if request.is_secure() {
        tls::wrap(request.host(), tcp, tls, &deadline)?
    } else {
        MaybeTlsStream::Plain(tcp)
    };
    #[cfg(not(feature = "rustls"))]
    let stream = MaybeTlsStream::Plain(tcp);
    // The WebSocket handshake gets what is left of the limit.
    let config = match deadline.remaining()? {
        Some(left) => config.handshake_timeout(left),
        None => config,
    };
    client(request, stream, config).map_err(|err| match err {
        Error::Handshake(HandshakeError::TimedOut { .. }) => deadline.expired(),
        err => err,
    })
}

/// The time limit on connecting: TCP and TLS, and what is left of it for
/// the WebSocket handshake.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    at: Option<Instant>,
    limit: Duration,
}

impl Deadline {
    /// `limit` from now (none if it is too far to represent).
    fn after(limit: Duration) -> Self {
        Self {
            at: Instant::now().checked_add(limit),
            limit,
        }
    }

    /// The time left, or the timeout error once none is.
    pub(crate) fn remaining(&self) -> Result<Option<Duration>, Error> {
        match self.at {
            None => Ok(None),
            Some(at) => match at.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => Ok(Some(left)),
                _ => Err(self.expired()),
            },
        }
    }

    /// The handshake's timeout error, naming the whole limit.
    pub(crate) fn expired(&self) -> Error {
        Error::Handshake(HandshakeError::TimedOut { after: self.limit })
    }
}

/// Connects to the first address of the host that answers within the
/// deadline.
pub(crate) fn connect_tcp(host: &str, port: u16, deadline: &Deadline) -> Result<TcpStream, Error> {
    let mut last = None;
    for addr in (host, port).to_socket_addrs()? {
        let attempt = match deadline.remaining()? {
            Some(left) => TcpStream::connect_timeout(&addr, left),
            None => TcpStream::connect(addr),
        };
        match attempt {
            Ok(tcp) => return Ok(tcp),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => return Err(deadline.expired()),
            Err(e) => last = Some(e),
        }
    }
    Err(Error::Io(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("{host} resolves to no address"),
        )
    })))
}

#[cfg(feature = "rustls")]
mod tls {
    use std::io;
    use std::net::TcpStream;
    use std::sync::{Arc, OnceLock};

    use rustls::pki_types::ServerName;
    use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
    use ws_proto::handshake::InvalidUrl;

    use super::{Deadline, TlsConfig};
    use crate::error::is_timeout_kind;
    use crate::{Error, MaybeTlsStream};

    /// Runs the TLS handshake with `host` over `tcp`, within the deadline.
    pub(super) fn wrap(
        host: &str,
        mut tcp: TcpStream,
        config: Option<TlsConfig>,
        deadline: &Deadline,
    ) -> Result<MaybeTlsStream, Error> {
        let config = match config {
            Some(config) => config,
            None => default_config()?,
        };
        let name = ServerName::try_from(host.to_string()).map_err(|_| InvalidUrl::Host)?;
        let mut conn = ClientConnection::new(config, name)?;
        while conn.is_handshaking() {
            // A fresh socket: no timeout of the caller's to restore.
            tcp.set_read_timeout(deadline.remaining()?)?;
            match conn.complete_io(&mut tcp) {
                Ok((0, 0)) => {
                    return Err(Error::Io(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the server closed the connection during the TLS handshake",
                    )))
                }
                Ok(_) => {}
                Err(e) if is_timeout_kind(e.kind()) => {
                    deadline.remaining()?;
                }
                Err(e) => return Err(tls_error(e)),
            }
        }
        tcp.set_read_timeout(None)?;
        Ok(MaybeTlsStream::Rustls(Box::new(StreamOwned::new(
            conn, tcp,
        ))))
    }

    /// rustls reports handshake failures as I/O errors wrapping a `rustls::Error`.
    fn tls_error(err: io::Error) -> Error {
        match err
            .get_ref()
            .and_then(|e| e.downcast_ref::<rustls::Error>())
        {
            Some(tls) => Error::Tls(tls.clone()),
            None => Error::Io(err),
        }
    }

    /// The Mozilla roots with the ring provider, built once.
    fn default_config() -> Result<TlsConfig, Error> {
        static CONFIG: OnceLock<Result<TlsConfig, rustls::Error>> = OnceLock::new();
        let config = CONFIG.get_or_init(|| {
            let roots = RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            Ok(Arc::new(
                ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()?
                    .with_root_certificates(roots)
                    .with_no_client_auth(),
            ))
        });
        config.clone().map_err(Error::Tls)
    }
}
