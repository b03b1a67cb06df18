//! wss:// over 127.0.0.1 with a self-signed certificate made by rcgen.

#![cfg(feature = "rustls")]

mod common;

use std::sync::Arc;

use common::{accept_tcp, bound, echo_until_close, listener, read_until_close};
use ws_blocking::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use ws_blocking::rustls::{
    self, ClientConfig, RootCertStore, ServerConfig, ServerConnection, StreamOwned,
};
use ws_blocking::{accept, connect_with, ClientRequest, CloseCode, Config, Error, Message};

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A certificate for 127.0.0.1 and the server configuration using it.
fn server_config() -> (CertificateDer<'static>, Arc<ServerConfig>) {
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let cert = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    (cert, Arc::new(config))
}

fn client_config(roots: RootCertStore) -> Arc<ClientConfig> {
    Arc::new(
        ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// A TLS echo server for one connection; returns the `wss://` URL and the thread.
fn tls_echo_server(
    config: Arc<ServerConfig>,
) -> (String, std::thread::JoinHandle<Result<CloseCode, Error>>) {
    let (listener, addr) = listener();
    let server = std::thread::spawn(move || {
        let tcp = accept_tcp(&listener)?;
        let tls = StreamOwned::new(ServerConnection::new(config)?, tcp);
        let mut ws = accept(tls)?;
        echo_until_close(&mut ws).map(|frame| frame.code)
    });
    (format!("wss://{addr}"), server)
}

#[test]
fn wss_with_a_custom_root_store() {
    let (cert, config) = server_config();
    let (url, server) = tls_echo_server(config);
    let mut roots = RootCertStore::empty();
    roots.add(cert).unwrap();
    let request = ClientRequest::from_url(&format!("{url}/secure")).unwrap();
    let (mut ws, _) = connect_with(request, Config::default(), Some(client_config(roots))).unwrap();
    bound(ws.get_ref().tcp()).unwrap();
    assert!(matches!(
        ws.get_ref(),
        ws_blocking::MaybeTlsStream::Rustls(_)
    ));
    ws.send(Message::text("over tls")).unwrap();
    assert_eq!(ws.read().unwrap(), Message::text("over tls"));
    let big = vec![0x5a; 300_000];
    ws.send(Message::binary(big.clone())).unwrap();
    assert_eq!(ws.read().unwrap(), Message::binary(big));
    ws.close(CloseCode::NORMAL, "bye").unwrap();
    assert_eq!(read_until_close(&mut ws).unwrap().code, CloseCode::NORMAL);
    // The server's close_notify and FIN end the connection.
    assert!(matches!(ws.read(), Err(Error::ConnectionClosed)));
    assert_eq!(server.join().unwrap().unwrap(), CloseCode::NORMAL);
}

#[test]
fn the_default_roots_refuse_a_self_signed_certificate() {
    let (_, config) = server_config();
    let (url, server) = tls_echo_server(config);
    let request = ClientRequest::from_url(&url).unwrap();
    let err = connect_with(request, Config::default(), None).unwrap_err();
    assert!(
        matches!(err, Error::Tls(rustls::Error::InvalidCertificate(_))),
        "{err:?}"
    );
    // The server's handshake fails on the client's alert.
    assert!(server.join().unwrap().is_err());
}
