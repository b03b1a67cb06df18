//! `connect_with_proxy` over loopback with in-test proxies: a SOCKS5 proxy
//! with RFC 1929 credentials that tunnels, one that refuses with a reply
//! code, and one that never answers (the handshake timeout covers the
//! tunnel). The real proxies are in tests/proxy/run.sh.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use ws_blocking::ws_proto::handshake::proxy::{Proxy, ProxyError, ProxySetting};
use ws_blocking::{accept, connect_with_proxy, ClientRequest, Config, Error, Message};

const LIMIT: Duration = Duration::from_secs(10);

/// A WebSocket echo server for one connection; returns its port.
fn echo_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(LIMIT)).unwrap();
        let mut ws = accept(tcp).unwrap();
        while let Ok(message) = ws.read() {
            if message.is_data() && ws.send(message).is_err() {
                break;
            }
        }
    });
    port
}

fn read_n(tcp: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    tcp.read_exact(&mut buf).unwrap();
    buf
}

/// A SOCKS5 proxy for one connection wanting u/p; answers the CONNECT with
/// `code`, and tunnels on success. Returns its port.
fn socks_proxy(code: u8) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        let (mut client, _) = listener.accept().unwrap();
        client.set_read_timeout(Some(LIMIT)).unwrap();
        let greeting = read_n(&mut client, 2);
        assert!(read_n(&mut client, greeting[1].into()).contains(&2));
        client.write_all(&[5, 2]).unwrap();
        assert_eq!(read_n(&mut client, 6), [1, 1, b'u', 2, b'p', b'w']);
        client.write_all(&[1, 0]).unwrap();
        let head = read_n(&mut client, 4);
        assert_eq!(head, [5, 1, 0, 1], "an IPv4 address");
        let address = read_n(&mut client, 6);
        client
            .write_all(&[5, code, 0, 1, 0, 0, 0, 0, 0, 0])
            .unwrap();
        if code != 0 {
            return;
        }
        let port = u16::from_be_bytes([address[4], address[5]]);
        let upstream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (mut a, mut b) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
        thread::spawn(move || {
            let _ = std::io::copy(&mut a, &mut b);
            let _ = b.shutdown(Shutdown::Write);
        });
        let (mut a, mut b) = (upstream, client);
        let _ = std::io::copy(&mut a, &mut b);
        let _ = b.shutdown(Shutdown::Write);
    });
    port
}

fn request(port: u16) -> ClientRequest {
    ClientRequest::from_url(&format!("ws://127.0.0.1:{port}/")).unwrap()
}

fn socks(port: u16) -> ProxySetting {
    ProxySetting::Use(Proxy::parse(&format!("socks5://u:pw@127.0.0.1:{port}")).unwrap())
}

#[test]
fn echo_through_socks5_with_credentials() {
    let (server, proxy) = (echo_server(), socks_proxy(0));
    let (mut ws, _) =
        connect_with_proxy(request(server), Config::default(), None, socks(proxy)).unwrap();
    ws.send(Message::text("through")).unwrap();
    assert_eq!(ws.read().unwrap(), Message::text("through"));
}

#[test]
fn a_socks_reply_code_is_an_error_in_words() {
    let proxy = socks_proxy(4);
    let err = connect_with_proxy(request(9), Config::default(), None, socks(proxy)).unwrap_err();
    assert!(
        matches!(err, Error::Proxy(ProxyError::SocksReply { code: 4 })),
        "{err:?}"
    );
    assert!(err.to_string().contains("host unreachable"), "{err}");
}

#[test]
fn the_handshake_timeout_covers_a_silent_proxy() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        let held = listener.accept();
        thread::sleep(Duration::from_secs(5));
        drop(held);
    });
    let proxy = ProxySetting::Use(Proxy::parse(&format!("http://127.0.0.1:{port}")).unwrap());
    let config = Config::default().handshake_timeout(Duration::from_millis(300));
    let started = Instant::now();
    let err = connect_with_proxy(request(9), config, None, proxy).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Handshake(ws_blocking::HandshakeError::TimedOut { .. })
        ),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
}
