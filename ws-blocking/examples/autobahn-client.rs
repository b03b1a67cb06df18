//! The Autobahn|Testsuite client loop: ask the fuzzing server for the number
//! of cases, echo every text and binary message of each case until it
//! closes, then ask for the report.
//!
//! ```text
//! cargo run --release -p ws-blocking --example autobahn-client -- ws://127.0.0.1:9001 ws-blocking-client
//! ```

use ws_blocking::ws_proto::{handshake::ClientRequest, Config, DeflateConfig};
use ws_blocking::{connect, connect_with, CloseCode, Error, MaybeTlsStream, Message, WebSocket};

fn main() {
    let mut args = std::env::args().skip(1);
    let base = args
        .next()
        .unwrap_or_else(|| "ws://127.0.0.1:9001".to_string());
    let agent = args
        .next()
        .unwrap_or_else(|| "ws-blocking-client".to_string());
    if let Err(err) = run(&base, &agent) {
        eprintln!("autobahn-client: {err}");
        std::process::exit(1);
    }
}

fn run(base: &str, agent: &str) -> Result<(), Error> {
    let count = case_count(base)?;
    eprintln!("running {count} cases as {agent}");
    for case in 1..=count {
        let url = format!("{base}/runCase?case={case}&agent={agent}");
        if let Err(err) = run_case(&url) {
            eprintln!("case {case}: {err}");
        }
    }
    let (mut ws, _) = connect(&format!("{base}/updateReports?agent={agent}"))?;
    ws.close(CloseCode::NORMAL, "")?;
    finish(&mut ws);
    Ok(())
}

fn case_count(base: &str) -> Result<u32, Error> {
    let (mut ws, _) = connect(&format!("{base}/getCaseCount"))?;
    let count = match ws.read()? {
        Message::Text(text) => text.trim().parse().ok(),
        _ => None,
    };
    finish(&mut ws);
    count.ok_or_else(|| {
        Error::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "getCaseCount did not answer with a number",
        ))
    })
}

fn run_case(url: &str) -> Result<(), Error> {
    // Offer permessage-deflate promising no client context takeover as well,
    // so that every acceptance the suite's section 13 asks for is possible.
    let deflate = DeflateConfig::default().client_no_context_takeover(true);
    let config = Config::default().deflate(Some(deflate));
    let (mut ws, _) = connect_with(ClientRequest::from_url(url)?, config, None)?;
    loop {
        match ws.read()? {
            msg @ (Message::Text(_) | Message::Binary(_)) => ws.send(msg)?,
            Message::Close(_) => break,
            _ => {}
        }
    }
    finish(&mut ws);
    Ok(())
}

/// Reads until the connection is over (the server closes TCP first, or the
/// core's close timeout ends the wait).
fn finish(ws: &mut WebSocket<MaybeTlsStream>) {
    while ws.read().is_ok() {}
}
