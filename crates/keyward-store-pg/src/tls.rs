//! How connections are made: plain TCP, or TLS through rustls (with the `ring` provider), for the
//! pool and the listener alike.

use std::path::Path;
use std::sync::Arc;

use keyward_store::Error;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::sync::mpsc;
use tokio_postgres::config::SslMode;
use tokio_postgres::{Client, Config, Notification};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::error::PgResultExt;
use crate::feed::{AbortOnDrop, drive};

/// Whether and how connections to the server are encrypted (libpq's `sslmode` of the same
/// names).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PgTlsMode {
    /// Plain TCP (or a Unix socket).
    #[default]
    Disable,
    /// TLS, refusing servers without it, but without checking the server's certificate: safe
    /// against eavesdroppers, not against someone who can redirect the connection.
    Require,
    /// TLS with the server's certificate checked against the system's roots and the
    /// `ca_file`, and its name against the host connected to.
    VerifyFull,
}

/// The connector of one [`PgTlsMode`].
#[derive(Clone)]
pub(crate) enum Tls {
    Disable,
    Rustls(MakeRustlsConnect),
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Tls::Disable => f.write_str("Disable"),
            Tls::Rustls(_) => f.write_str("Rustls"),
        }
    }
}

impl Tls {
    /// The connector for `mode` (with the extra roots of `ca_file`), setting the matching
    /// `sslmode` on `config`.
    pub(crate) fn new(
        mode: PgTlsMode,
        ca_file: Option<&Path>,
        config: &mut Config,
    ) -> Result<Tls, Error> {
        // ring, not aws-lc-rs: no second C library to build. rustls deprecates ring's provider
        // for lacking post-quantum key exchange, which a database session inside the
        // deployment can do without for now; switching is this one line.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = || {
            rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
                .with_safe_default_protocol_versions()
                .map_err(|err| Error::Database(format!("TLS configuration: {err}")))
        };
        match mode {
            PgTlsMode::Disable => {
                config.ssl_mode(SslMode::Disable);
                Ok(Tls::Disable)
            }
            PgTlsMode::Require => {
                config.ssl_mode(SslMode::Require);
                let client = builder()?
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(Unverified(Arc::clone(&provider))))
                    .with_no_client_auth();
                Ok(Tls::Rustls(MakeRustlsConnect::new(client)))
            }
            PgTlsMode::VerifyFull => {
                config.ssl_mode(SslMode::Require);
                let client = builder()?
                    .with_root_certificates(roots(ca_file)?)
                    .with_no_client_auth();
                Ok(Tls::Rustls(MakeRustlsConnect::new(client)))
            }
        }
    }

    /// A session of its own (not from the pool), its notifications, and the task driving it.
    pub(crate) async fn connect(
        &self,
        config: &Config,
    ) -> Result<(Client, mpsc::UnboundedReceiver<Notification>, AbortOnDrop), Error> {
        match self {
            Tls::Disable => {
                let (client, connection) = config.connect(tokio_postgres::NoTls).await.pg()?;
                let (notifications, driver) = drive(connection);
                Ok((client, notifications, driver))
            }
            Tls::Rustls(connector) => {
                let (client, connection) = config.connect(connector.clone()).await.pg()?;
                let (notifications, driver) = drive(connection);
                Ok((client, notifications, driver))
            }
        }
    }

    /// The pool's connection manager.
    pub(crate) fn manager(&self, config: Config) -> deadpool_postgres::Manager {
        let manager_config = deadpool_postgres::ManagerConfig {
            recycling_method: deadpool_postgres::RecyclingMethod::Fast,
        };
        match self {
            Tls::Disable => deadpool_postgres::Manager::from_config(
                config,
                tokio_postgres::NoTls,
                manager_config,
            ),
            Tls::Rustls(connector) => {
                deadpool_postgres::Manager::from_config(config, connector.clone(), manager_config)
            }
        }
    }
}

/// The roots a server certificate is checked against: the system's, and those of `ca_file`.
fn roots(ca_file: Option<&Path>) -> Result<rustls::RootCertStore, Error> {
    let mut roots = rustls::RootCertStore::empty();
    let system = rustls_native_certs::load_native_certs();
    if !system.errors.is_empty() {
        tracing::debug!(
            errors = system.errors.len(),
            "some system root certificates were not loaded"
        );
    }
    let (added, _ignored) = roots.add_parsable_certificates(system.certs);
    tracing::debug!(added, "system root certificates");
    if let Some(path) = ca_file {
        let unreadable = |err: &dyn std::fmt::Display| {
            Error::Database(format!(
                "cannot read the CA file [{}]: {err}",
                path.display()
            ))
        };
        let mut found = 0;
        for certificate in CertificateDer::pem_file_iter(path).map_err(|err| unreadable(&err))? {
            let certificate = certificate.map_err(|err| unreadable(&err))?;
            roots.add(certificate).map_err(|err| unreadable(&err))?;
            found += 1;
        }
        if found == 0 {
            return Err(unreadable(&"no certificate in it"));
        }
    }
    if roots.is_empty() {
        return Err(Error::Database(
            "no root certificates to verify the server with: name a CA file".to_owned(),
        ));
    }
    Ok(roots)
}

/// The verifier of [`PgTlsMode::Require`]: any certificate is accepted (as libpq's `require`
/// does without a root file), but the handshake signatures are still checked, so the server
/// holds the key of the certificate it shows.
#[derive(Debug)]
struct Unverified(Arc<CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            certificate,
            signature,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            certificate,
            signature,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
