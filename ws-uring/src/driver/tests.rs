//! Unit tests of the driver over loopback sockets.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

use ws_proto::{Event, Message, ReadyState, Role};

use super::*;
use crate::runtime::DEFAULT_HIGH_WATER_MARK;

fn runtime(test: &str) -> Option<Runtime> {
    match Runtime::builder()
        .queue_depth(64)
        .receive_buffers(16, 16 * 1024)
        .build()
    {
        Ok(rt) => Some(rt),
        Err(err) if err.is_unavailable() => {
            eprintln!("{test}: skipped: {err}");
            None
        }
        Err(err) => panic!("{test}: {err}"),
    }
}

/// A server connection on `rt`, already open (handshake done by a raw
/// client), and that client's socket.
fn open_server(rt: &mut Runtime, config: Config) -> (ConnId, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let (tcp, _) = listener.accept().unwrap();
    let id = rt.add_server(tcp, config).unwrap();
    client
        .write_all(
            b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        )
        .unwrap();
    let mut events = Vec::new();
    for _ in 0..100 {
        rt.turn(&mut events, Some(Duration::from_millis(100)))
            .unwrap();
        if let Some(RuntimeEvent::Event {
            event: Event::Request(request),
            ..
        }) = events.pop()
        {
            rt.respond(id, request.accept()).unwrap();
            break;
        }
    }
    assert_eq!(rt.connection(id).unwrap().ready_state(), ReadyState::Open);
    while rt.buffered_amount(id) != Some(0) {
        rt.turn(&mut events, Some(Duration::from_millis(100)))
            .unwrap();
    }
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") {
        client.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101 "));
    (id, client)
}

/// The bytes a client connection sends for `message`.
fn from_client(message: Message) -> Vec<u8> {
    let mut client = Connection::new(Role::Client, Config::default());
    client.send(message).unwrap();
    client.transmit_slices().flatten().copied().collect()
}

#[test]
fn a_turn_with_nothing_to_wait_for_returns_at_once() {
    let Some(mut rt) = runtime("a_turn_with_nothing_to_wait_for_returns_at_once") else {
        return;
    };
    let started = Instant::now();
    assert_eq!(rt.turn(&mut Vec::new(), None).unwrap(), 0);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn keepalive_does_not_grow_the_timer_heap() {
    let Some(mut rt) = runtime("keepalive_does_not_grow_the_timer_heap") else {
        return;
    };
    let config = Config::default()
        .ping_interval(Some(Duration::from_secs(30)))
        .idle_timeout(Some(Duration::from_secs(60)));
    let (id, mut client) = open_server(&mut rt, config);
    // A second connection, silent in its handshake: its earlier
    // deadline (the handshake timeout) stays at the top of the heap, so
    // stale entries behind it are not popped as they go by.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let _silent = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    rt.add_server(listener.accept().unwrap().0, Config::default())
        .unwrap();
    let mut events = Vec::new();
    for i in 0..200 {
        client
            .write_all(&from_client(Message::text(format!("{i}"))))
            .unwrap();
        rt.turn(&mut events, Some(Duration::from_millis(100)))
            .unwrap();
    }
    assert!(rt.timers.len() <= 4, "{} timer entries", rt.timers.len());
    assert!(rt.connection(id).is_some());
}

#[test]
fn above_the_high_water_mark_the_receive_is_cancelled() {
    let Some(mut rt) = runtime("above_the_high_water_mark_the_receive_is_cancelled") else {
        return;
    };
    let (id, client) = open_server(&mut rt, Config::default());
    // The client never reads: 8 MiB queued cannot all be taken.
    for _ in 0..128 {
        rt.send(id, Message::binary(vec![7u8; 64 * 1024])).unwrap();
    }
    let mut events = Vec::new();
    for _ in 0..50 {
        rt.turn(&mut events, Some(Duration::from_millis(20)))
            .unwrap();
    }
    let slot = rt.slot(id).unwrap();
    assert!(slot.conn.buffered_amount() > DEFAULT_HIGH_WATER_MARK);
    assert_eq!(slot.recv, Recv::Idle, "reading stopped");
    drop(client);
}

#[test]
fn a_finished_connection_is_refused_by_its_old_id() {
    let Some(mut rt) = runtime("a_finished_connection_is_refused_by_its_old_id") else {
        return;
    };
    let (id, client) = open_server(&mut rt, Config::default());
    drop(client);
    let mut events = Vec::new();
    for _ in 0..100 {
        rt.turn(&mut events, Some(Duration::from_millis(100)))
            .unwrap();
        if events
            .iter()
            .any(|e| matches!(e, RuntimeEvent::Finished { conn } if *conn == id))
        {
            break;
        }
    }
    assert!(
        matches!(
            events.first(),
            Some(RuntimeEvent::Event { event: Event::Close(frame), .. }) if frame.code == ws_proto::CloseCode::ABNORMAL
        ),
        "{events:?}"
    );
    assert!(matches!(
        rt.send(id, Message::text("late")),
        Err(Error::UnknownConnection)
    ));
    // The slot is reused under a new generation.
    let (again, _client) = open_server(&mut rt, Config::default());
    assert_eq!(again.index, id.index);
    assert_ne!(again, id);
    assert_eq!(rt.connections(), 1);
    assert_eq!(rt.in_flight, 1, "only the new connection's receive");
}

#[test]
fn a_close_to_a_peer_that_does_not_read_ends_at_the_close_timeout() {
    let Some(mut rt) = runtime("a_close_to_a_peer_that_does_not_read_ends_at_the_close_timeout")
    else {
        return;
    };
    let config = Config::default().close_timeout(Duration::from_millis(300));
    let (id, client) = open_server(&mut rt, config);
    // The client never reads: most of 8 MiB stays queued, a send in flight.
    for _ in 0..128 {
        rt.send(id, Message::binary(vec![7u8; 64 * 1024])).unwrap();
    }
    let mut events = Vec::new();
    for _ in 0..10 {
        rt.turn(&mut events, Some(Duration::from_millis(20)))
            .unwrap();
    }
    assert!(
        rt.slot(id).unwrap().send.is_some(),
        "a send is stuck in flight"
    );
    rt.close(id, ws_proto::CloseCode::NORMAL, "").unwrap();
    let started = Instant::now();
    while rt.connection(id).is_some() && started.elapsed() < Duration::from_secs(10) {
        rt.turn(&mut events, Some(Duration::from_millis(50)))
            .unwrap();
    }
    let waited = started.elapsed();
    // The close timer, then the linger timer (the core's close timeout
    // each), dropped the queue; the send in flight was cancelled.
    assert!(rt.connection(id).is_none(), "still open after {waited:?}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    assert!(events
        .iter()
        .any(|e| matches!(e, RuntimeEvent::Finished { conn } if *conn == id)));
    assert_eq!(rt.in_flight, 0, "nothing left in the kernel");
    drop(client);
}

#[test]
fn lent_sends_arrive_whole_and_in_order_across_partial_sends() {
    let Some(mut rt) = runtime("lent_sends_arrive_whole_and_in_order_across_partial_sends") else {
        return;
    };
    let (id, mut client) = open_server(&mut rt, Config::default());
    // Small socket buffers: sends stop part way.
    let small = 16 * 1024;
    for (fd, option) in [
        (rt.slot(id).unwrap().tcp.as_raw_fd(), libc::SO_SNDBUF),
        (client.as_raw_fd(), libc::SO_RCVBUF),
    ] {
        // SAFETY: a valid socket and an `int` option of the right size.
        let rc = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                option,
                (&small as *const i32).cast(),
                std::mem::size_of::<i32>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0);
    }
    // What the same messages look like on the wire, from a reference core.
    let mut reference = Connection::new(Role::Server, Config::default());
    let messages: Vec<Message> = (0..300u32)
        .map(|i| match i % 3 {
            0 => Message::text(format!("small {i}")),
            // Queued by reference in the core: a vectored send.
            1 => Message::binary(vec![i as u8; 5000 + i as usize]),
            _ => Message::binary(vec![i as u8; 100]),
        })
        .collect();
    let mut expected = Vec::new();
    for message in &messages {
        reference.send(message.clone()).unwrap();
    }
    while let Some(bytes) = reference.poll_transmit() {
        expected.extend_from_slice(&bytes);
    }
    // The client does not read yet: the first sends fill the socket and
    // stop part way, and the second half is queued while they are in
    // flight (into fresh room, not moving the lent bytes).
    let (first, second) = messages.split_at(150);
    let mut events = Vec::new();
    for message in first {
        rt.send(id, message.clone()).unwrap();
    }
    for _ in 0..5 {
        rt.turn(&mut events, Some(Duration::from_millis(10)))
            .unwrap();
    }
    for message in second {
        rt.send(id, message.clone()).unwrap();
    }
    let total = expected.len();
    let reader = std::thread::spawn(move || {
        let mut got = vec![0u8; total];
        let mut at = 0;
        while at < total {
            // Small reads, slowly at first: many partial sends.
            let end = (at + 7000).min(total);
            at += client.read(&mut got[at..end]).unwrap();
            if at < total / 4 {
                std::thread::sleep(Duration::from_micros(200));
            }
        }
        got
    });
    let started = Instant::now();
    while rt.buffered_amount(id) != Some(0) && started.elapsed() < Duration::from_secs(20) {
        rt.turn(&mut events, Some(Duration::from_millis(10)))
            .unwrap();
    }
    assert_eq!(rt.buffered_amount(id), Some(0));
    let got = reader.join().unwrap();
    assert!(got == expected, "the bytes sent differ from the queue's");
}
