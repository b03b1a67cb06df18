//! Shared helpers for the integration tests: a raw frame builder and an
//! in-memory client/server pair.
#![allow(dead_code, unreachable_pub)]

use ws_proto::{Config, Connection, Event, ProtocolError, Role};

/// Builds a raw frame with full control over every header field.
pub fn frame(fin: bool, rsv: u8, opcode: u8, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![(u8::from(fin) << 7) | (rsv << 4) | opcode];
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n @ 0..=125 => out.push(mask_bit | n as u8),
        n @ 126..=0xffff => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match mask {
        Some(key) => {
            out.extend_from_slice(&key);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    out
}

/// A frame as a client sends it (masked with a fixed key).
pub fn client_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    frame(fin, 0, opcode, Some([0x11, 0x22, 0x33, 0x44]), payload)
}

/// A frame as a server sends it (unmasked).
pub fn server_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    frame(fin, 0, opcode, None, payload)
}

/// Feeds `bytes` and collects events until `Ok(None)` or an error.
pub fn feed(conn: &mut Connection, bytes: &[u8]) -> (Vec<Event>, Option<ProtocolError>) {
    conn.receive(bytes);
    drain(conn)
}

pub fn drain(conn: &mut Connection) -> (Vec<Event>, Option<ProtocolError>) {
    let mut events = Vec::new();
    loop {
        match conn.poll_event() {
            Ok(Some(e)) => events.push(e),
            Ok(None) => return (events, None),
            Err(ws_proto::Error::Protocol(e)) => return (events, Some(e)),
            Err(other) => panic!("not a protocol error: {other}"),
        }
    }
}

/// Everything queued for the transport, concatenated.
pub fn take_output(conn: &mut Connection) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(chunk) = conn.poll_transmit() {
        out.extend_from_slice(&chunk);
    }
    out
}

pub fn server() -> Connection {
    Connection::new(Role::Server, Config::default())
}

pub fn client() -> Connection {
    Connection::new(
        Role::Client,
        Config::default().randomness(ws_proto::Randomness::seeded(1)),
    )
}

/// Decodes the frames a connection wrote (as the peer would see them), for
/// checking what was sent: returns (opcode, fin, unmasked payload) triples.
pub fn parse_frames(mut bytes: &[u8]) -> Vec<(u8, bool, Vec<u8>)> {
    let mut frames = Vec::new();
    while !bytes.is_empty() {
        let (h, n) = ws_proto::frame::FrameHeader::decode(bytes)
            .unwrap()
            .expect("whole header");
        let len = h.payload_len as usize;
        let mut payload = bytes[n..n + len].to_vec();
        if let Some(key) = h.mask {
            ws_proto::frame::apply_mask(&mut payload, key, 0);
        }
        frames.push((h.opcode.as_u8(), h.fin, payload));
        bytes = &bytes[n + len..];
    }
    frames
}

/// The close code in the last close frame a connection wrote.
pub fn sent_close_code(output: &[u8]) -> Option<u16> {
    parse_frames(output)
        .into_iter()
        .rev()
        .find(|(op, _, _)| *op == 8)
        .map(|(_, _, p)| {
            if p.len() >= 2 {
                u16::from_be_bytes([p[0], p[1]])
            } else {
                1005
            }
        })
}

/// An in-memory client/server pair.
pub struct Pair {
    pub client: Connection,
    pub server: Connection,
}

impl Pair {
    pub fn new(client: Config, server: Config) -> Self {
        Self {
            client: Connection::new(Role::Client, client),
            server: Connection::new(Role::Server, server),
        }
    }

    /// Moves the client's output to the server and returns the server's events.
    pub fn deliver_to_server(&mut self) -> (Vec<Event>, Option<ProtocolError>) {
        let bytes = take_output(&mut self.client);
        feed(&mut self.server, &bytes)
    }

    /// Moves the server's output to the client and returns the client's events.
    pub fn deliver_to_client(&mut self) -> (Vec<Event>, Option<ProtocolError>) {
        let bytes = take_output(&mut self.server);
        feed(&mut self.client, &bytes)
    }
}
