//! The fault-injecting TCP proxy.
//!
//! Each accepted connection gets a connection to the upstream server and
//! five tasks: per direction a reader (reads a chunk, stamps it with the
//! time it may be delivered: now plus the current latency and jitter, never
//! before the chunk ahead of it) and a writer (waits for that time and for
//! any stall to end, writes, then waits as long as the bandwidth cap asks),
//! with at most [`QUEUE_CHUNKS`] chunks between them, so a stalled direction
//! fills the proxy's queue and then the sender's socket, as a dead link
//! would; and a supervisor that applies the connection's faults on time,
//! logs them, and ends the connection.
//!
//! An endpoint's RST (a read or write error) is passed on as an RST to the
//! other; an endpoint's FIN is passed on as a FIN once what came before it
//! is delivered.

use std::io;
use std::net::{Shutdown, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinSet};
use tokio::time::Instant;

use crate::fault::{Dir, Fault, Plan, Rng};
use crate::log::{quote, FaultLog};

/// Chunks queued between a direction's reader and writer.
pub const QUEUE_CHUNKS: usize = 64;
/// The largest chunk read at once.
const CHUNK: usize = 16 * 1024;
/// How long connecting to the upstream may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// After a cut, how long to wait for both endpoints to close before
/// resetting what is left.
const CUT_LINGER: Duration = Duration::from_secs(10);
/// Waits are cut into steps this long, to notice [`Control::quiesce`].
const STEP: Duration = Duration::from_millis(100);

/// What a running proxy shares with whoever controls it: counters, and the
/// switch that stops all faults.
#[derive(Debug, Default)]
pub struct Control {
    quiet: AtomicBool,
    next_id: AtomicU64,
    open: AtomicU64,
    faults: AtomicU64,
    by_kind: Mutex<std::collections::BTreeMap<&'static str, u64>>,
}

impl Control {
    /// Stops injecting: no new faults, and the latency, bandwidth caps and
    /// stalls in force end now (held bytes flow). Resets, half-closes and
    /// cuts already done stay done.
    pub fn quiesce(&self) {
        self.quiet.store(true, Ordering::SeqCst);
    }

    /// Whether [`quiesce`](Self::quiesce) was called.
    pub fn is_quiet(&self) -> bool {
        self.quiet.load(Ordering::SeqCst)
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.next_id.load(Ordering::SeqCst)
    }

    /// Connections open now.
    pub fn open(&self) -> u64 {
        self.open.load(Ordering::SeqCst)
    }

    /// Faults applied so far.
    pub fn faults(&self) -> u64 {
        self.faults.load(Ordering::SeqCst)
    }

    /// Faults applied so far, by kind.
    pub fn faults_by_kind(&self) -> Vec<(&'static str, u64)> {
        let kinds = self.by_kind.lock().unwrap_or_else(PoisonError::into_inner);
        kinds.iter().map(|(k, v)| (*k, *v)).collect()
    }

    fn count(&self, fault: &Fault) {
        self.faults.fetch_add(1, Ordering::SeqCst);
        let mut kinds = self.by_kind.lock().unwrap_or_else(PoisonError::into_inner);
        *kinds.entry(fault.kind()).or_insert(0) += 1;
    }
}

/// A proxy listening for clients, relaying each to `upstream` with its faults.
///
/// ```no_run
/// use std::sync::Arc;
/// use ws_soak::fault::{parse_entry, Plan};
/// use ws_soak::log::FaultLog;
/// use ws_soak::proxy::Proxy;
/// # async fn demo() -> std::io::Result<()> {
/// let plan = Plan::Fixed(vec![parse_entry("2s@stall:both:10s").unwrap()]);
/// let upstream = "127.0.0.1:9001".parse().unwrap();
/// let proxy = Proxy::bind("127.0.0.1:0".parse().unwrap(), upstream, plan, Arc::new(FaultLog::stderr())).await?;
/// println!("connect to {}", proxy.local_addr()?);
/// proxy.run().await
/// # }
/// ```
#[derive(Debug)]
pub struct Proxy {
    listener: TcpListener,
    upstream: SocketAddr,
    plan: Arc<Plan>,
    log: Arc<FaultLog>,
    control: Arc<Control>,
    seed: u64,
}

impl Proxy {
    /// Listens on `listen` (port 0: any free port).
    pub async fn bind(
        listen: SocketAddr,
        upstream: SocketAddr,
        plan: Plan,
        log: Arc<FaultLog>,
    ) -> io::Result<Self> {
        let seed = match &plan {
            Plan::Random(random) => random.seed,
            _ => 0,
        };
        Ok(Self {
            listener: TcpListener::bind(listen).await?,
            upstream,
            plan: Arc::new(plan),
            log,
            control: Arc::new(Control::default()),
            seed,
        })
    }

    /// The address clients connect to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The counters and the quiesce switch.
    pub fn control(&self) -> Arc<Control> {
        Arc::clone(&self.control)
    }

    /// Accepts and relays until the task is dropped; the connections run
    /// as tasks of their own and outlive it only until their own end.
    pub async fn run(self) -> io::Result<()> {
        loop {
            let (client, peer) = match self.listener.accept().await {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: wait a moment.
                    eprintln!("fault-proxy: accept failed: {err}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let id = self.control.next_id.fetch_add(1, Ordering::SeqCst);
            let faults = self.plan.for_connection(id);
            let conn = Conn {
                id,
                log: Arc::clone(&self.log),
                control: Arc::clone(&self.control),
                seed: self.seed ^ id.wrapping_mul(0x2545_f491_4f6c_dd1d),
            };
            let upstream = self.upstream;
            tokio::spawn(async move {
                conn.control.open.fetch_add(1, Ordering::SeqCst);
                conn.log.event(
                    id,
                    "open",
                    &format!("\"client\":{}", quote(&peer.to_string())),
                );
                let reason = conn.serve(client, upstream, faults).await;
                conn.log.event(id, "close", &reason);
                conn.control.open.fetch_sub(1, Ordering::SeqCst);
            });
        }
    }
}

/// The impairments in force in one direction.
#[derive(Debug, Clone, Copy)]
struct Impair {
    delay: Duration,
    jitter: Duration,
    latency_until: Instant,
    rate: u64,
    rate_until: Instant,
    stall_until: Instant,
}

impl Impair {
    fn new(now: Instant) -> Self {
        Self {
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            latency_until: now,
            rate: 0,
            rate_until: now,
            stall_until: now,
        }
    }
}

/// Both directions' impairments: `[up, down]`.
#[derive(Debug)]
struct State {
    dirs: Mutex<[Impair; 2]>,
}

impl State {
    fn with<R>(&self, f: impl FnOnce(&mut [Impair; 2]) -> R) -> R {
        f(&mut self.dirs.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn apply(&self, fault: &Fault, now: Instant) {
        self.with(|dirs| {
            for (i, one) in [Dir::Up, Dir::Down].into_iter().enumerate() {
                let d = &mut dirs[i];
                match *fault {
                    Fault::Latency {
                        dir,
                        delay,
                        jitter,
                        period,
                    } if dir.covers(one) => {
                        d.delay = delay;
                        d.jitter = jitter;
                        d.latency_until = now + period;
                    }
                    Fault::Bandwidth {
                        dir,
                        bytes_per_sec,
                        period,
                    } if dir.covers(one) => {
                        d.rate = bytes_per_sec;
                        d.rate_until = now + period;
                    }
                    Fault::Stall { dir, period } if dir.covers(one) => {
                        d.stall_until = d.stall_until.max(now + period);
                    }
                    _ => {}
                }
            }
        });
    }
}

fn index(dir: Dir) -> usize {
    match dir {
        Dir::Down => 1,
        _ => 0,
    }
}

enum Chunk {
    Data(Vec<u8>, Instant),
    Eof,
}

/// How a connection's task ended.
enum End {
    Reader(Dir, io::Result<u64>),
    Writer(Dir, io::Result<u64>),
}

struct Conn {
    id: u64,
    log: Arc<FaultLog>,
    control: Arc<Control>,
    seed: u64,
}

impl Conn {
    /// Relays until both directions end; returns the close line's fields.
    async fn serve(
        &self,
        client: TcpStream,
        upstream: SocketAddr,
        mut faults: Box<dyn Iterator<Item = (Duration, Fault)> + Send>,
    ) -> String {
        let server = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(upstream)).await
        {
            Ok(Ok(server)) => server,
            Ok(Err(err)) => return self.refuse(&client, &err.to_string()),
            Err(_) => return self.refuse(&client, "connect timed out"),
        };
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        let ends = [Arc::new(client), Arc::new(server)];
        let opened = Instant::now();
        let state = Arc::new(State {
            dirs: Mutex::new([Impair::new(opened); 2]),
        });
        // Impairments due at once are in force before the first byte moves
        // (a timer due now would only fire at the next tick).
        let mut next = faults.next();
        while let Some((Duration::ZERO, fault)) = &next {
            if fault.is_terminal()
                || matches!(fault, Fault::HalfClose { .. })
                || self.control.is_quiet()
            {
                break;
            }
            self.log.fault(self.id, fault);
            self.control.count(fault);
            state.apply(fault, opened);
            next = faults.next();
        }
        let mut tasks = JoinSet::new();
        let mut writers: [Option<AbortHandle>; 2] = [None, None];
        for dir in [Dir::Up, Dir::Down] {
            let i = index(dir);
            let (src, dst) = (Arc::clone(&ends[i]), Arc::clone(&ends[1 - i]));
            let (tx, rx) = mpsc::channel(QUEUE_CHUNKS);
            let rng = Rng::new(self.seed ^ i as u64);
            let (state_r, state_w) = (Arc::clone(&state), Arc::clone(&state));
            let (control_r, control_w) = (Arc::clone(&self.control), Arc::clone(&self.control));
            let log = (dir == Dir::Up).then(|| (Arc::clone(&self.log), self.id));
            tasks.spawn(async move {
                End::Reader(
                    dir,
                    read_side(dir, &src, tx, &state_r, &control_r, rng, log).await,
                )
            });
            writers[i] = Some(tasks.spawn(async move {
                End::Writer(dir, write_side(dir, &dst, rx, &state_w, &control_w).await)
            }));
        }
        let mut cut_deadline: Option<Instant> = None;
        let mut bytes = [0u64; 2];
        let mut reason = String::from("eof");
        loop {
            let fault_at = next.as_ref().map(|(at, _)| opened + *at);
            tokio::select! {
                joined = tasks.join_next() => {
                    let Some(joined) = joined else { break };
                    match joined {
                        // Aborted by a half-close or a cut.
                        Err(_) => {}
                        Ok(End::Reader(dir, Ok(n))) => bytes[index(dir)] = n,
                        Ok(End::Writer(_, Ok(_))) => {}
                        Ok(End::Reader(dir, Err(err))) => {
                            let who = if dir == Dir::Up { "client" } else { "server" };
                            reason = format!("{who} read failed: {err}");
                            self.reset(&ends, &mut tasks).await;
                            break;
                        }
                        Ok(End::Writer(dir, Err(err))) => {
                            let who = if dir == Dir::Up { "server" } else { "client" };
                            reason = format!("{who} write failed: {err}");
                            self.reset(&ends, &mut tasks).await;
                            break;
                        }
                    }
                }
                () = sleep_until_opt(fault_at) => {
                    let (_, fault) = next.take().expect("the branch runs only with a fault due");
                    if self.control.is_quiet() {
                        continue;
                    }
                    self.log.fault(self.id, &fault);
                    self.control.count(&fault);
                    match fault {
                        Fault::Reset => {
                            reason = "reset (fault)".into();
                            self.reset(&ends, &mut tasks).await;
                            break;
                        }
                        Fault::Cut => {
                            reason = "cut (fault)".into();
                            half_close(Dir::Both, &ends, &mut writers);
                            cut_deadline = Some(Instant::now() + CUT_LINGER);
                        }
                        Fault::HalfClose { dir } => {
                            reason = format!("half-closed {} (fault)", dir.name());
                            half_close(dir, &ends, &mut writers);
                        }
                        other => state.apply(&other, Instant::now()),
                    }
                    // After a cut nothing more is done to the connection.
                    next = if cut_deadline.is_some() { None } else { faults.next() };
                }
                () = sleep_until_opt(cut_deadline) => {
                    reason = "cut (fault), endpoints did not close: reset".into();
                    self.reset(&ends, &mut tasks).await;
                    break;
                }
            }
        }
        format!(
            "\"reason\":{},\"up_bytes\":{},\"down_bytes\":{}",
            quote(&reason),
            bytes[0],
            bytes[1]
        )
    }

    fn refuse(&self, client: &TcpStream, why: &str) -> String {
        let _ = client.set_zero_linger();
        format!("\"reason\":{}", quote(&format!("upstream: {why}")))
    }

    /// RST to both endpoints: `SO_LINGER` 0, then every handle dropped.
    async fn reset(&self, ends: &[Arc<TcpStream>; 2], tasks: &mut JoinSet<End>) {
        for end in ends {
            let _ = end.set_zero_linger();
        }
        tasks.shutdown().await;
    }
}

/// Stops forwarding `dir` (`Both`: both ways) and sends a FIN to the
/// endpoint that received it; its reader then reads and drops.
fn half_close(dir: Dir, ends: &[Arc<TcpStream>; 2], writers: &mut [Option<AbortHandle>; 2]) {
    for one in [Dir::Up, Dir::Down] {
        if dir.covers(one) {
            let i = index(one);
            if let Some(writer) = writers[i].take() {
                writer.abort();
            }
            let _ = socket2::SockRef::from(&*ends[1 - i]).shutdown(Shutdown::Write);
        }
    }
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Sleeps until `deadline`, or until the proxy is quiesced.
async fn wait_until(deadline: Instant, control: &Control) {
    loop {
        let now = Instant::now();
        if now >= deadline || control.is_quiet() {
            return;
        }
        tokio::time::sleep_until(deadline.min(now + STEP)).await;
    }
}

async fn read_some(src: &TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        src.readable().await?;
        match src.try_read(buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            other => return other,
        }
    }
}

async fn write_all(dst: &TcpStream, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        dst.writable().await?;
        match dst.try_write(bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads from `src` and queues the chunks with their delivery times; once
/// the writer is gone (a half-close, a cut), reads and drops. Returns the
/// bytes read. The first chunk from the client is the opening request:
/// its path is logged, so a test can tell which of its clients a
/// connection belongs to.
async fn read_side(
    dir: Dir,
    src: &TcpStream,
    tx: mpsc::Sender<Chunk>,
    state: &State,
    control: &Control,
    mut rng: Rng,
    mut log_request: Option<(Arc<FaultLog>, u64)>,
) -> io::Result<u64> {
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    let mut last = Instant::now();
    let mut forwarding = true;
    loop {
        let n = read_some(src, &mut buf).await?;
        if n == 0 {
            if forwarding {
                let _ = tx.send(Chunk::Eof).await;
            }
            return Ok(total);
        }
        total += n as u64;
        if let Some((log, id)) = log_request.take() {
            if let Some(path) = request_path(&buf[..n]) {
                log.event(id, "request", &format!("\"path\":{}", quote(path)));
            }
        }
        if !forwarding {
            continue;
        }
        let now = Instant::now();
        let delay = if control.is_quiet() {
            Duration::ZERO
        } else {
            state.with(|dirs| {
                let d = &dirs[index(dir)];
                if now < d.latency_until {
                    d.delay + d.jitter.mul_f64(rng.unit())
                } else {
                    Duration::ZERO
                }
            })
        };
        let at = (now + delay).max(last);
        last = at;
        if tx.send(Chunk::Data(buf[..n].to_vec(), at)).await.is_err() {
            forwarding = false;
        }
    }
}

/// Writes the queued chunks to `dst` at their times, holding them while
/// the direction is stalled and pacing them under a bandwidth cap; at the
/// end of the queue sends a FIN. Returns the bytes written.
async fn write_side(
    dir: Dir,
    dst: &TcpStream,
    mut rx: mpsc::Receiver<Chunk>,
    state: &State,
    control: &Control,
) -> io::Result<u64> {
    let i = index(dir);
    let mut total = 0u64;
    while let Some(chunk) = rx.recv().await {
        let (data, at) = match chunk {
            Chunk::Data(data, at) => (data, at),
            Chunk::Eof => {
                let _ = socket2::SockRef::from(dst).shutdown(Shutdown::Write);
                break;
            }
        };
        wait_until(at, control).await;
        loop {
            let until = state.with(|dirs| dirs[i].stall_until);
            if Instant::now() >= until || control.is_quiet() {
                break;
            }
            wait_until(until, control).await;
        }
        write_all(dst, &data).await?;
        total += data.len() as u64;
        let now = Instant::now();
        let rate = state.with(|dirs| (now < dirs[i].rate_until).then_some(dirs[i].rate));
        if let Some(rate) = rate.filter(|&r| r > 0) {
            let pause = Duration::from_secs_f64(data.len() as f64 / rate as f64);
            wait_until(now + pause, control).await;
        }
    }
    Ok(total)
}

/// The path of an HTTP request line at the start of `bytes`.
fn request_path(bytes: &[u8]) -> Option<&str> {
    let line = bytes.split(|&b| b == b'\r').next()?;
    let line = core::str::from_utf8(line).ok()?;
    let mut parts = line.split(' ');
    let _method = parts.next()?;
    let path = parts.next()?;
    parts.next()?.starts_with("HTTP/").then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_paths() {
        assert_eq!(
            request_path(b"GET /soak/t12 HTTP/1.1\r\nHost: x\r\n\r\n"),
            Some("/soak/t12")
        );
        assert_eq!(request_path(b"\x81\x85abc"), None);
        assert_eq!(request_path(b"GET /x"), None);
    }

    #[test]
    fn faults_set_the_right_direction() {
        let now = Instant::now();
        let state = State {
            dirs: Mutex::new([Impair::new(now); 2]),
        };
        let s = Duration::from_secs(1);
        state.apply(
            &Fault::Stall {
                dir: Dir::Down,
                period: 5 * s,
            },
            now,
        );
        state.apply(
            &Fault::Latency {
                dir: Dir::Both,
                delay: s,
                jitter: s / 2,
                period: 3 * s,
            },
            now,
        );
        state.apply(
            &Fault::Bandwidth {
                dir: Dir::Up,
                bytes_per_sec: 100,
                period: 2 * s,
            },
            now,
        );
        // A shorter stall does not shorten a longer one in force.
        state.apply(
            &Fault::Stall {
                dir: Dir::Down,
                period: s,
            },
            now,
        );
        let [up, down] = state.with(|d| *d);
        assert_eq!(up.stall_until, now);
        assert_eq!(down.stall_until, now + 5 * s);
        assert_eq!((up.delay, down.delay), (s, s));
        assert_eq!(
            (up.latency_until, down.latency_until),
            (now + 3 * s, now + 3 * s)
        );
        assert_eq!((up.rate, down.rate), (100, 0));
        assert_eq!(up.rate_until, now + 2 * s);
    }
}
