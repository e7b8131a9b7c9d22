//! TLS for the control endpoint: a certificate from PEM files or self-signed at start
//! (rcgen), served with rustls; its SHA-256 fingerprint, and a client that trusts one
//! certificate by that fingerprint (`ctl --fingerprint`).

use std::net::SocketAddr;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use sha2::Digest;

/// A server's TLS settings and its certificate's fingerprint.
pub struct ServerTls {
    pub config: Arc<rustls::ServerConfig>,
    pub fingerprint: String,
}

/// `SHA256:AB:CD:…`, as browsers show a certificate's fingerprint.
pub fn fingerprint(der: &[u8]) -> String {
    let hex: Vec<String> = sha2::Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    format!("SHA256:{}", hex.join(":"))
}

/// A fingerprint as a person may paste it (`SHA256:AB:…`, `ab…`, with or without
/// colons) to its 32 bytes.
pub fn parse_fingerprint(text: &str) -> Result<[u8; 32], String> {
    let t = text.trim();
    let t = t
        .strip_prefix("SHA256:")
        .or_else(|| t.strip_prefix("sha256:"))
        .unwrap_or(t);
    let hex: String = t.chars().filter(|c| *c != ':').collect();
    let bad =
        || format!("`{text}` is not a SHA-256 fingerprint (64 hex digits, as `run` printed it)");
    if hex.len() != 64 {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (i, chunk) in hex.as_bytes().chunks(2).enumerate() {
        let s = std::str::from_utf8(chunk).map_err(|_| bad())?;
        out[i] = u8::from_str_radix(s, 16).map_err(|_| bad())?;
    }
    Ok(out)
}

fn server_config(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<ServerTls, String> {
    crate::client::install_crypto();
    let fingerprint = certs
        .first()
        .map(|c| fingerprint(c.as_ref()))
        .ok_or("the certificate file holds no certificate")?;
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("the certificate and key do not go together: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(ServerTls {
        config: Arc::new(config),
        fingerprint,
    })
}

/// A certificate made now for `hosts` (names or addresses), its key kept in memory.
pub fn self_signed(hosts: Vec<String>) -> Result<ServerTls, String> {
    let pem = made_pem(hosts)?;
    from_pem(pem.as_bytes(), pem.as_bytes())
}

/// A self-signed certificate made now for `hosts`, and its key: PEM, one after the other.
fn made_pem(hosts: Vec<String>) -> Result<String, String> {
    let made = rcgen::generate_simple_self_signed(hosts)
        .map_err(|e| format!("cannot make a certificate: {e}"))?;
    Ok(format!(
        "{}{}",
        made.cert.pem(),
        made.signing_key.serialize_pem()
    ))
}

/// A self-signed certificate kept in `path` (PEM: the certificate, then its key; only
/// its owner may read it): the one there when the file exists, else one made now for
/// `hosts` and written there first. A run's resume (and every later run on the same
/// journal) then serves the same certificate, so every controller's `--fingerprint`
/// and every browser's exception stay good across a crash.
pub fn self_signed_kept(hosts: Vec<String>, path: &std::path::Path) -> Result<ServerTls, String> {
    if let Ok(pem) = std::fs::read(path) {
        return from_pem(&pem, &pem).map_err(|e| {
            format!(
                "{} (the certificate kept for this journal): {e}",
                path.display()
            )
        });
    }
    let pem = made_pem(hosts)?;
    write_private(path, pem.as_bytes())
        .map_err(|e| format!("cannot keep the certificate in {}: {e}", path.display()))?;
    from_pem(pem.as_bytes(), pem.as_bytes())
}

/// Write `bytes` to a new file at `path` that only its owner may read.
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// A certificate chain and key from PEM text.
pub fn from_pem(cert: &[u8], key: &[u8]) -> Result<ServerTls, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("the certificate file is not PEM: {e}"))?;
    if certs.is_empty() {
        return Err(
            "the certificate file holds no certificate (`-----BEGIN CERTIFICATE-----`)".into(),
        );
    }
    let key = PrivateKeyDer::from_pem_slice(key)
        .map_err(|e| format!("the key file holds no private key in PEM: {e}"))?;
    server_config(certs, key)
}

/// Serve `app` over TLS on `listener`, a connection per task (a failed handshake drops
/// that connection only), until `stop` says so; then each connection finishes what it
/// is answering and closes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    tls: Arc<rustls::ServerConfig>,
    app: axum::Router,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.changed() => break,
        };
        let Ok((tcp, _peer)) = accepted else {
            continue;
        };
        let (acceptor, app, mut stop) = (acceptor.clone(), app.clone(), stop.clone());
        connections.spawn(async move {
            let Ok(stream) = acceptor.accept(tcp).await else {
                return;
            };
            let service = hyper_util::service::TowerToHyperService::new(app);
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
    while connections.join_next().await.is_some() {}
}

/// The names a self-signed certificate for `addr` covers.
pub fn hosts_for(addr: SocketAddr) -> Vec<String> {
    let mut hosts = vec![addr.ip().to_string(), "localhost".to_string()];
    if let Ok(name) = std::fs::read_to_string("/etc/hostname") {
        let name = name.trim();
        if !name.is_empty() {
            hosts.push(name.to_string());
        }
    }
    hosts
}

/// Trusts exactly the certificate with this SHA-256, whatever its name or issuer.
#[derive(Debug)]
struct Pinned {
    sha256: [u8; 32],
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl rustls::client::danger::ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        let seen: [u8; 32] = sha2::Sha256::digest(end_entity.as_ref()).into();
        let same = seen
            .iter()
            .zip(&self.sha256)
            .fold(0u8, |a, (x, y)| a | (x ^ y))
            == 0;
        if same {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(format!(
                "the run's certificate has the fingerprint {}, not the one given",
                fingerprint(end_entity.as_ref())
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A client TLS configuration that trusts only the certificate with `sha256`.
pub fn pinned_client(sha256: [u8; 32]) -> rustls::ClientConfig {
    crate::client::install_crypto();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Pinned { sha256, provider }))
        .with_no_client_auth()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_read_back_however_pasted() {
        let f = fingerprint(b"certificate");
        let bytes = parse_fingerprint(&f).unwrap();
        let plain: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(parse_fingerprint(&plain).unwrap(), bytes);
        assert!(parse_fingerprint("SHA256:12:34").is_err());
        assert!(
            self_signed(vec!["localhost".into()])
                .unwrap()
                .fingerprint
                .starts_with("SHA256:")
        );
    }
}
