//! What the adapter needs from a byte stream beyond `Read + Write`.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

/// A byte stream a [`WebSocket`](crate::WebSocket) runs over: `Read + Write`
/// plus optional abilities the adapter uses when they exist.
///
/// * [`shutdown_write`](Self::shutdown_write) ends the write direction once
///   the core says the transport should close (the server closes TCP first,
///   RFC 6455 section 7.1.1). Without it the transport ends when dropped.
/// * [`read_timeout`](Self::read_timeout) and
///   [`set_read_timeout`](Self::set_read_timeout) let a read that waits for
///   the peer's close frame stop at the core's close timeout; the caller's own
///   timeout is restored afterwards (likewise for keepalive deadlines and
///   the opening handshake's time limit). Without them such a read waits
///   until the peer acts.
/// * [`write_timeout`](Self::write_timeout) and
///   [`set_write_timeout`](Self::set_write_timeout) let the close and linger
///   timers bound writes to a peer that stopped reading.
///
/// Implemented for [`TcpStream`], Unix sockets, [`MaybeTlsStream`], rustls
/// streams (feature `rustls`), boxes and `&mut` references. For any other
/// stream an empty `impl` is enough:
///
/// ```
/// use std::io::{Read, Write};
/// struct Pipe(std::io::Cursor<Vec<u8>>);
/// impl Read for Pipe {
///     fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> { self.0.read(buf) }
/// }
/// impl Write for Pipe {
///     fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> { self.0.write(buf) }
///     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
/// }
/// impl ws_blocking::Transport for Pipe {}
/// ```
pub trait Transport: Read + Write {
    /// Ends the write direction after everything written so far (for TCP a
    /// FIN; for TLS a `close_notify` and then a FIN). Called at most once.
    /// The default does nothing.
    ///
    /// ```no_run
    /// use ws_blocking::Transport;
    /// let mut tcp = std::net::TcpStream::connect("127.0.0.1:9001")?;
    /// tcp.shutdown_write()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    fn shutdown_write(&mut self) -> io::Result<()> {
        Ok(())
    }

    /// The read timeout in force (`None`: reads block). The default reports `None`.
    ///
    /// ```no_run
    /// use ws_blocking::Transport;
    /// let tcp = std::net::TcpStream::connect("127.0.0.1:9001")?;
    /// assert_eq!(Transport::read_timeout(&tcp)?, None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(None)
    }

    /// Sets the read timeout. The default ignores it.
    ///
    /// ```no_run
    /// use ws_blocking::Transport;
    /// let tcp = std::net::TcpStream::connect("127.0.0.1:9001")?;
    /// Transport::set_read_timeout(&tcp, Some(std::time::Duration::from_secs(1)))?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        let _ = timeout;
        Ok(())
    }

    /// The write timeout in force (`None`: writes block). The default
    /// reports `None`.
    ///
    /// ```no_run
    /// use ws_blocking::Transport;
    /// let tcp = std::net::TcpStream::connect("127.0.0.1:9001")?;
    /// assert_eq!(Transport::write_timeout(&tcp)?, None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(None)
    }

    /// Sets the write timeout, which lets the close and linger timers bound
    /// writes to a peer that stopped reading; the caller's own timeout is
    /// restored afterwards. The default ignores it.
    ///
    /// ```no_run
    /// use ws_blocking::Transport;
    /// let tcp = std::net::TcpStream::connect("127.0.0.1:9001")?;
    /// Transport::set_write_timeout(&tcp, Some(std::time::Duration::from_secs(1)))?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        let _ = timeout;
        Ok(())
    }
}

impl Transport for TcpStream {
    fn shutdown_write(&mut self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
    fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Self::read_timeout(self)
    }
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        Self::set_read_timeout(self, timeout)
    }
    fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Self::write_timeout(self)
    }
    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        Self::set_write_timeout(self, timeout)
    }
}

#[cfg(unix)]
impl Transport for std::os::unix::net::UnixStream {
    fn shutdown_write(&mut self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
    fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Self::read_timeout(self)
    }
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        Self::set_read_timeout(self, timeout)
    }
    fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Self::write_timeout(self)
    }
    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        Self::set_write_timeout(self, timeout)
    }
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    fn shutdown_write(&mut self) -> io::Result<()> {
        (**self).shutdown_write()
    }
    fn read_timeout(&self) -> io::Result<Option<Duration>> {
        (**self).read_timeout()
    }
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        (**self).set_read_timeout(timeout)
    }
    fn write_timeout(&self) -> io::Result<Option<Duration>> {
        (**self).write_timeout()
    }
    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        (**self).set_write_timeout(timeout)
    }
}

impl<T: Transport + ?Sized> Transport for &mut T {
    fn shutdown_write(&mut self) -> io::Result<()> {
        (**self).shutdown_write()
    }
    fn read_timeout(&self) -> io::Result<Option<Duration>> {
        (**self).read_timeout()
    }
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        (**self).set_read_timeout(timeout)
    }
    fn write_timeout(&self) -> io::Result<Option<Duration>> {
        (**self).write_timeout()
    }
    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        (**self).set_write_timeout(timeout)
    }
}

/// rustls streams: `close_notify`, then the inner transport's shutdown;
/// timeouts are the inner transport's.
#[cfg(feature = "rustls")]
macro_rules! rustls_transport {
    ($conn:ty) => {
        #[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
        impl<T: Transport> Transport for rustls::StreamOwned<$conn, T> {
            fn shutdown_write(&mut self) -> io::Result<()> {
                self.conn.send_close_notify();
                while self.conn.wants_write() {
                    if self.conn.write_tls(&mut self.sock)? == 0 {
                        return Err(io::ErrorKind::WriteZero.into());
                    }
                }
                self.sock.flush()?;
                self.sock.shutdown_write()
            }
            fn read_timeout(&self) -> io::Result<Option<Duration>> {
                self.sock.read_timeout()
            }
            fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
                self.sock.set_read_timeout(timeout)
            }
            fn write_timeout(&self) -> io::Result<Option<Duration>> {
                self.sock.write_timeout()
            }
            fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
                self.sock.set_write_timeout(timeout)
            }
        }
    };
}

#[cfg(feature = "rustls")]
rustls_transport!(rustls::ClientConnection);
#[cfg(feature = "rustls")]
rustls_transport!(rustls::ServerConnection);

/// The stream [`connect`](crate::connect) opens: plain TCP for `ws://`, TLS
/// over TCP for `wss://`.
///
/// ```no_run
/// let (ws, _) = ws_blocking::connect("ws://127.0.0.1:9001/")?;
/// assert!(matches!(ws.get_ref(), ws_blocking::MaybeTlsStream::Plain(_)));
/// # Ok::<(), ws_blocking::Error>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum MaybeTlsStream {
    /// A `ws://` connection.
    Plain(TcpStream),
    /// A `wss://` connection.
    #[cfg(feature = "rustls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
    Rustls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl MaybeTlsStream {
    /// The TCP socket underneath, for socket options such as timeouts.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// let (ws, _) = ws_blocking::connect("ws://127.0.0.1:9001/")?;
    /// ws.get_ref().tcp().set_read_timeout(Some(Duration::from_secs(5)))?;
    /// # Ok::<(), ws_blocking::Error>(())
    /// ```
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Self::Plain(tcp) => tcp,
            #[cfg(feature = "rustls")]
            Self::Rustls(tls) => &tls.sock,
        }
    }
}

impl Read for MaybeTlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Plain(s) => s.read(buf),
            #[cfg(feature = "rustls")]
            Self::Rustls(s) => s.read(buf),
        }
    }
}

impl Write for MaybeTlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Plain(s) => s.write(buf),
            #[cfg(feature = "rustls")]
            Self::Rustls(s) => s.write(buf),
        }
    }
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Self::Plain(s) => s.write_vectored(bufs),
            #[cfg(feature = "rustls")]
            Self::Rustls(s) => s.write_vectored(bufs),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Plain(s) => s.flush(),
            #[cfg(feature = "rustls")]
            Self::Rustls(s) => s.flush(),
        }
    }
}

impl Transport for MaybeTlsStream {
    fn shutdown_write(&mut self) -> io::Result<()> {
        match self {
            Self::Plain(s) => s.shutdown_write(),
            #[cfg(feature = "rustls")]
            Self::Rustls(s) => s.shutdown_write(),
        }
    }
    fn read_timeout(&self) -> io::Result<Option<Duration>> {
        self.tcp().read_timeout()
    }
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.tcp().set_read_timeout(timeout)
    }
    fn write_timeout(&self) -> io::Result<Option<Duration>> {
        self.tcp().write_timeout()
    }
    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.tcp().set_write_timeout(timeout)
    }
}
