//! The fan-out (chat-room) load generator: N clients each send one message
//! per round; the server sends every message to all N clients (the sender
//! too); the next round starts when every client has received every message
//! of the round. A delivery is one message arriving at one client, so a
//! round is N × N deliveries.
//!
//! Each payload starts with the sender's id and the round number (two
//! little-endian `u32`s), is padded to `--size` bytes and ends with a check
//! byte. Every client checks that it receives each message exactly once
//! and, per sender, in order; anything else is counted as a violation. A
//! round that does not complete within `--round-timeout-ms` ends the run:
//! the missing deliveries of that round are reported as lost.
//!
//! The client is a small driver around the `ws-proto` core on raw tokio
//! `TcpStream`s (current-thread runtime, a task per connection, payloads
//! read in place with `poll_event_ref`, one read draining many frames), so
//! that at N = 1,000 (10^6 deliveries a round) it stays cheap. Its own CPU
//! time per delivery is reported next to the server's, so a point the load
//! generator bounds shows.
//!
//! ```text
//! fanout-loadgen --url ws://127.0.0.1:PORT/ [--clients 16] [--size 20]
//!                [--seconds 2] [--rounds N] [--warmup-rounds 3] [--warmup-ms 0]
//!                [--round-timeout-ms 10000] [--server-pid PID] [--label NAME]
//!                [--parallel 64] [--settle-ms 200]
//! ```
//!
//! Output: one human line and one `RESULT mode=fanout key=value ...` line.

use std::cell::{Cell, RefCell};
use std::io;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, Interest};
use tokio::net::TcpStream;
use tokio::sync::{watch, Notify};
use ws_benches::{client, procfs};
use ws_proto::{Connection, EventRef};

/// The header every payload starts with: sender id and round, `u32` LE each.
const HEADER: usize = 8;
/// Bound on each connection's TCP connect and opening handshake.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
struct Args {
    url: String,
    clients: usize,
    size: usize,
    seconds: f64,
    rounds: u64,
    warmup_rounds: u64,
    warmup: Duration,
    round_timeout: Duration,
    server_pid: Option<u32>,
    label: String,
    parallel: usize,
    settle: Duration,
}

impl Args {
    fn parse(mut argv: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut args = Self {
            url: String::new(),
            clients: 16,
            size: 20,
            seconds: 2.0,
            rounds: u64::MAX,
            warmup_rounds: 3,
            warmup: Duration::ZERO,
            round_timeout: Duration::from_secs(10),
            server_pid: None,
            label: "server".into(),
            parallel: 64,
            settle: Duration::from_millis(200),
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
                "--clients" | "-c" => args.clients = num(&flag, argv.next())?,
                "--size" | "-s" => args.size = num(&flag, argv.next())?,
                "--seconds" => args.seconds = num(&flag, argv.next())?,
                "--rounds" => args.rounds = num(&flag, argv.next())?,
                "--warmup-rounds" => args.warmup_rounds = num(&flag, argv.next())?,
                "--warmup-ms" => args.warmup = Duration::from_millis(num(&flag, argv.next())?),
                "--round-timeout-ms" => {
                    args.round_timeout = Duration::from_millis(num(&flag, argv.next())?)
                }
                "--server-pid" => args.server_pid = Some(num(&flag, argv.next())?),
                "--label" => args.label = argv.next().ok_or("--label needs a value")?,
                "--parallel" => args.parallel = num(&flag, argv.next())?,
                "--settle-ms" => args.settle = Duration::from_millis(num(&flag, argv.next())?),
                "--help" | "-h" => return Err(String::new()),
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        if !args.url.starts_with("ws://") {
            return Err("--url ws://HOST:PORT/ is required (plain ws:// only)".into());
        }
        if args.clients == 0 || args.clients > 100_000 || args.parallel == 0 || args.rounds == 0 {
            return Err(
                "--clients (at most 100000), --parallel and --rounds must be at least 1".into(),
            );
        }
        if args.size < HEADER || args.size > 1 << 20 {
            return Err(format!("--size must be in [{HEADER}, 1 MiB]"));
        }
        if !(args.seconds > 0.0 && args.seconds <= 3600.0) {
            return Err("--seconds must be in (0, 3600]".into());
        }
        if args.warmup > Duration::from_secs(600) {
            return Err("--warmup-ms must be at most 600000".into());
        }
        if args.round_timeout.is_zero() || args.round_timeout > Duration::from_secs(600) {
            return Err("--round-timeout-ms must be in (0, 600000]".into());
        }
        Ok(args)
    }
}

const USAGE: &str =
    "usage: fanout-loadgen --url ws://127.0.0.1:PORT/ [--clients N] [--size BYTES] \
[--seconds S] [--rounds R] [--warmup-rounds W] [--warmup-ms MS] [--round-timeout-ms MS] [--server-pid PID] \
[--label NAME] [--parallel N] [--settle-ms MS]";

fn main() {
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(err) => {
            if !err.is_empty() {
                eprintln!("fanout-loadgen: {err}");
            }
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let local = tokio::task::LocalSet::new();
    if let Err(err) = local.block_on(&runtime, run(&args)) {
        eprintln!("fanout-loadgen ({}): {err}", args.label);
        println!(
            "RESULT mode=fanout label={} clients={} size={} failed=1",
            args.label, args.clients, args.size
        );
        std::process::exit(1);
    }
    // Connection tasks may still hold sockets; leave without waiting.
    std::process::exit(0);
}

/// What the client tasks share with the main task.
struct Shared {
    clients: usize,
    size: usize,
    /// The round in progress (1-based; 0 before the first).
    round: Cell<u32>,
    /// Deliveries of the round in progress, over all clients.
    received: Cell<u64>,
    /// Clients that have every message of the round in progress.
    complete: Cell<usize>,
    /// Duplicates, out-of-order or malformed messages, over the whole run.
    violations: Cell<u64>,
    first_violation: RefCell<Option<String>>,
    /// Clients whose connection ended or failed.
    dead: Cell<usize>,
    first_error: RefCell<Option<String>>,
    /// Signalled when the last client completes the round.
    round_done: Notify,
}

impl Shared {
    fn violation(&self, client: usize, what: String) {
        self.violations.set(self.violations.get() + 1);
        let mut first = self.first_violation.borrow_mut();
        if first.is_none() {
            *first = Some(format!("client {client}: {what}"));
        }
    }

    fn died(&self, client: usize, why: String) {
        self.dead.set(self.dead.get() + 1);
        let mut first = self.first_error.borrow_mut();
        if first.is_none() {
            *first = Some(format!("client {client}: {why}"));
        }
    }
}

/// The outcome of the run, for the report.
#[derive(Default)]
struct Outcome {
    warmup_rounds: u64,
    measured_rounds: u64,
    deliveries: u64,
    elapsed: Duration,
    server_cpu: Option<Duration>,
    loadgen_cpu: Option<Duration>,
    lost: u64,
    timed_out: bool,
}

async fn run(args: &Args) -> io::Result<()> {
    let n = args.clients;
    let connect_started = Instant::now();
    let results: Vec<_> = futures_util::stream::iter(0..n)
        .map(|_| async {
            tokio::time::timeout(CONNECT_TIMEOUT, client::open(&args.url, false))
                .await
                .unwrap_or_else(|_| Err(io::Error::other("no handshake answer in 10 s")))
        })
        .buffered(args.parallel)
        .collect()
        .await;
    let mut conns = Vec::with_capacity(n);
    let mut failed = 0usize;
    let mut first_failure = None;
    for result in results {
        match result {
            Ok(pair) => conns.push(pair),
            Err(err) => {
                failed += 1;
                first_failure.get_or_insert(err);
            }
        }
    }
    if let Some(err) = first_failure {
        return Err(io::Error::other(format!(
            "{failed} of {n} connections failed, first: {err}"
        )));
    }
    let connect_time = connect_started.elapsed();

    let shared = Rc::new(Shared {
        clients: n,
        size: args.size,
        round: Cell::new(0),
        received: Cell::new(0),
        complete: Cell::new(0),
        violations: Cell::new(0),
        first_violation: RefCell::new(None),
        dead: Cell::new(0),
        first_error: RefCell::new(None),
        round_done: Notify::new(),
    });
    // The round to send for; `u32::MAX` tells every client to stop.
    let (start_tx, start_rx) = watch::channel(0u32);
    for (id, (tcp, conn)) in conns.into_iter().enumerate() {
        let client = Client {
            id,
            tcp,
            conn,
            shared: Rc::clone(&shared),
            start: start_rx.clone(),
            seen: vec![0; n.div_ceil(64)],
            got: 0,
            got_round: 0,
        };
        tokio::task::spawn_local(client.run());
    }
    drop(start_rx);
    // Let the server register the last connections it accepted.
    tokio::time::sleep(args.settle).await;

    let me = std::process::id();
    let per_round = (n * n) as u64;
    let mut out = Outcome::default();
    let mut window_start: Option<(Instant, Option<Duration>, Duration)> = None;
    let deadline_secs = Duration::from_secs_f64(args.seconds);
    // Warm-up lasts `--warmup-rounds` rounds and at least `--warmup-ms`;
    // the measured rounds are bounded by count and time; every round by
    // the timeout. So the whole run is bounded.
    let warmup_started = Instant::now();
    let mut round: u32 = 0;
    loop {
        if window_start.is_none()
            && out.warmup_rounds >= args.warmup_rounds
            && warmup_started.elapsed() >= args.warmup
        {
            let server = args.server_pid.map(procfs::cpu_time).transpose()?;
            window_start = Some((Instant::now(), server, procfs::cpu_time(me)?));
        }
        round += 1;
        shared.round.set(round);
        shared.received.set(0);
        shared.complete.set(0);
        let done = shared.round_done.notified();
        let _ = start_tx.send(round);
        if tokio::time::timeout(args.round_timeout, done)
            .await
            .is_err()
        {
            out.timed_out = true;
            out.lost = per_round.saturating_sub(shared.received.get());
            break;
        }
        if shared.violations.get() > 0 {
            break;
        }
        match window_start {
            None => out.warmup_rounds += 1,
            Some((started, ..)) => {
                out.measured_rounds += 1;
                if out.measured_rounds >= args.rounds || started.elapsed() >= deadline_secs {
                    break;
                }
            }
        }
    }
    if let Some((started, server_before, me_before)) = window_start {
        // The window ends with the last complete round.
        if out.measured_rounds > 0 || !out.timed_out {
            out.elapsed = started.elapsed();
        }
        let server_after = args.server_pid.map(procfs::cpu_time).transpose()?;
        out.server_cpu = server_before
            .zip(server_after)
            .map(|(a, b)| b.saturating_sub(a));
        out.loadgen_cpu = Some(procfs::cpu_time(me)?.saturating_sub(me_before));
    }
    out.deliveries = out.measured_rounds * per_round;
    if out.server_cpu == Some(Duration::ZERO) && out.elapsed > Duration::from_millis(500) {
        eprintln!(
            "fanout-loadgen ({}): warning: process {} used no CPU while serving; is it the server's PID?",
            args.label,
            args.server_pid.unwrap_or_default()
        );
    }
    let _ = start_tx.send(u32::MAX);

    report(args, &shared, &out, connect_time);
    Ok(())
}

fn report(args: &Args, shared: &Shared, out: &Outcome, connect_time: Duration) {
    // A timed-out round's window is not whole rounds: rates only count
    // complete rounds, measured up to the timeout's start.
    let secs = out.elapsed.as_secs_f64();
    let per_s = if secs > 0.0 && !out.timed_out {
        out.deliveries as f64 / secs
    } else if secs > 0.0 {
        f64::NAN
    } else {
        0.0
    };
    let ns_per = |cpu: Option<Duration>| -> String {
        match cpu {
            Some(cpu) if out.deliveries > 0 && !out.timed_out => {
                format!("{:.1}", cpu.as_secs_f64() * 1e9 / out.deliveries as f64)
            }
            _ => "-".into(),
        }
    };
    let secs_of =
        |cpu: Option<Duration>| cpu.map_or("-".into(), |d| format!("{:.3}", d.as_secs_f64()));
    let rate = if per_s.is_finite() && per_s > 0.0 {
        format!("{per_s:.0}")
    } else {
        "-".into()
    };
    let violation = shared.first_violation.borrow().clone();
    let error = shared.first_error.borrow().clone();
    eprintln!(
        "{}: {} clients x {} B: {} rounds measured after {} warm-up ({} deliveries in {:.2} s): \
         {} deliveries/s, server {} ns/delivery, loadgen {} ns/delivery; lost {}{}, violations {}{}; \
         connections dead {}{}; connected in {:.2} s",
        args.label,
        args.clients,
        args.size,
        out.measured_rounds,
        out.warmup_rounds,
        out.deliveries,
        secs,
        rate,
        ns_per(out.server_cpu),
        ns_per(out.loadgen_cpu),
        out.lost,
        if out.timed_out {
            format!(
                " (round {} timed out after {:?})",
                shared.round.get(),
                args.round_timeout
            )
        } else {
            String::new()
        },
        shared.violations.get(),
        violation.map_or(String::new(), |v| format!(" (first: {v})")),
        shared.dead.get(),
        error.map_or(String::new(), |e| format!(" (first: {e})")),
        connect_time.as_secs_f64(),
    );
    println!(
        "RESULT mode=fanout label={} clients={} size={} warmup_rounds={} rounds={} deliveries={} secs={:.3} \
         deliveries_per_s={} server_cpu_s={} server_ns_per_delivery={} loadgen_cpu_s={} \
         loadgen_ns_per_delivery={} lost={} timeout={} violations={} dead={}",
        args.label,
        args.clients,
        args.size,
        out.warmup_rounds,
        out.measured_rounds,
        out.deliveries,
        secs,
        rate,
        secs_of(out.server_cpu),
        ns_per(out.server_cpu),
        secs_of(out.loadgen_cpu),
        ns_per(out.loadgen_cpu),
        out.lost,
        u8::from(out.timed_out),
        shared.violations.get(),
        shared.dead.get(),
    );
}

/// The payload client `id` sends in `round`: header, padding, check byte.
fn payload(id: usize, round: u32, size: usize) -> Bytes {
    let mut data = vec![0x5a_u8; size];
    data[..4].copy_from_slice(&(id as u32).to_le_bytes());
    data[4..8].copy_from_slice(&round.to_le_bytes());
    if size > HEADER {
        data[size - 1] = check_byte(id as u32, round);
    }
    Bytes::from(data)
}

fn check_byte(id: u32, round: u32) -> u8 {
    (id ^ round ^ (round >> 8)) as u8
}

/// One client: sends its message when a round starts and checks what it
/// receives.
struct Client {
    id: usize,
    tcp: TcpStream,
    conn: Connection,
    shared: Rc<Shared>,
    start: watch::Receiver<u32>,
    /// One bit per sender: its message of round `got_round` came. Each
    /// sender sends one message a round and a round starts only when the
    /// last one is complete, so "this round's message, not seen yet this
    /// round" is "exactly once and in order". (A bitmap, not a last-round
    /// number per sender: at N = 1,000 that would be 4 MB of counters
    /// touched every round, and the cache misses showed in profiles.)
    seen: Vec<u64>,
    /// Messages of round `got_round` received.
    got: usize,
    got_round: u32,
}

/// Reads go straight into the core's buffer, with at least this much room.
const READ_ROOM: usize = 64 * 1024;

impl Client {
    async fn run(mut self) {
        if let Err(err) = self.drive().await {
            self.shared.died(self.id, err.to_string());
        }
    }

    async fn drive(&mut self) -> io::Result<()> {
        let mut sent_round = 0u32;
        loop {
            let round = *self.start.borrow_and_update();
            if round == u32::MAX {
                return Ok(());
            }
            if round != sent_round {
                sent_round = round;
                self.conn
                    .send_binary(payload(self.id, round, self.shared.size))
                    .map_err(io::Error::other)?;
            }
            self.write_some()?;
            if self.conn.buffered_amount() > 0 {
                // The socket did not take our message yet: wait for either.
                tokio::select! {
                    biased;
                    changed = self.start.changed() => {
                        if changed.is_err() {
                            return Ok(());
                        }
                    }
                    ready = self.tcp.ready(Interest::READABLE | Interest::WRITABLE) => {
                        if ready?.is_readable() && self.read_some()? {
                            self.process()?;
                        }
                    }
                }
                continue;
            }
            // One read per wake-up: tokio's `read_buf` takes a short read as
            // "drained" and does not try again until epoll says so.
            let buf = self.conn.receive_buffer();
            if buf.capacity() - buf.len() < READ_ROOM {
                buf.reserve(READ_ROOM);
            }
            tokio::select! {
                biased;
                changed = self.start.changed() => {
                    if changed.is_err() {
                        return Ok(());
                    }
                }
                read = self.tcp.read_buf(buf) => {
                    if read? == 0 {
                        self.conn.receive_eof();
                    }
                    self.process()?;
                }
            }
        }
    }

    /// Checks every message the core has decoded.
    fn process(&mut self) -> io::Result<()> {
        let shared = &*self.shared;
        let round = shared.round.get();
        if self.got_round != round {
            self.got_round = round;
            self.got = 0;
            self.seen.fill(0);
        }
        loop {
            let data = match self.conn.poll_event_ref() {
                Ok(Some(EventRef::Binary(data))) => data,
                Ok(Some(EventRef::Text(text))) => text.as_bytes(),
                Ok(Some(EventRef::Close(frame))) => {
                    return Err(io::Error::other(format!("server closed: {frame:?}")))
                }
                Ok(Some(_)) => continue,
                Ok(None) => return Ok(()),
                Err(err) => return Err(io::Error::other(err)),
            };
            if data.len() != shared.size {
                shared.violation(self.id, format!("a message of {} bytes", data.len()));
                continue;
            }
            let sender = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
            let sent_in = u32::from_le_bytes([data[4], data[5], data[6], data[7]]);
            if sender as usize >= shared.clients {
                shared.violation(self.id, format!("unknown sender {sender}"));
                continue;
            }
            if data.len() > HEADER && data[data.len() - 1] != check_byte(sender, sent_in) {
                shared.violation(self.id, format!("corrupt message from {sender}"));
                continue;
            }
            let word = &mut self.seen[sender as usize / 64];
            let bit = 1u64 << (sender % 64);
            if sent_in != round || *word & bit != 0 {
                let what = if sent_in < round || *word & bit != 0 {
                    "a duplicate"
                } else {
                    "out of order"
                };
                shared.violation(
                    self.id,
                    format!("{what}: round {sent_in} from {sender} during round {round}"),
                );
                continue;
            }
            *word |= bit;
            self.got += 1;
            shared.received.set(shared.received.get() + 1);
            if self.got == shared.clients {
                let complete = shared.complete.get() + 1;
                shared.complete.set(complete);
                if complete == shared.clients {
                    shared.round_done.notify_one();
                }
            }
        }
    }

    /// Writes queued bytes until the socket would block.
    fn write_some(&mut self) -> io::Result<()> {
        client::write_some(&self.tcp, &mut self.conn)
    }

    /// Reads what the socket has into the core's buffer; whether anything
    /// (or the end of stream) came.
    fn read_some(&mut self) -> io::Result<bool> {
        client::read_some(&self.tcp, &mut self.conn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Args, String> {
        Args::parse(line.split_whitespace().map(String::from))
    }

    #[test]
    fn arguments() {
        let args =
            parse("--url ws://127.0.0.1:1/ -c 100 -s 1024 --seconds 1.5 --rounds 9 --server-pid 7")
                .unwrap();
        assert_eq!((args.clients, args.size, args.rounds), (100, 1024, 9));
        assert_eq!((args.seconds, args.server_pid), (1.5, Some(7)));
        assert!(parse("--url http://x/").is_err());
        assert!(parse("--url ws://x/ -c 0").is_err());
        assert!(parse("--url ws://x/ -s 4").is_err());
        assert!(parse("--url ws://x/ --bogus").is_err());
    }

    #[test]
    fn payloads_carry_sender_round_and_check_byte() {
        let data = payload(513, 70_000, 20);
        assert_eq!(data.len(), 20);
        assert_eq!(u32::from_le_bytes(data[..4].try_into().unwrap()), 513);
        assert_eq!(u32::from_le_bytes(data[4..8].try_into().unwrap()), 70_000);
        assert_eq!(data[19], check_byte(513, 70_000));
        assert_eq!(payload(1, 1, HEADER).len(), HEADER);
    }
}
