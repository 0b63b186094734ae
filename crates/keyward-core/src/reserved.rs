//! The roles and users Elasticsearch builds in: they exist without being stored, cannot be
//! changed through the roles API, and carry `metadata._reserved: true`.
//!
//! The role definitions follow Elasticsearch's as far as cluster and index privileges go;
//! Kibana application privileges are kept as given, since keyward does not evaluate them.

use serde_json::{Map, Value, json};

use crate::role::{IndicesPrivileges, RoleDescriptor, superuser_role};

/// The names of the built-in roles, sorted.
pub const RESERVED_ROLE_NAMES: &[&str] = &[
    "apm_system",
    "beats_system",
    "editor",
    "ingest_admin",
    "kibana_admin",
    "kibana_system",
    "logstash_system",
    "monitoring_user",
    "remote_monitoring_agent",
    "remote_monitoring_collector",
    "superuser",
    "transport_client",
    "viewer",
];

/// Whether `name` is a built-in role.
pub fn is_reserved_role(name: &str) -> bool {
    RESERVED_ROLE_NAMES.contains(&name)
}

/// The built-in role called `name`, if there is one.
pub fn reserved_role(name: &str) -> Option<RoleDescriptor> {
    // Everything but the dot-prefixed (system) indices and ILM history, as a Lucene regexp.
    const REGULAR_INDICES: &str = "/~(([.]|ilm-history-).*)/";
    const MONITORING_BULK: &str = "cluster:admin/xpack/monitoring/bulk";
    let descriptor = match name {
        "superuser" => return Some(superuser_role()),
        "viewer" => role(
            &[],
            vec![
                indices(&[REGULAR_INDICES], &["read", "view_index_metadata"]),
                indices(
                    &[".siem-signals*", ".lists-*", ".items-*"],
                    &["read", "view_index_metadata"],
                ),
                indices(
                    &[".alerts*", ".preview.alerts*"],
                    &["read", "view_index_metadata"],
                ),
            ],
            vec![kibana_application("read")],
            "Grants read-only access to all features in Kibana and to the data indices.",
        ),
        "editor" => role(
            &[],
            vec![
                indices(
                    &["observability-annotations"],
                    &["read", "view_index_metadata", "write"],
                ),
                indices(&[REGULAR_INDICES], &["read", "view_index_metadata"]),
                indices(
                    &[".siem-signals*", ".lists-*", ".items-*"],
                    &["read", "view_index_metadata", "write", "maintenance"],
                ),
                indices(
                    &[
                        ".internal.alerts*",
                        ".alerts*",
                        ".internal.preview.alerts*",
                        ".preview.alerts*",
                    ],
                    &["read", "view_index_metadata", "write", "maintenance"],
                ),
            ],
            vec![kibana_application("all")],
            "Grants full access to all features in Kibana and read-only access to the data indices.",
        ),
        "kibana_system" => role(
            &[
                "monitor",
                "manage_index_templates",
                MONITORING_BULK,
                "manage_saml",
                "manage_token",
                "manage_oidc",
                "manage_enrich",
                "manage_pipeline",
                "manage_ilm",
                "manage_transform",
                "cluster:admin/xpack/security/api_key/invalidate",
                "grant_api_key",
                "manage_own_api_key",
                "cluster:admin/xpack/security/privilege/builtin/get",
                "delegate_pki",
                "cluster:admin/xpack/security/profile/*",
                "manage_ml",
                "cluster:admin/analyze",
                "monitor_text_structure",
                "cancel_task",
            ],
            vec![
                indices(&[".kibana*", ".reporting-*"], &["all"]),
                indices(&[".monitoring-*"], &["read", "read_cross_cluster"]),
                indices(&[".management-beats"], &["create_index", "read", "write"]),
                indices(&[".ml-anomalies*", ".ml-stats-*"], &["read"]),
                indices(
                    &[".ml-annotations*", ".ml-notifications*"],
                    &["read", "write"],
                ),
                indices(
                    &["apm-*", "logs-apm.*", "metrics-apm.*", "traces-apm*"],
                    &["read", "read_cross_cluster"],
                ),
                indices(
                    &[
                        ".apm-agent-configuration",
                        ".apm-custom-link",
                        ".apm-source-map",
                    ],
                    &["all"],
                ),
                indices(
                    &["logs-*", "metrics-*", "traces-*", "synthetics-*"],
                    &["read", "view_index_metadata"],
                ),
                indices(&[".fleet-*"], &["all"]),
                indices(
                    &[
                        ".alerts*",
                        ".internal.alerts*",
                        ".preview.alerts*",
                        ".internal.preview.alerts*",
                    ],
                    &["all"],
                ),
                indices(&[".siem-signals*", ".lists-*", ".items-*"], &["all"]),
            ],
            Vec::new(),
            "Grants access necessary for the Kibana system user to read from and write to the Kibana indices.",
        ),
        "kibana_admin" => role(
            &[],
            Vec::new(),
            vec![kibana_application("all")],
            "Grants access to all features in Kibana.",
        ),
        "monitoring_user" => role(
            &["cluster:monitor/main", "cluster:monitor/xpack/info"],
            vec![
                indices(&[".monitoring-*"], &["read", "read_cross_cluster"]),
                indices(
                    &["/metrics-(beats|elasticsearch|enterprisesearch|kibana|logstash).*/"],
                    &["read", "read_cross_cluster"],
                ),
                indices(&["metricbeat-*"], &["read", "read_cross_cluster"]),
            ],
            vec![kibana_application("reserved_monitoring")],
            "Grants the minimum privileges required for any user of X-Pack monitoring other than those required to use Kibana.",
        ),
        "logstash_system" => role(
            &["monitor", MONITORING_BULK],
            Vec::new(),
            Vec::new(),
            "Grants access necessary for the Logstash system user to send system-level data (such as monitoring) to Elasticsearch.",
        ),
        "beats_system" => role(
            &["monitor", MONITORING_BULK],
            vec![indices(
                &[".monitoring-beats-*"],
                &["create_index", "create_doc"],
            )],
            Vec::new(),
            "Grants access necessary for the Beats system user to send system-level data (such as monitoring) to Elasticsearch.",
        ),
        "apm_system" => role(
            &["monitor", MONITORING_BULK],
            vec![
                indices(&[".monitoring-beats-*"], &["create_index", "create_doc"]),
                indices(
                    &["metrics-apm.internal*"],
                    &["create_index", "create_doc", "view_index_metadata"],
                ),
            ],
            Vec::new(),
            "Grants access necessary for the APM system user to send system-level data (such as monitoring) to Elasticsearch.",
        ),
        "remote_monitoring_agent" => role(
            &[
                "manage_index_templates",
                "manage_ingest_pipelines",
                "monitor",
                "manage_ilm",
                "cluster:monitor/xpack/watcher/watch/get",
                "cluster:admin/xpack/watcher/watch/put",
                "cluster:admin/xpack/watcher/watch/delete",
            ],
            vec![
                indices(&[".monitoring-*"], &["all"]),
                indices(
                    &["metricbeat-*"],
                    &[
                        "index",
                        "create_index",
                        "view_index_metadata",
                        "indices:admin/aliases",
                        "indices:admin/rollover",
                    ],
                ),
            ],
            Vec::new(),
            "Grants the minimum privileges required to write data into the monitoring indices (.monitoring-*).",
        ),
        "remote_monitoring_collector" => {
            let mut everything = indices(&["*"], &["monitor"]);
            everything.allow_restricted_indices = true;
            role(
                &["monitor"],
                vec![everything, indices(&[".kibana*"], &["read"])],
                Vec::new(),
                "Grants the minimum privileges required to collect monitoring data for the Elastic Stack.",
            )
        }
        "ingest_admin" => role(
            &["manage_index_templates", "manage_pipeline"],
            Vec::new(),
            Vec::new(),
            "Grants access to manage all index templates and all ingest pipeline configurations.",
        ),
        "transport_client" => role(
            &["transport_client"],
            Vec::new(),
            Vec::new(),
            "Grants the privileges required to access the cluster through the Java Transport Client.",
        ),
        _ => return None,
    };
    Some(descriptor)
}

/// A user Elasticsearch builds in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReservedUser {
    /// The username.
    pub username: &'static str,
    /// The roles it always has.
    pub roles: &'static [&'static str],
    /// Whether Elasticsearch marks it deprecated.
    pub deprecated_by: Option<&'static str>,
}

/// The reserved users, in the order Elasticsearch lists them.
pub const RESERVED_USERS: &[ReservedUser] = &[
    ReservedUser {
        username: "elastic",
        roles: &["superuser"],
        deprecated_by: None,
    },
    ReservedUser {
        username: "kibana",
        roles: &["kibana_system"],
        deprecated_by: Some("kibana_system"),
    },
    ReservedUser {
        username: "kibana_system",
        roles: &["kibana_system"],
        deprecated_by: None,
    },
    ReservedUser {
        username: "logstash_system",
        roles: &["logstash_system"],
        deprecated_by: None,
    },
    ReservedUser {
        username: "beats_system",
        roles: &["beats_system"],
        deprecated_by: None,
    },
    ReservedUser {
        username: "apm_system",
        roles: &["apm_system"],
        deprecated_by: None,
    },
    ReservedUser {
        username: "remote_monitoring_user",
        roles: &["remote_monitoring_collector", "remote_monitoring_agent"],
        deprecated_by: None,
    },
];

/// The reserved user called `username`, if there is one.
pub fn reserved_user(username: &str) -> Option<&'static ReservedUser> {
    RESERVED_USERS.iter().find(|user| user.username == username)
}

impl ReservedUser {
    /// The metadata Elasticsearch shows for it: `_reserved`, plus the deprecation notice.
    pub fn metadata(&self) -> Map<String, Value> {
        let mut metadata = Map::new();
        metadata.insert("_reserved".to_owned(), Value::Bool(true));
        if let Some(replacement) = self.deprecated_by {
            metadata.insert("_deprecated".to_owned(), Value::Bool(true));
            metadata.insert(
                "_deprecated_reason".to_owned(),
                Value::String(format!("Please use the [{replacement}] user instead.")),
            );
        }
        metadata
    }
}

fn role(
    cluster: &[&str],
    indices: Vec<IndicesPrivileges>,
    applications: Vec<Value>,
    description: &str,
) -> RoleDescriptor {
    let mut metadata = Map::new();
    metadata.insert("_reserved".to_owned(), Value::Bool(true));
    RoleDescriptor {
        cluster: cluster.iter().map(|name| (*name).to_owned()).collect(),
        indices,
        applications,
        metadata,
        description: Some(description.to_owned()),
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

fn kibana_application(privilege: &str) -> Value {
    json!({"application": "kibana-.kibana", "privileges": [privilege], "resources": ["*"]})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reserved_role_resolves_and_is_marked_reserved() {
        for name in RESERVED_ROLE_NAMES {
            let role = reserved_role(name).unwrap();
            assert_eq!(
                role.metadata.get("_reserved"),
                Some(&Value::Bool(true)),
                "{name}"
            );
        }
        assert!(reserved_role("nope").is_none());
        let mut sorted = RESERVED_ROLE_NAMES.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, RESERVED_ROLE_NAMES);
    }

    #[test]
    fn reserved_users_only_name_reserved_roles() {
        for user in RESERVED_USERS {
            assert!(
                user.roles.iter().all(|role| is_reserved_role(role)),
                "{user:?}"
            );
        }
        assert_eq!(
            Value::Object(reserved_user("kibana").unwrap().metadata()),
            json!({"_reserved": true, "_deprecated": true, "_deprecated_reason": "Please use the [kibana_system] user instead."})
        );
    }
}
