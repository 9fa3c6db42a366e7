//! `bearmon certs`: a cluster CA and node certificates for mutual TLS, as Argus DARP ships
//! them. Keys are written with mode 0600 and never overwritten.

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

fn write_new(path: &Path, contents: &str, secret: bool) -> anyhow::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(if secret { 0o600 } else { 0o644 });
    }
    let mut f =
        opts.open(path).with_context(|| format!("creating {} (it must not exist yet)", path.display()))?;
    f.write_all(contents.as_bytes()).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

fn validity(params: &mut CertificateParams, days: u32) {
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::days(i64::from(days));
}

/// Makes `ca.pem` and `ca-key.pem` in `dir`.
///
/// # Errors
/// When the files exist already or cannot be written.
pub fn init(dir: &Path, days: u32) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, "bearmon cluster CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages =
        vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    validity(&mut params, days);
    let key = KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    write_new(&dir.join("ca-key.pem"), &key.serialize_pem(), true)?;
    write_new(&dir.join("ca.pem"), &cert.pem(), false)?;
    println!("wrote {0}/ca.pem and {0}/ca-key.pem (keep the key off the nodes)", dir.display());
    Ok(())
}

/// Makes `NAME.pem` and `NAME-key.pem` in `dir`, signed by the CA there, naming the node
/// and every `host` (DNS names or IP addresses other nodes use to reach it).
///
/// # Errors
/// When the CA is missing, the name is unusable, or the files exist already.
pub fn issue(dir: &Path, name: &str, hosts: &[String], days: u32) -> anyhow::Result<(PathBuf, PathBuf)> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
        bail!("node name {name:?}: use letters, digits, '-', '_' or '.'");
    }
    let ca_pem = std::fs::read_to_string(dir.join("ca.pem"))
        .with_context(|| format!("reading {}/ca.pem (run `bearmon certs init` first)", dir.display()))?;
    let ca_key_pem = std::fs::read_to_string(dir.join("ca-key.pem"))
        .with_context(|| format!("reading {}/ca-key.pem", dir.display()))?;
    let ca_key = KeyPair::from_pem(&ca_key_pem).context("parsing ca-key.pem")?;
    let issuer = Issuer::from_ca_cert_pem(&ca_pem, ca_key).context("parsing ca.pem")?;
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, name);
    let mut sans = vec![SanType::DnsName(name.try_into().context("node name as a DNS name")?)];
    for h in hosts {
        match h.parse::<IpAddr>() {
            Ok(ip) => sans.push(SanType::IpAddress(ip)),
            Err(_) => {
                sans.push(SanType::DnsName(h.as_str().try_into().with_context(|| format!("host {h:?}"))?))
            }
        }
    }
    params.subject_alt_names = sans;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    params.extended_key_usages =
        vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
    validity(&mut params, days);
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &issuer)?;
    let cert_path = dir.join(format!("{name}.pem"));
    let key_path = dir.join(format!("{name}-key.pem"));
    write_new(&key_path, &key.serialize_pem(), true)?;
    write_new(&cert_path, &cert.pem(), false)?;
    println!("wrote {} and {}", cert_path.display(), key_path.display());
    Ok((cert_path, key_path))
}
