//! Forward authentication settings (`keyward.forward_auth.*`), swapped whole when the
//! configuration file changes: every request reads the set in force when it arrived.

use std::sync::{Arc, RwLock};

use http::HeaderName;
use keyward_core::forward_auth::{Fallback, Rules};

/// Where the proxied request's method, URI and host are read from. Chosen by the operator, never
/// guessed: a proxy passes its client's headers on, so the header a *different* proxy would set
/// is one the client can forge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyKind {
    /// nginx `auth_request`: `X-Original-Method`, `X-Original-URI`, `X-Forwarded-Host`.
    Nginx,
    /// Caddy `forward_auth`, Traefik `ForwardAuth`: `X-Forwarded-Method`, `X-Forwarded-Uri`,
    /// `X-Forwarded-Host`.
    Forwarded,
    /// Envoy `ext_authz` (HTTP): the request's own method, the path after
    /// `/_keyward/forward_auth`, and `Host`.
    Envoy,
}

impl ProxyKind {
    /// Parses `nginx`, `forwarded` (also `caddy`, `traefik`) or `envoy`.
    pub fn parse(text: &str) -> Result<ProxyKind, String> {
        match text {
            "nginx" => Ok(ProxyKind::Nginx),
            "forwarded" | "caddy" | "traefik" => Ok(ProxyKind::Forwarded),
            "envoy" => Ok(ProxyKind::Envoy),
            other => Err(format!(
                "unknown proxy [{other}], expected one of [nginx, forwarded, caddy, traefik, envoy]"
            )),
        }
    }
}

/// The headers a granted request's identity goes upstream in.
#[derive(Debug, Clone)]
pub struct IdentityHeaders {
    /// The user name (for an API key, its owner).
    pub user: HeaderName,
    /// The realm that authenticated the user (for an API key, its owner's).
    pub realm: HeaderName,
    /// The API key's id, when a key authenticated.
    pub api_key_id: HeaderName,
    /// The API key's name, when a key authenticated.
    pub api_key_name: HeaderName,
}

impl Default for IdentityHeaders {
    fn default() -> IdentityHeaders {
        IdentityHeaders {
            user: HeaderName::from_static("x-keyward-user"),
            realm: HeaderName::from_static("x-keyward-realm"),
            api_key_id: HeaderName::from_static("x-keyward-api-key-id"),
            api_key_name: HeaderName::from_static("x-keyward-api-key-name"),
        }
    }
}

/// Everything forward authentication is configured with.
#[derive(Debug, Clone)]
pub struct ForwardAuthConfig {
    /// Where the proxied request is read from; `None` until configured, and forward
    /// authentication refuses every request until it is.
    pub proxy: Option<ProxyKind>,
    /// The rules, in order, and what a request none covers gets.
    pub rules: Rules,
    /// The identity headers.
    pub headers: IdentityHeaders,
    /// API key metadata fields passed upstream, each under its header.
    pub metadata_headers: Vec<(String, HeaderName)>,
}

impl Default for ForwardAuthConfig {
    fn default() -> ForwardAuthConfig {
        ForwardAuthConfig {
            proxy: None,
            rules: Rules::empty(Fallback::Deny),
            headers: IdentityHeaders::default(),
            metadata_headers: Vec::new(),
        }
    }
}

/// The configuration in force, shared by every request and replaced whole on reload.
#[derive(Debug, Clone, Default)]
pub struct ForwardAuth(Arc<RwLock<Arc<ForwardAuthConfig>>>);

impl ForwardAuth {
    /// Forward authentication with `config`.
    pub fn new(config: ForwardAuthConfig) -> ForwardAuth {
        ForwardAuth(Arc::new(RwLock::new(Arc::new(config))))
    }

    /// The configuration in force now.
    pub fn current(&self) -> Arc<ForwardAuthConfig> {
        Arc::clone(
            &self
                .0
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// Puts `config` in force for the requests that arrive from now on.
    pub fn replace(&self, config: ForwardAuthConfig) {
        *self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(config);
    }
}
