//! A small WebSocket adapter for [smol](https://docs.rs/smol), written
//! against ws-proto's public API only: the worked example of the adapter
//! author's guide (`ws_proto::guide`, the crate's GUIDE.md).
//!
//! Everything about the protocol (the opening handshake, framing, masking,
//! UTF-8, limits, answering pings, the close handshake, who closes the
//! transport first, every timer) is the core's. This crate only moves bytes
//! between a smol transport and a [`ws_proto::Connection`], and sleeps
//! until the core's deadline.
//!
//! * [`connect`]: a `ws://` URL over TCP; [`client`] over a transport you
//!   connected yourself.
//! * [`accept`] or [`accept_with`] on an accepted transport.
//! * Then [`WebSocket`]: [`recv`](WebSocket::recv), [`send`](WebSocket::send),
//!   [`close`](WebSocket::close).
//!
//! One task drives one [`WebSocket`]: reading and writing take turns. (For
//! a reader and a writer in two tasks, put the connection and the
//! transport behind one lock, as ws-tokio does.)
//!
//! ```
//! use smol::net::TcpListener;
//! use ws_smol_example::{accept, connect, CloseCode, Config, Message};
//!
//! # fn main() -> Result<(), ws_smol_example::Error> {
//! smol::block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let addr = listener.local_addr()?;
//!     let server = smol::spawn(async move {
//!         let (tcp, _) = listener.accept().await?;
//!         let mut ws = accept(tcp, Config::default()).await?;
//!         while let Some(message) = ws.recv().await {
//!             if let message @ (Message::Text(_) | Message::Binary(_)) = message? {
//!                 ws.send(message).await?;
//!             }
//!         }
//!         Ok::<_, ws_smol_example::Error>(())
//!     });
//!
//!     let (mut ws, _response) = connect(&format!("ws://{addr}/echo")).await?;
//!     ws.send(Message::text("hello")).await?;
//!     assert_eq!(ws.recv().await.transpose()?, Some(Message::text("hello")));
//!     let answer = ws.close(CloseCode::NORMAL, "done").await?;
//!     assert_eq!(answer.code, CloseCode::NORMAL);
//!     server.await
//! })
//! # }
//! ```

mod error;
mod handshake;
mod websocket;

pub use error::Error;
pub use handshake::{accept, accept_with, client, connect};
pub use websocket::WebSocket;

pub use ws_proto;
pub use ws_proto::handshake::{ClientRequest, Request, Response, ServerResponse};
pub use ws_proto::{CloseCode, CloseFrame, Config, Message};
