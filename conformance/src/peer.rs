//! The scripted peer: a raw `std::net::TcpStream` that writes and reads
//! bytes, built and checked with `ws_proto` (the handshake types, the frame
//! header codec and masking), and nothing from any adapter.
//!
//! Frames are written and read one by one, exactly as they are on the
//! wire, so a case can check what an adapter really sent (each fragment's
//! frame, a close frame's code and reason, whether a client masked).
//! Every read is bounded by [`READ_TIMEOUT`].

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ws_proto::frame::{apply_mask, FrameHeader, OpCode, MAX_HEADER_LEN};
use ws_proto::handshake::{ClientRequest, Request, Response, ServerResponse};
use ws_proto::{CloseCode, CloseFrame, Message, Randomness, Role};

/// The socket read timeout of every peer read.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// At most this many frames are skipped while looking for one.
const MAX_SKIPPED: usize = 1000;

/// One frame as it was on the wire, unmasked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// FIN: the last frame of its message.
    pub fin: bool,
    /// The reserved bits (RSV1 is `0b100`).
    pub rsv: u8,
    /// The opcode.
    pub opcode: OpCode,
    /// Whether the frame was masked.
    pub masked: bool,
    /// The payload, unmasked.
    pub payload: Vec<u8>,
}

impl Frame {
    /// The close frame's code and reason (1005 and "" for an empty payload).
    ///
    /// # Panics
    /// If this is not a close frame or its payload is not a valid one.
    pub fn close_frame(&self) -> CloseFrame {
        assert_eq!(self.opcode, OpCode::Close, "not a close frame: {self:?}");
        CloseFrame::decode(Bytes::copy_from_slice(&self.payload))
            .unwrap_or_else(|err| panic!("invalid close payload {:?}: {err}", self.payload))
    }
}

/// One end of a WebSocket connection driven by hand.
#[derive(Debug)]
pub struct Peer {
    tcp: TcpStream,
    /// Read but not yet consumed.
    buf: Vec<u8>,
    /// The peer is the client: it masks what it sends, and expects
    /// unmasked frames.
    is_client: bool,
    /// The next masking key.
    key: u32,
}

impl Peer {
    /// A peer on `tcp` after the handshake, in `role`, with `leftover`
    /// bytes already read past the handshake. Sets the read timeout.
    pub fn new(tcp: TcpStream, role: Role, leftover: Vec<u8>) -> Self {
        tcp.set_read_timeout(Some(READ_TIMEOUT))
            .expect("set the peer's read timeout");
        Self {
            tcp,
            buf: leftover,
            is_client: role == Role::Client,
            key: 0x37fa_213d,
        }
    }

    /// The TCP stream (for socket options, or shutting it down).
    pub fn tcp(&self) -> &TcpStream {
        &self.tcp
    }

    /// The bytes of one frame as this peer sends it: masked when the peer
    /// is the client (with a fresh key each time), unmasked otherwise.
    pub fn encode(&mut self, fin: bool, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
        let mask = self.is_client.then(|| {
            self.key = self.key.rotate_left(7).wrapping_add(0x9e37_79b9);
            self.key.to_be_bytes()
        });
        encode_frame(fin, opcode, mask, payload)
    }

    /// Writes raw bytes (a malformed frame, a request and a frame at once).
    pub fn write_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.tcp.write_all(bytes)?;
        self.tcp.flush()
    }

    /// Writes one frame (see [`encode`](Self::encode)).
    pub fn send_frame(&mut self, fin: bool, opcode: OpCode, payload: &[u8]) -> io::Result<()> {
        let bytes = self.encode(fin, opcode, payload);
        self.write_raw(&bytes)
    }

    /// Writes a whole message as one frame.
    ///
    /// # Panics
    /// For [`Message::Fragment`], which has no single-frame form here.
    pub fn send_message(&mut self, message: &Message) -> io::Result<()> {
        let (opcode, payload): (OpCode, Vec<u8>) = match message {
            Message::Text(text) => (OpCode::Text, text.as_bytes().to_vec()),
            Message::Binary(data) => (OpCode::Binary, data.to_vec()),
            Message::Ping(data) => (OpCode::Ping, data.to_vec()),
            Message::Pong(data) => (OpCode::Pong, data.to_vec()),
            Message::Close(frame) => (OpCode::Close, frame.encode().to_vec()),
            other => panic!("the peer sends no {other:?} as one frame"),
        };
        self.send_frame(true, opcode, &payload)
    }

    /// Writes a close frame with `code` and `reason`.
    pub fn send_close(&mut self, code: CloseCode, reason: &str) -> io::Result<()> {
        self.send_message(&Message::Close(CloseFrame::new(code, reason)))
    }

    /// Reads the next frame, waiting at most [`READ_TIMEOUT`] per read.
    /// Checks the masking rule for the direction: frames to a client are
    /// unmasked, frames to a server masked (a violation is an
    /// `InvalidData` error naming it).
    pub fn read_frame(&mut self) -> io::Result<Frame> {
        loop {
            if let Some((frame, used)) = self.decode()? {
                self.buf.drain(..used);
                return Ok(frame);
            }
            self.fill()?;
        }
    }

    /// Reads frames until one with `opcode`, skipping (at most a thousand)
    /// others; returns it and how many were skipped.
    pub fn read_until(&mut self, opcode: OpCode) -> io::Result<(Frame, usize)> {
        for skipped in 0..MAX_SKIPPED {
            let frame = self.read_frame()?;
            if frame.opcode == opcode {
                return Ok((frame, skipped));
            }
        }
        Err(io::Error::other(format!(
            "no {opcode:?} frame in {MAX_SKIPPED} frames"
        )))
    }

    /// Reads until the peer's end of the stream (a reset counts too),
    /// discarding what arrives, for at most `limit`. Returns the frames
    /// that could be decoded on the way (undecodable bytes are dropped).
    pub fn read_to_end(&mut self, limit: Duration) -> io::Result<Vec<Frame>> {
        let start = Instant::now();
        let mut frames = Vec::new();
        loop {
            while let Ok(Some((frame, used))) = self.decode() {
                self.buf.drain(..used);
                frames.push(frame);
            }
            if start.elapsed() > limit {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("the stream did not end within {limit:?}"),
                ));
            }
            match self.fill() {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(frames),
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Ok(frames),
                Err(e) => return Err(e),
            }
        }
    }

    /// Answers the close handshake from the peer's side: writes a close
    /// frame echoing `frame`'s code, then reads until the end of the stream.
    pub fn answer_close(&mut self, frame: &Frame) -> io::Result<()> {
        let close = frame.close_frame();
        // The adapter may have closed the transport already; that is fine.
        let _ = self.send_close(close.code, &close.reason);
        self.read_to_end(READ_TIMEOUT).map(drop)
    }

    /// Sends a normal close (1000, "done") and waits for the adapter's reply
    /// frame (skipping data and control frames before it); then, as a
    /// client, waits for the server to end the stream (as a server, the
    /// caller drops the peer, which closes TCP first). Returns the reply.
    pub fn close_normally(&mut self) -> io::Result<CloseFrame> {
        self.send_close(CloseCode::NORMAL, "done")?;
        let (reply, _) = self.read_until(OpCode::Close)?;
        if self.is_client {
            self.read_to_end(READ_TIMEOUT)?;
        }
        Ok(reply.close_frame())
    }

    /// Reads the next data message whole: its frames (a first frame and
    /// continuations) joined, with control frames in between skipped (at
    /// most a thousand frames in all). Returns the first frame's opcode
    /// and the payload. A close frame instead is an `InvalidData` error.
    pub fn read_message(&mut self) -> io::Result<(OpCode, Vec<u8>)> {
        let mut message: Option<(OpCode, Vec<u8>)> = None;
        for _ in 0..MAX_SKIPPED {
            let frame = self.read_frame()?;
            match (frame.opcode, &mut message) {
                (OpCode::Ping | OpCode::Pong, _) => continue,
                (OpCode::Close, _) => {
                    return Err(invalid(format!(
                        "a close frame instead of a message: {:?}",
                        frame.close_frame()
                    )))
                }
                (OpCode::Text | OpCode::Binary, None) => {
                    message = Some((frame.opcode, frame.payload));
                }
                (OpCode::Continuation, Some((_, data))) => data.extend_from_slice(&frame.payload),
                (opcode, _) => return Err(invalid(format!("unexpected {opcode:?} frame"))),
            }
            if frame.fin {
                if let Some(done) = message {
                    return Ok(done);
                }
            }
        }
        Err(invalid(format!("no whole message in {MAX_SKIPPED} frames")))
    }

    /// Decodes one frame from the buffer, if it holds a whole one.
    fn decode(&self) -> io::Result<Option<(Frame, usize)>> {
        let Some((header, len)) = FrameHeader::decode(&self.buf).map_err(invalid)? else {
            return Ok(None);
        };
        let payload_len = usize::try_from(header.payload_len).map_err(invalid)?;
        let end = len + payload_len;
        if self.buf.len() < end {
            return Ok(None);
        }
        let expect_masked = !self.is_client;
        if header.mask.is_some() != expect_masked {
            return Err(invalid(format!(
                "frame to a {} {} masked: {header:?}",
                if self.is_client { "client" } else { "server" },
                if expect_masked { "was not" } else { "was" },
            )));
        }
        let mut payload = self.buf[len..end].to_vec();
        if let Some(key) = header.mask {
            apply_mask(&mut payload, key, 0);
        }
        let frame = Frame {
            fin: header.fin,
            rsv: header.rsv,
            opcode: header.opcode,
            masked: header.mask.is_some(),
            payload,
        };
        Ok(Some((frame, end)))
    }

    /// One read into the buffer; the end of the stream is `UnexpectedEof`.
    fn fill(&mut self) -> io::Result<()> {
        read_some(&mut self.tcp, &mut self.buf)
    }
}

/// One frame's bytes: header, then the payload masked with `mask` if any.
///
/// ```
/// use ws_conformance::peer::encode_frame;
/// use ws_proto::frame::OpCode;
/// assert_eq!(encode_frame(true, OpCode::Text, None, b"Hello"), b"\x81\x05Hello");
/// ```
pub fn encode_frame(fin: bool, opcode: OpCode, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    let header = FrameHeader::new(fin, opcode, mask, payload.len() as u64);
    let mut head = [0; MAX_HEADER_LEN];
    let n = header.encode(&mut head);
    let mut bytes = Vec::with_capacity(n + payload.len());
    bytes.extend_from_slice(&head[..n]);
    let start = bytes.len();
    bytes.extend_from_slice(payload);
    if let Some(key) = mask {
        apply_mask(&mut bytes[start..], key, 0);
    }
    bytes
}

/// The raw client's opening handshake on `tcp`: the request built by
/// `ws_proto` from `request` (no extensions offered), written in one write
/// together with `after` (bytes the client sends straight after its
/// request, such as a first frame), then the response read and checked
/// (status 101, accept key, subprotocol). Returns the peer, with the bytes
/// that followed the response.
pub fn client_handshake(
    tcp: TcpStream,
    request: ClientRequest,
    after: &[u8],
) -> io::Result<(Peer, Response)> {
    let (head, pending) = request.into_handshake(&mut Randomness::os());
    let mut tcp = tcp;
    tcp.set_read_timeout(Some(READ_TIMEOUT))?;
    let mut bytes = head;
    bytes.extend_from_slice(after);
    tcp.write_all(&bytes)?;
    let mut buf = Vec::new();
    for _ in 0..1000 {
        if let Some((response, used)) = pending.parse_response(&buf).map_err(invalid)? {
            let leftover = buf.split_off(used);
            return Ok((Peer::new(tcp, Role::Client, leftover), response));
        }
        read_some(&mut tcp, &mut buf)?;
    }
    Err(invalid("no whole response in a thousand reads"))
}

/// The bytes of a text or binary `message` as one masked frame, as a client
/// sends it (for writing it in the same write as the request).
pub fn client_frame(message: &Message) -> Vec<u8> {
    let (opcode, payload): (OpCode, &[u8]) = match message {
        Message::Text(text) => (OpCode::Text, text.as_bytes()),
        Message::Binary(data) => (OpCode::Binary, data),
        other => panic!("client_frame takes text or binary, not {other:?}"),
    };
    encode_frame(true, opcode, Some([0x12, 0x34, 0x56, 0x78]), payload)
}

/// The raw server's opening handshake on `tcp`: reads the request (checked
/// by `ws_proto`), asks `answer`, writes the answer's bytes followed by
/// `after` in one write. Returns the peer (with any bytes the client sent
/// after its request) and the request.
pub fn server_handshake<F>(tcp: TcpStream, answer: F, after: &[u8]) -> io::Result<(Peer, Request)>
where
    F: FnOnce(&Request) -> ServerResponse,
{
    let mut tcp = tcp;
    tcp.set_read_timeout(Some(READ_TIMEOUT))?;
    let mut buf = Vec::new();
    for _ in 0..1000 {
        if let Some((request, used)) = Request::parse(&buf).map_err(invalid)? {
            let mut bytes = answer(&request).to_bytes();
            bytes.extend_from_slice(after);
            tcp.write_all(&bytes)?;
            let leftover = buf.split_off(used);
            return Ok((Peer::new(tcp, Role::Server, leftover), request));
        }
        read_some(&mut tcp, &mut buf)?;
    }
    Err(invalid("no whole request in a thousand reads"))
}

/// Reads everything until the end of the stream (or a reset), at most
/// `limit` in all: for reading an HTTP refusal.
pub fn read_all(tcp: &mut TcpStream, limit: Duration) -> io::Result<Vec<u8>> {
    let start = Instant::now();
    tcp.set_read_timeout(Some(READ_TIMEOUT.min(limit)))?;
    let mut buf = Vec::new();
    while start.elapsed() <= limit {
        match read_some(tcp, &mut buf) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(buf),
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Ok(buf),
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::TimedOut,
        format!(
            "the stream did not end within {limit:?} ({} bytes read)",
            buf.len()
        ),
    ))
}

/// Appends one read's bytes to `buf`; the end of the stream is an
/// `UnexpectedEof` error.
fn read_some(tcp: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<()> {
    let mut chunk = [0; 64 * 1024];
    loop {
        match tcp.read(&mut chunk) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                return Ok(());
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

fn invalid(err: impl ToString) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, err.to_string())
}
