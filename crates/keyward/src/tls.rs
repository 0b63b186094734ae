//! TLS on the HTTP port: the certificate and key from `xpack.security.http.ssl.*`, or a CA and
//! a node certificate generated into the data directory on the first start (as Elasticsearch's
//! auto-configuration does), client certificates checked against `certificate_authorities`, and
//! the files watched so that a replaced certificate is used by new connections without a
//! restart.

use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use keyward_http::TlsConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};

/// `xpack.security.http.ssl.client_authentication`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientAuthentication {
    /// No client certificate is asked for.
    None,
    /// A client may present one; it must then be signed by a trusted CA.
    Optional,
    /// A client must present one signed by a trusted CA, or the handshake fails.
    Required,
}

/// The HTTP TLS settings, paths already resolved.
#[derive(Debug, Clone)]
pub(crate) struct TlsSettings {
    pub(crate) enabled: bool,
    pub(crate) certificate: Option<PathBuf>,
    pub(crate) key: Option<PathBuf>,
    pub(crate) certificate_authorities: Vec<PathBuf>,
    pub(crate) client_authentication: ClientAuthentication,
    /// How often the files are checked for changes (`resource.reload.interval.high`).
    pub(crate) reload_interval: Duration,
}

/// The directory under `path.data` holding generated certificates.
const TLS_DIR: &str = "tls";
/// The generated CA's certificate, the file clients trust (`curl --cacert`, `ca_certs`).
const CA_CERT: &str = "http_ca.crt";
/// The generated CA's private key, kept as Elasticsearch keeps its auto-configured one.
const CA_KEY: &str = "http_ca.key";
/// The generated node certificate (followed by the CA's, so clients receive the chain).
const NODE_CERT: &str = "http.crt";
/// The generated node certificate's private key.
const NODE_KEY: &str = "http.key";

/// The files the server's TLS configuration is built from.
#[derive(Debug, Clone)]
struct Sources {
    certificate: PathBuf,
    key: PathBuf,
    client_cas: Vec<PathBuf>,
    client_authentication: ClientAuthentication,
}

/// A certificate authority generated on this start: shown once on stderr.
#[derive(Debug)]
pub(crate) struct GeneratedCa {
    pub(crate) path: PathBuf,
    /// SHA-256 of the CA certificate's DER, lowercase hex without separators, as
    /// `ssl_assert_fingerprint` takes it.
    pub(crate) fingerprint: String,
}

/// TLS ready to serve: the live configuration and what keeps it up to date.
#[derive(Debug)]
pub(crate) struct ServerTls {
    pub(crate) config: Arc<TlsConfig>,
    sources: Sources,
    digest: [u8; 32],
    interval: Duration,
    /// Set when this start generated the CA.
    pub(crate) generated: Option<GeneratedCa>,
}

/// The TLS configuration for `settings`, generating certificates into `data_dir` when TLS is
/// enabled and none is given; `None` when TLS is off.
pub(crate) fn prepare(
    settings: &TlsSettings,
    data_dir: &Path,
    host: &str,
) -> anyhow::Result<Option<ServerTls>> {
    if !settings.enabled {
        return Ok(None);
    }
    let mut generated = None;
    let (certificate, key, default_ca) = match (&settings.certificate, &settings.key) {
        (Some(certificate), Some(key)) => (certificate.clone(), key.clone(), None),
        (None, None) => {
            let dir = data_dir.join(TLS_DIR);
            generated = generate_if_missing(&dir, host)?;
            (
                dir.join(NODE_CERT),
                dir.join(NODE_KEY),
                Some(dir.join(CA_CERT)),
            )
        }
        _ => bail!(
            "settings [xpack.security.http.ssl.certificate] and [xpack.security.http.ssl.key] must be given together"
        ),
    };
    let client_cas = if settings.certificate_authorities.is_empty() {
        match (settings.client_authentication, default_ca) {
            (ClientAuthentication::None, _) => Vec::new(),
            // With generated certificates, client certificates signed by the generated CA.
            (_, Some(ca)) => vec![ca],
            (_, None) => bail!(
                "setting [xpack.security.http.ssl.certificate_authorities] is required when [xpack.security.http.ssl.client_authentication] is not [none]"
            ),
        }
    } else {
        settings.certificate_authorities.clone()
    };
    let sources = Sources {
        certificate,
        key,
        client_cas,
        client_authentication: settings.client_authentication,
    };
    let (server_config, digest) = sources.load()?;
    Ok(Some(ServerTls {
        config: TlsConfig::new(server_config),
        sources,
        digest,
        interval: settings.reload_interval,
        generated,
    }))
}

impl ServerTls {
    /// Watches the files: when their contents change, new connections get the new certificate;
    /// a pair that does not load is logged and the one in use kept.
    pub(crate) fn spawn_reloader(&self) -> tokio::task::JoinHandle<()> {
        let config = Arc::clone(&self.config);
        let sources = self.sources.clone();
        let mut digest = self.digest;
        let interval = self.interval;
        tokio::spawn(async move {
            let mut failed: Option<[u8; 32]> = None;
            loop {
                tokio::time::sleep(interval).await;
                let sources = sources.clone();
                let current = tokio::task::spawn_blocking(move || {
                    let now = sources.digest();
                    (sources, now)
                })
                .await;
                let Ok((sources, Ok(now))) = current else {
                    continue;
                };
                if now == digest || failed == Some(now) {
                    continue;
                }
                match tokio::task::spawn_blocking(move || sources.load()).await {
                    Ok(Ok((server_config, loaded))) => {
                        config.replace(server_config);
                        digest = loaded;
                        failed = None;
                        tracing::info!("reloaded the HTTP TLS certificate");
                    }
                    Ok(Err(err)) => {
                        failed = Some(now);
                        tracing::warn!(error = %format!("{err:#}"), "cannot reload the HTTP TLS certificate; the one in use is kept");
                    }
                    Err(_) => {}
                }
            }
        })
    }
}

impl Sources {
    /// Every file's contents, in order.
    fn read(&self) -> anyhow::Result<Vec<(PathBuf, Vec<u8>)>> {
        let mut files = vec![self.certificate.clone(), self.key.clone()];
        files.extend(self.client_cas.iter().cloned());
        files
            .into_iter()
            .map(|path| {
                let bytes = std::fs::read(&path)
                    .with_context(|| format!("cannot read [{}]", path.display()))?;
                Ok((path, bytes))
            })
            .collect()
    }

    /// A digest of every file's contents: a change to any of them is a reload.
    fn digest(&self) -> anyhow::Result<[u8; 32]> {
        Ok(digest_of(&self.read()?))
    }

    /// The server configuration these files make, and their digest.
    fn load(&self) -> anyhow::Result<(rustls::ServerConfig, [u8; 32])> {
        let files = self.read()?;
        let digest = digest_of(&files);
        let mut files = files.into_iter();
        let (certificate_path, certificate_pem) = files
            .next()
            .ok_or_else(|| anyhow::anyhow!("no certificate"))?;
        let (key_path, key_pem) = files.next().ok_or_else(|| anyhow::anyhow!("no key"))?;
        let chain = CertificateDer::pem_slice_iter(&certificate_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|err| {
                anyhow::anyhow!(
                    "cannot read the certificate [{}]: {err}",
                    certificate_path.display()
                )
            })?;
        if chain.is_empty() {
            bail!(
                "the certificate file [{}] holds no certificate",
                certificate_path.display()
            );
        }
        if key_pem
            .windows(b"ENCRYPTED PRIVATE KEY".len())
            .any(|window| window == b"ENCRYPTED PRIVATE KEY")
        {
            bail!(
                "the key [{}] is encrypted; keyward does not support [xpack.security.http.ssl.key_passphrase]: give an unencrypted PEM key",
                key_path.display()
            );
        }
        // The key's bytes are never part of a message.
        let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|_| {
            anyhow::anyhow!(
                "the key file [{}] holds no PEM private key keyward can read",
                key_path.display()
            )
        })?;
        // ring, as the PostgreSQL store uses: rustls deprecates its provider for lacking
        // post-quantum key exchange; switching both is one line each.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .context("cannot set up TLS")?;
        let builder = if self.client_authentication == ClientAuthentication::None {
            builder.with_no_client_auth()
        } else {
            let mut roots = rustls::RootCertStore::empty();
            for (path, pem) in files {
                for certificate in CertificateDer::pem_slice_iter(&pem) {
                    let certificate = certificate.map_err(|err| {
                        anyhow::anyhow!("cannot read the CA file [{}]: {err}", path.display())
                    })?;
                    roots.add(certificate).map_err(|err| {
                        anyhow::anyhow!("cannot use a CA from [{}]: {err}", path.display())
                    })?;
                }
            }
            if roots.is_empty() {
                bail!("the certificate authorities for client certificates hold no certificate");
            }
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider);
            let verifier = if self.client_authentication == ClientAuthentication::Optional {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            builder.with_client_cert_verifier(
                verifier
                    .build()
                    .context("cannot set up client certificate checks")?,
            )
        };
        let mut config = builder.with_single_cert(chain, key).with_context(|| {
            format!(
                "the certificate [{}] and key [{}] do not make a usable pair",
                certificate_path.display(),
                key_path.display()
            )
        })?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok((config, digest))
    }
}

fn digest_of(files: &[(PathBuf, Vec<u8>)]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for (_, bytes) in files {
        hasher.update((bytes.len() as u64).to_be_bytes());
        hasher.update(bytes);
    }
    hasher.finalize().into()
}

/// Generates a CA and a node certificate into `dir` unless the node certificate and key are
/// already there (a later start); the CA when this start made it.
fn generate_if_missing(dir: &Path, host: &str) -> anyhow::Result<Option<GeneratedCa>> {
    if dir.join(NODE_CERT).exists() && dir.join(NODE_KEY).exists() {
        return Ok(None);
    }
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(err) => return Err(err).with_context(|| format!("cannot create [{}]", dir.display())),
    }
    let ca_key = rcgen::KeyPair::generate().context("cannot generate the CA key")?;
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new())
        .context("cannot build the CA certificate")?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    ca_params.distinguished_name = rcgen::DistinguishedName::new();
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "keyward HTTP CA");
    set_validity(&mut ca_params);
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key)
        .context("cannot sign the CA certificate")?;

    let node_key = rcgen::KeyPair::generate().context("cannot generate the node key")?;
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    let hostname = rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    for name in [hostname.as_str(), host] {
        let wildcard = ["0.0.0.0", "::", ""].contains(&name);
        // A name a certificate cannot carry (not ASCII) is left out rather than failing the start.
        let usable = name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._:".contains(c));
        if !wildcard && usable && !names.iter().any(|known| known == name) {
            names.push(name.to_owned());
        }
    }
    let mut node_params =
        rcgen::CertificateParams::new(names).context("cannot build the node certificate")?;
    node_params.distinguished_name = rcgen::DistinguishedName::new();
    node_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, hostname.as_str());
    node_params.key_usages = vec![
        rcgen::KeyUsagePurpose::DigitalSignature,
        rcgen::KeyUsagePurpose::KeyEncipherment,
    ];
    node_params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    set_validity(&mut node_params);
    let node = node_params
        .signed_by(&node_key, &ca)
        .context("cannot sign the node certificate")?;

    // Keys first, certificates after: a start interrupted half-way finds no node certificate
    // and generates everything again.
    write_new(&dir.join(CA_KEY), ca.key().serialize_pem().as_bytes())?;
    write_new(&dir.join(NODE_KEY), node_key.serialize_pem().as_bytes())?;
    write_new(&dir.join(CA_CERT), ca.pem().as_bytes())?;
    // The chain: clients that pin the CA (`ssl_assert_fingerprint`) look for it in what the
    // server sends.
    write_new(
        &dir.join(NODE_CERT),
        format!("{}{}", node.pem(), ca.pem()).as_bytes(),
    )?;
    let fingerprint = Sha256::digest(ca.der().as_ref())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    Ok(Some(GeneratedCa {
        path: dir.join(CA_CERT),
        fingerprint,
    }))
}

/// Valid from the first of January of last year (no clock skew makes a fresh certificate not
/// yet valid) to that of three years on.
fn set_validity(params: &mut rcgen::CertificateParams) {
    let year = current_year();
    params.not_before = rcgen::date_time_ymd(year - 1, 1, 1);
    params.not_after = rcgen::date_time_ymd(year + 3, 1, 1);
}

/// The current year (UTC) by the system clock.
fn current_year() -> i32 {
    let mut days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs() / 86_400);
    let mut year = 1970;
    loop {
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let length = if leap { 366 } else { 365 };
        if days < length {
            return year;
        }
        days -= length;
        year += 1;
    }
}

/// Writes `bytes` to `path`, replacing what is there, readable by keyward's user only.
fn write_new(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write [{}]", path.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write [{}]", path.display()))
}
