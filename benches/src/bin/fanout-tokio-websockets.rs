//! A fan-out (chat-room) server on `tokio-websockets` (peer), written as
//! its users write one: a tokio current-thread runtime, a task per
//! connection split into a reader and a writer task, a registry of
//! unbounded channels (`Rc<RefCell<HashMap<id, UnboundedSender>>>`), and
//! every text or binary message a client sends is sent, unchanged, to
//! every connected client, the sender included. The writer feeds what its
//! channel holds and flushes once the channel is empty. Default
//! configuration.
//!
//! ```text
//! fanout-tokio-websockets [ADDR]   # prints "listening on ws://ADDR"
//! ```

use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::rc::Rc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_websockets::{Message, ServerBuilder};
use ws_benches::serve;

/// Every connected client's outgoing queue, by connection id.
type Room = Rc<RefCell<HashMap<u64, mpsc::UnboundedSender<Message>>>>;

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

async fn client(tcp: TcpStream, id: u64, room: Room) {
    let Ok((_request, ws)) = ServerBuilder::new().accept(tcp).await else {
        return;
    };
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Message>();
    room.borrow_mut().insert(id, tx);
    tokio::task::spawn_local(async move {
        while let Some(message) = rx.recv().await {
            if sink.feed(message).await.is_err() {
                return;
            }
            while let Ok(message) = rx.try_recv() {
                if sink.feed(message).await.is_err() {
                    return;
                }
            }
            if sink.flush().await.is_err() {
                return;
            }
        }
    });
    while let Some(Ok(message)) = stream.next().await {
        if message.is_binary() || message.is_text() {
            for tx in room.borrow().values() {
                // Payloads are `Bytes`: the clone shares them.
                let _ = tx.send(message.clone());
            }
        }
        // Pings are answered and closes replied to by the library.
    }
    // Dropping the sender ends the writer once it has sent what is queued.
    room.borrow_mut().remove(&id);
}
