//! An echo server on smol:
//! `cargo run -p ws-smol-example --example echo_server -- 127.0.0.1:9002`

use smol::net::{TcpListener, TcpStream};
use ws_smol_example::{accept, Config, Error, Message};

fn main() -> Result<(), Error> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9002".into());
    smol::block_on(async {
        let listener = TcpListener::bind(addr.as_str()).await?;
        println!("echoing on ws://{}/", listener.local_addr()?);
        loop {
            let (tcp, peer) = listener.accept().await?;
            smol::spawn(async move {
                if let Err(err) = serve(tcp).await {
                    eprintln!("{peer}: {err}");
                }
            })
            .detach();
        }
    })
}

/// Echoes text and binary messages until the client closes.
async fn serve(tcp: TcpStream) -> Result<(), Error> {
    tcp.set_nodelay(true)?;
    let mut ws = accept(tcp, Config::default()).await?;
    while let Some(message) = ws.recv().await {
        match message? {
            message @ (Message::Text(_) | Message::Binary(_)) => ws.send(message).await?,
            Message::Close(frame) => println!("closed: {} {:?}", frame.code, frame.reason.as_str()),
            _ => {} // the core answered pings already
        }
    }
    Ok(())
}
