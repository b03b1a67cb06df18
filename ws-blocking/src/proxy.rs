//! The tunnel through a proxy: the core's [`Tunnel`] driven over a blocking
//! socket. The protocols, the limits, the deadline and the words of every
//! failure are the core's; this loop only writes, reads, feeds and sleeps.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use ws_proto::handshake::proxy::{Proxy, ProxyError, Tunnel};

use crate::connect::{connect_tcp, Deadline};
use crate::error::is_timeout_kind;
use crate::Error;

/// TCP to the proxy, then the tunnel to `host:port`, within the deadline;
/// returns the socket that now carries the destination's bytes.
pub(crate) fn tunnel(
    proxy: &Proxy,
    host: &str,
    port: u16,
    deadline: &Deadline,
) -> Result<TcpStream, Error> {
    let mut tcp = connect_tcp(proxy.host(), proxy.port(), deadline).map_err(|err| match err {
        Error::Io(err) => Error::Io(io::Error::new(
            err.kind(),
            format!("cannot connect to the proxy {proxy}: {err}"),
        )),
        err => err,
    })?;
    tcp.set_nodelay(true)?;
    // `socks5://`: the name is resolved here and the proxy gets an address.
    let target = match proxy.resolves_locally() {
        true => (host, port)
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{host} resolves to no address"),
                )
            })?
            .ip()
            .to_string(),
        false => host.to_string(),
    };
    let mut tunnel = Tunnel::new(proxy, &target, port);
    if let Some(left) = deadline.remaining()? {
        tunnel = tunnel.timeout(left);
    }
    let mut buf = [0u8; 1024];
    loop {
        while let Some(bytes) = tunnel.poll_transmit() {
            tcp.write_all(&bytes)?;
        }
        match tunnel.poll_event() {
            Ok(Some(_)) => {
                tcp.set_read_timeout(None)?;
                return Ok(tcp);
            }
            Ok(None) => {}
            // One limit covers the whole connect, and says so.
            Err(ProxyError::TimedOut { .. }) => return Err(deadline.expired()),
            Err(err) => return Err(Error::Proxy(err)),
        }
        let now = Instant::now();
        let wait = tunnel.poll_timeout(now).map(|at| {
            at.saturating_duration_since(now)
                .max(Duration::from_millis(1))
        });
        tcp.set_read_timeout(wait)?;
        match tcp.read(&mut buf) {
            Ok(0) => tunnel.receive_eof(),
            Ok(n) => tunnel.receive(&buf[..n]),
            Err(err) if is_timeout_kind(err.kind()) => tunnel.handle_timeout(Instant::now()),
            Err(err) => return Err(Error::Io(err)),
        }
    }
}
