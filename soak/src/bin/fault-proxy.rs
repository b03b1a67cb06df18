//! `fault-proxy`: the fault-injecting TCP proxy of `ws_soak::proxy`.
//!
//! ```text
//! fault-proxy --listen 127.0.0.1:0 --upstream 127.0.0.1:9001 [--log PATH]
//!             [--fault AT@FAULT]...                      a fixed schedule, every connection
//!             [--seed N --mean-gap DUR --short-stall DUR  random faults
//!              --long-stall DUR --spike DUR --episode DUR]
//! ```
//!
//! FAULT is `latency:DIR:DELAY[:JITTER]:FOR`, `bandwidth:DIR:BYTES_PER_SEC:FOR`,
//! `stall:DIR:FOR`, `reset`, `halfclose:DIR` or `cut`; DIR is `up` (client
//! to server), `down` or `both`; durations like `250ms`, `2s`, `1.5s`; AT is
//! the time since the connection opened. The fault log (JSON lines) goes to
//! `--log PATH` (appended) or standard error. Prints `fault-proxy listening
//! on ADDR` once ready. SIGUSR1 stops injecting (faults in force end, no
//! new ones); SIGTERM or SIGINT prints the counts and exits.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{signal, SignalKind};
use ws_soak::fault::{parse_duration, parse_entry, Plan, RandomFaults};
use ws_soak::log::FaultLog;
use ws_soak::proxy::Proxy;

const USAGE: &str = "usage: fault-proxy --listen ADDR --upstream ADDR [--log PATH] \
[--fault AT@FAULT]... [--seed N [--mean-gap DUR] [--short-stall DUR] [--long-stall DUR] \
[--spike DUR] [--episode DUR]]";

struct Args {
    listen: SocketAddr,
    upstream: SocketAddr,
    log: Option<String>,
    plan: Plan,
}

fn parse_args() -> Result<Args, String> {
    let mut listen = None;
    let mut upstream = None;
    let mut log = None;
    let mut fixed = Vec::new();
    let mut seed = None;
    let mut random = RandomFaults {
        seed: 0,
        mean_gap: Duration::from_secs(60),
        short_stall: Duration::from_secs(20),
        long_stall: Duration::from_secs(70),
        spike: Duration::from_secs(3),
        episode: Duration::from_secs(10),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            return Err(USAGE.into());
        }
        let value = args
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let addr = |v: &str| {
            v.parse::<SocketAddr>()
                .map_err(|e| format!("{flag} {v}: {e}"))
        };
        match flag.as_str() {
            "--listen" => listen = Some(addr(&value)?),
            "--upstream" => upstream = Some(addr(&value)?),
            "--log" => log = Some(value),
            "--fault" => fixed.push(parse_entry(&value)?),
            "--seed" => seed = Some(value.parse().map_err(|e| format!("--seed {value}: {e}"))?),
            "--mean-gap" => random.mean_gap = parse_duration(&value)?,
            "--short-stall" => random.short_stall = parse_duration(&value)?,
            "--long-stall" => random.long_stall = parse_duration(&value)?,
            "--spike" => random.spike = parse_duration(&value)?,
            "--episode" => random.episode = parse_duration(&value)?,
            _ => return Err(format!("unknown flag {flag}\n{USAGE}")),
        }
    }
    let plan = match (seed, fixed.is_empty()) {
        (Some(_), false) => return Err("--fault and --seed exclude each other".into()),
        (Some(seed), true) => Plan::Random(RandomFaults { seed, ..random }),
        (None, false) => Plan::Fixed(fixed),
        (None, true) => Plan::None,
    };
    Ok(Args {
        listen: listen.ok_or_else(|| format!("--listen is required\n{USAGE}"))?,
        upstream: upstream.ok_or_else(|| format!("--upstream is required\n{USAGE}"))?,
        log,
        plan,
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(2);
        }
    };
    let log = match &args.log {
        Some(path) => match FaultLog::file(path.as_ref()) {
            Ok(log) => log,
            Err(err) => {
                eprintln!("fault-proxy: {path}: {err}");
                return ExitCode::FAILURE;
            }
        },
        None => FaultLog::stderr(),
    };
    let proxy = match Proxy::bind(args.listen, args.upstream, args.plan, Arc::new(log)).await {
        Ok(proxy) => proxy,
        Err(err) => {
            eprintln!("fault-proxy: listen on {}: {err}", args.listen);
            return ExitCode::FAILURE;
        }
    };
    let control = proxy.control();
    match proxy.local_addr() {
        Ok(addr) => println!("fault-proxy listening on {addr}"),
        Err(err) => {
            eprintln!("fault-proxy: {err}");
            return ExitCode::FAILURE;
        }
    }
    let (Ok(mut usr1), Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::user_defined1()),
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        eprintln!("fault-proxy: cannot install signal handlers");
        return ExitCode::FAILURE;
    };
    let run = tokio::spawn(proxy.run());
    loop {
        tokio::select! {
            _ = usr1.recv() => {
                control.quiesce();
                eprintln!("fault-proxy: quiesced after {} faults", control.faults());
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    run.abort();
    let kinds: Vec<String> = control
        .faults_by_kind()
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    eprintln!(
        "fault-proxy: {} connections ({} open), {} faults ({})",
        control.accepted(),
        control.open(),
        control.faults(),
        kinds.join(", ")
    );
    ExitCode::SUCCESS
}
