//! TLS for the registry (`--tls-cert`, `--tls-key`) with rustls on ring.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("could not read {what} {path:?}: {detail}")]
    Load {
        what: &'static str,
        path: PathBuf,
        detail: String,
    },
    #[error("TLS certificate {cert:?} and key {key:?}: {detail}")]
    Config {
        cert: PathBuf,
        key: PathBuf,
        detail: String,
    },
}

fn load_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(String) -> TlsError + 'a {
    move |detail| TlsError::Load {
        what,
        path: path.to_path_buf(),
        detail,
    }
}

pub fn acceptor(files: &TlsFiles) -> Result<TlsAcceptor, TlsError> {
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| load_err("TLS certificate", &files.cert)(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| load_err("TLS certificate", &files.cert)(e.to_string()))?;
    if certs.is_empty() {
        return Err(load_err("TLS certificate", &files.cert)(
            "no PEM certificate found".into(),
        ));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| load_err("TLS key", &files.key)(e.to_string()))?;
    let config_err = |detail: String| TlsError::Config {
        cert: files.cert.clone(),
        key: files.key.clone(),
        detail,
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| config_err(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| config_err(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
