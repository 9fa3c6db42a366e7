//! Mutual TLS between nodes, as Argus DARP does it: one root CA made by `bearmon certs init`,
//! a key and certificate per node from `bearmon certs issue NAME`. A server accepts only
//! clients whose certificate chains to that CA; a client accepts only servers whose
//! certificate chains to it and names the host it dialled; and the server checks that the
//! node name a request is signed with is one its certificate names (a worker cannot pass
//! itself off as another).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};

/// The `[tls]` section of a node's config.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// The cluster's root CA certificate (PEM).
    pub ca: PathBuf,
    /// This node's certificate (PEM), issued by that CA.
    pub cert: PathBuf,
    /// This node's private key (PEM).
    pub key: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("tls: cannot read {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("tls: {path} holds no certificate")]
    Empty { path: PathBuf },
    #[error("tls: {0}")]
    Config(#[from] rustls::Error),
    #[error("tls: client verifier: {0}")]
    Verifier(String),
}

/// Both sides of a node's TLS, built once at start.
#[derive(Clone, Debug)]
pub struct NodeTls {
    pub server: Arc<ServerConfig>,
    pub client: ClientConfig,
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs: Result<Vec<_>, _> = CertificateDer::pem_file_iter(path)
        .map_err(|e| TlsError::Read { path: path.to_path_buf(), reason: e.to_string() })?
        .collect();
    let certs = certs.map_err(|e| TlsError::Read { path: path.to_path_buf(), reason: e.to_string() })?;
    if certs.is_empty() {
        return Err(TlsError::Empty { path: path.to_path_buf() });
    }
    Ok(certs)
}

impl NodeTls {
    /// Loads the files named in `[tls]`.
    ///
    /// # Errors
    /// [`TlsError`] naming the file that is missing or broken.
    pub fn load(files: &TlsFiles) -> Result<Self, TlsError> {
        let mut roots = RootCertStore::empty();
        for ca in read_certs(&files.ca)? {
            roots.add(ca)?;
        }
        let roots = Arc::new(roots);
        let chain = read_certs(&files.cert)?;
        let key = PrivateKeyDer::from_pem_file(&files.key)
            .map_err(|e| TlsError::Read { path: files.key.clone(), reason: e.to_string() })?;
        // A client without a certificate may connect (the read-only API, the status page);
        // one presenting a certificate the CA did not sign is refused in the handshake, and
        // the `/cluster/*` routes refuse requests without one.
        let verifier = WebPkiClientVerifier::builder(roots.clone())
            .allow_unauthenticated()
            .build()
            .map_err(|e| TlsError::Verifier(e.to_string()))?;
        let mut server = ServerConfig::builder()
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain.clone(), key.clone_key())?;
        server.alpn_protocols = vec![b"http/1.1".to_vec()];
        let client =
            ClientConfig::builder().with_root_certificates(roots).with_client_auth_cert(chain, key)?;
        Ok(NodeTls { server: Arc::new(server), client })
    }
}

/// The names a peer certificate vouches for: its DNS subject-alternative names and its
/// common name.
pub fn cert_names(der: &CertificateDer<'_>) -> Vec<String> {
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der.as_ref()) else { return Vec::new() };
    let mut names: Vec<String> =
        cert.subject().iter_common_name().filter_map(|cn| cn.as_str().ok().map(str::to_string)).collect();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for n in &san.value.general_names {
            if let x509_parser::extensions::GeneralName::DNSName(d) = n {
                names.push((*d).to_string());
            }
        }
    }
    names
}
