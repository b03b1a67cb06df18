//! Two connections opened by the real opening handshake
//! (`Connection::client` and `Connection::server`, each with its own
//! `Config::deflate`), for the connection targets: one is the connection
//! under test, the other its peer.

use arbitrary::Arbitrary;
use ws_proto::handshake::ClientRequest;
use ws_proto::{Config, Connection, DeflateConfig, Event, ReadyState, Role};

/// One side's permessage-deflate preferences.
#[derive(Arbitrary, Debug, Clone)]
pub struct DeflateSide {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    /// 8..=16 after `% 9`: the setters clamp to 9..=15.
    server_max_window_bits: u8,
    client_max_window_bits: u8,
    /// 0..=9.
    level: u8,
    /// Messages below this many bytes (0..=64) go uncompressed.
    threshold: u8,
}

impl DeflateSide {
    fn build(&self) -> DeflateConfig {
        DeflateConfig::default()
            .server_no_context_takeover(self.server_no_context_takeover)
            .client_no_context_takeover(self.client_no_context_takeover)
            .server_max_window_bits(8 + self.server_max_window_bits % 9)
            .client_max_window_bits(8 + self.client_max_window_bits % 9)
            .level(u32::from(self.level % 10))
            .threshold(usize::from(self.threshold % 65))
    }
}

/// What each side of the handshake offers (client) or accepts (server).
#[derive(Arbitrary, Debug, Clone)]
pub struct Handshake {
    /// The client's deflate offer, or none.
    pub client: Option<DeflateSide>,
    /// The server's deflate preferences, or none (it then declines).
    pub server: Option<DeflateSide>,
}

/// Both connections after a successful handshake.
pub struct Pair {
    /// The connection of the role under test.
    pub tested: Connection,
    /// The other one.
    pub peer: Connection,
    /// Whether the server's 101 agreed on permessage-deflate.
    pub deflate: bool,
}

fn drain(conn: &mut Connection) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(chunk) = conn.poll_transmit() {
        out.extend_from_slice(&chunk);
    }
    out
}

/// Runs the handshake between a client and a server built from these
/// configurations (deflate added from `handshake`); the tested side has
/// `role`. Any failure is a bug: both are ws-proto, unmodified.
pub fn open(role: Role, tested: Config, peer: Config, handshake: &Handshake) -> Pair {
    let (client_config, server_config) = match role {
        Role::Client => (tested, peer),
        Role::Server => (peer, tested),
    };
    let client_config = client_config.deflate(handshake.client.as_ref().map(DeflateSide::build));
    let server_config = server_config.deflate(handshake.server.as_ref().map(DeflateSide::build));
    let request = ClientRequest::from_url("ws://fuzz.example/chat").expect("a valid URL");
    let mut client = Connection::client(request, client_config);
    let mut server = Connection::server(server_config);

    server.receive(&drain(&mut client));
    match server.poll_event() {
        Ok(Some(Event::Request(request))) => {
            server.respond(request.accept()).expect("respond");
        }
        other => panic!("the server refused ws-proto's own request: {other:?}"),
    }
    let answer = drain(&mut server);
    let deflate = answer
        .windows(b"permessage-deflate".len())
        .any(|w| w == b"permessage-deflate");
    if deflate {
        assert!(
            handshake.client.is_some() && handshake.server.is_some(),
            "deflate agreed although one side did not want it"
        );
    }
    client.receive(&answer);
    match client.poll_event() {
        Ok(Some(Event::Response(_))) => {}
        other => panic!("the client refused ws-proto's own 101: {other:?}"),
    }
    assert_eq!(client.poll_event(), Ok(None));
    assert_eq!(server.poll_event(), Ok(None));
    assert_eq!(client.ready_state(), ReadyState::Open);
    assert_eq!(server.ready_state(), ReadyState::Open);
    assert_eq!(client.buffered_amount(), 0);
    assert_eq!(server.buffered_amount(), 0);
    let (tested, peer) = match role {
        Role::Client => (client, server),
        Role::Server => (server, client),
    };
    Pair {
        tested,
        peer,
        deflate,
    }
}
