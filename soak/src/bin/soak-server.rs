//! `soak-server`: the server of `tests/soak/run.sh`, a ws-tokio echo server
//! with keepalive on.
//!
//! ```text
//! soak-server [--listen 127.0.0.1:0] [--ping 20s] [--idle 45s] [--stats-every 5s]
//! ```
//!
//! Echoes every text and binary message on the connection it came from.
//! Prints `soak-server listening on ADDR` once ready, and every
//! `--stats-every` (and on SIGTERM or SIGINT, before exiting) one line
//! `soak-server: open N, accepted A, handshake failures H, ended: ...`
//! counting how connections ended (the close code the application saw,
//! or the error kind).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};
use ws_soak::fault::parse_duration;
use ws_tokio::{Config, Error, Message};

#[derive(Default)]
struct Stats {
    open: AtomicU64,
    accepted: AtomicU64,
    handshake_failures: AtomicU64,
    ended: Mutex<BTreeMap<String, u64>>,
}

impl Stats {
    fn ended(&self, how: String) {
        let mut ended = self.ended.lock().unwrap_or_else(PoisonError::into_inner);
        *ended.entry(how).or_insert(0) += 1;
    }

    fn line(&self) -> String {
        let ended = self.ended.lock().unwrap_or_else(PoisonError::into_inner);
        let ended: Vec<String> = ended.iter().map(|(k, v)| format!("{k} {v}")).collect();
        format!(
            "soak-server: open {}, accepted {}, handshake failures {}, ended: {}",
            self.open.load(Ordering::SeqCst),
            self.accepted.load(Ordering::SeqCst),
            self.handshake_failures.load(Ordering::SeqCst),
            ended.join(", ")
        )
    }
}

fn parse_args() -> Result<(SocketAddr, Config, Duration), String> {
    let mut listen: SocketAddr = "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?;
    let mut ping = Duration::from_secs(20);
    let mut idle = Duration::from_secs(45);
    let mut every = Duration::from_secs(5);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| {
            format!("{flag} needs a value; usage: soak-server [--listen ADDR] [--ping DUR] [--idle DUR] [--stats-every DUR]")
        })?;
        match flag.as_str() {
            "--listen" => {
                listen = value
                    .parse()
                    .map_err(|e| format!("--listen {value}: {e}"))?
            }
            "--ping" => ping = parse_duration(&value)?,
            "--idle" => idle = parse_duration(&value)?,
            "--stats-every" => every = parse_duration(&value)?,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    let config = Config::default()
        .ping_interval(Some(ping))
        .idle_timeout(Some(idle))
        .deflate(None);
    Ok((listen, config, every.max(Duration::from_millis(100))))
}

/// How a connection ended, as the application saw it.
fn ending(item: Option<Result<Message, Error>>) -> String {
    match item {
        Some(Ok(Message::Close(frame))) => format!("close {}", frame.code),
        Some(Err(Error::Io(err))) => format!("io {:?}", err.kind()),
        Some(Err(err)) => match err.close_code() {
            Some(code) => format!("error {code}"),
            None => "error other".into(),
        },
        None | Some(Ok(_)) => "end of stream".into(),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let (listen, config, every) = match parse_args() {
        Ok(args) => args,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(2);
        }
    };
    let listener = match TcpListener::bind(listen).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("soak-server: listen on {listen}: {err}");
            return ExitCode::FAILURE;
        }
    };
    match listener.local_addr() {
        Ok(addr) => println!("soak-server listening on {addr}"),
        Err(err) => {
            eprintln!("soak-server: {err}");
            return ExitCode::FAILURE;
        }
    }
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        eprintln!("soak-server: cannot install signal handlers");
        return ExitCode::FAILURE;
    };
    let stats = Arc::new(Stats::default());
    let mut report = tokio::time::interval(every);
    report.tick().await;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = report.tick() => {
                eprintln!("{}", stats.line());
                continue;
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
        };
        let tcp = match accepted {
            Ok((tcp, _)) => tcp,
            Err(err) => {
                eprintln!("soak-server: accept failed: {err}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        stats.accepted.fetch_add(1, Ordering::SeqCst);
        let handshake = ws_tokio::accept_with(tcp, config.clone(), |request| request.accept());
        let stats = Arc::clone(&stats);
        tokio::spawn(async move {
            let Ok(mut ws) = handshake.await else {
                stats.handshake_failures.fetch_add(1, Ordering::SeqCst);
                return;
            };
            stats.open.fetch_add(1, Ordering::SeqCst);
            let how = loop {
                let message = match ws.recv().await {
                    Some(Ok(message @ (Message::Text(_) | Message::Binary(_)))) => message,
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    other => break ending(other),
                };
                if let Err(err) = ws.send(message).await {
                    break match err {
                        Error::Io(err) => format!("send io {:?}", err.kind()),
                        _ => "send error".into(),
                    };
                }
            };
            // Let the close handshake finish (bounded by the close timeout).
            while ws.recv().await.is_some() {}
            stats.open.fetch_sub(1, Ordering::SeqCst);
            stats.ended(how);
        });
    }
    eprintln!("{}", stats.line());
    ExitCode::SUCCESS
}
