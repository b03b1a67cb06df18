//! Connecting by URL: TCP, then TLS for `wss://`, then the handshake.

use std::io::IoSlice;
use std::pin::Pin;
#[cfg(feature = "rustls")]
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use ws_proto::handshake::proxy::{Proxy, ProxySetting};
use ws_proto::handshake::{ClientRequest, Response};
use ws_proto::{Config, Connection};

use crate::handshake::open_client;
use crate::{Error, WebSocketStream};

/// How [`connect_with`] secures a `wss://` connection.
///
/// ```
/// use ws_tokio::Connector;
/// let plain = Connector::Plain;
/// # let _ = plain;
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Connector {
    /// No TLS: only `ws://` URLs can be used.
    Plain,
    /// TLS with this rustls configuration (your own roots, client
    /// certificates, ALPN).
    #[cfg(feature = "rustls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
    Rustls(Arc<tokio_rustls::rustls::ClientConfig>),
}

/// The transport [`connect`] returns: TCP, or TLS over TCP for `wss://`.
///
/// ```
/// # async fn demo() -> Result<(), ws_tokio::Error> {
/// use ws_tokio::MaybeTlsStream;
/// let (ws, _) = ws_tokio::connect("ws://127.0.0.1:9001/").await?;
/// let tcp = match ws.into_inner() {
///     MaybeTlsStream::Plain(tcp) => tcp,
///     _ => unreachable!("ws:// is plain TCP"),
/// };
/// # drop(tcp);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum MaybeTlsStream<S = TcpStream> {
    /// Plain TCP (`ws://`).
    Plain(S),
    /// TLS with rustls (`wss://`).
    #[cfg(feature = "rustls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
    Rustls(Box<tokio_rustls::client::TlsStream<S>>),
}

/// Connects to a `ws://` or `wss://` URL with the default [`Config`]:
/// resolves the host, connects TCP (with `TCP_NODELAY`), sets up TLS with
/// the webpki roots for `wss://` (feature `rustls`), and runs the opening
/// handshake. When the environment names a proxy for the URL
/// (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, less `NO_PROXY`; see
/// [`connect_with_proxy`]) the connection goes through it.
///
/// ```
/// use ws_tokio::Message;
/// # async fn demo() -> Result<(), ws_tokio::Error> {
/// let (mut ws, response) = ws_tokio::connect("wss://echo.example.com/").await?;
/// ws.send(Message::text("hello")).await?;
/// let reply = ws.recv().await;
/// # drop((reply, response));
/// # Ok(())
/// # }
/// ```
pub async fn connect(url: &str) -> Result<(WebSocketStream<MaybeTlsStream>, Response), Error> {
    connect_with(ClientRequest::from_url(url)?, Config::default(), None).await
}

/// [`connect`] with your request (subprotocols, extra headers such as
/// `Origin` or `Authorization`), [`Config`] (limits, close timeout) and,
/// for `wss://`, a [`Connector`] (`None`: rustls with the webpki roots).
///
/// The TCP connection, TLS and the opening handshake together must finish
/// within [`Config::handshake_timeout`] (10 s by default: the core's
/// handshake timer starts before the TCP connection), or the result is
/// [`Error::Handshake`] with
/// [`HandshakeError::TimedOut`](ws_proto::handshake::HandshakeError::TimedOut).
/// A refusal (a non-101 answer, from the server or a proxy) is
/// [`HandshakeError::Response`](ws_proto::handshake::HandshakeError::Response);
/// its message names the status and the likely cause.
///
/// ```
/// use ws_tokio::{connect_with, ClientRequest, Config};
/// # async fn demo() -> Result<(), ws_tokio::Error> {
/// let request = ClientRequest::from_url("ws://127.0.0.1:9001/feed")?
///     .protocol("feed.v2")
///     .header("Authorization", "Bearer token");
/// let config = Config::default().max_message_size(1 << 20);
/// let (ws, response) = connect_with(request, config, None).await?;
/// assert_eq!(response.protocol(), Some("feed.v2"));
/// # drop(ws);
/// # Ok(())
/// # }
/// ```
pub async fn connect_with(
    request: ClientRequest,
    config: Config,
    connector: Option<Connector>,
) -> Result<(WebSocketStream<MaybeTlsStream>, Response), Error> {
    connect_with_proxy(request, config, connector, ProxySetting::FromEnv).await
}

/// [`connect_with`] through the proxy `proxy` says:
/// [`ProxySetting::FromEnv`] (what [`connect`] and [`connect_with`] do),
/// [`ProxySetting::Use`] a given one, or [`ProxySetting::Direct`].
///
/// Through a proxy the client connects TCP to it, opens a tunnel (HTTP
/// `CONNECT` with Basic credentials from the proxy URL, or SOCKS5 with
/// username/password), runs TLS inside it for `wss://`, then the opening
/// handshake. All of that is bounded by [`Config::handshake_timeout`]. A
/// proxy's refusal is [`Error::Proxy`], in words (407, 403, 502, a SOCKS5
/// reply code, a proxy that hung up or answered garbage).
///
/// ```
/// use ws_tokio::{connect_with_proxy, ClientRequest, Config};
/// use ws_tokio::ws_proto::handshake::proxy::{Proxy, ProxySetting};
/// # async fn demo() -> Result<(), ws_tokio::Error> {
/// let proxy = Proxy::parse("socks5h://user:pass@127.0.0.1:1080")?;
/// let request = ClientRequest::from_url("wss://example.com/feed")?;
/// let (ws, _) = connect_with_proxy(request, Config::default(), None, ProxySetting::Use(proxy)).await?;
/// # drop(ws);
/// # Ok(())
/// # }
/// ```
pub async fn connect_with_proxy(
    request: ClientRequest,
    config: Config,
    connector: Option<Connector>,
    proxy: ProxySetting,
) -> Result<(WebSocketStream<MaybeTlsStream>, Response), Error> {
    let proxy = proxy.resolve(&request)?;
    let (host, port, secure) = (
        request.host().to_owned(),
        request.port(),
        request.is_secure(),
    );
    let mut conn = Connection::client(request, config);
    // The core's handshake timer starts now and bounds TCP, the proxy
    // tunnel and TLS too.
    let now = tokio::time::Instant::now().into_std();
    let deadline = conn.poll_timeout(now).unwrap_or(now);
    let stream = tokio::time::timeout_at(
        deadline.into(),
        transport(&host, port, secure, connector, proxy),
    );
    match stream.await {
        Ok(stream) => open_client(stream?, conn).await,
        Err(_elapsed) => {
            conn.handle_timeout(deadline);
            // `poll_event_ref`: `poll_event` is left to the message path,
            // its one call site in the crate, where it is inlined.
            let timed_out = conn.poll_event_ref().err();
            Err(timed_out.map_or(Error::ConnectionClosed, Error::from))
        }
    }
}

/// TCP (with `TCP_NODELAY`) or a tunnel through the proxy, then TLS for
/// `wss://`.
async fn transport(
    host: &str,
    port: u16,
    secure: bool,
    connector: Option<Connector>,
    proxy: Option<Proxy>,
) -> Result<MaybeTlsStream, Error> {
    let tcp = match proxy {
        Some(proxy) => crate::proxy::tunnel(&proxy, host, port).await?,
        None => TcpStream::connect((host, port)).await?,
    };
    tcp.set_nodelay(true)?;
    match secure {
        true => self::secure(tcp, host, connector).await,
        false => Ok(MaybeTlsStream::Plain(tcp)),
    }
}

#[cfg(feature = "rustls")]
async fn secure(
    tcp: TcpStream,
    host: &str,
    connector: Option<Connector>,
) -> Result<MaybeTlsStream, Error> {
    use tokio_rustls::rustls::pki_types::ServerName;

    let config = match connector {
        None => tls::default_config()?,
        Some(Connector::Rustls(config)) => config,
        Some(Connector::Plain) => return Err(plain_for_wss()),
    };
    let name = ServerName::try_from(host.to_owned()).map_err(|err| Error::Tls(Box::new(err)))?;
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|err| Error::Tls(Box::new(err)))?;
    Ok(MaybeTlsStream::Rustls(Box::new(tls)))
}

#[cfg(not(feature = "rustls"))]
async fn secure(
    _tcp: TcpStream,
    _host: &str,
    connector: Option<Connector>,
) -> Result<MaybeTlsStream, Error> {
    match connector {
        Some(Connector::Plain) => Err(plain_for_wss()),
        None => Err(Error::Tls(
            "wss:// needs the `rustls` feature of ws-tokio".into(),
        )),
    }
}

fn plain_for_wss() -> Error {
    Error::Tls("a wss:// URL needs TLS, but Connector::Plain was given".into())
}

#[cfg(feature = "rustls")]
mod tls {
    use std::sync::{Arc, OnceLock};

    use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

    use crate::Error;

    /// rustls with the ring provider and the webpki roots, built once.
    pub(super) fn default_config() -> Result<Arc<ClientConfig>, Error> {
        static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
        if let Some(config) = CONFIG.get() {
            return Ok(Arc::clone(config));
        }
        let roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|err| Error::Tls(Box::new(err)))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        // The upgrade is an HTTP/1.1 request (RFC 6455 section 4.1).
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::clone(CONFIG.get_or_init(|| Arc::new(config))))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for MaybeTlsStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            #[cfg(feature = "rustls")]
            Self::Rustls(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for MaybeTlsStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            #[cfg(feature = "rustls")]
            Self::Rustls(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            #[cfg(feature = "rustls")]
            Self::Rustls(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Plain(s) => s.is_write_vectored(),
            #[cfg(feature = "rustls")]
            Self::Rustls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            #[cfg(feature = "rustls")]
            Self::Rustls(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            #[cfg(feature = "rustls")]
            Self::Rustls(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}
