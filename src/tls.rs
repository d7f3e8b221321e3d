//! TLS for STARTTLS (RFC 3207) and STLS (RFC 2595): loading the
//! certificate, and the self-signed one `nmail init` makes so that TLS is
//! offered from the first start.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
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
