//! `wss://` over loopback with a self-signed certificate and custom roots.

#![cfg(feature = "rustls")]

mod common;

use std::sync::Arc;

use common::{accept_tcp, echo, listener, within};
use ws_tokio::rustls::crypto::ring::default_provider;
use ws_tokio::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use ws_tokio::rustls::{ClientConfig, RootCertStore, ServerConfig};
use ws_tokio::tokio_rustls::TlsAcceptor;
use ws_tokio::{
    accept, connect, connect_with, ClientRequest, CloseCode, Config, Connector, Error, Message,
};

/// A TLS echo server for `localhost` and the certificate to trust.
async fn tls_echo_server() -> (u16, CertificateDer<'static>, common::AbortOnDrop) {
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert = generated.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        generated.signing_key.serialize_der(),
    ));
    let config = ServerConfig::builder_with_provider(Arc::new(default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let (listener, addr) = listener().await;
    let task = tokio::spawn(async move {
        loop {
            let tcp = accept_tcp(&listener).await;
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                if let Ok(ws) = accept(tls).await {
                    echo(ws).await;
                }
            });
        }
    });
    (addr.port(), cert, common::AbortOnDrop(task))
}

fn trusting(cert: CertificateDer<'static>) -> Connector {
    let mut roots = RootCertStore::empty();
    roots.add(cert).unwrap();
    let config = ClientConfig::builder_with_provider(Arc::new(default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Connector::Rustls(Arc::new(config))
}

#[tokio::test]
async fn wss_with_custom_roots_echoes_and_closes() {
    within(async {
        let (port, cert, _server) = tls_echo_server().await;
        let request = ClientRequest::from_url(&format!("wss://localhost:{port}/secure")).unwrap();
        let (mut ws, _) = connect_with(request, Config::default(), Some(trusting(cert)))
            .await
            .unwrap();
        ws.send(Message::text("over TLS")).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("over TLS"));
        let big = Message::binary(vec![5u8; 1 << 20]);
        ws.send(big.clone()).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), big);
        ws.close(CloseCode::NORMAL, "").await.unwrap();
        assert!(ws.recv().await.is_none());
    })
    .await;
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_tls_error() {
    within(async {
        let (port, _cert, _server) = tls_echo_server().await;
        // The default connector trusts only the webpki roots.
        let err = connect(&format!("wss://localhost:{port}/"))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Tls(_)), "{err:?}");
        let request = ClientRequest::from_url(&format!("wss://localhost:{port}/")).unwrap();
        let err = connect_with(request, Config::default(), Some(Connector::Plain))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Tls(_)), "{err:?}");
    })
    .await;
}
