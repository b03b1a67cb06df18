//! An in-memory transport for the criterion benches: reads come from a buffer
//! the bench refills between iterations, writes are counted and dropped.
//!
//! It implements both `std::io::{Read, Write}` (for tungstenite) and tokio's
//! `AsyncRead`/`AsyncWrite` (for fastwebsockets), and never returns
//! `Pending`, so an async peer runs to completion inside one `block_on`.
//! The stream and its [`MemHandle`] share the state, so a bench can refill a
//! stream that a library has taken ownership of.

use std::cell::{Cell, RefCell};
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

#[derive(Debug, Default)]
struct State {
    input: RefCell<Bytes>,
    written: Cell<u64>,
}

/// The transport handed to a library.
///
/// ```
/// use std::io::{Read, Write};
/// let (mut stream, handle) = ws_benches::mem::MemStream::new();
/// handle.refill(bytes::Bytes::from_static(b"abc"));
/// let mut buf = [0u8; 8];
/// assert_eq!(stream.read(&mut buf).unwrap(), 3);
/// stream.write_all(b"xy").unwrap();
/// assert_eq!(handle.take_written(), 2);
/// ```
#[derive(Debug)]
pub struct MemStream {
    state: Rc<State>,
}

/// The bench's side of a [`MemStream`].
#[derive(Debug, Clone)]
pub struct MemHandle {
    state: Rc<State>,
}

impl MemStream {
    /// A stream with nothing to read, and its handle.
    pub fn new() -> (Self, MemHandle) {
        let state = Rc::new(State::default());
        (
            Self {
                state: Rc::clone(&state),
            },
            MemHandle { state },
        )
    }

    fn read_into(&self, out: &mut [u8]) -> usize {
        let mut input = self.state.input.borrow_mut();
        let n = out.len().min(input.len());
        out[..n].copy_from_slice(&input[..n]);
        input.advance(n);
        n
    }

    fn count(&self, n: usize) {
        self.state.written.set(self.state.written.get() + n as u64);
    }
}

impl MemHandle {
    /// Replaces what the stream will read (a cheap `Bytes` clone).
    pub fn refill(&self, data: Bytes) {
        *self.state.input.borrow_mut() = data;
    }

    /// Bytes not yet read.
    pub fn unread(&self) -> usize {
        self.state.input.borrow().len()
    }

    /// Bytes written since the last call.
    pub fn take_written(&self) -> u64 {
        self.state.written.replace(0)
    }
}

impl io::Read for MemStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(self.read_into(buf))
    }
}

impl io::Write for MemStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.count(buf.len());
        Ok(buf.len())
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let n = bufs.iter().map(|b| b.len()).sum();
        self.count(n);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsyncRead for MemStream {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut input = self.state.input.borrow_mut();
        let n = buf.remaining().min(input.len());
        buf.put_slice(&input[..n]);
        input.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for MemStream {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.count(buf.len());
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let n = bufs.iter().map(|b| b.len()).sum();
        self.count(n);
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
