//! The load generator: drives any WebSocket echo server over loopback and
//! reports messages/s, MB/s, round-trip percentiles and, given the server's
//! PID, the server's CPU time per echoed message. The same client runs
//! against every server, so only the server differs between runs.
//!
//! The client is a minimal driver around the `ws-proto` core on a raw tokio
//! `TcpStream` (current-thread runtime, one task per connection): no
//! permessage-deflate offer unless `--deflate`, binary messages unless
//! `--text`. Each connection keeps `--inflight` messages outstanding; a
//! message's round trip is measured from its send to its echo (echoes come
//! back in order).
//!
//! ```text
//! loadgen --url ws://127.0.0.1:PORT/ [--connections 16] [--inflight 4]
//!         [--size 20] [--seconds 5] [--messages N] [--warmup-ms 500]
//!         [--server-pid PID] [--label NAME] [--text] [--deflate]
//! loadgen --url ws://127.0.0.1:PORT/ --idle 10000 [--hold-ms 500]
//!         [--server-pid PID] [--label NAME]
//! ```
//!
//! The run stops after `--seconds` of measurement or `--messages` echoes,
//! whichever comes first, then closes every connection (bounded by a few
//! seconds). Output: one human line and one `RESULT key=value ...` line.
//!
//! `--idle N` opens N connections (at most `--parallel`, default 64, in
//! handshake at once), waits, and reports the server's resident memory
//! before and after, per connection.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::io::Interest;
use tokio::net::TcpStream;
use tokio::sync::Notify;
use ws_benches::stats::{Latencies, Report};
use ws_benches::wire;
use ws_benches::{client, procfs};
use ws_proto::{CloseCode, Connection, Event};

#[derive(Debug, Clone)]
struct Args {
    url: String,
    connections: usize,
    inflight: usize,
    size: usize,
    seconds: f64,
    messages: u64,
    warmup: Duration,
    server_pid: Option<u32>,
    label: String,
    text: bool,
    deflate: bool,
    idle: Option<usize>,
    hold: Duration,
    parallel: usize,
}

impl Args {
    fn parse(mut argv: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut args = Self {
            url: String::new(),
            connections: 16,
            inflight: 4,
            size: 20,
            seconds: 5.0,
            messages: u64::MAX,
            warmup: Duration::from_millis(500),
            server_pid: None,
            label: "server".into(),
            text: false,
            deflate: false,
            idle: None,
            hold: Duration::from_millis(500),
            parallel: 64,
        };
        fn num<T: std::str::FromStr>(flag: &str, value: Option<String>) -> Result<T, String> {
            let value = value.ok_or_else(|| format!("{flag} needs a value"))?;
            value
                .parse()
                .map_err(|_| format!("{flag}: cannot parse {value:?}"))
        }
        while let Some(flag) = argv.next() {
            match flag.as_str() {
                "--url" => args.url = argv.next().ok_or("--url needs a value")?,
                "--connections" | "-c" => args.connections = num(&flag, argv.next())?,
                "--inflight" | "-m" => args.inflight = num(&flag, argv.next())?,
                "--size" | "-s" => args.size = num(&flag, argv.next())?,
                "--seconds" => args.seconds = num(&flag, argv.next())?,
                "--messages" => args.messages = num(&flag, argv.next())?,
                "--warmup-ms" => args.warmup = Duration::from_millis(num(&flag, argv.next())?),
                "--server-pid" => args.server_pid = Some(num(&flag, argv.next())?),
                "--label" => args.label = argv.next().ok_or("--label needs a value")?,
                "--text" => args.text = true,
                "--deflate" => args.deflate = true,
                "--idle" => args.idle = Some(num(&flag, argv.next())?),
                "--hold-ms" => args.hold = Duration::from_millis(num(&flag, argv.next())?),
                "--parallel" => args.parallel = num(&flag, argv.next())?,
                "--help" | "-h" => return Err(String::new()),
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        if !args.url.starts_with("ws://") {
            return Err("--url ws://HOST:PORT/ is required (plain ws:// only)".into());
        }
        if args.connections == 0 || args.inflight == 0 || args.parallel == 0 {
            return Err("--connections, --inflight and --parallel must be at least 1".into());
        }
        if !(args.seconds > 0.0 && args.seconds <= 3600.0) {
            return Err("--seconds must be in (0, 3600]".into());
        }
        Ok(args)
    }
}

fn main() {
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(err) => {
            if !err.is_empty() {
                eprintln!("loadgen: {err}");
            }
            eprintln!("{}", USAGE);
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let local = tokio::task::LocalSet::new();
    let result = local.block_on(&runtime, async {
        match args.idle {
            Some(count) => idle(&args, count).await,
            None => load(&args).await,
        }
    });
    if let Err(err) = result {
        eprintln!("loadgen ({}): {err}", args.label);
        std::process::exit(1);
    }
}

const USAGE: &str = "usage: loadgen --url ws://127.0.0.1:PORT/ [--connections N] [--inflight M] \
[--size BYTES] [--seconds S] [--messages N] [--warmup-ms MS] [--server-pid PID] [--label NAME] \
[--text] [--deflate] | --idle N [--hold-ms MS] [--parallel N]";

/// Opens `count` connections, at most `parallel` at once; failures are counted.
async fn open_many(
    url: &str,
    deflate: bool,
    count: usize,
    parallel: usize,
) -> (Vec<(TcpStream, Connection)>, Vec<io::Error>) {
    let results: Vec<_> = futures_util::stream::iter(0..count)
        .map(|_| client::open(url, deflate))
        .buffer_unordered(parallel)
        .collect()
        .await;
    let mut ok = Vec::with_capacity(count);
    let mut failed = Vec::new();
    for result in results {
        match result {
            Ok(pair) => ok.push(pair),
            Err(err) => failed.push(err),
        }
    }
    (ok, failed)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Warmup,
    Measure,
    Stop,
}

/// What the connection tasks share with the main task.
struct Shared {
    phase: Cell<Phase>,
    messages: Cell<u64>,
    bytes: Cell<u64>,
    limit: u64,
    latencies: RefCell<Latencies>,
    limit_reached: Notify,
}

impl Shared {
    fn record(&self, rtt: Duration, len: usize) {
        if self.phase.get() != Phase::Measure {
            return;
        }
        self.latencies.borrow_mut().record(rtt);
        self.bytes.set(self.bytes.get() + len as u64);
        let n = self.messages.get() + 1;
        self.messages.set(n);
        if n == self.limit {
            self.limit_reached.notify_one();
        }
    }
}

async fn load(args: &Args) -> io::Result<()> {
    let (conns, failed) = open_many(&args.url, args.deflate, args.connections, args.parallel).await;
    if let Some(err) = failed.first() {
        return Err(io::Error::other(format!(
            "{} of {} connections failed, first: {err}",
            failed.len(),
            args.connections
        )));
    }
    let shared = Rc::new(Shared {
        phase: Cell::new(Phase::Warmup),
        messages: Cell::new(0),
        bytes: Cell::new(0),
        limit: args.messages,
        latencies: RefCell::new(Latencies::default()),
        limit_reached: Notify::new(),
    });
    let message = if args.text {
        Message::Text(wire::ascii_text(args.size))
    } else {
        Message::Binary(Bytes::from(wire::payload(args.size, 1)))
    };
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|(tcp, conn)| {
            let driver = Driver {
                tcp,
                conn,
                shared: Rc::clone(&shared),
                message: message.clone(),
                inflight: args.inflight,
            };
            tokio::task::spawn_local(driver.run())
        })
        .collect();

    tokio::time::sleep(args.warmup).await;
    let cpu_before = args.server_pid.map(procfs::cpu_time).transpose()?;
    let start = Instant::now();
    shared.phase.set(Phase::Measure);
    tokio::select! {
        _ = tokio::time::sleep(Duration::from_secs_f64(args.seconds)) => {}
        _ = shared.limit_reached.notified() => {}
    }
    shared.phase.set(Phase::Stop);
    let elapsed = start.elapsed();
    let cpu_after = args.server_pid.map(procfs::cpu_time).transpose()?;

    // Close every connection; give up on stragglers after a few seconds.
    let mut errors = 0usize;
    let closing = async {
        for task in tasks {
            if !matches!(task.await, Ok(Ok(()))) {
                errors += 1;
            }
        }
    };
    if tokio::time::timeout(Duration::from_secs(5), closing)
        .await
        .is_err()
    {
        eprintln!(
            "loadgen ({}): some connections did not close in 5 s",
            args.label
        );
    }
    let (p50, p99) = shared.latencies.borrow_mut().p50_p99();
    let report = Report {
        messages: shared.messages.get(),
        bytes: shared.bytes.get(),
        elapsed,
        p50,
        p99,
        server_cpu: cpu_before.zip(cpu_after).map(|(a, b)| b.saturating_sub(a)),
    };
    eprintln!(
        "{}: {} B x {} conns x {} in flight: {:.0} msg/s, {:.2} MB/s, p50 {:?}, p99 {:?}, server CPU/msg {} us{}",
        args.label,
        args.size,
        args.connections,
        args.inflight,
        report.messages_per_sec(),
        report.mb_per_sec(),
        report.p50.unwrap_or_default(),
        report.p99.unwrap_or_default(),
        report
            .cpu_us_per_message()
            .map_or("-".into(), |v| format!("{v:.2}")),
        if errors > 0 {
            format!(" ({errors} connections ended with an error)")
        } else {
            String::new()
        }
    );
    println!(
        "RESULT mode=echo label={} size={} conns={} inflight={} text={} deflate={} {}",
        args.label,
        args.size,
        args.connections,
        args.inflight,
        args.text,
        args.deflate,
        report.to_line()
    );
    Ok(())
}

#[derive(Clone)]
enum Message {
    Text(String),
    Binary(Bytes),
}

/// One connection: keeps `inflight` messages outstanding, times each echo,
/// and closes when the main task says stop.
struct Driver {
    tcp: TcpStream,
    conn: Connection,
    shared: Rc<Shared>,
    message: Message,
    inflight: usize,
}

impl Driver {
    async fn run(mut self) -> io::Result<()> {
        let mut sent: VecDeque<Instant> = VecDeque::with_capacity(self.inflight);
        let mut closing = false;
        loop {
            if !closing && self.shared.phase.get() == Phase::Stop {
                closing = true;
                // Already closed by the peer or failed: nothing to add.
                let _ = self.conn.close(CloseCode::NORMAL, "");
            }
            while !closing && sent.len() < self.inflight {
                let queued = match &self.message {
                    Message::Text(text) => self.conn.send_text(text.as_str()),
                    Message::Binary(data) => self.conn.send_binary(data.clone()),
                };
                queued.map_err(io::Error::other)?;
                sent.push_back(Instant::now());
            }
            self.write_some()?;
            if self.conn.should_close_transport() && self.conn.buffered_amount() == 0 {
                return Ok(());
            }
            let interest = if self.conn.buffered_amount() > 0 {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            let ready = self.tcp.ready(interest).await?;
            if !ready.is_readable() {
                continue;
            }
            self.read_some()?;
            let now = Instant::now();
            loop {
                match self.conn.poll_event() {
                    Ok(Some(Event::Binary(data))) => self.echoed(&mut sent, now, data.len())?,
                    Ok(Some(Event::Text(text))) => self.echoed(&mut sent, now, text.len())?,
                    Ok(Some(Event::Close(_))) => {
                        // The core queued our reply; send it if the socket takes it.
                        let _ = self.write_some();
                        return Ok(());
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(err) => return Err(io::Error::other(err)),
                }
            }
        }
    }

    fn echoed(&self, sent: &mut VecDeque<Instant>, now: Instant, len: usize) -> io::Result<()> {
        let start = sent
            .pop_front()
            .ok_or_else(|| io::Error::other("an echo for a message never sent"))?;
        self.shared
            .record(now.saturating_duration_since(start), len);
        Ok(())
    }

    /// Writes queued bytes until the socket would block.
    fn write_some(&mut self) -> io::Result<()> {
        client::write_some(&self.tcp, &mut self.conn)
    }

    /// Reads what the socket has into the core's buffer.
    fn read_some(&mut self) -> io::Result<()> {
        client::read_some(&self.tcp, &mut self.conn).map(|_| ())
    }
}

/// Memory per idle connection: the server's resident set before and after
/// `count` connections are open.
async fn idle(args: &Args, count: usize) -> io::Result<()> {
    let pid = args.server_pid;
    let before = pid.map(procfs::vm_rss_kib).transpose()?;
    let started = Instant::now();
    let (conns, failed) = open_many(&args.url, false, count, args.parallel).await;
    let opened_in = started.elapsed();
    // Let the server finish whatever follows the handshake.
    tokio::time::sleep(args.hold).await;
    let after = pid.map(procfs::vm_rss_kib).transpose()?;
    let threads = pid.map(procfs::threads).transpose()?;
    let per_conn = before
        .zip(after)
        .filter(|_| !conns.is_empty())
        .map(|(b, a)| (a.saturating_sub(b) * 1024) as f64 / conns.len() as f64);
    eprintln!(
        "{}: {} idle connections open ({} failed) in {:.1} s; server RSS {} -> {} KiB, {} bytes per connection",
        args.label,
        conns.len(),
        failed.len(),
        opened_in.as_secs_f64(),
        before.map_or("-".into(), |v| v.to_string()),
        after.map_or("-".into(), |v| v.to_string()),
        per_conn.map_or("-".into(), |v| format!("{v:.0}")),
    );
    if let Some(err) = failed.first() {
        eprintln!("{}: first connect failure: {err}", args.label);
    }
    println!(
        "RESULT mode=idle label={} conns={} opened={} failed={} rss_before_kib={} rss_after_kib={} server_threads={} bytes_per_conn={}",
        args.label,
        count,
        conns.len(),
        failed.len(),
        before.map_or("-".into(), |v| v.to_string()),
        after.map_or("-".into(), |v| v.to_string()),
        threads.map_or("-".into(), |v| v.to_string()),
        per_conn.map_or("-".into(), |v| format!("{v:.0}")),
    );
    // Dropping the sockets closes them; the servers see the end of stream.
    drop(conns);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Args, String> {
        Args::parse(line.split_whitespace().map(String::from))
    }

    #[test]
    fn arguments() {
        let args = parse("--url ws://127.0.0.1:1/ -c 2 -m 3 -s 1024 --seconds 1.5 --server-pid 7")
            .unwrap();
        assert_eq!((args.connections, args.inflight, args.size), (2, 3, 1024));
        assert_eq!((args.seconds, args.server_pid), (1.5, Some(7)));
        assert!(parse("--url http://x/").is_err());
        assert!(parse("--url ws://x/ -c 0").is_err());
        assert!(parse("--url ws://x/ --bogus").is_err());
    }
}
