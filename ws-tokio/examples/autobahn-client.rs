//! The Autobahn test suite's client loop: asks the fuzzing server how many
//! cases it has, runs each one by echoing every text and binary message
//! until the connection ends, then asks it to write its reports.
//!
//! ```text
//! cargo run --release -p ws-tokio --example autobahn-client -- [URL] [AGENT]
//! ```
//!
//! `URL` defaults to `ws://127.0.0.1:9001`, `AGENT` to `ws-tokio-client`.
//! Progress goes to standard error; the exit status is 0 once the reports
//! were updated. It runs on tokio's current-thread runtime: the cases run
//! one after another.

use std::process::ExitCode;

use ws_tokio::ws_proto::DeflateConfig;
use ws_tokio::{connect, connect_with, ClientRequest, Config, Error, Message};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let base = args
        .next()
        .unwrap_or_else(|| "ws://127.0.0.1:9001".to_string());
    let base = base.trim_end_matches('/').to_string();
    let agent = args.next().unwrap_or_else(|| "ws-tokio-client".to_string());

    let count = match case_count(&base).await {
        Ok(count) => count,
        Err(err) => {
            eprintln!("getCaseCount failed: {err}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!("{count} cases");
    for case in 1..=count {
        let url = format!("{base}/runCase?case={case}&agent={agent}");
        if let Err(err) = run_case(&url).await {
            // Expected for the cases that test failures; wstest judges them.
            eprintln!("case {case}: {err}");
        }
    }
    match drain(&format!("{base}/updateReports?agent={agent}")).await {
        Ok(()) => {
            eprintln!("reports updated for {agent}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("updateReports failed: {err}");
            ExitCode::FAILURE
        }
    }
}

/// The first text message of `/getCaseCount`, as a number.
async fn case_count(base: &str) -> Result<u32, Box<dyn std::error::Error>> {
    let (mut ws, _) = connect(&format!("{base}/getCaseCount")).await?;
    let mut count = None;
    while let Some(item) = ws.recv().await {
        if let Message::Text(text) = item? {
            count = Some(text.trim().parse()?);
        }
    }
    count.ok_or_else(|| "no case count received".into())
}

/// Echoes data messages until the stream ends; reports the first error.
async fn run_case(url: &str) -> Result<(), Error> {
    // Offer permessage-deflate promising no client context takeover as well,
    // so that every acceptance the suite's section 13 asks for is possible.
    let deflate = DeflateConfig::default().client_no_context_takeover(true);
    let config = Config::default().deflate(Some(deflate));
    let (mut ws, _) = connect_with(ClientRequest::from_url(url)?, config, None).await?;
    let mut first_error = None;
    while let Some(item) = ws.recv().await {
        match item {
            Ok(message) if message.is_data() => {
                if let Err(err) = ws.send(message).await {
                    first_error.get_or_insert(err);
                }
            }
            Ok(_) => {}
            // Keep reading: the stream ends once the close is finished.
            Err(err) => {
                first_error.get_or_insert(err);
            }
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Connects and reads until the server closes.
async fn drain(url: &str) -> Result<(), Error> {
    let (mut ws, _) = connect(url).await?;
    while let Some(item) = ws.recv().await {
        item?;
    }
    Ok(())
}
