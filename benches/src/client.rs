//! The client side both load generators drive (`loadgen`, `fanout-loadgen`):
//! the `ws-proto` client core on a raw tokio `TcpStream`, with the opening
//! handshake and the non-blocking write and read steps of its loop.

use std::io::{self, IoSlice};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use ws_proto::handshake::ClientRequest;
use ws_proto::{Config, Connection, Randomness, Role};

/// At most this many queued chunks go into one vectored write.
const MAX_SLICES: usize = 16;

/// Free room kept in the read buffer before each read.
const READ_ROOM: usize = 64 * 1024;

/// The largest handshake response head accepted.
const MAX_HEAD: usize = 64 * 1024;

/// Connects to `url` and runs the opening handshake with the core,
/// offering permessage-deflate only when `deflate` is set.
pub async fn open(url: &str, deflate: bool) -> io::Result<(TcpStream, Connection)> {
    let request = ClientRequest::from_url(url).map_err(io::Error::other)?;
    let config = if deflate {
        Config::default()
    } else {
        Config::default().deflate(None)
    };
    let request = request.offer_extensions(&config);
    let mut tcp = TcpStream::connect((request.host(), request.port())).await?;
    tcp.set_nodelay(true)?;
    let (bytes, pending) = request.into_handshake(&mut Randomness::os());
    tcp.write_all(&bytes).await?;
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0u8; 2048];
    loop {
        let n = tcp.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        if head.len() + n > MAX_HEAD {
            return Err(io::Error::other("handshake response too long"));
        }
        head.extend_from_slice(&chunk[..n]);
        if let Some((response, used)) = pending.parse_response(&head).map_err(io::Error::other)? {
            let extensions = response.negotiated().clone();
            let mut conn = Connection::with_extensions(Role::Client, config, extensions);
            conn.receive(&head[used..]);
            return Ok((tcp, conn));
        }
    }
}

/// Writes what the core queued until the socket would block.
pub fn write_some(tcp: &TcpStream, conn: &mut Connection) -> io::Result<()> {
    while conn.buffered_amount() > 0 {
        let written = {
            let mut slices = [IoSlice::new(&[]); MAX_SLICES];
            let mut count = 0;
            for (slot, chunk) in slices.iter_mut().zip(conn.transmit_slices()) {
                *slot = IoSlice::new(chunk);
                count += 1;
            }
            tcp.try_write_vectored(&slices[..count])
        };
        match written {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => conn.advance_transmit(n),
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(())
}

/// Reads what the socket has into the core's buffer until it would block;
/// whether anything (or the end of stream) came.
pub fn read_some(tcp: &TcpStream, conn: &mut Connection) -> io::Result<bool> {
    let mut any = false;
    loop {
        let buf = conn.receive_buffer();
        if buf.capacity() - buf.len() < READ_ROOM {
            buf.reserve(READ_ROOM);
        }
        match tcp.try_read_buf(buf) {
            Ok(0) => {
                conn.receive_eof();
                return Ok(true);
            }
            Ok(_) => any = true,
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Ok(any),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
}
