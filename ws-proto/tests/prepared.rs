//! Property tests for prepared messages: a prepared send puts exactly the
//! bytes of a plain send on the wire, whatever the payload, frame limit and
//! permessage-deflate agreement, and the peer decodes the same message.

use bytes::Bytes;
use proptest::prelude::*;
use ws_proto::{
    Config, Connection, DeflateConfig, Event, Extensions, Message, PreparedMessage, Role,
    SendOptions,
};

fn drain(conn: &mut Connection) -> Vec<u8> {
    let mut wire = Vec::new();
    while let Some(bytes) = conn.poll_transmit() {
        wire.extend_from_slice(&bytes);
    }
    wire
}

fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => prop::collection::vec(any::<u8>(), 0..700),
        1 => prop::collection::vec(0u8..4, 60_000..70_000),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn uncompressed_prepared_sends_match_plain_sends(
        data in payload(),
        text in any::<bool>(),
        max_frame in prop_oneof![Just(usize::MAX), 1usize..2000],
        compress in any::<bool>(),
    ) {
        let config = Config::default().max_send_frame_size(max_frame);
        let message = if text {
            Message::text(String::from_utf8_lossy(&data).into_owned())
        } else {
            Message::binary(Bytes::from(data))
        };
        let options = SendOptions::default().compress(compress);
        let mut plain = Connection::new(Role::Server, config.clone());
        plain.send_with(message.clone(), options).unwrap();
        let mut shared = Connection::new(Role::Server, config);
        let prepared = PreparedMessage::new(message, options).unwrap();
        shared.send_prepared(&prepared).unwrap();
        prop_assert_eq!(shared.buffered_amount(), plain.buffered_amount());
        prop_assert_eq!(drain(&mut shared), drain(&mut plain));
    }

    #[test]
    fn every_deflate_agreement_decodes_the_prepared_message(
        data in payload(),
        offer in prop::sample::select(vec![
            "permessage-deflate",
            "permessage-deflate; server_no_context_takeover",
            "permessage-deflate; server_max_window_bits=9",
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=11",
        ]),
        server_asks in any::<bool>(),
        max_frame in prop_oneof![Just(usize::MAX), 50usize..5000],
        repeat in 1usize..4,
    ) {
        let server = DeflateConfig::default().server_no_context_takeover(server_asks);
        let agreed = server.negotiate([offer].into_iter());
        prop_assert!(agreed.is_some());
        let config = Config::default().max_send_frame_size(max_frame);
        let mut sender = Connection::with_extensions(Role::Server, config, Extensions::deflate(agreed.clone()));
        let mut receiver = Connection::with_extensions(Role::Client, Config::default(), Extensions::deflate(agreed));
        let prepared = PreparedMessage::binary(data.clone());
        for _ in 0..repeat {
            sender.send_prepared(&prepared).unwrap();
            receiver.receive(&drain(&mut sender));
            prop_assert_eq!(receiver.poll_event(), Ok(Some(Event::Binary(Bytes::from(data.clone())))));
        }
        prop_assert!(prepared.compressed_copies() <= 1);
    }
}
