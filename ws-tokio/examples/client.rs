//! A one-shot client: connects, sends one text message, prints the first
//! text message it gets back, closes with 1000.
//!
//! ```text
//! cargo run -p ws-tokio --example client -- URL MESSAGE
//! ```
//!
//! It goes through a proxy when the environment names one for the URL, as
//! curl does: `HTTPS_PROXY` for `wss://`, `HTTP_PROXY` for `ws://`,
//! `ALL_PROXY` otherwise, `NO_PROXY` for exceptions (lowercase names too);
//! `http://user:pass@host:port` for an HTTP proxy (CONNECT),
//! `socks5://` or `socks5h://` for SOCKS5 (with `h`, the proxy resolves
//! the name).
//!
//! For `wss://` it trusts the webpki roots, or, when `SSL_CERT_FILE` names
//! a PEM file, the certificates in it instead (a test server's self-signed
//! certificate, say).
//!
//! On success it prints the reply on one line and exits 0; on any failure
//! it prints the error on standard error and exits 1 (2 for bad usage).
//!
//! ```text
//! $ HTTPS_PROXY=http://user:pass@127.0.0.1:3128 cargo run -p ws-tokio --example client -- wss://echo.example/ hello
//! hello
//! $ ALL_PROXY=socks5h://127.0.0.1:1 cargo run -p ws-tokio --example client -- ws://example.com/ hi
//! error: I/O error: cannot connect to the proxy socks5h://127.0.0.1:1: Connection refused (os error 111)
//! ```

use std::process::ExitCode;

use ws_tokio::{connect_with, ClientRequest, CloseCode, Config, Connector, Error, Message};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, message] = args.as_slice() else {
        eprintln!("usage: client URL MESSAGE");
        return ExitCode::from(2);
    };
    match run(url, message).await {
        Ok(reply) => {
            println!("{reply}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run(url: &str, message: &str) -> Result<String, Error> {
    let request = ClientRequest::from_url(url)?;
    let connector = match std::env::var_os("SSL_CERT_FILE") {
        Some(path) => Some(trusting(&path)?),
        None => None,
    };
    let (mut ws, _) = connect_with(request, Config::default(), connector).await?;
    ws.send(Message::text(message)).await?;
    let reply = loop {
        match ws.recv().await {
            Some(Ok(Message::Text(text))) => break text,
            Some(Ok(_)) => continue,
            Some(Err(err)) => return Err(err),
            None => return Err(Error::ConnectionClosed),
        }
    };
    ws.close(CloseCode::NORMAL, "").await?;
    Ok(reply.to_string())
}

/// rustls trusting only the certificates in a PEM file.
fn trusting(path: &std::ffi::OsStr) -> Result<Connector, Error> {
    use std::sync::Arc;
    use ws_tokio::rustls::pki_types::pem::PemObject;
    use ws_tokio::rustls::pki_types::CertificateDer;
    use ws_tokio::rustls::{self, ClientConfig, RootCertStore};

    let tls = |err: &dyn std::fmt::Display| Error::Tls(format!("SSL_CERT_FILE: {err}").into());
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path).map_err(|e| tls(&e))? {
        roots.add(cert.map_err(|e| tls(&e))?).map_err(|e| tls(&e))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls(&e))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Connector::Rustls(Arc::new(config)))
}
