//! The tunnel through a proxy: the core's [`Tunnel`] driven over TCP. The
//! protocols, the limits and the words of every failure are the core's;
//! this loop only writes, reads and feeds.

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{lookup_host, TcpStream};
use ws_proto::handshake::proxy::{Proxy, Tunnel};

use crate::Error;

/// TCP to the proxy, then the tunnel to `host:port`; returns the stream
/// that now carries the destination's bytes. Bounded by the caller's
/// deadline (the whole connect's).
pub(crate) async fn tunnel(proxy: &Proxy, host: &str, port: u16) -> Result<TcpStream, Error> {
    let mut tcp = TcpStream::connect((proxy.host(), proxy.port()))
        .await
        .map_err(|err| in_context(err, proxy))?;
    tcp.set_nodelay(true)?;
    // `socks5://`: the name is resolved here and the proxy gets an address.
    let resolved = match proxy.resolves_locally() {
        true => Some(lookup_host((host, port)).await?.next().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("{host} resolves to no address"),
            )
        })?),
        false => None,
    };
    let target = resolved.map(|addr| addr.ip().to_string());
    let mut tunnel = Tunnel::new(proxy, target.as_deref().unwrap_or(host), port);
    let mut buf = [0u8; 1024];
    loop {
        while let Some(bytes) = tunnel.poll_transmit() {
            tcp.write_all(&bytes).await?;
        }
        if tunnel.poll_event()?.is_some() {
            return Ok(tcp);
        }
        match tcp.read(&mut buf).await? {
            0 => tunnel.receive_eof(),
            n => tunnel.receive(&buf[..n]),
        }
    }
}

/// Names the proxy in a failure to reach it.
fn in_context(err: io::Error, proxy: &Proxy) -> io::Error {
    io::Error::new(
        err.kind(),
        format!("cannot connect to the proxy {proxy}: {err}"),
    )
}
