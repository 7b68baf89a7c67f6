//! The TLS client settings every connection of ours uses (IMAP, SMTP, PostgreSQL): rustls
//! with ring, the web PKI roots, plus a CA file of the admin's when one is configured. The
//! server's certificate and name are always verified.

use std::path::Path;
use std::sync::Arc;

/// Why the TLS settings could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// The CA file cannot be read, holds no certificate, or a bad one.
    #[error("{path}: {reason}")]
    Ca { path: String, reason: String },
    /// rustls refused the protocol versions (does not happen with its defaults).
    #[error("TLS: {0}")]
    Protocol(String),
}

/// A client configuration trusting the web PKI roots plus every certificate of `ca_file`
/// (PEM), when given.
///
/// # Errors
/// [`TlsSetupError::Ca`] for an unreadable or empty CA file.
pub fn client_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig, TlsSetupError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(p) = ca_file {
        let ca = |reason: String| TlsSetupError::Ca {
            path: p.display().to_string(),
            reason,
        };
        let pem = std::fs::read(p).map_err(|e| ca(e.to_string()))?;
        let mut found = false;
        for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(&pem) {
            let cert: rustls::pki_types::CertificateDer<'static> =
                cert.map_err(|e| ca(e.to_string()))?;
            roots.add(cert).map_err(|e| ca(e.to_string()))?;
            found = true;
        }
        if !found {
            return Err(ca("no certificate in file".into()));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsSetupError::Protocol(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}
