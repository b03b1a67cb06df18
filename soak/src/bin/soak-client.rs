//! `soak-client`: the clients of `tests/soak/run.sh`.
//!
//! ```text
//! soak-client --url ws://127.0.0.1:PORT --seconds S [--connections 1000] [--blocking N]
//!             [--interval 2s] [--ping 20s] [--idle 45s] [--slack 5s]
//!             [--backoff-base 1s] [--backoff-max 30s] [--handshake-timeout 10s]
//!             [--server-pid PID] [--proxy-pid PID] [--fault-log PATH] [--drain 30s]
//! ```
//!
//! Runs `--connections` clients (`--blocking` of them ws-blocking clients,
//! one thread each, default half; the rest ws-tokio [`Reconnecting`]
//! clients on one runtime), client `i` at path `/soak/t<i>` or
//! `/soak/b<i>` (the proxy logs the path, so its faults can be matched
//! with what the client saw). Each sends a numbered text message every
//! `--interval` while connected and checks the echoes ([`SeqCheck`]); a
//! blocking client reconnects with the same backoff policy as the tokio
//! ones. After `--seconds` it stops sending, quiesces the proxy (SIGUSR1
//! to `--proxy-pid`), waits (at most `--drain`) until every client is
//! connected with nothing outstanding, samples the server's RSS and file
//! descriptors, closes everything and prints the summary line. Exits 1
//! when anything was lost, reordered or duplicated, when a stall longer
//! than the idle timeout went undetected past ping interval plus idle
//! timeout plus slack, when a reconnect took longer than the backoff policy
//! allows (plus slack), when a client gave up, or when the server's fds or
//! memory grew.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use ws_soak::check::{Counts, SeqCheck};
use ws_soak::fault::{parse_duration, Rng};
use ws_soak::log::now_ms;
use ws_soak::report::{analyse, percentile, FaultRecord, Life, Loss};
use ws_tokio::ws_proto::handshake::proxy::ProxySetting;
use ws_tokio::{
    ClientRequest, CloseCode, Config, Message, ReconnectEvent, ReconnectPolicy, Reconnecting,
};

#[derive(Clone)]
struct Args {
    url: String,
    seconds: u64,
    connections: usize,
    blocking: usize,
    interval: Duration,
    ping: Duration,
    idle: Duration,
    slack: Duration,
    backoff_base: Duration,
    backoff_max: Duration,
    handshake_timeout: Duration,
    server_pid: Option<u32>,
    proxy_pid: Option<u32>,
    fault_log: Option<String>,
    drain: Duration,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        url: String::new(),
        seconds: 0,
        connections: 1000,
        blocking: usize::MAX,
        interval: Duration::from_secs(2),
        ping: Duration::from_secs(20),
        idle: Duration::from_secs(45),
        slack: Duration::from_secs(5),
        backoff_base: Duration::from_secs(1),
        backoff_max: Duration::from_secs(30),
        handshake_timeout: Duration::from_secs(10),
        server_pid: None,
        proxy_pid: None,
        fault_log: None,
        drain: Duration::from_secs(30),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let v = args
            .next()
            .ok_or_else(|| format!("{flag} needs a value (see the source's header)"))?;
        let num = |v: &str| v.parse::<u64>().map_err(|e| format!("{flag} {v}: {e}"));
        match flag.as_str() {
            "--url" => a.url = v.trim_end_matches('/').to_owned(),
            "--seconds" => a.seconds = num(&v)?,
            "--connections" => a.connections = num(&v)? as usize,
            "--blocking" => a.blocking = num(&v)? as usize,
            "--interval" => a.interval = parse_duration(&v)?,
            "--ping" => a.ping = parse_duration(&v)?,
            "--idle" => a.idle = parse_duration(&v)?,
            "--slack" => a.slack = parse_duration(&v)?,
            "--backoff-base" => a.backoff_base = parse_duration(&v)?,
            "--backoff-max" => a.backoff_max = parse_duration(&v)?,
            "--handshake-timeout" => a.handshake_timeout = parse_duration(&v)?,
            "--server-pid" => a.server_pid = Some(num(&v)? as u32),
            "--proxy-pid" => a.proxy_pid = Some(num(&v)? as u32),
            "--fault-log" => a.fault_log = Some(v),
            "--drain" => a.drain = parse_duration(&v)?,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if a.url.is_empty() || a.seconds == 0 {
        return Err("--url and --seconds are required".into());
    }
    if a.blocking == usize::MAX {
        a.blocking = a.connections / 2;
    }
    a.blocking = a.blocking.min(a.connections);
    Ok(a)
}

#[derive(Debug, Clone, Copy)]
struct Reconnect {
    took: Duration,
    allowed: Duration,
}

/// What every client shares with the main thread.
struct Global {
    args: Args,
    started: Instant,
    sending: AtomicBool,
    stop: AtomicBool,
    connected: AtomicUsize,
    outstanding: AtomicU64,
    ever_connected: AtomicUsize,
    lives: Mutex<Vec<Life>>,
    reconnects: Mutex<Vec<Reconnect>>,
    counts: Mutex<Counts>,
    gave_up: AtomicUsize,
}

impl Global {
    fn config(&self) -> Config {
        Config::default()
            .ping_interval(Some(self.args.ping))
            .idle_timeout(Some(self.args.idle))
            .handshake_timeout(self.args.handshake_timeout)
            .deflate(None)
    }

    fn policy(&self) -> ReconnectPolicy {
        ReconnectPolicy::default()
            .base_delay(self.args.backoff_base)
            .max_delay(self.args.backoff_max)
    }

    fn life(&self, life: Life) {
        self.lives
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(life);
    }

    fn reconnect(&self, r: Reconnect) {
        self.reconnects
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(r);
    }

    fn done(&self, check: &SeqCheck) {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .add(&check.counts());
    }
}

/// Keeps a client's share of the global gauges up to date.
struct Gauges<'a> {
    global: &'a Global,
    connected: bool,
    outstanding: u64,
}

impl<'a> Gauges<'a> {
    fn new(global: &'a Global) -> Self {
        Self {
            global,
            connected: false,
            outstanding: 0,
        }
    }

    fn set(&mut self, connected: bool, outstanding: usize) {
        if connected != self.connected {
            if connected {
                self.global.connected.fetch_add(1, Ordering::SeqCst);
            } else {
                self.global.connected.fetch_sub(1, Ordering::SeqCst);
            }
            self.connected = connected;
        }
        let outstanding = outstanding as u64;
        if outstanding != self.outstanding {
            self.global
                .outstanding
                .fetch_add(outstanding, Ordering::SeqCst);
            self.global
                .outstanding
                .fetch_sub(self.outstanding, Ordering::SeqCst);
            self.outstanding = outstanding;
        }
    }
}

impl Drop for Gauges<'_> {
    fn drop(&mut self) {
        self.set(false, 0);
    }
}

fn message(seq: u64) -> Message {
    Message::text(format!("{seq} soak payload"))
}

fn seq_of(text: &str) -> Option<u64> {
    text.split(' ').next()?.parse().ok()
}

fn error_kind(err: &ws_tokio::Error) -> String {
    match err {
        ws_tokio::Error::Io(e) => format!("io {:?}", e.kind()),
        other => match other.close_code() {
            Some(code) => format!("error {code}"),
            None => "error".into(),
        },
    }
}

async fn tokio_client(id: usize, g: Arc<Global>) {
    let path = format!("/soak/t{id}");
    let Ok(request) = ClientRequest::from_url(&format!("{}{path}", g.args.url)) else {
        eprintln!("soak-client: bad --url");
        return;
    };
    let mut gauges = Gauges::new(&g);
    let mut failures = 0u32;
    let mut client = loop {
        if g.stop.load(Ordering::SeqCst) {
            return;
        }
        match Reconnecting::connect(request.clone(), g.config(), None, g.policy()).await {
            Ok((client, _)) => break client,
            Err(_) => {
                failures += 1;
                tokio::time::sleep(g.policy().delay_for(failures)).await;
            }
        }
    };
    g.ever_connected.fetch_add(1, Ordering::SeqCst);
    let sender = client.sender();
    let mut check = SeqCheck::default();
    let mut seq = 0u64;
    let mut life = Life {
        path: path.clone(),
        opened_ms: now_ms(),
        lost: None,
    };
    gauges.set(true, 0);
    // Spread the sends over the interval.
    let phase = g.args.interval.mul_f64((id % 97) as f64 / 97.0);
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + phase, g.args.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut stop_poll = tokio::time::interval(Duration::from_millis(100));
    let mut lost_at: Option<Instant> = None;
    let mut budget = Duration::ZERO;
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if !g.sending.load(Ordering::SeqCst) || !sender.is_connected() {
                    continue;
                }
                seq += 1;
                match sender.send(message(seq)).await {
                    Err(ws_tokio::Error::NotConnected) => {}
                    // Written, or perhaps partly: either way it may arrive.
                    _ => check.sent(seq),
                }
            }
            event = client.next() => match event {
                None => break,
                Some(Ok(ReconnectEvent::Message(Message::Text(text)))) => {
                    if let Some(n) = seq_of(&text) {
                        check.echoed(n);
                    }
                }
                Some(Ok(ReconnectEvent::Message(_))) => {}
                Some(Ok(ReconnectEvent::Disconnected { close, error, retry_in })) => {
                    let kind = error.as_ref().map_or_else(String::new, error_kind);
                    life.lost = Some(Loss { t_ms: now_ms(), code: close.code, error: kind });
                    g.life(life.clone());
                    check.connection_lost();
                    lost_at = Some(Instant::now());
                    budget = retry_in + g.args.handshake_timeout;
                }
                Some(Ok(ReconnectEvent::RetryFailed { retry_in, .. })) => {
                    budget += retry_in + g.args.handshake_timeout;
                }
                Some(Ok(ReconnectEvent::Reconnected { .. })) => {
                    if let Some(at) = lost_at.take() {
                        g.reconnect(Reconnect { took: at.elapsed(), allowed: budget + g.args.slack });
                    }
                    life = Life { path: path.clone(), opened_ms: now_ms(), lost: None };
                }
                Some(Ok(_)) => {}
                Some(Err(err)) => {
                    eprintln!("soak-client {path}: gave up: {err}");
                    g.gave_up.fetch_add(1, Ordering::SeqCst);
                    break;
                }
            },
            _ = stop_poll.tick() => {
                if g.stop.load(Ordering::SeqCst) {
                    break;
                }
            }
        }
        gauges.set(client.is_connected(), check.outstanding());
    }
    if client.is_connected() {
        let _ = tokio::time::timeout(
            Duration::from_secs(10),
            client.close(CloseCode::NORMAL, "soak over"),
        )
        .await;
        check.finish_connected();
        g.life(life);
    }
    g.done(&check);
}

/// The same backoff as [`ReconnectPolicy`] (jitter in the upper half).
fn blocking_delay(policy: &ReconnectPolicy, failures: u32, rng: &mut Rng) -> Duration {
    let ceiling = policy.delay_for(failures);
    ceiling / 2 + (ceiling / 2).mul_f64(rng.unit())
}

fn sleep_unless_stopped(g: &Global, total: Duration) {
    let end = Instant::now() + total;
    while !g.stop.load(Ordering::SeqCst) {
        let now = Instant::now();
        if now >= end {
            return;
        }
        std::thread::sleep((end - now).min(Duration::from_millis(100)));
    }
}

fn blocking_client(id: usize, g: &Global) {
    let path = format!("/soak/b{id}");
    let Ok(request) = ClientRequest::from_url(&format!("{}{path}", g.args.url)) else {
        return;
    };
    let policy = g.policy();
    let healthy_after = Duration::from_secs(30);
    let mut rng = Rng::new(id as u64);
    let mut gauges = Gauges::new(g);
    let mut check = SeqCheck::default();
    let mut seq = 0u64;
    let mut failures = 0u32;
    let mut lost_at: Option<Instant> = None;
    let mut budget = Duration::ZERO;
    let mut first = true;
    let phase = g.args.interval.mul_f64((id % 89) as f64 / 89.0);
    while !g.stop.load(Ordering::SeqCst) {
        let connected = ws_blocking::connect_with_proxy(
            request.clone(),
            g.config(),
            None,
            ProxySetting::Direct,
        );
        let mut ws = match connected {
            Ok((ws, _)) => ws,
            Err(_) => {
                failures += 1;
                let delay = blocking_delay(&policy, failures, &mut rng);
                budget += delay + g.args.handshake_timeout;
                sleep_unless_stopped(g, delay);
                continue;
            }
        };
        if first {
            g.ever_connected.fetch_add(1, Ordering::SeqCst);
            first = false;
        }
        if let Some(at) = lost_at.take() {
            g.reconnect(Reconnect {
                took: at.elapsed(),
                allowed: budget + g.args.slack,
            });
        }
        let opened = Instant::now();
        let mut life = Life {
            path: path.clone(),
            opened_ms: now_ms(),
            lost: None,
        };
        {
            let tcp = ws.get_ref().tcp();
            let _ = tcp.set_read_timeout(Some(Duration::from_millis(100)));
            let _ = tcp.set_write_timeout(Some(Duration::from_secs(2)));
        }
        gauges.set(true, check.outstanding());
        let mut next_send = Instant::now() + phase;
        let lost: Option<(CloseCode, String)> = loop {
            if g.stop.load(Ordering::SeqCst) {
                let _ = ws.close(CloseCode::NORMAL, "soak over");
                let until = Instant::now() + Duration::from_secs(5);
                while Instant::now() < until {
                    match ws.read() {
                        Ok(Message::Text(text)) => {
                            if let Some(n) = seq_of(&text) {
                                check.echoed(n);
                            }
                        }
                        Ok(Message::Close(_)) => break,
                        Err(e) if e.is_timeout() => {}
                        _ => break,
                    }
                }
                check.finish_connected();
                g.life(life.clone());
                break None;
            }
            if g.sending.load(Ordering::SeqCst) && Instant::now() >= next_send {
                next_send += g.args.interval;
                seq += 1;
                match ws.send(message(seq)) {
                    Ok(()) => check.sent(seq),
                    // Queued; the next write sends it.
                    Err(e) if e.is_timeout() => check.sent(seq),
                    Err(ws_blocking::Error::Io(e)) => {
                        check.sent(seq);
                        break Some((CloseCode::ABNORMAL, format!("send io {:?}", e.kind())));
                    }
                    Err(_) => break Some((CloseCode::ABNORMAL, "send error".into())),
                }
            }
            match ws.read() {
                Ok(Message::Text(text)) => {
                    if let Some(n) = seq_of(&text) {
                        check.echoed(n);
                    }
                }
                Ok(Message::Close(frame)) => break Some((frame.code, String::new())),
                Ok(_) => {}
                Err(e) if e.is_timeout() => {}
                Err(ws_blocking::Error::Io(e)) => {
                    break Some((CloseCode::ABNORMAL, format!("io {:?}", e.kind())))
                }
                Err(e) => {
                    let code = e.close_code().unwrap_or(CloseCode::ABNORMAL);
                    break Some((code, format!("error {code}")));
                }
            }
            gauges.set(true, check.outstanding());
        };
        let Some((code, kind)) = lost else { break };
        life.lost = Some(Loss {
            t_ms: now_ms(),
            code,
            error: kind,
        });
        g.life(life);
        check.connection_lost();
        gauges.set(false, 0);
        drop(ws);
        lost_at = Some(Instant::now());
        if opened.elapsed() >= healthy_after {
            failures = 0;
        }
        failures += 1;
        let delay = blocking_delay(&policy, failures, &mut rng);
        budget = delay + g.args.handshake_timeout;
        sleep_unless_stopped(g, delay);
    }
    g.done(&check);
}

fn rss_and_fds(pid: Option<u32>) -> (f64, usize) {
    let Some(pid) = pid else { return (0.0, 0) };
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss_kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count);
    (rss_kib / 1024.0, fds)
}

/// Waits (at most `limit`) until every client is connected and nothing is
/// outstanding; says whether that happened.
fn wait_settled(g: &Global, limit: Duration, need_idle: bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        let all = g.connected.load(Ordering::SeqCst) == g.args.connections;
        if all && (!need_idle || g.outstanding.load(Ordering::SeqCst) == 0) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(err) => {
            eprintln!("soak-client: {err}");
            return ExitCode::from(2);
        }
    };
    let g = Arc::new(Global {
        args: args.clone(),
        started: Instant::now(),
        sending: AtomicBool::new(true),
        stop: AtomicBool::new(false),
        connected: AtomicUsize::new(0),
        outstanding: AtomicU64::new(0),
        ever_connected: AtomicUsize::new(0),
        lives: Mutex::new(Vec::new()),
        reconnects: Mutex::new(Vec::new()),
        counts: Mutex::new(Counts::default()),
        gave_up: AtomicUsize::new(0),
    });
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("soak-client: runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let tokio_count = args.connections - args.blocking;
    // Ramp up over about two seconds.
    let ramp = Duration::from_secs(2).div_f64(args.connections.max(1) as f64);
    let mut tasks = Vec::new();
    let mut threads = Vec::new();
    for i in 0..args.connections {
        let want_tokio = if i % 2 == 0 {
            tasks.len() < tokio_count
        } else {
            threads.len() >= args.blocking
        };
        if want_tokio {
            let g = Arc::clone(&g);
            tasks.push(runtime.spawn(tokio_client(i, g)));
        } else {
            let g = Arc::clone(&g);
            let spawned = std::thread::Builder::new()
                .name(format!("b{i}"))
                .stack_size(256 * 1024)
                .spawn(move || blocking_client(i, &g));
            match spawned {
                Ok(handle) => threads.push(handle),
                Err(err) => {
                    eprintln!("soak-client: thread {i}: {err} (use fewer --blocking)");
                    return ExitCode::FAILURE;
                }
            }
        }
        std::thread::sleep(ramp);
    }
    let all_up = wait_settled(&g, Duration::from_secs(30), false);
    let (rss_start, fds_start) = rss_and_fds(args.server_pid);
    eprintln!(
        "soak-client: {} connections ({} ws-tokio, {} ws-blocking), all up: {all_up}, server RSS {rss_start:.1} MiB, fds {fds_start}",
        args.connections,
        tasks.len(),
        threads.len()
    );
    let end = g.started + Duration::from_secs(args.seconds);
    while Instant::now() < end {
        std::thread::sleep(Duration::from_millis(200));
    }
    g.sending.store(false, Ordering::SeqCst);
    let quiesced_ms = now_ms();
    if let Some(pid) = args.proxy_pid {
        let _ = std::process::Command::new("kill")
            .args(["-USR1", &pid.to_string()])
            .status();
    }
    let settled = wait_settled(&g, args.drain, true);
    // Connections still closing in the background finish first.
    std::thread::sleep(Duration::from_secs(1));
    let (rss_end, fds_end) = rss_and_fds(args.server_pid);
    eprintln!(
        "soak-client: settled: {settled} ({} connected, {} outstanding), server RSS {rss_end:.1} MiB, fds {fds_end}",
        g.connected.load(Ordering::SeqCst),
        g.outstanding.load(Ordering::SeqCst)
    );
    g.stop.store(true, Ordering::SeqCst);
    for handle in threads {
        let _ = handle.join();
    }
    runtime.block_on(async {
        for task in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(15), task).await;
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(1));

    let counts = *g.counts.lock().unwrap_or_else(PoisonError::into_inner);
    let lives = g
        .lives
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let reconnects = g
        .reconnects
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let log = args
        .fault_log
        .as_deref()
        .map(|path| FaultRecord::parse(&std::fs::read_to_string(path).unwrap_or_default()));
    let faults = log.as_ref().map_or(0, |l| l.total);

    let bound = args.ping + args.idle + args.slack;
    let empty = FaultRecord::parse("");
    let analysis = analyse(
        log.as_ref().unwrap_or(&empty),
        &lives,
        args.idle,
        bound,
        quiesced_ms,
    );
    for (name, (ended, stayed)) in &analysis.outcome {
        eprintln!("soak-client: applied {name:<18} connection lost within {bound:?}: {ended}, stayed up: {stayed}");
    }
    for line in &analysis.undetected {
        eprintln!("soak-client: {line}");
    }
    let detections = &analysis.detections;
    let undetected = analysis.undetected.len();
    let table = &analysis.table;
    let max_detect = detections.last().copied().unwrap_or(0.0);
    let p99_detect = percentile(detections, 0.99);
    let over: Vec<&Reconnect> = reconnects.iter().filter(|r| r.took > r.allowed).collect();
    let max_reconnect = reconnects
        .iter()
        .map(|r| r.took.as_secs_f64())
        .fold(0.0, f64::max);
    for (row, seen) in table {
        let seen: Vec<String> = seen.iter().map(|(k, n)| format!("{k} x{n}")).collect();
        eprintln!("soak-client: fault {row:<18} -> {}", seen.join("; "));
    }
    eprintln!(
        "soak-client: sent {}, echoed {}, unconfirmed (tail of a lost connection) {}, stalls past the idle timeout detected {}",
        counts.sent,
        counts.echoed,
        counts.unconfirmed,
        detections.len()
    );
    let fd_slack = 20 + args.connections / 50;
    let fds_grew = args.server_pid.is_some() && fds_end > fds_start + fd_slack;
    let rss_grew = args.server_pid.is_some() && rss_end > rss_start * 1.5 + 16.0;
    println!(
        "soak: {} connections, {} s, faults {faults}, lost {}, reordered {}, duplicated {}, dead links detected in max {max_detect:.1} s (p99 {p99_detect:.1} s), reconnects {} (max {max_reconnect:.1} s), server RSS start {rss_start:.1} MiB end {rss_end:.1} MiB, fds start {fds_start} end {fds_end}",
        args.connections,
        args.seconds,
        counts.lost,
        counts.reordered,
        counts.duplicated,
        reconnects.len(),
    );
    let mut failures = Vec::new();
    if counts.lost + counts.reordered + counts.duplicated > 0 {
        failures.push("messages lost, reordered or duplicated".to_owned());
    }
    if undetected > 0 {
        failures.push(format!(
            "{undetected} dead links undetected within {bound:?}"
        ));
    }
    if !over.is_empty() {
        failures.push(format!(
            "{} reconnects slower than the policy allows (first: {:?} > {:?})",
            over.len(),
            over[0].took,
            over[0].allowed
        ));
    }
    if g.gave_up.load(Ordering::SeqCst) > 0 {
        failures.push("clients gave up".into());
    }
    if !all_up || !settled {
        failures.push("not every client was connected and settled at the start and the end".into());
    }
    if fds_grew {
        failures.push(format!(
            "server fds grew {fds_start} -> {fds_end} (slack {fd_slack})"
        ));
    }
    if rss_grew {
        failures.push(format!(
            "server RSS grew {rss_start:.1} -> {rss_end:.1} MiB"
        ));
    }
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        for f in failures {
            eprintln!("soak-client: FAIL: {f}");
        }
        ExitCode::FAILURE
    }
}
