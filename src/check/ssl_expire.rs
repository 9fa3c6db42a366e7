//! `ssl_expire`: fail when the server's certificate expires within `days`.
//!
//! As gobearmon, only the leaf is examined and the chain is not verified unless the new
//! `verify: true` asks for it. Unlike gobearmon, the connection is closed (close_notify, then
//! FIN) and the whole exchange has the check's deadline.

use std::sync::Arc;

use rustls::ClientConfig;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use serde::Deserialize;
use tokio::io::AsyncWriteExt;
use tokio::time::{Instant, timeout_at};
use tokio_rustls::TlsConnector;

use super::{Failure, KindResult, params, tcp};

pub(crate) const KEYS: &[&str] = &["address", "days", "timeout", "verify", "force_ip"];

/// `checks.data` of an `ssl_expire` check.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct SslExpireParams {
    /// `host:port`; the host is also the SNI name.
    pub address: String,
    /// Fail when the certificate has this many days left or fewer.
    pub days: i64,
    pub timeout: i64,
    /// Also verify the chain against the system's roots.
    pub verify: bool,
    pub force_ip: u8,
}

impl SslExpireParams {
    pub(crate) fn validate(&self) -> Result<(), (&'static str, String)> {
        let (host, _) = params::host_port(&self.address).map_err(|e| ("address", e))?;
        ServerName::try_from(host).map_err(|e| ("address", format!("not a TLS server name: {e}")))?;
        if self.days < 0 {
            return Err(("days", format!("{} is negative", self.days)));
        }
        Ok(())
    }

    pub(crate) async fn run(&self, deadline: Instant) -> KindResult {
        let (host, _) = params::host_port(&self.address).map_err(Failure::Local)?;
        let name = ServerName::try_from(host).map_err(|e| Failure::Local(e.to_string()))?;
        let stream = tcp::connect(&self.address, self.force_ip, deadline)
            .await
            .map_err(|e| Failure::Target(format!("TCP connection error: {e}")))?;
        let config = tls_config(self.verify).map_err(Failure::Local)?;
        let mut tls = match timeout_at(deadline, TlsConnector::from(config).connect(name, stream)).await {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => return Err(Failure::Target(format!("TLS handshake failed: {e}"))),
            Err(_) => return Err(Failure::Target("TLS handshake timed out".into())),
        };
        let leaf = tls.get_ref().1.peer_certificates().and_then(|c| c.first()).cloned();
        // Close politely but do not wait past the deadline for the peer.
        let _ = timeout_at(deadline, tls.shutdown()).await;
        drop(tls);
        let leaf = leaf.ok_or_else(|| Failure::Target("no peer certificates found".into()))?;
        let (_, cert) = x509_parser::parse_x509_certificate(leaf.as_ref())
            .map_err(|e| Failure::Target(format!("cannot parse the certificate: {e}")))?;
        let not_after = cert.validity().not_after.timestamp();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        // Truncated toward zero, as gobearmon did.
        let days_left = (not_after - now) / 86_400;
        if days_left <= self.days {
            let cn = cert
                .subject()
                .iter_common_name()
                .next()
                .and_then(|c| c.as_str().ok())
                .unwrap_or("")
                .to_string();
            return Err(Failure::Target(format!("certificate ({cn}) expires in {days_left} days")));
        }
        Ok(())
    }
}

fn tls_config(verify: bool) -> Result<Arc<ClientConfig>, String> {
    crate::init_crypto();
    let builder = ClientConfig::builder();
    let config = if verify {
        let mut roots = rustls::RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(native.certs);
        builder.with_root_certificates(roots).with_no_client_auth()
    } else {
        builder.dangerous().with_custom_certificate_verifier(Arc::new(AcceptAny)).with_no_client_auth()
    };
    Ok(Arc::new(config))
}

/// Accepts any certificate: this check reads the expiry date, it does not judge trust
/// (unless `verify` is set). The handshake's signatures are still checked, with ring's
/// algorithms, so the peer holds the key of the certificate whose date is reported.
#[derive(Debug)]
struct AcceptAny;

fn algorithms() -> rustls::crypto::WebPkiSupportedAlgorithms {
    rustls::crypto::ring::default_provider().signature_verification_algorithms
}

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &algorithms())
    }
    fn verify_tls13_signature(
        &self,
        msg: &[u8],
        certificate: &CertificateDer<'_>,
        signed: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(msg, certificate, signed, &algorithms())
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        algorithms().supported_schemes()
    }
}
