//! TLS to the database through rustls (no OpenSSL): the CAs in `store.ca_file`, else
//! the built-in web roots.

use super::PgError;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use std::path::Path;
use std::sync::Arc;

pub(super) fn connector(
    ca_file: Option<&Path>,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect, PgError> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(p) => {
            let bytes = std::fs::read(p)
                .map_err(|e| PgError::Config(format!("store.ca_file {}: {e}", p.display())))?;
            let mut n = 0;
            for c in CertificateDer::pem_slice_iter(&bytes) {
                let c =
                    c.map_err(|e| PgError::Config(format!("store.ca_file {}: {e}", p.display())))?;
                roots
                    .add(c)
                    .map_err(|e| PgError::Config(format!("store.ca_file {}: {e}", p.display())))?;
                n += 1;
            }
            if n == 0 {
                return Err(PgError::Config(format!(
                    "store.ca_file {}: no PEM certificate in it",
                    p.display()
                )));
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| PgError::Config(format!("TLS: {e}")))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}
