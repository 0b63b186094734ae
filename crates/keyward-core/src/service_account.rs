//! Service accounts: the accounts Elasticsearch builds in (all in the `elastic` namespace), each
//! with one fixed role descriptor, the rules for their token names, and the bearer format of a
//! service token (base64 of four magic bytes, then `namespace/service/name:secret`).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use serde_json::{Map, Value, json};
use zeroize::Zeroizing;

use crate::reserved::reserved_role;
use crate::role::{IndicesPrivileges, RoleDescriptor};

/// The only namespace Elasticsearch has service accounts in.
pub const NAMESPACE: &str = "elastic";

/// The built-in service accounts, sorted by principal.
pub const SERVICE_ACCOUNTS: &[&str] = &[
    "elastic/auto-ops",
    "elastic/fleet-server",
    "elastic/fleet-server-remote",
    "elastic/kibana",
];

/// Elasticsearch's message for a token name outside its rules.
pub const INVALID_TOKEN_NAME: &str = "service account token name must have at least 1 character \
    and at most 256 characters that are alphanumeric (A-Z, a-z, 0-9) or hyphen (-) or underscore \
    (_). It must not begin with an underscore (_).";

/// The four bytes every service token starts with: magic, token type, reserved, format version.
const PREFIX: [u8; 4] = [0, 1, 0, 1];

/// A secret shorter than this never authenticates (Elasticsearch's minimum).
pub const MIN_SECRET_LENGTH: usize = 10;

/// Whether `principal` (`namespace/service`) names a built-in service account.
pub fn is_service_account(principal: &str) -> bool {
    SERVICE_ACCOUNTS.contains(&principal)
}

/// The role descriptor of the service account `principal`, `None` for an unknown one.
pub fn service_account_role(principal: &str) -> Option<RoleDescriptor> {
    const FLEET_INDEX: &[&str] = &[
        "read",
        "write",
        "monitor",
        "create_index",
        "auto_configure",
        "maintenance",
    ];
    const CONNECTORS: &[&str] = &[
        "read",
        "write",
        "monitor",
        "create_index",
        "auto_configure",
        "maintenance",
        "view_index_metadata",
    ];
    let descriptor = match principal {
        "elastic/auto-ops" => descriptor(
            &["monitor", "read_ilm", "read_slm"],
            vec![restricted(indices(
                &["*"],
                &["monitor", "view_index_metadata"],
            ))],
            Vec::new(),
        ),
        "elastic/fleet-server" => descriptor(
            &[
                "monitor",
                "manage_own_api_key",
                "read_fleet_secrets",
                "cluster:admin/xpack/connector/*",
            ],
            vec![
                indices(
                    &[
                        "logs-*",
                        "metrics-*",
                        "traces-*",
                        ".logs-endpoint.diagnostic.collection-*",
                        ".logs-endpoint.action.responses-*",
                        ".logs-endpoint.heartbeat-*",
                    ],
                    &["write", "create_index", "auto_configure"],
                ),
                indices(&["profiling-*"], &["read", "write"]),
                indices(
                    &["traces-apm.sampled-*"],
                    &["read", "monitor", "maintenance"],
                ),
                restricted(indices(&[".fleet-secrets*"], &["read"])),
                restricted(indices(&[".fleet-actions*"], FLEET_INDEX)),
                restricted(indices(&[".fleet-agents*"], FLEET_INDEX)),
                restricted(indices(&[".fleet-artifacts*"], FLEET_INDEX)),
                restricted(indices(&[".fleet-enrollment-api-keys*"], FLEET_INDEX)),
                restricted(indices(&[".fleet-policies*"], FLEET_INDEX)),
                restricted(indices(&[".fleet-policies-leader*"], FLEET_INDEX)),
                restricted(indices(&[".fleet-servers*"], FLEET_INDEX)),
                restricted(indices(&[".fleet-fileds*"], FLEET_INDEX)),
                indices(
                    &["synthetics-*"],
                    &["read", "write", "create_index", "auto_configure"],
                ),
                indices(&[".elastic-connectors*"], CONNECTORS),
                indices(&["content-*", ".search-acl-filter-*"], CONNECTORS),
                indices(&["agentless-*"], CONNECTORS),
            ],
            vec![json!({
                "application": "kibana-*",
                "privileges": ["reserved_fleet-setup"],
                "resources": ["*"],
            })],
        ),
        "elastic/fleet-server-remote" => descriptor(
            &["monitor", "manage_own_api_key"],
            vec![indices(
                &["logs-*", "metrics-*", "traces-*"],
                &["write", "create_index", "auto_configure"],
            )],
            Vec::new(),
        ),
        // Elasticsearch gives the Kibana service account the kibana_system role's privileges.
        "elastic/kibana" => {
            let mut kibana = reserved_role("kibana_system")?;
            kibana.metadata = Map::new();
            kibana
        }
        _ => return None,
    };
    Some(descriptor)
}

/// Whether `name` follows Elasticsearch's rules for a token name: 1 to 256 of `A-Za-z0-9-_`,
/// not starting with `_`.
pub fn is_valid_token_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    let Some(first) = bytes.next() else {
        return false;
    };
    name.len() <= 256
        && (first.is_ascii_alphanumeric() || first == b'-')
        && bytes.all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
}

/// A decoded service token: which account and token it names and its secret. Never printed.
pub struct ServiceToken {
    /// The account, `namespace/service`.
    pub account: String,
    /// The token name.
    pub name: String,
    secret: Zeroizing<String>,
}

impl ServiceToken {
    /// A token of `account` named `name` with `secret`.
    pub fn new(account: &str, name: &str, secret: Zeroizing<String>) -> ServiceToken {
        ServiceToken {
            account: account.to_owned(),
            name: name.to_owned(),
            secret,
        }
    }

    /// The secret.
    pub fn expose_secret(&self) -> &str {
        &self.secret
    }

    /// Decodes a bearer string; `None` when it is not a service token (no magic prefix, no
    /// `:`, not three `/`-separated parts), so that the caller tries other bearer tokens.
    pub fn parse(bearer: &str) -> Option<ServiceToken> {
        let trimmed = bearer.trim_end_matches('=');
        let bytes = Zeroizing::new(STANDARD_NO_PAD.decode(trimmed).ok()?);
        let content = bytes.strip_prefix(&PREFIX)?;
        let colon = content.iter().position(|byte| *byte == b':')?;
        let qualified = std::str::from_utf8(&content[..colon]).ok()?;
        let secret = Zeroizing::new(std::str::from_utf8(&content[colon + 1..]).ok()?.to_owned());
        let mut parts = qualified.split('/');
        let (namespace, service, name) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        Some(ServiceToken {
            account: format!("{namespace}/{service}"),
            name: name.to_owned(),
            secret,
        })
    }

    /// The bearer string: base64 (padding left out, as Elasticsearch writes it).
    pub fn to_bearer(&self) -> Zeroizing<String> {
        let mut bytes = Zeroizing::new(Vec::with_capacity(
            4 + self.account.len() + self.name.len() + self.secret.len() + 2,
        ));
        bytes.extend_from_slice(&PREFIX);
        bytes.extend_from_slice(self.account.as_bytes());
        bytes.push(b'/');
        bytes.extend_from_slice(self.name.as_bytes());
        bytes.push(b':');
        bytes.extend_from_slice(self.secret.as_bytes());
        Zeroizing::new(STANDARD_NO_PAD.encode(&*bytes))
    }
}

impl fmt::Debug for ServiceToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceToken")
            .field("account", &self.account)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

fn descriptor(
    cluster: &[&str],
    indices: Vec<IndicesPrivileges>,
    applications: Vec<Value>,
) -> RoleDescriptor {
    RoleDescriptor {
        cluster: cluster.iter().map(|name| (*name).to_owned()).collect(),
        indices,
        applications,
        ..RoleDescriptor::default()
    }
}

fn indices(names: &[&str], privileges: &[&str]) -> IndicesPrivileges {
    IndicesPrivileges {
        names: names.iter().map(|name| (*name).to_owned()).collect(),
        privileges: privileges.iter().map(|name| (*name).to_owned()).collect(),
        field_security: None,
        query: None,
        allow_restricted_indices: false,
    }
}

fn restricted(mut group: IndicesPrivileges) -> IndicesPrivileges {
    group.allow_restricted_indices = true;
    group
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::privilege::{validate_cluster_privilege, validate_index_privilege};

    #[test]
    fn every_account_has_a_descriptor_of_known_privileges() {
        for principal in SERVICE_ACCOUNTS {
            let role = service_account_role(principal).unwrap();
            assert!(!role.cluster.is_empty(), "{principal}");
            for privilege in &role.cluster {
                validate_cluster_privilege(privilege).unwrap();
            }
            for group in &role.indices {
                for privilege in &group.privileges {
                    validate_index_privilege(privilege).unwrap();
                }
            }
        }
        assert!(service_account_role("elastic/nope").is_none());
        let mut sorted = SERVICE_ACCOUNTS.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, SERVICE_ACCOUNTS);
    }

    #[test]
    fn token_names() {
        for good in ["a", "token-1", "-x", "A_b-9", &"x".repeat(256)] {
            assert!(is_valid_token_name(good), "{good}");
        }
        for bad in ["", "_x", "a b", "a/b", "a:b", "é", &"x".repeat(257)] {
            assert!(!is_valid_token_name(bad), "{bad}");
        }
    }

    #[test]
    fn bearer_round_trip() {
        let token = ServiceToken::new(
            "elastic/fleet-server",
            "t1",
            Zeroizing::new("secretsecret".to_owned()),
        );
        let bearer = token.to_bearer();
        let parsed = ServiceToken::parse(&bearer).unwrap();
        assert_eq!(parsed.account, "elastic/fleet-server");
        assert_eq!(parsed.name, "t1");
        assert_eq!(parsed.expose_secret(), "secretsecret");
        // A known Elasticsearch-format token: \0\1\0\1elastic/fleet-server/token1:supersecret
        let known =
            STANDARD_NO_PAD.encode(b"\x00\x01\x00\x01elastic/fleet-server/token1:supersecret");
        let parsed = ServiceToken::parse(&known).unwrap();
        assert_eq!(parsed.name, "token1");
        assert!(!format!("{parsed:?}").contains("supersecret"));
        for other in ["abc", "dGVzdA", "", "AAEAAWVsYXN0aWMvZmxlZXQ"] {
            assert!(ServiceToken::parse(other).is_none(), "{other}");
        }
    }
}
