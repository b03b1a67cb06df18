//! The Autobahn test suite's client loop: asks the fuzzing server how many
//! cases it has, runs each one by echoing every text and binary message
//! until the connection ends, then asks it to write its reports.
//!
//! ```text
//! cargo run --release -p ws-uring --example autobahn-client -- [URL] [AGENT]
//! ```
//!
//! `URL` defaults to `ws://127.0.0.1:9001`, `AGENT` to `ws-uring-client`.
//! Progress goes to standard error; the exit status is 0 once the reports
//! were updated. The cases run one after another, each on its own
//! connection (and ring).

use std::process::ExitCode;

use ws_uring::ws_proto::DeflateConfig;
use ws_uring::{connect, connect_with, ClientRequest, Config, Error, Message};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let base = args
        .next()
        .unwrap_or_else(|| "ws://127.0.0.1:9001".to_string());
    let base = base.trim_end_matches('/').to_string();
    let agent = args.next().unwrap_or_else(|| "ws-uring-client".to_string());

    let count = match case_count(&base) {
        Ok(count) => count,
        Err(err) => {
            eprintln!("getCaseCount failed: {err}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!("{count} cases");
    for case in 1..=count {
        let url = format!("{base}/runCase?case={case}&agent={agent}");
        if let Err(err) = run_case(&url) {
            // Expected for the cases that test failures; wstest judges them.
            eprintln!("case {case}: {err}");
        }
    }
    match drain(&format!("{base}/updateReports?agent={agent}")) {
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
fn case_count(base: &str) -> Result<u32, Box<dyn std::error::Error>> {
    let (mut ws, _) = connect(&format!("{base}/getCaseCount"))?;
    let mut count = None;
    while let Some(item) = ws.recv() {
        if let Message::Text(text) = item? {
            count = Some(text.trim().parse()?);
        }
    }
    count.ok_or_else(|| "no case count received".into())
}

/// Echoes data messages until the connection ends; reports the first error.
fn run_case(url: &str) -> Result<(), Error> {
    // Offer permessage-deflate promising no client context takeover as well,
    // so that every acceptance the suite's section 13 asks for is possible.
    let deflate = DeflateConfig::default().client_no_context_takeover(true);
    let config = Config::default().deflate(Some(deflate));
    let (mut ws, _) = connect_with(ClientRequest::from_url(url)?, config)?;
    let mut first_error = None;
    while let Some(item) = ws.recv() {
        match item {
            Ok(message) if message.is_data() => {
                if let Err(err) = ws.send(message) {
                    first_error.get_or_insert(err);
                }
            }
            Ok(_) => {}
            // Keep reading: the connection ends once the close is finished.
            Err(err) => {
                first_error.get_or_insert(err);
            }
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Connects and reads until the server closes.
fn drain(url: &str) -> Result<(), Error> {
    let (mut ws, _) = connect(url)?;
    while let Some(item) = ws.recv() {
        item?;
    }
    Ok(())
}
