//! Checks against real peers (nginx, Python `websockets`, Chromium), used by
//! the scripts in `tests/peers/`. Prints one `ok: ...` or `FAIL: ...` line
//! per check and exits non-zero if any failed.
//!
//! ```text
//! peer-check client URL echo [--blocking] [--expect-deflate] [--max-size BYTES]
//!     text and binary messages of 10 B to 1 MiB (or BYTES) echo back,
//!     a ping is answered, a 1000 close is answered with 1000
//! peer-check client URL refused [--blocking] [--status CODE]
//!     the handshake must fail with a clear error (a refusal naming the
//!     status and likely cause, or a close during the handshake)
//! peer-check client URL close CODE [--blocking]
//!     close with CODE after one message; the peer must echo CODE
//! peer-check client URL server-close CODE REASON [--blocking]
//!     send two messages; the server must then close with CODE and REASON
//! peer-check server ADDR [--close-after N] [--code CODE] [--reason TEXT]
//!     an echo server (ws-tokio) that closes each connection with CODE and
//!     REASON after echoing N data messages; prints `listening on ws://ADDR`
//! peer-check hold URL COUNT [--no-deflate]
//!     opens COUNT idle connections, prints `holding COUNT`, and keeps them
//!     until standard input ends
//! ```
//!
//! `--blocking` runs the client side with ws-blocking instead of ws-tokio.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use tokio::net::TcpListener;
use ws_tokio::{accept, connect_with, ClientRequest, CloseCode, CloseKind, Config, Error, Message};

/// Every client step is bounded by this.
const STEP: Duration = Duration::from_secs(20);

struct Report {
    failed: usize,
}

impl Report {
    fn check(&mut self, ok: bool, what: impl std::fmt::Display) {
        if ok {
            println!("ok: {what}");
        } else {
            println!("FAIL: {what}");
            self.failed += 1;
        }
        let _ = std::io::stdout().flush();
    }
}

fn usage() -> ExitCode {
    eprintln!("usage: see the header of ws-tokio/examples/peer-check.rs");
    ExitCode::from(2)
}

/// Flags after the positional arguments.
struct Flags {
    blocking: bool,
    expect_deflate: bool,
    no_deflate: bool,
    max_size: usize,
    status: Option<u16>,
    close_after: usize,
    code: u16,
    reason: String,
}

fn parse_flags(args: &[String]) -> Result<(Vec<String>, Flags), String> {
    let mut flags = Flags {
        blocking: false,
        expect_deflate: false,
        no_deflate: false,
        max_size: 1 << 20,
        status: None,
        close_after: 2,
        code: 4001,
        reason: "bye from server".into(),
    };
    let mut positional = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match arg.as_str() {
            "--blocking" => flags.blocking = true,
            "--expect-deflate" => flags.expect_deflate = true,
            "--no-deflate" => flags.no_deflate = true,
            "--max-size" => flags.max_size = value(arg)?.parse().map_err(|e| format!("{e}"))?,
            "--status" => flags.status = Some(value(arg)?.parse().map_err(|e| format!("{e}"))?),
            "--close-after" => {
                flags.close_after = value(arg)?.parse().map_err(|e| format!("{e}"))?
            }
            "--code" => flags.code = value(arg)?.parse().map_err(|e| format!("{e}"))?,
            "--reason" => flags.reason = value(arg)?,
            other if other.starts_with("--") => return Err(format!("unknown flag {other}")),
            _ => positional.push(arg.clone()),
        }
    }
    Ok((positional, flags))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (positional, flags) = match parse_flags(&args) {
        Ok(parsed) => parsed,
        Err(err) => {
            eprintln!("peer-check: {err}");
            return usage();
        }
    };
    let positional: Vec<&str> = positional.iter().map(String::as_str).collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let mut report = Report { failed: 0 };
    match positional[..] {
        ["client", url, scenario, ref rest @ ..] => {
            let scenario = Scenario::parse(scenario, rest);
            let Some(scenario) = scenario else {
                return usage();
            };
            if flags.blocking {
                blocking::run(url, &scenario, &flags, &mut report);
            } else {
                runtime.block_on(tokio_client(url, &scenario, &flags, &mut report));
            }
        }
        ["server", addr] => {
            if let Err(err) = runtime.block_on(server(addr, &flags)) {
                eprintln!("peer-check server: {err}");
                return ExitCode::FAILURE;
            }
        }
        ["hold", url, count] => {
            let Ok(count) = count.parse() else {
                return usage();
            };
            if let Err(err) = runtime.block_on(hold(url, count, &flags)) {
                eprintln!("peer-check hold: {err}");
                return ExitCode::FAILURE;
            }
        }
        _ => return usage(),
    }
    if report.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

enum Scenario {
    Echo,
    Refused,
    Close(u16),
    ServerClose(u16, String),
}

impl Scenario {
    fn parse(name: &str, rest: &[&str]) -> Option<Self> {
        match (name, rest) {
            ("echo", []) => Some(Self::Echo),
            ("refused", []) => Some(Self::Refused),
            ("close", [code]) => code.parse().ok().map(Self::Close),
            ("server-close", [code, reason]) => code
                .parse()
                .ok()
                .map(|c| Self::ServerClose(c, reason.to_string())),
            _ => None,
        }
    }
}

/// The messages of the echo scenario: text and binary at each size.
fn echo_messages(max: usize) -> Vec<Message> {
    let mut sizes: Vec<usize> = [10, 125, 126, 1000, 65_535, 65_536, 100_000, 1 << 20]
        .into_iter()
        .filter(|&n| n <= max)
        .collect();
    if !sizes.contains(&max) {
        sizes.push(max);
    }
    let mut messages = Vec::new();
    for size in sizes {
        // ASCII with a two-byte character now and then, cut to `size` bytes.
        let mut text = String::with_capacity(size);
        while text.len() < size {
            text.push(if text.len() % 97 == 96 && size - text.len() >= 2 {
                'é'
            } else {
                char::from(b'a' + (text.len() % 26) as u8)
            });
        }
        messages.push(Message::text(text));
        let binary: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
        messages.push(Message::binary(binary));
    }
    messages
}

fn describe(message: &Message) -> String {
    match message {
        Message::Text(t) => format!("text of {} bytes", t.len()),
        Message::Binary(b) => format!("binary of {} bytes", b.len()),
        other => format!("{other:?}"),
    }
}

fn config(flags: &Flags) -> Config {
    let config = Config::default()
        .close_timeout(Duration::from_secs(3))
        .handshake_timeout(Duration::from_secs(10));
    if flags.no_deflate {
        config.deflate(None)
    } else {
        config
    }
}

async fn tokio_client(url: &str, scenario: &Scenario, flags: &Flags, report: &mut Report) {
    let request = match ClientRequest::from_url(url) {
        Ok(request) => request,
        Err(err) => return report.check(false, format!("URL {url}: {err}")),
    };
    let connected = connect_with(request, config(flags), None).await;
    if let Scenario::Refused = scenario {
        return check_refused(connected.map(drop), flags, report);
    }
    let (mut ws, response) = match connected {
        Ok(connected) => connected,
        Err(err) => return report.check(false, format!("connect to {url}: {err}")),
    };
    let extensions: Vec<&str> = response.extensions().collect();
    report.check(
        !flags.expect_deflate
            || extensions
                .iter()
                .any(|e| e.starts_with("permessage-deflate")),
        format!("extensions negotiated: {extensions:?}"),
    );
    match scenario {
        Scenario::Echo => {
            for message in echo_messages(flags.max_size) {
                let what = describe(&message);
                let sent = tokio::time::timeout(STEP, ws.send(message.clone())).await;
                if !matches!(sent, Ok(Ok(()))) {
                    return report.check(false, format!("send {what}: {sent:?}"));
                }
                let got = next_data(&mut ws).await;
                report.check(got.as_ref() == Some(&message), format!("{what} echoed"));
            }
            let ping = Message::Ping("peer-check".into());
            let _ = ws.send(ping).await;
            let pong = loop {
                match tokio::time::timeout(STEP, ws.recv()).await {
                    Ok(Some(Ok(Message::Pong(data)))) => break Some(data),
                    Ok(Some(Ok(_))) => {}
                    _ => break None,
                }
            };
            report.check(
                pong.as_deref() == Some(&b"peer-check"[..]),
                "ping answered with its payload",
            );
            let closed = close_and_wait(&mut ws, CloseCode::NORMAL, "done").await;
            report.check(
                closed == Some(CloseCode::NORMAL),
                format!("close 1000 answered with {closed:?} (clean)"),
            );
        }
        Scenario::Close(code) => {
            let _ = ws.send(Message::text("before closing")).await;
            let _ = next_data(&mut ws).await;
            let closed = close_and_wait(&mut ws, CloseCode(*code), "peer-check closes").await;
            report.check(
                closed == Some(CloseCode(*code)),
                format!("close {code} answered with {closed:?}"),
            );
        }
        Scenario::ServerClose(code, reason) => {
            for i in 0..2 {
                let _ = ws.send(Message::text(format!("message {i}"))).await;
            }
            let mut close = None;
            while let Ok(Some(item)) = tokio::time::timeout(STEP, ws.recv()).await {
                if let Ok(Message::Close(frame)) = item {
                    close = Some(frame);
                }
            }
            let ok = close
                .as_ref()
                .is_some_and(|f| f.code.0 == *code && f.reason == reason.as_str());
            let kind = close.as_ref().map(CloseKind::from);
            report.check(ok, format!("server closed with {close:?} ({kind:?})"));
        }
        Scenario::Refused => unreachable!("handled above"),
    }
}

/// The next text or binary message, skipping pings and pongs.
async fn next_data<S>(ws: &mut ws_tokio::WebSocketStream<S>) -> Option<Message>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        match tokio::time::timeout(STEP, ws.recv()).await {
            Ok(Some(Ok(message))) if message.is_data() => return Some(message),
            Ok(Some(Ok(Message::Close(frame)))) => {
                println!("note: closed by the peer: {frame:?}");
                return None;
            }
            Ok(Some(Ok(_))) => {}
            other => {
                println!("note: {other:?}");
                return None;
            }
        }
    }
}

/// Sends a close and returns the code of the peer's answer.
async fn close_and_wait<S>(
    ws: &mut ws_tokio::WebSocketStream<S>,
    code: CloseCode,
    reason: &str,
) -> Option<CloseCode>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    // Not `close`, which discards what arrives: the answer is what we check.
    let frame = ws_tokio::CloseFrame::new(code, reason);
    if ws.send(Message::Close(frame)).await.is_err() {
        return None;
    }
    let mut answer = None;
    while let Ok(Some(item)) = tokio::time::timeout(STEP, ws.recv()).await {
        if let Ok(Message::Close(frame)) = item {
            answer = Some(frame.code);
        }
    }
    answer
}

fn check_refused(result: Result<(), Error>, flags: &Flags, report: &mut Report) {
    match result {
        Ok(()) => report.check(false, "the handshake was expected to fail"),
        Err(err) => {
            let text = err.to_string();
            println!("error: {text}");
            let clear = match err.status() {
                Some(status) => {
                    text.contains(&status.to_string()) && flags.status.is_none_or(|s| s == status)
                }
                None => {
                    flags.status.is_none() && text.contains("closed during the opening handshake")
                }
            };
            report.check(
                clear,
                format!("refusal is reported clearly (status {:?})", err.status()),
            );
        }
    }
}

/// An echo server that closes each connection with the flags' code and
/// reason after `close_after` data messages.
async fn server(addr: &str, flags: &Flags) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    println!("listening on ws://{}", listener.local_addr()?);
    std::io::stdout().flush()?;
    let (limit, code, reason) = (flags.close_after, flags.code, flags.reason.clone());
    loop {
        let (tcp, peer) = listener.accept().await?;
        let reason = reason.clone();
        tokio::spawn(async move {
            let mut ws = match accept(tcp).await {
                Ok(ws) => ws,
                Err(err) => return eprintln!("{peer}: {err}"),
            };
            let mut echoed = 0;
            while let Some(Ok(message)) = ws.recv().await {
                if !message.is_data() {
                    continue;
                }
                if ws.send(message).await.is_err() {
                    return;
                }
                echoed += 1;
                if echoed == limit {
                    let _ = ws.close(CloseCode(code), &reason).await;
                    return;
                }
            }
        });
    }
}

/// Opens `count` connections and keeps them idle until standard input ends.
async fn hold(url: &str, count: usize, flags: &Flags) -> Result<(), Error> {
    let mut held = Vec::with_capacity(count);
    let request = ClientRequest::from_url(url)?;
    let mut pending = tokio::task::JoinSet::new();
    let mut started = 0;
    while held.len() < count {
        // At most 64 handshakes in flight.
        while started < count && pending.len() < 64 {
            pending.spawn(connect_with(request.clone(), config(flags), None));
            started += 1;
        }
        match pending.join_next().await {
            Some(Ok(Ok((ws, _)))) => held.push(ws),
            Some(Ok(Err(err))) => return Err(err),
            Some(Err(join)) => return Err(Error::Io(std::io::Error::other(join))),
            None => break,
        }
    }
    println!("holding {}", held.len());
    let _ = std::io::stdout().flush();
    // Standard input ends when the script is done with us.
    let _ = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {
            line.clear();
        }
    })
    .await;
    drop(held);
    Ok(())
}

/// The same client scenarios over ws-blocking.
mod blocking {
    use ws_blocking::{connect_with, ClientRequest, CloseCode, CloseKind, Message};

    use super::{check_refused, config, describe, echo_messages, Flags, Report, Scenario, STEP};

    type Ws = ws_blocking::WebSocket<ws_blocking::MaybeTlsStream>;

    fn next_data(ws: &mut Ws) -> Option<Message> {
        loop {
            match ws.read() {
                Ok(message @ (Message::Text(_) | Message::Binary(_))) => return Some(message),
                Ok(Message::Close(frame)) => {
                    println!("note: closed by the peer: {frame:?}");
                    return None;
                }
                Ok(_) => {}
                Err(err) => {
                    println!("note: {err}");
                    return None;
                }
            }
        }
    }

    /// Reads to the end; the last close frame's content.
    fn close_frame(ws: &mut Ws) -> Option<ws_blocking::CloseFrame> {
        let mut close = None;
        loop {
            match ws.read() {
                Ok(Message::Close(frame)) => close = Some(frame),
                Ok(_) => {}
                Err(_) => return close,
            }
        }
    }

    pub(super) fn run(url: &str, scenario: &Scenario, flags: &Flags, report: &mut Report) {
        let request = match ClientRequest::from_url(url) {
            Ok(request) => request,
            Err(err) => return report.check(false, format!("URL {url}: {err}")),
        };
        let connected = connect_with(request, config(flags), None);
        if let Scenario::Refused = scenario {
            // The two adapters' errors share the core's refusal text.
            let result = connected.map(drop).map_err(|err| match err {
                ws_blocking::Error::Handshake(e) => ws_tokio::Error::Handshake(e),
                ws_blocking::Error::Io(e) => ws_tokio::Error::Io(e),
                other => ws_tokio::Error::Io(std::io::Error::other(other.to_string())),
            });
            return check_refused(result, flags, report);
        }
        let (mut ws, response) = match connected {
            Ok(connected) => connected,
            Err(err) => return report.check(false, format!("connect to {url}: {err}")),
        };
        let _ = ws.get_ref().tcp().set_read_timeout(Some(STEP));
        let _ = ws.get_ref().tcp().set_write_timeout(Some(STEP));
        let extensions: Vec<&str> = response.extensions().collect();
        report.check(
            !flags.expect_deflate
                || extensions
                    .iter()
                    .any(|e| e.starts_with("permessage-deflate")),
            format!("(blocking) extensions negotiated: {extensions:?}"),
        );
        match scenario {
            Scenario::Echo => {
                for message in echo_messages(flags.max_size) {
                    let what = describe(&message);
                    if let Err(err) = ws.send(message.clone()) {
                        return report.check(false, format!("(blocking) send {what}: {err}"));
                    }
                    let got = next_data(&mut ws);
                    report.check(
                        got.as_ref() == Some(&message),
                        format!("(blocking) {what} echoed"),
                    );
                }
                let _ = ws.send(Message::Ping("peer-check".into()));
                let pong = loop {
                    match ws.read() {
                        Ok(Message::Pong(data)) => break Some(data),
                        Ok(_) => {}
                        Err(_) => break None,
                    }
                };
                report.check(
                    pong.as_deref() == Some(&b"peer-check"[..]),
                    "(blocking) ping answered with its payload",
                );
                let _ = ws.close(CloseCode::NORMAL, "done");
                let code = close_frame(&mut ws).map(|f| f.code);
                report.check(
                    code == Some(CloseCode::NORMAL),
                    format!("(blocking) close 1000 answered with {code:?}"),
                );
            }
            Scenario::Close(code) => {
                let _ = ws.send(Message::text("before closing"));
                let _ = next_data(&mut ws);
                let _ = ws.close(CloseCode(*code), "peer-check closes");
                let got = close_frame(&mut ws).map(|f| f.code);
                report.check(
                    got == Some(CloseCode(*code)),
                    format!("(blocking) close {code} answered with {got:?}"),
                );
            }
            Scenario::ServerClose(code, reason) => {
                for i in 0..2 {
                    let _ = ws.send(Message::text(format!("message {i}")));
                }
                let close = close_frame(&mut ws);
                let ok = close
                    .as_ref()
                    .is_some_and(|f| f.code.0 == *code && f.reason == reason.as_str());
                let kind = close.as_ref().map(CloseKind::from);
                report.check(
                    ok,
                    format!("(blocking) server closed with {close:?} ({kind:?})"),
                );
            }
            Scenario::Refused => unreachable!("handled above"),
        }
    }
}
