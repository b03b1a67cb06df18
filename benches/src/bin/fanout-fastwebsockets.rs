//! A fan-out (chat-room) server on `fastwebsockets` (peer), written as its
//! users write one: a tokio current-thread runtime, a task per connection
//! split (the `unstable-split` feature) into a reader, wrapped in a
//! `FragmentCollectorRead`, and a writer task over a `BufWriter`; a
//! registry of unbounded channels (`Rc<RefCell<HashMap<id,
//! UnboundedSender>>>`) of `Bytes`; every text or binary message a client
//! sends is sent, unchanged, to every connected client, the sender
//! included. The writer writes what its channel holds and flushes once the
//! channel is empty. The opening handshake is done by hand with `httparse`,
//! as in `echo-fastwebsockets`.
//!
//! ```text
//! fanout-fastwebsockets [ADDR]   # prints "listening on ws://ADDR"
//! ```

use std::cell::RefCell;
use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use fastwebsockets::{FragmentCollectorRead, Frame, OpCode, Payload, Role, WebSocket};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use ws_benches::serve;

/// What a writer task sends: a whole frame's opcode and payload.
type Outgoing = (OpCode, Bytes);

/// Every connected client's outgoing queue, by connection id.
type Room = Rc<RefCell<HashMap<u64, mpsc::UnboundedSender<Outgoing>>>>;

fn main() -> io::Result<()> {
    let runtime = serve::runtime()?;
    tokio::task::LocalSet::new().block_on(&runtime, async {
        let listener = TcpListener::bind(serve::listen_addr()).await?;
        serve::announce(listener.local_addr()?);
        let room = Room::default();
        let mut next_id = 0u64;
        loop {
            match listener.accept().await {
                Ok((tcp, _)) => {
                    let _ = tcp.set_nodelay(true);
                    next_id += 1;
                    tokio::task::spawn_local(client(tcp, next_id, Rc::clone(&room)));
                }
                Err(err) => {
                    eprintln!("accept failed: {err}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    })
}

async fn client(mut tcp: TcpStream, id: u64, room: Room) {
    if upgrade(&mut tcp).await.is_err() {
        return;
    }
    let (read, mut write) = WebSocket::after_handshake(tcp, Role::Server).split(|tcp| {
        let (read, write) = tcp.into_split();
        (read, BufWriter::new(write))
    });
    let mut read = FragmentCollectorRead::new(read);
    let (tx, mut rx) = mpsc::unbounded_channel::<Outgoing>();
    room.borrow_mut().insert(id, tx.clone());
    tokio::task::spawn_local(async move {
        while let Some((opcode, data)) = rx.recv().await {
            let frame = Frame::new(true, opcode, None, Payload::Borrowed(&data));
            if write.write_frame(frame).await.is_err() {
                return;
            }
            while let Ok((opcode, data)) = rx.try_recv() {
                let frame = Frame::new(true, opcode, None, Payload::Borrowed(&data));
                if write.write_frame(frame).await.is_err() {
                    return;
                }
            }
            if write.flush().await.is_err() || opcode == OpCode::Close {
                return;
            }
        }
    });
    // Pongs and the close reply go out through this connection's writer.
    let mut obligated = |frame: Frame<'_>| {
        let _ = tx.send((frame.opcode, Bytes::copy_from_slice(&frame.payload)));
        std::future::ready(Ok::<(), Infallible>(()))
    };
    while let Ok(frame) = read.read_frame(&mut obligated).await {
        match frame.opcode {
            OpCode::Text | OpCode::Binary => {
                let data = match frame.payload {
                    Payload::Bytes(data) => data.freeze(),
                    Payload::Owned(data) => Bytes::from(data),
                    other => Bytes::copy_from_slice(&other),
                };
                for tx in room.borrow().values() {
                    let _ = tx.send((frame.opcode, data.clone()));
                }
            }
            OpCode::Close => break,
            _ => {}
        }
    }
    // Dropping the senders ends the writer once it has sent what is queued.
    room.borrow_mut().remove(&id);
}

/// Reads the request and answers 101. The client sends nothing before the
/// answer, so no frame bytes can be lost here.
async fn upgrade(tcp: &mut TcpStream) -> io::Result<()> {
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    let key = loop {
        let n = tcp.read(&mut chunk).await?;
        if n == 0 || head.len() > 16 * 1024 {
            return Err(io::ErrorKind::InvalidData.into());
        }
        head.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(&head) {
            Ok(httparse::Status::Complete(used)) if used == head.len() => {
                let key = request
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("sec-websocket-key"))
                    .ok_or(io::ErrorKind::InvalidData)?;
                break key.value.to_vec();
            }
            Ok(httparse::Status::Partial) => continue,
            _ => return Err(io::ErrorKind::InvalidData.into()),
        }
    };
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        ws_proto::handshake::accept_key(&key)
    );
    tcp.write_all(response.as_bytes()).await
}
