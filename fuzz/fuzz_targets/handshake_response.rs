//! `ClientHandshake::parse_response` on arbitrary bytes, and on a real
//! accepting response mutated by the input.
//!
//! Two clients: one plain (`ws://h/`), one offering subprotocols and
//! permessage-deflate. Invariants:
//! * never panics; `Ok(Some((resp, n)))` has `n <= len`, parsing just the
//!   first `n` bytes gives the same response, and httparse independently sees
//!   a 101 with `Upgrade: websocket`, `Connection: upgrade` and the right
//!   `Sec-WebSocket-Accept`; the chosen subprotocol (if any) was offered;
//! * `Err(Rejected(r))`: `r.status != 101` and at most 1 KiB of body kept;
//! * every prefix gives `Ok(None)` or the same verdict (a rejection's body may
//!   be shorter, as less of it had arrived);
//! * structured variant: the input, read as (operation, position, byte)
//!   triples, overwrites, inserts or deletes bytes of a real 101 answer; with
//!   no effective change the answer must be accepted, with any change the
//!   invariants above hold.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use ws_proto::handshake::{
    accept_key, ClientHandshake, ClientRequest, Request, Response, ResponseError,
};
use ws_proto::Randomness;
use ws_proto_fuzz::http::parse_response_lenient;

struct Client {
    handshake: ClientHandshake,
    offered: Vec<&'static str>,
    /// Extension names offered.
    extensions: Vec<&'static str>,
    /// A real accepting answer to this client's request.
    good_answer: Vec<u8>,
}

fn clients() -> &'static [Client; 2] {
    static CLIENTS: OnceLock<[Client; 2]> = OnceLock::new();
    CLIENTS.get_or_init(|| {
        let make =
            |request: ClientRequest, offered: Vec<&'static str>, extensions: Vec<&'static str>| {
                let (bytes, handshake) = request.into_handshake(&mut Randomness::seeded(0));
                let (req, _) = Request::parse(&bytes)
                    .expect("our own request is valid")
                    .expect("and complete");
                let answer = match offered.first() {
                    Some(p) => req.accept_with_protocol(p).expect("offered"),
                    None => req.accept(),
                };
                Client {
                    handshake,
                    offered,
                    extensions,
                    good_answer: answer.to_bytes(),
                }
            };
        [
            make(
                ClientRequest::from_url("ws://h/").expect("valid url"),
                vec![],
                vec![],
            ),
            make(
                ClientRequest::from_url("wss://example.com:8443/chat?x=1")
                    .expect("valid url")
                    .protocol("chat")
                    .protocol("superchat")
                    .extension("permessage-deflate; client_max_window_bits"),
                vec!["chat", "superchat"],
                vec!["permessage-deflate"],
            ),
        ]
    })
}

type Parsed = Result<Option<(Response, usize)>, ResponseError>;

fn check(client: &Client, data: &[u8]) -> Parsed {
    let result = client.handshake.parse_response(data);
    match &result {
        Ok(Some((resp, n))) => {
            let n = *n;
            assert!(n <= data.len());
            assert_eq!(
                client.handshake.parse_response(&data[..n]),
                Ok(Some((resp.clone(), n))),
                "the head alone parses differently"
            );
            let parsed = parse_response_lenient(&data[..n]).expect("httparse agrees");
            assert_eq!(parsed.head_len, n);
            assert_eq!(parsed.status, 101);
            assert!(parsed.has_token("upgrade", "websocket"));
            assert!(parsed.has_token("connection", "upgrade"));
            let expected = accept_key(client.handshake.key().as_bytes());
            let got = parsed
                .header("sec-websocket-accept")
                .expect("accept header");
            assert_eq!(
                got.trim_ascii(),
                expected.as_bytes(),
                "accepted a wrong key"
            );
            if let Some(p) = resp.protocol() {
                assert!(
                    client.offered.contains(&p),
                    "accepted unoffered protocol {p}"
                );
            }
            for ext in resp.extensions() {
                let name = ext.split(';').next().unwrap_or("").trim();
                assert!(
                    client
                        .extensions
                        .iter()
                        .any(|e| e.eq_ignore_ascii_case(name)),
                    "accepted unoffered extension {ext}"
                );
            }
        }
        Ok(None) => assert!(data.len() < 16 * 1024),
        Err(ResponseError::Rejected(r)) => {
            assert_ne!(r.status, 101);
            assert!(r.body.len() <= 1024);
            assert!(!r.likely_cause().is_empty());
        }
        Err(_) => {}
    }
    result
}

fn same_verdict(part: &Parsed, whole: &Parsed) -> bool {
    match (part, whole) {
        (Ok(None), _) => true,
        (Err(ResponseError::Rejected(p)), Err(ResponseError::Rejected(w))) => {
            (p.status, &p.reason, &p.headers) == (w.status, &w.reason, &w.headers)
                && w.body.starts_with(&p.body)
        }
        (p, w) => p == w,
    }
}

fn check_prefixes(client: &Client, data: &[u8], whole: &Parsed) {
    let mut cuts: Vec<usize> = if data.len() <= 64 {
        (0..data.len()).collect()
    } else {
        // Evenly spaced, plus a few the input's hash picks.
        let h = ws_proto_fuzz::fnv(data);
        (0..24)
            .map(|i| i * data.len() / 24)
            .chain((0..8).map(|i| ((h >> (i * 8)) % data.len() as u64) as usize))
            .collect()
    };
    if let Ok(Some((_, n))) = whole {
        cuts.extend([n - 1, *n]);
    }
    for cut in cuts.into_iter().filter(|&c| c <= data.len()) {
        let part = client.handshake.parse_response(&data[..cut]);
        assert!(
            same_verdict(&part, whole),
            "prefix {cut} is not monotone: {part:?} vs {whole:?}"
        );
    }
}

/// Applies (operation, position, byte) triples to `base`.
fn mutate(base: &[u8], ops: &[u8]) -> Vec<u8> {
    let mut out = base.to_vec();
    for op in ops.chunks_exact(3) {
        let pos = usize::from(op[1]) * 7 % (out.len() + 1);
        match op[0] % 3 {
            0 if pos < out.len() => out[pos] = op[2],
            0 | 1 => out.insert(pos, op[2]),
            _ if pos < out.len() => {
                out.remove(pos);
            }
            _ => {}
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    for client in clients() {
        let whole = check(client, data);
        check_prefixes(client, data, &whole);

        let mutated = mutate(&client.good_answer, data);
        let verdict = check(client, &mutated);
        if mutated == client.good_answer {
            assert!(
                matches!(verdict, Ok(Some((_, n))) if n == mutated.len()),
                "a real answer was refused: {verdict:?}"
            );
        }
        check_prefixes(client, &mutated, &verdict);
    }
});
