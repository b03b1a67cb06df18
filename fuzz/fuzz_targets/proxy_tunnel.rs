//! `handshake::proxy::Tunnel` fed arbitrary proxy answers, and `Proxy::parse`
//! and `NoProxy` on arbitrary text.
//!
//! The first byte picks the proxy (HTTP or SOCKS5, with or without
//! credentials) and the target (a name or an IP literal), the second the
//! chunk size; the rest is what the proxy "answers". Invariants:
//! * never panics; the answer buffered never exceeds 16 KiB;
//! * the same answer fed whole, in chunks and a byte at a time gives the
//!   same verdict (still waiting, established, or the same error), and the
//!   same bytes to send;
//! * `Established` is reported once; errors are sticky;
//! * after end of stream the tunnel is established or has failed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ws_proto::handshake::proxy::{NoProxy, Proxy, ProxyError, Tunnel, TunnelEvent};

const PROXIES: [&str; 4] = [
    "http://127.0.0.1:3128",
    "http://user:pass@127.0.0.1:3128",
    "socks5h://127.0.0.1:1080",
    "socks5://user:pass@127.0.0.1:1080",
];

type Verdict = (Vec<u8>, Result<Option<TunnelEvent>, ProxyError>);

fn feed(proxy: &Proxy, target: &str, answer: &[u8], chunk: usize) -> Verdict {
    let mut tunnel = Tunnel::new(proxy, target, 443);
    let mut sent = Vec::new();
    let mut established = 0;
    let mut first_error = None;
    for part in answer.chunks(chunk.max(1)) {
        while let Some(bytes) = tunnel.poll_transmit() {
            sent.extend(bytes);
        }
        tunnel.receive(part);
        match tunnel.poll_event() {
            Ok(Some(TunnelEvent::Established)) => established += 1,
            Ok(_) => {}
            Err(err) => {
                if let Some(first) = &first_error {
                    assert_eq!(first, &err, "errors are sticky");
                }
                first_error = Some(err);
            }
        }
    }
    while let Some(bytes) = tunnel.poll_transmit() {
        sent.extend(bytes);
    }
    assert!(established <= 1, "established reported twice");
    let verdict = match tunnel.poll_event() {
        Ok(None) if established == 1 => Ok(Some(TunnelEvent::Established)),
        other => other,
    };
    let mut ended = tunnel.clone();
    ended.receive_eof();
    assert!(ended.is_established() || ended.poll_event().is_err());
    (sent, verdict)
}

fuzz_target!(|data: &[u8]| {
    let [select, chunk, answer @ ..] = data else {
        return;
    };
    let proxy = Proxy::parse(PROXIES[usize::from(select & 3)]).expect("valid proxy URL");
    let target = if select & 4 == 0 { "example.com" } else { "10.1.2.3" };
    let whole = feed(&proxy, target, answer, answer.len());
    assert_eq!(feed(&proxy, target, answer, usize::from(*chunk)), whole);
    if answer.len() <= 512 {
        assert_eq!(feed(&proxy, target, answer, 1), whole);
    }

    // The URL and NO_PROXY parsers on the same bytes as text.
    let text = String::from_utf8_lossy(data);
    if let Ok(proxy) = Proxy::parse(&text) {
        assert!(proxy.port() > 0 && !proxy.host().is_empty());
        let _ = Tunnel::new(&proxy, &text, 1).poll_transmit();
    }
    let list = NoProxy::parse(&text);
    let _ = list.matches(&text, u16::from(*chunk));
    let _ = list.matches("example.com", 443);
});
