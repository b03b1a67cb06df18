//! Extensions through `Connection`: the handshake inside the machine
//! negotiates a toy extension, its reserved bit is accepted and nothing
//! else is, and a client never accepts an extension it cannot run.

use bytes::{Bytes, BytesMut};
use ws_proto::handshake::{ClientRequest, HandshakeError, ResponseError};
use ws_proto::{
    CloseCode, Config, Connection, Error, Event, Extension, MessageKind, NegotiateExtension,
    ProtocolError, Role, RSV3,
};

/// Reverses every message, marked with RSV3.
#[derive(Debug, Clone)]
struct Reverse;

impl Extension for Reverse {
    fn name(&self) -> &str {
        "x-reverse"
    }
    fn rsv_bits(&self) -> u8 {
        RSV3
    }
    fn encode(&mut self, _: MessageKind, payload: Bytes) -> (Bytes, u8) {
        (
            payload.iter().rev().copied().collect::<Vec<u8>>().into(),
            RSV3,
        )
    }
    fn decode(
        &mut self,
        _: u8,
        input: &[u8],
        last: bool,
        _: usize,
        out: &mut BytesMut,
    ) -> Result<(), ProtocolError> {
        if !last {
            return Err(ProtocolError::ExtensionFailed {
                reason: "x-reverse needs whole messages".into(),
            });
        }
        out.extend(input.iter().rev());
        Ok(())
    }
    fn clone_box(&self) -> Box<dyn Extension> {
        Box::new(self.clone())
    }
}

#[derive(Debug)]
struct ReverseOffer;

impl NegotiateExtension for ReverseOffer {
    fn name(&self) -> &str {
        "x-reverse"
    }
    fn offer(&self) -> String {
        "x-reverse".into()
    }
    fn accept(&self, params: &[(String, Option<String>)]) -> Option<(String, Box<dyn Extension>)> {
        params.is_empty().then(|| {
            (
                "x-reverse".to_string(),
                Box::new(Reverse) as Box<dyn Extension>,
            )
        })
    }
    fn check(&self, params: &[(String, Option<String>)]) -> Result<Box<dyn Extension>, String> {
        self.accept(params)
            .map(|(_, c)| c)
            .ok_or_else(|| "x-reverse takes no parameters".into())
    }
}

fn pump(from: &mut Connection, to: &mut Connection) {
    while let Some(bytes) = from.poll_transmit() {
        to.receive(&bytes);
    }
}

/// Runs the opening handshake; the client's response event.
fn open(
    request: ClientRequest,
    client: Config,
    server: Config,
) -> (Connection, Connection, Result<Option<Event>, Error>) {
    let mut client = Connection::client(request, client);
    let mut server = Connection::server(server);
    pump(&mut client, &mut server);
    let Ok(Some(Event::Request(request))) = server.poll_event() else {
        panic!("a request")
    };
    server.respond(request.accept()).unwrap();
    pump(&mut server, &mut client);
    let response = client.poll_event();
    (client, server, response)
}

fn url() -> ClientRequest {
    ClientRequest::from_url("ws://localhost/").unwrap()
}

#[test]
fn a_toy_extension_is_negotiated_and_transforms_both_ways() {
    let config = || Config::default().extension(ReverseOffer);
    let (mut client, mut server, response) = open(url(), config(), config());
    let Ok(Some(Event::Response(response))) = response else {
        panic!("{response:?}")
    };
    assert_eq!(
        response.header("Sec-WebSocket-Extensions"),
        Some("permessage-deflate, x-reverse")
    );
    client.send_text("abc").unwrap();
    let wire = client.poll_transmit().unwrap();
    assert_eq!(wire[0], 0x81 | 0x10, "RSV3 only: under deflate's threshold");
    server.receive(&wire);
    assert_eq!(server.poll_event(), Ok(Some(Event::Text("abc".into()))));
    // Long enough for deflate too: both bits, decoded in reverse order.
    let long = "the quick brown fox ".repeat(20);
    server.send_text(long.as_str()).unwrap();
    let wire: Vec<u8> = server.transmit_slices().flatten().copied().collect();
    assert_eq!(wire[0], 0x81 | 0x40 | 0x10, "RSV1 and RSV3");
    client.receive(&wire);
    assert_eq!(client.poll_event(), Ok(Some(Event::Text(long.into()))));
}

#[test]
fn unowned_reserved_bits_still_fail_with_1002() {
    let config = || Config::default().deflate(None).extension(ReverseOffer);
    let (_, mut server, response) = open(url(), config(), config());
    assert!(matches!(response, Ok(Some(Event::Response(_)))));
    // RSV2 on a masked text frame: nobody owns it.
    server.receive(&[0xa1, 0x80, 0, 0, 0, 0]);
    let err = server.poll_event().unwrap_err();
    assert_eq!(
        err,
        Error::Protocol(ProtocolError::ReservedBitsSet { bits: 0b010 })
    );
    let Error::Protocol(err) = err else {
        unreachable!()
    };
    assert_eq!(err.close_code(), CloseCode::PROTOCOL_ERROR);
    // RSV3 on a continuation or a control frame: owned, but not allowed there.
    let ping = vec![0x99u8, 0x80, 0, 0, 0, 0];
    // A first fragment with RSV3 (fine), then a continuation with RSV3.
    let continuation = vec![0x11, 0x80, 0, 0, 0, 0, 0x90, 0x80, 0, 0, 0, 0];
    for frame in [ping, continuation] {
        let (_, mut server, _) = open(url(), config(), config());
        server.receive(&frame);
        let got = server.poll_event();
        assert!(
            matches!(
                got,
                Err(Error::Protocol(ProtocolError::ReservedBitsSet { .. }))
            ),
            "{frame:x?}: {got:?}"
        );
    }
}

#[test]
fn an_extension_offered_by_name_only_is_refused_when_accepted() {
    // The trap: deflate offered by hand with the implementation turned off.
    let request = url().extension("permessage-deflate");
    let (_, _, response) = open(request, Config::default().deflate(None), Config::default());
    match response {
        Err(Error::Handshake(HandshakeError::Response(ResponseError::ExtensionNotSupported(
            name,
        )))) => assert_eq!(name, "permessage-deflate"),
        other => panic!("{other:?}"),
    }
    // The same for a custom extension the server runs and the client does not.
    let request = url().extension("x-reverse");
    let server = Config::default().extension(ReverseOffer);
    let (_, _, response) = open(request, Config::default().deflate(None), server);
    assert!(
        matches!(
            response,
            Err(Error::Handshake(HandshakeError::Response(
                ResponseError::ExtensionNotSupported(_)
            )))
        ),
        "{response:?}"
    );
}

#[test]
fn frame_mode_hands_encoded_frames_through_and_send_frame_follows_the_same_rule() {
    let config = || Config::default().deflate(None).extension(ReverseOffer);
    let (mut client, mut server, _) = open(url(), config(), config().deliver_frames(1024));
    client.send_text("abc").unwrap();
    pump(&mut client, &mut server);
    let Ok(Some(Event::Frame(frame))) = server.poll_event() else {
        panic!("a frame")
    };
    assert_eq!((frame.rsv, &frame.data[..]), (RSV3, &b"cba"[..]), "as sent");
    // send_frame: RSV3 (owned) passes, RSV2 does not.
    server.send_frame(*frame.clone()).unwrap();
    let mut other = *frame;
    other.rsv = 0b010;
    assert!(server.send_frame(other).is_err());
    pump(&mut server, &mut client);
    assert_eq!(client.poll_event(), Ok(Some(Event::Text("abc".into()))));
    let _ = Role::Client;
}
