//! keyward's configuration: Elasticsearch's setting names, read from defaults, then a YAML file
//! (`--config`, flat dotted or nested like `elasticsearch.yml`), then `-E name=value` flags, and
//! parsed once into typed sub-configs. This module is the only place that reads the environment.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use keyward_core::duration::TimeValue;
use keyward_core::hash::HashAlgorithm;
use keyward_service::ServiceConfig;
use zeroize::Zeroizing;

/// Every setting keyward knows, with its default (`None`: no default).
const SETTINGS: &[(&str, Option<&str>, &str)] = &[
    (
        "cluster.name",
        Some("keyward"),
        "The cluster name reported by `GET /` and cluster health.",
    ),
    ("node.name", Some("keyward-0"), "This node's name."),
    (
        "http.host",
        Some("127.0.0.1"),
        "The address the HTTP API binds to.",
    ),
    (
        "http.port",
        Some("9200"),
        "The HTTP port, or a range such as 9200-9300 (the first free one is used); 0 picks any free port.",
    ),
    (
        "http.max_content_length",
        Some("100mb"),
        "The largest request body accepted.",
    ),
    (
        "http.max_initial_line_length",
        Some("4kb"),
        "The longest request line (method, path and query) accepted.",
    ),
    (
        "http.max_header_size",
        Some("16kb"),
        "The most bytes of request headers accepted.",
    ),
    (
        "keyward.http.header_read_timeout",
        Some("30s"),
        "How long a client has to send a request's headers; also how long a kept-alive connection may stay idle.",
    ),
    (
        "keyward.http.body_read_timeout",
        Some("30s"),
        "How long an authenticated client has to send a request's body (answered 408 after that).",
    ),
    (
        "keyward.http.max_connections",
        Some("4096"),
        "The most HTTP connections served at once; further ones wait in the listen backlog until one closes.",
    ),
    (
        "xpack.security.http.ssl.enabled",
        Some("false"),
        "TLS on the HTTP port. With no certificate given, a CA and a node certificate are generated into path.data/tls on the first start.",
    ),
    (
        "xpack.security.http.ssl.certificate",
        None,
        "PEM file of the HTTP certificate (and its chain); relative paths resolve against the --config file's directory, or the working directory without one.",
    ),
    (
        "xpack.security.http.ssl.key",
        None,
        "PEM file of the HTTP certificate's private key, unencrypted; relative paths as for the certificate.",
    ),
    (
        "xpack.security.http.ssl.key_passphrase",
        None,
        "Not supported: an encrypted key cannot be used; give an unencrypted PEM key (setting this stops the server).",
    ),
    (
        "xpack.security.http.ssl.certificate_authorities",
        None,
        "PEM files (comma-separated, or a YAML list) of the CAs client certificates must be signed by; default with generated certificates: the generated CA.",
    ),
    (
        "xpack.security.http.ssl.client_authentication",
        Some("none"),
        "Client certificates: [none], [optional] (checked when presented) or [required] (the handshake fails without one).",
    ),
    (
        "resource.reload.interval.high",
        Some("5s"),
        "How often the TLS certificate, key and CA files, and the forward auth settings of the --config file, are checked for changes (reloaded without a restart).",
    ),
    (
        "keyward.forward_auth.proxy",
        None,
        "The reverse proxy asking /_keyward/forward_auth: [nginx] (X-Original-Method, X-Original-URI), [forwarded], [caddy] or [traefik] (X-Forwarded-Method, X-Forwarded-Uri) or [envoy] (the method and the path after /_keyward/forward_auth). Unset, forward auth refuses every request.",
    ),
    (
        "keyward.forward_auth.default",
        Some("deny"),
        "What a forwarded request no rule covers gets: [deny] (403) or [authenticated] (passes with any valid credential).",
    ),
    (
        "keyward.forward_auth.rules",
        Some("[]"),
        "Forward auth rules, in order, the first match deciding: a YAML list (or its JSON) of {host, methods, path, application, privileges, resource}.",
    ),
    (
        "keyward.forward_auth.headers.user",
        Some("X-Keyward-User"),
        "The header a granted forwarded request's user name goes upstream in.",
    ),
    (
        "keyward.forward_auth.headers.realm",
        Some("X-Keyward-Realm"),
        "The header a granted forwarded request's realm goes upstream in.",
    ),
    (
        "keyward.forward_auth.headers.api_key_id",
        Some("X-Keyward-Api-Key-Id"),
        "The header a granted forwarded request's API key id goes upstream in.",
    ),
    (
        "keyward.forward_auth.headers.api_key_name",
        Some("X-Keyward-Api-Key-Name"),
        "The header a granted forwarded request's API key name goes upstream in.",
    ),
    (
        "keyward.forward_auth.metadata_headers",
        Some("{}"),
        "API key metadata fields passed upstream with a granted forwarded request: a YAML map (or its JSON) of field name to header name.",
    ),
    (
        "path.data",
        Some("./data"),
        "The data directory: the embedded store, its lock file and the admin socket.",
    ),
    (
        "xpack.security.enabled",
        Some("true"),
        "Security cannot be turned off in keyward; only `true` is accepted.",
    ),
    (
        "xpack.security.authc.api_key.enabled",
        Some("true"),
        "When false, every API key API fails and ApiKey credentials are ignored.",
    ),
    (
        "xpack.security.authc.api_key.hashing.algorithm",
        Some("ssha256"),
        "How new keys' secrets are hashed: ssha256, bcrypt*, pbkdf2*, pbkdf2_stretch*.",
    ),
    (
        "xpack.security.authc.password_hashing.algorithm",
        Some("bcrypt"),
        "How new user passwords are hashed, and the only algorithm a given password_hash may use: bcrypt*, pbkdf2*, pbkdf2_stretch*.",
    ),
    (
        "xpack.security.authc.api_key.cache.ttl",
        Some("1d"),
        "How long a verified key stays cached after its last use; 0 disables the cache.",
    ),
    (
        "xpack.security.authc.api_key.cache.max_keys",
        Some("25000"),
        "The most keys the authentication cache holds.",
    ),
    (
        "xpack.security.authc.api_key.cache.hash_algo",
        Some("ssha256"),
        "Accepted for compatibility; keyward's cache always keeps a salted SHA-256 digest.",
    ),
    (
        "xpack.security.authc.api_key.doc_cache.ttl",
        Some("5m"),
        "Accepted for compatibility; keyward caches key documents together with verified secrets.",
    ),
    (
        "xpack.security.authc.api_key.delete.retention_period",
        Some("7d"),
        "How long invalidated and expired keys are kept before deletion.",
    ),
    (
        "xpack.security.authc.api_key.delete.interval",
        Some("24h"),
        "The least time between two runs of the inactive-key remover.",
    ),
    (
        "xpack.security.authc.api_key.delete.timeout",
        Some("-1"),
        "Accepted for compatibility; deletions are single local transactions.",
    ),
    (
        "xpack.security.authc.token.timeout",
        Some("20m"),
        "How long an access token is valid: at least 1s, at most 1h.",
    ),
    (
        "search.max_buckets",
        Some("65536"),
        "The most buckets the aggregations of one query API keys request may create.",
    ),
    (
        "keyward.store.type",
        Some("embedded"),
        "The store: [embedded] (SQLite in path.data) or [postgresql] (shared by several nodes).",
    ),
    (
        "keyward.store.read_connections",
        Some("4"),
        "Read connections of the embedded store.",
    ),
    (
        "keyward.store.postgresql.url",
        None,
        "The PostgreSQL server and database, as postgres://user[:password]@host:port/database.",
    ),
    (
        "keyward.store.postgresql.pool_size",
        Some("16"),
        "Connections to PostgreSQL for requests (one more listens for other nodes' changes).",
    ),
    (
        "keyward.store.postgresql.connect_timeout",
        Some("5s"),
        "How long connecting to PostgreSQL or waiting for a free connection may take before a 503.",
    ),
    (
        "keyward.store.postgresql.ssl_mode",
        Some("disable"),
        "TLS to PostgreSQL: [disable], [require] (encrypted, server unverified) or [verify-full].",
    ),
    (
        "keyward.store.postgresql.ssl_root_cert",
        None,
        "PEM file of the certificate authorities trusted for [verify-full] (default: the system's).",
    ),
    (
        "keyward.log.level",
        Some("info"),
        "Log filter (tracing EnvFilter syntax); RUST_LOG overrides it.",
    ),
    (
        "keyward.log.format",
        Some("text"),
        "Log lines on stderr: [text], or [json] for one JSON object a line.",
    ),
    (
        "path.logs",
        None,
        "Where the audit log is written (default: <path.data>/logs).",
    ),
    (
        "xpack.security.audit.enabled",
        Some("false"),
        "Writes the audit log <path.logs>/<cluster.name>_audit.json.",
    ),
    (
        "xpack.security.audit.logfile.events.include",
        Some(keyward_http::EventKind::DEFAULT_INCLUDE),
        "The audit events written (_all for every kind).",
    ),
    (
        "xpack.security.audit.logfile.events.exclude",
        Some(""),
        "Audit events not written, even if included.",
    ),
    (
        "xpack.security.audit.logfile.emit_node_id",
        Some("true"),
        "Whether audit events carry node.id.",
    ),
    (
        "xpack.security.audit.logfile.emit_node_name",
        Some("false"),
        "Whether audit events carry node.name.",
    ),
    (
        "keyward.audit.max_file_size",
        Some("100mb"),
        "The audit file is rotated when it would grow past this size.",
    ),
    (
        "keyward.audit.max_files",
        Some("10"),
        "How many rotated audit files are kept (<name>-1.json is the newest).",
    ),
];

/// Raw settings by name, after precedence is applied.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    values: BTreeMap<String, String>,
    /// What relative file paths in settings resolve against: the `--config` file's directory,
    /// or the working directory without one.
    base: PathBuf,
}

impl Settings {
    /// Defaults, then the file, then the `-E` flags; fails on unknown names.
    pub(crate) fn load(file: Option<&Path>, flags: &[String]) -> anyhow::Result<Settings> {
        let mut values: BTreeMap<String, String> = SETTINGS
            .iter()
            .filter_map(|(name, default, _)| {
                default.map(|value| ((*name).to_owned(), value.to_owned()))
            })
            .collect();
        if let Some(file) = file {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read config file [{}]", file.display()))?;
            let yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text)
                .with_context(|| format!("config file [{}] is not valid YAML", file.display()))?;
            let mut flat = BTreeMap::new();
            flatten("", &yaml, &mut flat)?;
            for (name, value) in flat {
                check_known(&name)?;
                values.insert(name, value);
            }
        }
        for flag in flags {
            let Some((name, value)) = flag.split_once('=') else {
                bail!("setting [{flag}] must be in the form name=value");
            };
            let name = name.trim();
            check_known(name)?;
            values.insert(name.to_owned(), value.trim().to_owned());
        }
        let base = file
            .and_then(Path::parent)
            .filter(|parent| !parent.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        Ok(Settings { values, base })
    }

    fn raw(&self, name: &str) -> &str {
        self.values.get(name).map(String::as_str).unwrap_or("")
    }

    /// A file path; a relative one resolved against [`Settings::base`].
    fn path(&self, name: &str) -> Option<PathBuf> {
        let raw = self.raw(name).trim();
        (!raw.is_empty()).then(|| self.base.join(raw))
    }

    /// A comma-separated list of file paths, each resolved as [`Settings::path`].
    fn paths(&self, name: &str) -> Vec<PathBuf> {
        self.raw(name)
            .split(',')
            .map(str::trim)
            .filter(|path| !path.is_empty())
            .map(|path| self.base.join(path))
            .collect()
    }

    fn time(&self, name: &str) -> anyhow::Result<Duration> {
        let value =
            TimeValue::parse(self.raw(name), name).map_err(|err| anyhow::anyhow!("{err}"))?;
        Ok(value.as_std().unwrap_or(Duration::ZERO))
    }

    /// A time that must be more than zero.
    fn positive_time(&self, name: &str) -> anyhow::Result<Duration> {
        let time = self.time(name)?;
        if time.is_zero() {
            bail!(
                "failed to parse value [{}] for setting [{name}], must be > [0s]",
                self.raw(name)
            );
        }
        Ok(time)
    }

    /// A count that must be at least one.
    fn positive_number(&self, name: &str) -> anyhow::Result<usize> {
        let number = self.number(name)?;
        if number == 0 {
            bail!("failed to parse value [0] for setting [{name}], must be >= [1]");
        }
        Ok(number)
    }

    fn boolean(&self, name: &str) -> anyhow::Result<bool> {
        match self.raw(name) {
            "true" => Ok(true),
            "false" => Ok(false),
            other => bail!(
                "failed to parse value [{other}] for setting [{name}] as only [true] or [false] are allowed"
            ),
        }
    }

    /// A byte size such as `100mb`, `512kb` or `1024` (bytes).
    fn byte_size(&self, name: &str) -> anyhow::Result<usize> {
        let text = self.raw(name).trim().to_ascii_lowercase();
        let (digits, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
            Some(at) => text.split_at(at),
            None => (text.as_str(), "b"),
        };
        let multiplier: usize = match unit {
            "b" => 1,
            "kb" => 1 << 10,
            "mb" => 1 << 20,
            "gb" => 1 << 30,
            _ => bail!("failed to parse value [{text}] for setting [{name}] as a size in bytes"),
        };
        let count: usize = digits.parse().map_err(|_| {
            anyhow::anyhow!(
                "failed to parse value [{text}] for setting [{name}] as a size in bytes"
            )
        })?;
        count
            .checked_mul(multiplier)
            .ok_or_else(|| anyhow::anyhow!("setting [{name}] is too large"))
    }

    fn number(&self, name: &str) -> anyhow::Result<usize> {
        self.raw(name).parse().map_err(|_| {
            anyhow::anyhow!(
                "failed to parse value [{}] for setting [{name}]",
                self.raw(name)
            )
        })
    }

    /// Prints the effective configuration, one `name: value` line each (a password in the
    /// PostgreSQL URL shown as `xxx`).
    pub(crate) fn show(&self) -> String {
        SETTINGS
            .iter()
            .map(|(name, _, help)| {
                let value = match *name {
                    "keyward.store.postgresql.url" => redact_url(self.raw(name)),
                    _ => self.raw(name).to_owned(),
                };
                format!("# {help}\n{name}: {value}\n")
            })
            .collect()
    }
}

fn check_known(name: &str) -> anyhow::Result<()> {
    if SETTINGS.iter().any(|(known, _, _)| *known == name) {
        Ok(())
    } else {
        bail!(
            "unknown setting [{name}] please check that any required plugins are installed, or check the breaking changes documentation for removed settings"
        )
    }
}

/// Settings whose value is a structure, kept as its JSON text.
const STRUCTURED: [&str; 2] = [
    "keyward.forward_auth.rules",
    "keyward.forward_auth.metadata_headers",
];

fn flatten(
    prefix: &str,
    value: &serde_yaml_ng::Value,
    out: &mut BTreeMap<String, String>,
) -> anyhow::Result<()> {
    if STRUCTURED.contains(&prefix) {
        let json = serde_json::to_string(value)
            .with_context(|| format!("setting [{prefix}] cannot be read as JSON"))?;
        out.insert(prefix.to_owned(), json);
        return Ok(());
    }
    match value {
        serde_yaml_ng::Value::Mapping(map) => {
            for (key, child) in map {
                let key = match key {
                    serde_yaml_ng::Value::String(key) => key.clone(),
                    serde_yaml_ng::Value::Number(key) => key.to_string(),
                    serde_yaml_ng::Value::Bool(key) => key.to_string(),
                    other => bail!("config key {other:?} is not a string"),
                };
                let name = if prefix.is_empty() {
                    key
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&name, child, out)?;
            }
        }
        serde_yaml_ng::Value::Null if prefix.is_empty() => {}
        serde_yaml_ng::Value::String(text) => {
            out.insert(prefix.to_owned(), text.clone());
        }
        serde_yaml_ng::Value::Number(number) => {
            out.insert(prefix.to_owned(), number.to_string());
        }
        serde_yaml_ng::Value::Bool(flag) => {
            out.insert(prefix.to_owned(), flag.to_string());
        }
        // A list of plain values (certificate_authorities), kept as Elasticsearch's comma form.
        serde_yaml_ng::Value::Sequence(items) => {
            let mut joined = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    serde_yaml_ng::Value::String(text) => joined.push(text.clone()),
                    serde_yaml_ng::Value::Number(number) => joined.push(number.to_string()),
                    other => bail!("setting [{prefix}] has an unsupported list item {other:?}"),
                }
            }
            out.insert(prefix.to_owned(), joined.join(","));
        }
        other => bail!("setting [{prefix}] has an unsupported value {other:?}"),
    }
    Ok(())
}

/// The HTTP listener's settings.
#[derive(Debug, Clone)]
pub(crate) struct HttpConfig {
    pub(crate) host: String,
    /// Ports to try in order.
    pub(crate) ports: std::ops::RangeInclusive<u16>,
    /// Sizes, timeouts and the connection limit.
    pub(crate) limits: keyward_http::HttpLimits,
    /// TLS on the HTTP port.
    pub(crate) tls: crate::tls::TlsSettings,
}

/// The store's settings.
#[derive(Debug, Clone)]
pub(crate) struct StoreConfig {
    /// This node's own directory: its lock and admin socket, and the embedded store.
    pub(crate) data_dir: PathBuf,
    pub(crate) read_connections: usize,
    /// Where keys live.
    pub(crate) backend: Backend,
}

/// Which store the node runs on.
#[derive(Debug, Clone)]
pub(crate) enum Backend {
    /// SQLite in the data directory.
    Embedded,
    /// A PostgreSQL database several nodes share.
    Postgresql(PostgresqlConfig),
}

/// The PostgreSQL store's settings.
#[derive(Clone)]
pub(crate) struct PostgresqlConfig {
    /// May carry a password: never printed whole (see [`redact_url`]).
    pub(crate) url: String,
    pub(crate) pool_size: usize,
    pub(crate) connect_timeout: Duration,
    pub(crate) ssl_mode: String,
    pub(crate) ssl_root_cert: Option<PathBuf>,
}

impl std::fmt::Debug for PostgresqlConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresqlConfig")
            .field("url", &redact_url(&self.url))
            .field("pool_size", &self.pool_size)
            .field("connect_timeout", &self.connect_timeout)
            .field("ssl_mode", &self.ssl_mode)
            .field("ssl_root_cert", &self.ssl_root_cert)
            .finish()
    }
}

/// `url` with the password of its user part, if any, replaced by `xxx`.
pub(crate) fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:xxx@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

impl Backend {
    fn from_settings(settings: &Settings) -> anyhow::Result<Backend> {
        match settings.raw("keyward.store.type") {
            "embedded" => Ok(Backend::Embedded),
            "postgresql" => {
                let url = settings.raw("keyward.store.postgresql.url");
                if url.is_empty() {
                    bail!(
                        "setting [keyward.store.postgresql.url] is required when [keyward.store.type] is [postgresql]"
                    );
                }
                let ssl_mode = settings.raw("keyward.store.postgresql.ssl_mode");
                if !["disable", "require", "verify-full"].contains(&ssl_mode) {
                    bail!(
                        "failed to parse value [{ssl_mode}] for setting [keyward.store.postgresql.ssl_mode]: expected one of [disable, require, verify-full]"
                    );
                }
                let root_cert = settings.raw("keyward.store.postgresql.ssl_root_cert");
                Ok(Backend::Postgresql(PostgresqlConfig {
                    url: url.to_owned(),
                    pool_size: settings.positive_number("keyward.store.postgresql.pool_size")?,
                    connect_timeout: settings
                        .positive_time("keyward.store.postgresql.connect_timeout")?,
                    ssl_mode: ssl_mode.to_owned(),
                    ssl_root_cert: (!root_cert.is_empty()).then(|| PathBuf::from(root_cert)),
                }))
            }
            other => bail!(
                "failed to parse value [{other}] for setting [keyward.store.type]: expected [embedded] or [postgresql]"
            ),
        }
    }
}

/// Everything `serve` needs, typed.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) http: HttpConfig,
    pub(crate) store: StoreConfig,
    pub(crate) service: ServiceConfig,
    pub(crate) log_filter: String,
    /// JSON log lines instead of text.
    pub(crate) log_json: bool,
    /// The audit trail, when enabled (`node.id` is filled in at start-up).
    pub(crate) audit: Option<keyward_http::AuditConfig>,
    /// Forward authentication for reverse proxies.
    pub(crate) forward_auth: keyward_http::ForwardAuthConfig,
    /// How often the forward auth settings of the config file are checked for changes.
    pub(crate) reload_interval: Duration,
}

impl Config {
    /// Parses every setting into its type; the error names the setting.
    pub(crate) fn from_settings(settings: &Settings) -> anyhow::Result<Config> {
        if !settings.boolean("xpack.security.enabled")? {
            bail!(
                "setting [xpack.security.enabled] cannot be false: keyward always enforces security"
            );
        }
        let port = settings.raw("http.port");
        let ports = match port.split_once('-') {
            Some((low, high)) => parse_port(low, port)?..=parse_port(high, port)?,
            None => {
                let port_number = parse_port(port, port)?;
                port_number..=port_number
            }
        };
        let algorithm_name = "xpack.security.authc.api_key.hashing.algorithm";
        let hashing_algorithm =
            HashAlgorithm::from_name(settings.raw(algorithm_name)).map_err(|err| {
                anyhow::anyhow!("invalid value for setting [{algorithm_name}]: {err}")
            })?;
        if !hashing_algorithm.is_allowed_for_api_keys() {
            bail!(
                "invalid value for setting [{algorithm_name}]: [{}] is not a secure hashing algorithm for API keys; use ssha256, bcrypt, pbkdf2 or pbkdf2_stretch",
                hashing_algorithm.name()
            );
        }
        let password_algorithm_name = "xpack.security.authc.password_hashing.algorithm";
        let password_hashing_algorithm =
            HashAlgorithm::from_name(settings.raw(password_algorithm_name)).map_err(|err| {
                anyhow::anyhow!("invalid value for setting [{password_algorithm_name}]: {err}")
            })?;
        if !keyward_core::native::is_password_hashing_algorithm(password_hashing_algorithm) {
            bail!(
                "invalid value for setting [{password_algorithm_name}]: [{}] cannot hash passwords; use one of bcrypt, bcrypt4 to bcrypt14, pbkdf2, pbkdf2_<iterations> or pbkdf2_stretch_<iterations>",
                settings.raw(password_algorithm_name)
            );
        }
        HashAlgorithm::from_name(settings.raw("xpack.security.authc.api_key.cache.hash_algo"))
            .map_err(|err| anyhow::anyhow!("invalid value for setting [xpack.security.authc.api_key.cache.hash_algo]: {err}"))?;
        settings.time("xpack.security.authc.api_key.doc_cache.ttl")?;
        settings.time("xpack.security.authc.api_key.delete.timeout")?;
        let token_timeout = settings.time("xpack.security.authc.token.timeout")?;
        if token_timeout < Duration::from_secs(1) || token_timeout > Duration::from_secs(60 * 60) {
            bail!(
                "invalid value for setting [xpack.security.authc.token.timeout]: [{}] must be between 1s and 1h",
                settings.raw("xpack.security.authc.token.timeout")
            );
        }
        let service = ServiceConfig {
            token_timeout,
            enabled: settings.boolean("xpack.security.authc.api_key.enabled")?,
            hashing_algorithm,
            password_hashing_algorithm,
            cache_ttl: settings.time("xpack.security.authc.api_key.cache.ttl")?,
            cache_max_keys: settings.number("xpack.security.authc.api_key.cache.max_keys")?,
            delete_retention_period: settings
                .time("xpack.security.authc.api_key.delete.retention_period")?,
            delete_interval: settings.time("xpack.security.authc.api_key.delete.interval")?,
            max_buckets: settings.number("search.max_buckets")?,
            cluster_name: settings.raw("cluster.name").to_owned(),
            node_name: settings.raw("node.name").to_owned(),
            ..ServiceConfig::default()
        };
        Ok(Config {
            http: HttpConfig {
                host: settings.raw("http.host").to_owned(),
                ports,
                limits: keyward_http::HttpLimits {
                    max_content_length: settings.byte_size("http.max_content_length")?,
                    max_initial_line_length: settings.byte_size("http.max_initial_line_length")?,
                    max_header_size: settings.byte_size("http.max_header_size")?,
                    header_read_timeout: settings
                        .positive_time("keyward.http.header_read_timeout")?,
                    body_read_timeout: settings.positive_time("keyward.http.body_read_timeout")?,
                    max_connections: settings.positive_number("keyward.http.max_connections")?,
                },
                tls: tls_settings(settings)?,
            },
            store: StoreConfig {
                data_dir: PathBuf::from(settings.raw("path.data")),
                read_connections: settings.number("keyward.store.read_connections")?.max(1),
                backend: Backend::from_settings(settings)?,
            },
            service,
            log_filter: std::env::var("RUST_LOG")
                .unwrap_or_else(|_| settings.raw("keyward.log.level").to_owned()),
            log_json: match settings.raw("keyward.log.format") {
                "text" => false,
                "json" => true,
                other => bail!(
                    "failed to parse value [{other}] for setting [keyward.log.format]: expected [text] or [json]"
                ),
            },
            audit: audit_config(settings)?,
            forward_auth: forward_auth_config(settings)?,
            reload_interval: settings.positive_time("resource.reload.interval.high")?,
        })
    }
}

/// The audit settings, `None` when auditing is off.
/// The `keyward.forward_auth.*` settings; the error names the setting.
pub(crate) fn forward_auth_config(
    settings: &Settings,
) -> anyhow::Result<keyward_http::ForwardAuthConfig> {
    use keyward_core::forward_auth::{Fallback, Rules};
    use keyward_http::{ForwardAuthConfig, IdentityHeaders, ProxyKind};
    let header = |name: &str| -> anyhow::Result<http::HeaderName> {
        http::HeaderName::from_bytes(settings.raw(name).trim().as_bytes())
            .map_err(|_| anyhow::anyhow!("setting [{name}] is not a valid header name"))
    };
    let json = |name: &str| -> anyhow::Result<serde_json::Value> {
        serde_json::from_str(settings.raw(name))
            .with_context(|| format!("setting [{name}] must be a YAML structure or its JSON"))
    };
    let proxy = match settings.raw("keyward.forward_auth.proxy") {
        "" => None,
        text => Some(
            ProxyKind::parse(text)
                .map_err(|err| anyhow::anyhow!("setting [keyward.forward_auth.proxy]: {err}"))?,
        ),
    };
    let fallback = Fallback::parse(settings.raw("keyward.forward_auth.default"))
        .map_err(|err| anyhow::anyhow!("setting [keyward.forward_auth.default]: {err}"))?;
    let rules = Rules::parse(&json("keyward.forward_auth.rules")?, fallback)
        .map_err(|err| anyhow::anyhow!("setting [keyward.forward_auth.rules]: {err}"))?;
    let metadata_name = "keyward.forward_auth.metadata_headers";
    let metadata_headers = match json(metadata_name)? {
        serde_json::Value::Object(map) => map
            .into_iter()
            .map(|(field, header_name)| {
                let header_name = header_name
                    .as_str()
                    .and_then(|text| http::HeaderName::from_bytes(text.as_bytes()).ok())
                    .ok_or_else(|| {
                        anyhow::anyhow!(
                            "setting [{metadata_name}]: [{field}] must name a valid header"
                        )
                    })?;
                Ok((field, header_name))
            })
            .collect::<anyhow::Result<Vec<_>>>()?,
        _ => bail!("setting [{metadata_name}] must map metadata fields to header names"),
    };
    Ok(ForwardAuthConfig {
        proxy,
        rules,
        headers: IdentityHeaders {
            user: header("keyward.forward_auth.headers.user")?,
            realm: header("keyward.forward_auth.headers.realm")?,
            api_key_id: header("keyward.forward_auth.headers.api_key_id")?,
            api_key_name: header("keyward.forward_auth.headers.api_key_name")?,
        },
        metadata_headers,
    })
}

/// The forward auth settings' raw values: what a reload compares.
pub(crate) fn forward_auth_settings(settings: &Settings) -> Vec<(String, String)> {
    settings
        .values
        .iter()
        .filter(|(name, _)| name.starts_with("keyward.forward_auth."))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}

fn audit_config(settings: &Settings) -> anyhow::Result<Option<keyward_http::AuditConfig>> {
    use keyward_http::{AuditConfig, AuditFile, EventSet};
    let events = |name: &str| {
        EventSet::parse(settings.raw(name)).map_err(|unknown| {
            anyhow::anyhow!("invalid event name specified [{unknown}] for setting [{name}]")
        })
    };
    let include = events("xpack.security.audit.logfile.events.include")?;
    let exclude = events("xpack.security.audit.logfile.events.exclude")?;
    let max_file_size = settings.byte_size("keyward.audit.max_file_size")?;
    let max_files = settings.number("keyward.audit.max_files")?;
    let emit_node_id = settings.boolean("xpack.security.audit.logfile.emit_node_id")?;
    let emit_node_name = settings.boolean("xpack.security.audit.logfile.emit_node_name")?;
    if !settings.boolean("xpack.security.audit.enabled")? {
        return Ok(None);
    }
    let logs = match settings.raw("path.logs") {
        "" => PathBuf::from(settings.raw("path.data")).join("logs"),
        path => PathBuf::from(path),
    };
    let cluster_name = settings.raw("cluster.name");
    Ok(Some(AuditConfig {
        file: AuditFile {
            path: logs.join(format!("{cluster_name}_audit.json")),
            max_file_size: max_file_size as u64,
            max_files,
        },
        events: include.without(exclude),
        // Replaced by the node's id once the store is open.
        node_id: emit_node_id.then(String::new),
        node_name: emit_node_name.then(|| settings.raw("node.name").to_owned()),
    }))
}

fn tls_settings(settings: &Settings) -> anyhow::Result<crate::tls::TlsSettings> {
    use crate::tls::ClientAuthentication;
    if !settings
        .raw("xpack.security.http.ssl.key_passphrase")
        .is_empty()
    {
        bail!(
            "setting [xpack.security.http.ssl.key_passphrase] is not supported: keyward reads unencrypted PEM keys only (decrypt it with `openssl pkey -in key.pem -out plain.pem`)"
        );
    }
    let name = "xpack.security.http.ssl.client_authentication";
    let client_authentication = match settings.raw(name) {
        "none" => ClientAuthentication::None,
        "optional" => ClientAuthentication::Optional,
        "required" => ClientAuthentication::Required,
        other => bail!(
            "failed to parse value [{other}] for setting [{name}]: expected one of [none, optional, required]"
        ),
    };
    Ok(crate::tls::TlsSettings {
        enabled: settings.boolean("xpack.security.http.ssl.enabled")?,
        certificate: settings.path("xpack.security.http.ssl.certificate"),
        key: settings.path("xpack.security.http.ssl.key"),
        certificate_authorities: settings.paths("xpack.security.http.ssl.certificate_authorities"),
        client_authentication,
        reload_interval: settings.positive_time("resource.reload.interval.high")?,
    })
}

fn parse_port(text: &str, setting: &str) -> anyhow::Result<u16> {
    text.trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("failed to parse value [{setting}] for setting [http.port]"))
}

/// The bootstrap password for the `elastic` user, from `ELASTIC_PASSWORD`.
pub(crate) fn elastic_password() -> Option<Zeroizing<String>> {
    std::env::var("ELASTIC_PASSWORD")
        .ok()
        .filter(|password| !password.is_empty())
        .map(Zeroizing::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_file_and_unknown_names_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("keyward.yml");
        std::fs::write(
            &file,
            "http:\n  port: 9300\nxpack.security.authc.api_key.cache.ttl: 5m\n",
        )
        .unwrap();
        let settings = Settings::load(Some(&file), &["http.port=9400".to_owned()]).unwrap();
        let config = Config::from_settings(&settings).unwrap();
        assert_eq!(config.http.ports, 9400..=9400);
        assert_eq!(config.service.cache_ttl, Duration::from_secs(300));

        let err = Settings::load(None, &["http.prot=1".to_owned()]).unwrap_err();
        assert!(
            err.to_string().starts_with("unknown setting [http.prot]"),
            "{err}"
        );
        std::fs::write(&file, "bogus:\n  name: 1\n").unwrap();
        let err = Settings::load(Some(&file), &[]).unwrap_err();
        assert!(
            err.to_string().starts_with("unknown setting [bogus.name]"),
            "{err}"
        );
    }

    #[test]
    fn postgresql_store_settings() {
        let settings = Settings::load(None, &[]).unwrap();
        let config = Config::from_settings(&settings).unwrap();
        assert!(matches!(config.store.backend, Backend::Embedded));

        let settings = Settings::load(
            None,
            &[
                "keyward.store.type=postgresql".to_owned(),
                "keyward.store.postgresql.url=postgres://kw:s3cret@db:5432/keys".to_owned(),
                "keyward.store.postgresql.pool_size=4".to_owned(),
            ],
        )
        .unwrap();
        let config = Config::from_settings(&settings).unwrap();
        let Backend::Postgresql(postgresql) = &config.store.backend else {
            panic!("expected postgresql, got {:?}", config.store.backend);
        };
        assert_eq!(postgresql.pool_size, 4);
        assert_eq!(postgresql.connect_timeout, Duration::from_secs(5));
        assert_eq!(postgresql.ssl_mode, "disable");
        // The password shows neither in `config show` nor in a Debug print.
        for shown in [settings.show(), format!("{config:?}")] {
            assert!(!shown.contains("s3cret"), "{shown}");
            assert!(shown.contains("postgres://kw:xxx@db:5432/keys"), "{shown}");
        }

        let missing_url = Settings::load(None, &["keyward.store.type=postgresql".to_owned()])
            .and_then(|settings| Config::from_settings(&settings))
            .unwrap_err();
        assert!(
            missing_url
                .to_string()
                .contains("[keyward.store.postgresql.url] is required"),
            "{missing_url}"
        );
        let bad_type = Settings::load(None, &["keyward.store.type=mysql".to_owned()])
            .and_then(|settings| Config::from_settings(&settings))
            .unwrap_err();
        assert!(
            bad_type.to_string().contains("[keyward.store.type]"),
            "{bad_type}"
        );
    }

    #[test]
    fn tls_paths_resolve_against_the_config_files_directory() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("keyward.yml");
        std::fs::write(
            &file,
            "xpack.security.http.ssl:\n  enabled: true\n  certificate: certs/node.crt\n  key: /abs/node.key\n  certificate_authorities: [a.crt, b.crt]\n",
        )
        .unwrap();
        let settings = Settings::load(Some(&file), &[]).unwrap();
        let tls = Config::from_settings(&settings).unwrap().http.tls;
        assert!(tls.enabled);
        assert_eq!(tls.certificate, Some(dir.path().join("certs/node.crt")));
        assert_eq!(tls.key, Some(PathBuf::from("/abs/node.key")));
        assert_eq!(
            tls.certificate_authorities,
            vec![dir.path().join("a.crt"), dir.path().join("b.crt")]
        );
        let settings = Settings::load(
            None,
            &["xpack.security.http.ssl.certificate=node.crt".to_owned()],
        )
        .unwrap();
        let tls = Config::from_settings(&settings).unwrap().http.tls;
        assert!(!tls.enabled);
        assert_eq!(tls.certificate, Some(PathBuf::from("./node.crt")));
        assert!(
            settings
                .show()
                .contains("xpack.security.http.ssl.client_authentication: none")
        );
    }

    #[test]
    fn urls_lose_only_their_password() {
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(
            redact_url("postgres://u:p@h:1/db?x=1"),
            "postgres://u:xxx@h:1/db?x=1"
        );
        assert_eq!(
            redact_url("postgres://u:p@ss@h/db"),
            "postgres://u:xxx@h/db"
        );
        assert_eq!(redact_url("host=h user=u"), "host=h user=u");
    }

    #[test]
    fn bad_values_name_the_setting() {
        let settings = Settings::load(
            None,
            &["xpack.security.authc.api_key.hashing.algorithm=md5".to_owned()],
        )
        .unwrap();
        let err = Config::from_settings(&settings).unwrap_err();
        assert!(
            err.to_string()
                .contains("xpack.security.authc.api_key.hashing.algorithm"),
            "{err}"
        );
        for (flag, named) in [
            (
                "keyward.http.max_connections=0",
                "keyward.http.max_connections",
            ),
            (
                "keyward.http.header_read_timeout=0s",
                "keyward.http.header_read_timeout",
            ),
            (
                "keyward.http.body_read_timeout=-1",
                "keyward.http.body_read_timeout",
            ),
            ("http.max_header_size=lots", "http.max_header_size"),
        ] {
            let settings = Settings::load(None, &[flag.to_owned()]).unwrap();
            let err = Config::from_settings(&settings).unwrap_err();
            assert!(err.to_string().contains(named), "{flag}: {err}");
        }
        let settings = Settings::load(
            None,
            &[
                "http.max_initial_line_length=8kb".to_owned(),
                "keyward.http.body_read_timeout=250ms".to_owned(),
            ],
        )
        .unwrap();
        let limits = Config::from_settings(&settings).unwrap().http.limits;
        assert_eq!(limits.max_initial_line_length, 8192);
        assert_eq!(limits.max_header_size, 16384);
        assert_eq!(limits.body_read_timeout, Duration::from_millis(250));
        assert_eq!(limits.header_read_timeout, Duration::from_secs(30));
        assert_eq!(limits.max_connections, 4096);
        let settings = Settings::load(None, &["http.port=9200-9210".to_owned()]).unwrap();
        assert_eq!(
            Config::from_settings(&settings).unwrap().http.ports,
            9200..=9210
        );
    }
}
