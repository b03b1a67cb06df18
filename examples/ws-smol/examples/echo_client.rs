//! An echo client on smol: sends each argument, prints the echo, closes.
//! `cargo run -p ws-smol-example --example echo_client -- ws://127.0.0.1:9002/ hello world`

use ws_smol_example::{connect, CloseCode, Error, Message};

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let url = args.next().unwrap_or_else(|| "ws://127.0.0.1:9002/".into());
    let words: Vec<String> = args.collect();
    smol::block_on(async {
        let (mut ws, response) = connect(&url).await?;
        let deflate = response.negotiated().contains("permessage-deflate");
        println!("connected to {url} (permessage-deflate: {deflate})");
        for word in words {
            ws.send(Message::text(word)).await?;
            match ws.recv().await.transpose()? {
                Some(Message::Text(echo)) => println!("echo: {}", echo.as_str()),
                other => println!("unexpected: {other:?}"),
            }
        }
        let answer = ws.close(CloseCode::NORMAL, "done").await?;
        println!("closed: the server answered {}", answer.code);
        Ok(())
    })
}
