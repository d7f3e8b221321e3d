//! TLS for STARTTLS (RFC 3207) and STLS (RFC 2595): loading the
//! certificate, and the self-signed one `nmail init` makes so that TLS is
//! offered from the first start.

use std::path::Path;
use std::sync::Arc;

use std::time::Duration;

use anyhow::{Context, Result};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tracing::{info, warn};

use crate::conn::Conn;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// Installs ring as the process's crypto provider (once).
pub fn install_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Builds the acceptor from PEM files; `None` when either file is missing.
pub fn load(cert: &Path, key: &Path) -> Result<Option<TlsAcceptor>> {
    if !cert.exists() || !key.exists() {
        return Ok(None);
    }
    install_provider();
    let certs = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("reading {}", cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("parsing {}", cert.display()))?;
    if certs.is_empty() {
        anyhow::bail!("{} holds no PEM certificate", cert.display());
    }
    let key =
        PrivateKeyDer::from_pem_file(key).with_context(|| format!("reading {}", key.display()))?;
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("certificate and key do not match")?;
    Ok(Some(TlsAcceptor::from(Arc::new(config))))
}

/// Writes a self-signed certificate for `hostname` and its key (mode 0600),
/// unless they exist.
pub fn make_self_signed(hostname: &str, cert: &Path, key: &Path) -> Result<bool> {
    if cert.exists() || key.exists() {
        return Ok(false);
    }
    install_provider();
    let ck = rcgen::generate_simple_self_signed(vec![hostname.to_string()])
        .context("generating a self-signed certificate")?;
    if let Some(dir) = cert.parent() {
        nmail_sync::fsutil::create_dir_all_durable(dir)?;
    }
    nmail_sync::fsutil::write_file_atomic(key, ck.signing_key.serialize_pem().as_bytes(), 0o600)?;
    nmail_sync::fsutil::write_file_atomic(cert, ck.cert.pem().as_bytes(), 0o644)?;
    Ok(true)
}

/// Upgrades a connection after STARTTLS (SMTP) or STLS (POP3) was answered.
///
/// Bytes the client sent after the command, before the handshake, are
/// thrown away: RFC 3207 §4.2 and RFC 2595 §4 forbid acting on them, and
/// running them as if they had come over TLS is the injection of
/// CVE-2011-0411. `None` when the handshake fails or times out.
pub async fn upgrade(
    acceptor: &TlsAcceptor,
    conn: Conn<TcpStream>,
    timeout: Duration,
) -> Option<Conn<TlsStream<TcpStream>>> {
    let (tcp, buffered) = conn.into_parts();
    if !buffered.is_empty() {
        warn!(
            octets = buffered.len(),
            "discarded plaintext pipelined before the TLS handshake"
        );
    }
    match tokio::time::timeout(timeout, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => {
            info!("TLS established");
            Some(Conn::new(tls))
        }
        Ok(Err(e)) => {
            info!(error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            info!("TLS handshake timed out");
            None
        }
    }
}
