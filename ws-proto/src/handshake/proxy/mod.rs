//! Reaching a WebSocket server through a proxy: an HTTP proxy (`CONNECT`,
//! with Basic credentials) or SOCKS5 (RFC 1928, with RFC 1929
//! username/password), as sans-IO pieces an adapter drives before TLS and
//! the opening handshake.
//!
//! * [`Proxy`]: a proxy parsed from its URL (`http://user:pass@host:port`,
//!   `socks5://…`, `socks5h://…`).
//! * [`ProxySetting`] / [`Proxy::from_env_for`]: which proxy a destination
//!   uses: the environment's (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`,
//!   `NO_PROXY`, as curl and Python read them; see [`Proxy::from_env_for`]
//!   and [`NoProxy`]), a given one, or none.
//! * [`Tunnel`]: the conversation with the proxy, bytes in and out, with
//!   its own deadline; every failure is a [`ProxyError`] in words.
//!
//! `socks5://` and `socks5h://`: with `socks5h` the proxy resolves the
//! destination's name (the client sends the name); with `socks5` the client
//! resolves it and sends the address ([`Proxy::resolves_locally`]; the
//! adapter does the lookup, since the core does no I/O), as curl and
//! Python's `websockets` do.
//!
//! An adapter's connect, step by step:
//!
//! 1. `let proxy = setting.resolve(&request)?` (or `resolve_with` your
//!    own environment).
//! 2. With a proxy: connect TCP to `proxy.host():proxy.port()`, then run
//!    [`Tunnel::new`]`(&proxy, host, port)` to [`TunnelEvent::Established`]
//!    (write [`Tunnel::poll_transmit`], read and [`Tunnel::receive`], poll
//!    [`Tunnel::poll_event`]).
//! 3. TLS for `wss://` over that same stream, then the WebSocket handshake.
//!
//! ```
//! use ws_proto::handshake::proxy::{ProxySetting, Tunnel, TunnelEvent};
//! use ws_proto::handshake::ClientRequest;
//!
//! let request = ClientRequest::from_url("wss://example.com/feed").unwrap();
//! let env = |name: &str| (name == "https_proxy").then(|| "http://u:p@127.0.0.1:3128".to_string());
//! let proxy = ProxySetting::FromEnv.resolve_with(&request, env).unwrap().unwrap();
//!
//! let mut tunnel = Tunnel::new(&proxy, request.host(), request.port());
//! let connect = tunnel.poll_transmit().unwrap();
//! assert!(connect.starts_with(b"CONNECT example.com:443 HTTP/1.1\r\n"));
//! tunnel.receive(b"HTTP/1.1 200 Connection established\r\n\r\n");
//! assert_eq!(tunnel.poll_event(), Ok(Some(TunnelEvent::Established)));
//! // Now TLS with example.com over the same stream, then the handshake.
//! ```

mod env;
mod error;
mod http;
mod socks;
mod tunnel;
mod url;

pub use env::{NoProxy, ProxySetting};
pub use error::{InvalidProxy, ProxyError};
pub use tunnel::{Tunnel, TunnelEvent};
pub use url::{Proxy, ProxyScheme};
