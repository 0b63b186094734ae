//! Cluster and index privileges: the names Elasticsearch accepts, which actions each cluster
//! privilege grants, and how far (everything, or only the caller's own API keys).
//!
//! A privilege is a set of action-name patterns (`cluster:admin/xpack/security/api_key/*`). The
//! request path matches action names against the tables with [`wildcard_match`]; `has_privileges`
//! compares privileges as automata ([`cluster_privilege_automaton`], [`index_privilege_automaton`]).

use std::sync::LazyLock;

use crate::automaton::Automaton;

/// Action names keyward checks, exactly as Elasticsearch names them.
pub mod actions {
    /// `GET /`.
    pub const MAIN: &str = "cluster:monitor/main";
    /// `GET /_cluster/health`.
    pub const CLUSTER_HEALTH: &str = "cluster:monitor/health";
    /// `GET /_security/_authenticate`; every authenticated subject may call it.
    pub const AUTHENTICATE: &str = "cluster:admin/xpack/security/user/authenticate";
    /// Create a REST API key.
    pub const CREATE_API_KEY: &str = "cluster:admin/xpack/security/api_key/create";
    /// Grant an API key on behalf of a user.
    pub const GRANT_API_KEY: &str = "cluster:admin/xpack/security/api_key/grant";
    /// Clear the realms' user caches.
    pub const CLEAR_REALM_CACHE: &str = "cluster:admin/xpack/security/realm/cache/clear";
    /// Read the security indices' settings.
    pub const GET_SECURITY_SETTINGS: &str = "cluster:admin/xpack/security/settings/get";
    /// Change the security indices' settings.
    pub const UPDATE_SECURITY_SETTINGS: &str = "cluster:admin/xpack/security/settings/update";
    /// Security statistics of each node.
    pub const SECURITY_STATS: &str = "cluster:monitor/xpack/security/stats";
    /// Grant API keys in bulk on behalf of a user.
    pub const BULK_GRANT_API_KEY: &str = "cluster:admin/xpack/security/api_key/grant/bulk";
    /// Clone an API key from its credential.
    pub const CLONE_API_KEY: &str = "cluster:admin/xpack/security/api_key/clone";
    /// Get API key information.
    pub const GET_API_KEY: &str = "cluster:admin/xpack/security/api_key/get";
    /// Query API keys.
    pub const QUERY_API_KEY: &str = "cluster:admin/xpack/security/api_key/query";
    /// Invalidate API keys.
    pub const INVALIDATE_API_KEY: &str = "cluster:admin/xpack/security/api_key/invalidate";
    /// Update one API key.
    pub const UPDATE_API_KEY: &str = "cluster:admin/xpack/security/api_key/update";
    /// Update API keys in bulk.
    pub const BULK_UPDATE_API_KEY: &str = "cluster:admin/xpack/security/api_key/bulk_update";
    /// Create a cross-cluster API key.
    pub const CREATE_CROSS_CLUSTER_API_KEY: &str =
        "cluster:admin/xpack/security/cross_cluster/api_key/create";
    /// Update a cross-cluster API key.
    pub const UPDATE_CROSS_CLUSTER_API_KEY: &str =
        "cluster:admin/xpack/security/cross_cluster/api_key/update";
    /// Clear a security cache (the API key cache among them).
    pub const CLEAR_SECURITY_CACHE: &str = "cluster:admin/xpack/security/cache/clear";
    /// Create or update a native user.
    pub const PUT_USER: &str = "cluster:admin/xpack/security/user/put";
    /// Get users.
    pub const GET_USER: &str = "cluster:admin/xpack/security/user/get";
    /// Delete a native user.
    pub const DELETE_USER: &str = "cluster:admin/xpack/security/user/delete";
    /// Change a user's password (a user may always change its own).
    pub const CHANGE_PASSWORD: &str = "cluster:admin/xpack/security/user/change_password";
    /// Enable or disable a user.
    pub const SET_ENABLED: &str = "cluster:admin/xpack/security/user/set_enabled";
    /// Query users.
    pub const QUERY_USER: &str = "cluster:admin/xpack/security/user/query";
    /// Create or update a role.
    pub const PUT_ROLE: &str = "cluster:admin/xpack/security/role/put";
    /// Create or update roles in bulk.
    pub const BULK_PUT_ROLE: &str = "cluster:admin/xpack/security/role/bulk_put";
    /// Get roles.
    pub const GET_ROLE: &str = "cluster:admin/xpack/security/role/get";
    /// Delete a role.
    pub const DELETE_ROLE: &str = "cluster:admin/xpack/security/role/delete";
    /// Delete roles in bulk.
    pub const BULK_DELETE_ROLE: &str = "cluster:admin/xpack/security/role/bulk_delete";
    /// Query roles.
    pub const QUERY_ROLE: &str = "cluster:admin/xpack/security/role/query";
    /// Create or update a role mapping.
    pub const PUT_ROLE_MAPPING: &str = "cluster:admin/xpack/security/role_mapping/put";
    /// Get role mappings.
    pub const GET_ROLE_MAPPINGS: &str = "cluster:admin/xpack/security/role_mapping/get";
    /// Delete a role mapping.
    pub const DELETE_ROLE_MAPPING: &str = "cluster:admin/xpack/security/role_mapping/delete";
    /// Clear the roles cache.
    pub const CLEAR_ROLES_CACHE: &str = "cluster:admin/xpack/security/roles/cache/clear";
    /// Create or update application privileges.
    pub const PUT_PRIVILEGES: &str = "cluster:admin/xpack/security/privilege/put";
    /// Get application privileges.
    pub const GET_PRIVILEGES: &str = "cluster:admin/xpack/security/privilege/get";
    /// Delete application privileges.
    pub const DELETE_PRIVILEGES: &str = "cluster:admin/xpack/security/privilege/delete";
    /// Check the caller's own privileges; every authenticated subject may.
    pub const HAS_PRIVILEGES: &str = "cluster:admin/xpack/security/user/has_privileges";
    /// List the caller's own privileges; every authenticated subject may.
    pub const GET_USER_PRIVILEGES: &str = "cluster:admin/xpack/security/user/list_privileges";
    /// Clear the application privileges cache.
    pub const CLEAR_PRIVILEGES_CACHE: &str = "cluster:admin/xpack/security/privilege/cache/clear";
    /// List the built-in cluster and index privileges.
    pub const GET_BUILTIN_PRIVILEGES: &str = "cluster:admin/xpack/security/privilege/builtin/get";
    /// Get an access token (`POST /_security/oauth2/token`).
    pub const CREATE_TOKEN: &str = "cluster:admin/xpack/security/token/create";
    /// Invalidate access or refresh tokens.
    pub const INVALIDATE_TOKEN: &str = "cluster:admin/xpack/security/token/invalidate";
    /// Exchange a refresh token for a new access token.
    pub const REFRESH_TOKEN: &str = "cluster:admin/xpack/security/token/refresh";
    /// `POST /_security/saml/prepare`.
    pub const SAML_PREPARE: &str = "cluster:admin/xpack/security/saml/prepare";
    /// `POST /_security/saml/authenticate`.
    pub const SAML_AUTHENTICATE: &str = "cluster:admin/xpack/security/saml/authenticate";
    /// `POST /_security/saml/logout`.
    pub const SAML_LOGOUT: &str = "cluster:admin/xpack/security/saml/logout";
    /// `POST /_security/saml/invalidate`.
    pub const SAML_INVALIDATE: &str = "cluster:admin/xpack/security/saml/invalidate";
    /// `POST /_security/saml/complete_logout`.
    pub const SAML_COMPLETE_LOGOUT: &str = "cluster:admin/xpack/security/saml/complete_logout";
    /// `GET /_security/saml/metadata/{realm_name}`.
    pub const SAML_METADATA: &str = "cluster:admin/xpack/security/saml/metadata";
    /// `POST /_security/oidc/prepare`.
    pub const OIDC_PREPARE: &str = "cluster:admin/xpack/security/oidc/prepare";
    /// `POST /_security/oidc/authenticate`.
    pub const OIDC_AUTHENTICATE: &str = "cluster:admin/xpack/security/oidc/authenticate";
    /// `POST /_security/oidc/logout`.
    pub const OIDC_LOGOUT: &str = "cluster:admin/xpack/security/oidc/logout";
    /// `GET /_security/enroll/node`.
    pub const ENROLL_NODE: &str = "cluster:admin/xpack/security/enroll/node";
    /// `GET /_security/enroll/kibana`.
    pub const ENROLL_KIBANA: &str = "cluster:admin/xpack/security/enroll/kibana";
    /// `POST /_security/delegate_pki`.
    pub const DELEGATE_PKI: &str = "cluster:admin/xpack/security/delegate_pki";
    /// Get the built-in service accounts.
    pub const GET_SERVICE_ACCOUNT: &str = "cluster:admin/xpack/security/service_account/get";
    /// Create a service account token in the store.
    pub const CREATE_SERVICE_TOKEN: &str =
        "cluster:admin/xpack/security/service_account/token/create";
    /// Delete a service account token from the store.
    pub const DELETE_SERVICE_TOKEN: &str =
        "cluster:admin/xpack/security/service_account/token/delete";
    /// List a service account's credentials.
    pub const GET_SERVICE_CREDENTIALS: &str =
        "cluster:admin/xpack/security/service_account/credential/get";
    /// `security.activate_user_profile`.
    pub const ACTIVATE_PROFILE: &str = "cluster:admin/xpack/security/profile/activate";
    /// `security.get_user_profile`.
    pub const GET_PROFILES: &str = "cluster:admin/xpack/security/profile/get";
    /// `security.update_user_profile_data`.
    pub const UPDATE_PROFILE_DATA: &str = "cluster:admin/xpack/security/profile/put/data";
    /// `security.enable_user_profile` and `security.disable_user_profile`.
    pub const SET_PROFILE_ENABLED: &str = "cluster:admin/xpack/security/profile/set_enabled";
    /// `security.suggest_user_profiles`.
    pub const SUGGEST_PROFILES: &str = "cluster:admin/xpack/security/profile/suggest";
    /// `security.has_privileges_user_profile`.
    pub const PROFILE_HAS_PRIVILEGES: &str = "cluster:admin/xpack/security/profile/has_privileges";
}

/// Cluster privilege names Elasticsearch predefines, sorted as it lists them in errors.
pub const CLUSTER_PRIVILEGE_NAMES: &[&str] = &[
    "all",
    "cancel_task",
    "create_snapshot",
    "cross_cluster_replication",
    "cross_cluster_search",
    "delegate_pki",
    "grant_api_key",
    "manage",
    "manage_api_key",
    "manage_autoscaling",
    "manage_behavioral_analytics",
    "manage_ccr",
    "manage_data_frame_transforms",
    "manage_data_stream_global_retention",
    "manage_enrich",
    "manage_esql",
    "manage_ilm",
    "manage_index_templates",
    "manage_inference",
    "manage_ingest_pipelines",
    "manage_logstash_pipelines",
    "manage_ml",
    "manage_oidc",
    "manage_own_api_key",
    "manage_pipeline",
    "manage_rollup",
    "manage_saml",
    "manage_search_application",
    "manage_search_query_rules",
    "manage_search_synonyms",
    "manage_security",
    "manage_service_account",
    "manage_slm",
    "manage_token",
    "manage_transform",
    "manage_user_profile",
    "manage_watcher",
    "monitor",
    "monitor_data_frame_transforms",
    "monitor_data_stream_global_retention",
    "monitor_enrich",
    "monitor_esql",
    "monitor_inference",
    "monitor_ml",
    "monitor_rollup",
    "monitor_snapshot",
    "monitor_stats",
    "monitor_text_structure",
    "monitor_transform",
    "monitor_watcher",
    "none",
    "post_behavioral_analytics_event",
    "read_ccr",
    "read_fleet_secrets",
    "read_ilm",
    "read_pipeline",
    "read_security",
    "read_slm",
    "transport_client",
    "write_connector_secrets",
    "write_fleet_secrets",
];

/// Index privilege names Elasticsearch predefines.
pub const INDEX_PRIVILEGE_NAMES: &[&str] = &[
    "all",
    "auto_configure",
    "create",
    "create_doc",
    "create_index",
    "cross_cluster_replication",
    "cross_cluster_replication_internal",
    "delete",
    "delete_index",
    "index",
    "maintenance",
    "manage",
    "manage_data_stream_lifecycle",
    "manage_follow_index",
    "manage_ilm",
    "manage_leader_index",
    "monitor",
    "none",
    "read",
    "read_cross_cluster",
    "view_index_metadata",
    "write",
];

/// The privileges a `remote_cluster` entry of a role may name.
pub const REMOTE_CLUSTER_PRIVILEGE_NAMES: &[&str] = &["monitor_enrich", "monitor_stats"];

/// Checks a cluster privilege name: a predefined name or a pattern over cluster actions.
pub fn validate_cluster_privilege(name: &str) -> Result<(), String> {
    let lower = name.to_ascii_lowercase();
    if CLUSTER_PRIVILEGE_NAMES.contains(&lower.as_str()) || is_cluster_action_pattern(name) {
        return Ok(());
    }
    Err(format!(
        "unknown cluster privilege [{lower}]. a privilege must be either one of the predefined cluster privilege \
         names [{}] or a pattern over one of the available cluster actions",
        CLUSTER_PRIVILEGE_NAMES.join(",")
    ))
}

/// Checks an index privilege name: a predefined name or a pattern over index actions.
pub fn validate_index_privilege(name: &str) -> Result<(), String> {
    let lower = name.to_ascii_lowercase();
    if INDEX_PRIVILEGE_NAMES.contains(&lower.as_str()) || is_index_action_pattern(name) {
        return Ok(());
    }
    Err(format!(
        "unknown index privilege [{lower}]. a privilege must be either one of the predefined fixed indices \
         privileges [{}] or a pattern over one of the available index actions",
        INDEX_PRIVILEGE_NAMES.join(",")
    ))
}

/// Whether a privilege names index actions by pattern, as Elasticsearch recognises them.
fn is_index_action_pattern(name: &str) -> bool {
    name.starts_with("indices:")
        || name.starts_with("internal:transport/proxy/indices:")
        || name.starts_with("internal:index/")
}

fn is_cluster_action_pattern(name: &str) -> bool {
    name.starts_with("cluster:")
        || name.starts_with("indices:admin/template/")
        || name.starts_with("indices:admin/index_template/")
}

/// How far a permission grants an action. Ordered: a weaker grant compares less.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ClusterGrant {
    /// Not granted.
    None,
    /// Granted only for API keys the subject owns (`manage_own_api_key`).
    OwnApiKeys,
    /// Granted.
    Full,
}

const SECURITY_ACTIONS: &str = "cluster:admin/xpack/security/*";
const API_KEY_ACTIONS: &str = "cluster:admin/xpack/security/api_key/*";

/// The action patterns one predefined privilege grants fully, and those it excludes.
struct PrivilegeActions {
    grants: &'static [&'static str],
    excludes: &'static [&'static str],
}

fn privilege_actions(name: &str) -> PrivilegeActions {
    const NONE: PrivilegeActions = PrivilegeActions {
        grants: &[],
        excludes: &[],
    };
    match name {
        "all" => PrivilegeActions {
            grants: &[
                "cluster:*",
                "indices:admin/template/*",
                "indices:admin/index_template/*",
            ],
            excludes: &[],
        },
        "manage" => PrivilegeActions {
            grants: &[
                "cluster:*",
                "indices:admin/template/*",
                "indices:admin/index_template/*",
            ],
            excludes: &[SECURITY_ACTIONS, "cluster:admin/xpack/ml/*"],
        },
        "monitor" => PrivilegeActions {
            grants: &["cluster:monitor/*"],
            excludes: &[],
        },
        "manage_security" => PrivilegeActions {
            grants: &[SECURITY_ACTIONS],
            excludes: &[],
        },
        "manage_api_key" => PrivilegeActions {
            grants: &[API_KEY_ACTIONS],
            excludes: &[],
        },
        "grant_api_key" => PrivilegeActions {
            grants: &["cluster:admin/xpack/security/api_key/grant*"],
            excludes: &[],
        },
        "read_security" => PrivilegeActions {
            grants: &[
                "cluster:admin/xpack/security/*/get",
                "cluster:admin/xpack/security/*/get/*",
                "cluster:admin/xpack/security/*/query",
                "cluster:admin/xpack/security/*/query/*",
                "cluster:admin/xpack/security/api_key/get",
                "cluster:admin/xpack/security/api_key/query",
                "cluster:admin/xpack/security/profile/has_privileges",
                "cluster:admin/xpack/security/profile/suggest",
                "cluster:admin/xpack/security/user/has_privileges",
                "cluster:admin/xpack/security/user/list_privileges",
            ],
            excludes: &[],
        },
        "manage_token" => PrivilegeActions {
            grants: &["cluster:admin/xpack/security/token/*"],
            excludes: &[],
        },
        "manage_ilm" => PrivilegeActions {
            grants: &["cluster:admin/ilm/*"],
            excludes: &[],
        },
        "read_ilm" => PrivilegeActions {
            grants: &[
                "cluster:admin/ilm/get",
                "cluster:admin/ilm/operation_mode/get",
            ],
            excludes: &[],
        },
        "manage_slm" => PrivilegeActions {
            grants: &["cluster:admin/slm/*"],
            excludes: &[],
        },
        "manage_ml" => PrivilegeActions {
            grants: &["cluster:admin/xpack/ml/*", "cluster:monitor/xpack/ml/*"],
            excludes: &[],
        },
        "monitor_ml" => PrivilegeActions {
            grants: &["cluster:monitor/xpack/ml/*"],
            excludes: &[],
        },
        "manage_watcher" => PrivilegeActions {
            grants: &[
                "cluster:admin/xpack/watcher/*",
                "cluster:monitor/xpack/watcher/*",
            ],
            excludes: &[],
        },
        "monitor_watcher" => PrivilegeActions {
            grants: &["cluster:monitor/xpack/watcher/*"],
            excludes: &[],
        },
        "manage_ingest_pipelines" | "manage_pipeline" => PrivilegeActions {
            grants: &["cluster:admin/ingest/pipeline/*"],
            excludes: &[],
        },
        "read_pipeline" => PrivilegeActions {
            grants: &["cluster:admin/ingest/pipeline/get"],
            excludes: &[],
        },
        "manage_index_templates" => PrivilegeActions {
            grants: &["indices:admin/template/*", "indices:admin/index_template/*"],
            excludes: &[],
        },
        "cancel_task" => PrivilegeActions {
            grants: &["cluster:admin/tasks/cancel"],
            excludes: &[],
        },
        "manage_enrich" => PrivilegeActions {
            grants: &["cluster:admin/xpack/enrich/*"],
            excludes: &[],
        },
        "monitor_enrich" => PrivilegeActions {
            grants: &["cluster:monitor/xpack/enrich/*"],
            excludes: &[],
        },
        "manage_user_profile" => PrivilegeActions {
            grants: &["cluster:admin/xpack/security/profile/*"],
            excludes: &[],
        },
        "manage_service_account" => PrivilegeActions {
            grants: &["cluster:admin/xpack/security/service_account/*"],
            excludes: &[],
        },
        // The SAML APIs, and the token actions a SAML-fronting proxy (Kibana) needs.
        "manage_saml" => PrivilegeActions {
            grants: &[
                "cluster:admin/xpack/security/saml/*",
                actions::INVALIDATE_TOKEN,
                actions::REFRESH_TOKEN,
            ],
            excludes: &[],
        },
        "manage_oidc" => PrivilegeActions {
            grants: &["cluster:admin/xpack/security/oidc/*"],
            excludes: &[],
        },
        "delegate_pki" => PrivilegeActions {
            grants: &[actions::DELEGATE_PKI, actions::INVALIDATE_TOKEN],
            excludes: &[],
        },
        _ => NONE,
    }
}

/// The cluster privileges of a set of role descriptors, ready to check actions against.
#[derive(Debug, Clone)]
pub struct ClusterPermission {
    /// Every action granted fully, as one automaton (for privilege-subset questions).
    actions: Automaton,
    /// Action patterns granted fully, each with the patterns its privilege excludes.
    full: Vec<(&'static [&'static str], &'static [&'static str])>,
    /// Raw action patterns granted fully.
    raw: Vec<String>,
    /// Whether `manage_own_api_key` is among the privileges.
    own_api_keys: bool,
}

impl ClusterPermission {
    /// The permission granted by the union of these privilege names and action patterns.
    pub fn from_privileges<'a>(privileges: impl IntoIterator<Item = &'a str>) -> ClusterPermission {
        let mut permission = ClusterPermission {
            actions: Automaton::empty(),
            full: Vec::new(),
            raw: Vec::new(),
            own_api_keys: false,
        };
        let mut granted = Vec::new();
        for privilege in privileges {
            let lower = privilege.to_ascii_lowercase();
            if lower != "manage_own_api_key"
                && let Some(actions) = cluster_privilege_automaton(privilege)
            {
                granted.push(actions);
            }
            if lower == "manage_own_api_key" {
                permission.own_api_keys = true;
            } else if CLUSTER_PRIVILEGE_NAMES.contains(&lower.as_str()) {
                let actions = privilege_actions(&lower);
                if !actions.grants.is_empty() {
                    permission.full.push((actions.grants, actions.excludes));
                }
            } else if is_cluster_action_pattern(privilege) {
                permission.raw.push(privilege.to_owned());
            }
        }
        permission.actions = union_all(&granted);
        permission
    }

    /// Whether this permission implies the cluster privilege `privilege` (a predefined name or
    /// an action pattern): every action it names is granted fully. `manage_own_api_key` is also
    /// implied by itself. Unknown names are implied by nothing.
    pub fn implies(&self, privilege: &str) -> bool {
        if self.own_api_keys && privilege.eq_ignore_ascii_case("manage_own_api_key") {
            return true;
        }
        match cluster_privilege_automaton(privilege) {
            Some(requested) => requested.subset_of(&self.actions),
            None => false,
        }
    }

    /// How far this permission grants `action`.
    pub fn check(&self, action: &str) -> ClusterGrant {
        let full = self.full.iter().any(|(grants, excludes)| {
            grants.iter().any(|pattern| wildcard_match(pattern, action))
                && !excludes
                    .iter()
                    .any(|pattern| wildcard_match(pattern, action))
        }) || self
            .raw
            .iter()
            .any(|pattern| wildcard_match(pattern, action));
        if full {
            ClusterGrant::Full
        } else if self.own_api_keys
            && wildcard_match(API_KEY_ACTIONS, action)
            && !action.starts_with(actions::GRANT_API_KEY)
        {
            ClusterGrant::OwnApiKeys
        } else {
            ClusterGrant::None
        }
    }
}

/// The predefined cluster privileges that grant `action` fully, as Elasticsearch names them in a
/// 403 reason (most specific first).
pub fn privileges_granting(action: &str) -> Vec<&'static str> {
    const ORDER: &[&str] = &[
        "monitor",
        "manage_api_key",
        "manage_user_profile",
        "manage_security",
        "read_security",
        "manage",
        "all",
    ];
    let mut names: Vec<&'static str> = Vec::new();
    if action.starts_with(actions::GRANT_API_KEY) {
        return vec!["grant_api_key", "manage_api_key", "manage_security", "all"];
    }
    // The realm-specific privileges come first, as Elasticsearch lists the narrowest first.
    for (prefix, privilege) in [
        ("cluster:admin/xpack/security/saml/", "manage_saml"),
        ("cluster:admin/xpack/security/oidc/", "manage_oidc"),
        (actions::DELEGATE_PKI, "delegate_pki"),
    ] {
        if action.starts_with(prefix) {
            return vec![privilege, "manage_security", "all"];
        }
    }
    if action.starts_with("cluster:admin/xpack/security/token/") {
        return vec!["manage_token", "manage_security", "all"];
    }
    if action.starts_with("cluster:admin/xpack/security/api_key/") {
        // The conditional privilege is named too, for actions it can grant.
        let specific = ["manage_api_key", "manage_security", "all"];
        names.extend(specific);
        if matches!(action, actions::GET_API_KEY | actions::QUERY_API_KEY) {
            names.insert(2, "read_security");
        }
        return names;
    }
    for name in ORDER {
        let actions = privilege_actions(name);
        let granted = actions
            .grants
            .iter()
            .any(|pattern| wildcard_match(pattern, action))
            && !actions
                .excludes
                .iter()
                .any(|pattern| wildcard_match(pattern, action));
        if granted {
            names.push(name);
        }
    }
    names
}

/// The index action patterns a predefined index privilege grants, as Elasticsearch defines them;
/// `None` for a name that is not a predefined index privilege.
pub fn index_privilege_patterns(name: &str) -> Option<&'static [&'static str]> {
    let patterns: &'static [&'static str] = match name {
        "none" => &[],
        "all" => &["indices:*", "internal:transport/proxy/indices:*"],
        "read" => &[
            "indices:data/read/*",
            "indices:admin/resolve/index",
            "indices:admin/resolve/cluster",
        ],
        "read_cross_cluster" => &[
            "internal:transport/proxy/indices:data/read/*",
            "indices:admin/shards/search_shards",
            "indices:admin/search/search_shards",
            "indices:data/read/esql/cluster",
        ],
        "create" => &[
            "indices:data/write/index*",
            "indices:data/write/bulk*",
            "indices:data/write/simulate/bulk*",
        ],
        "create_doc" => &[
            "indices:data/write/index",
            "indices:data/write/index[*",
            "indices:data/write/index:op_type/create",
            "indices:data/write/bulk*",
            "indices:data/write/simulate/bulk*",
        ],
        "index" => &[
            "indices:data/write/index*",
            "indices:data/write/bulk*",
            "indices:data/write/update*",
            "indices:data/write/simulate/bulk*",
        ],
        "delete" => &["indices:data/write/delete*", "indices:data/write/bulk*"],
        "write" => &["indices:data/write/*", "indices:admin/mapping/auto_put"],
        "monitor" => &["indices:monitor/*"],
        "manage" => &[
            "indices:monitor/*",
            "indices:admin/*",
            "indices:data/read/field_caps*",
        ],
        "create_index" => &[
            "indices:admin/create",
            "indices:admin/auto_create",
            "indices:admin/data_stream/create",
        ],
        "delete_index" => &["indices:admin/delete", "indices:admin/data_stream/delete"],
        "view_index_metadata" => &[
            "indices:admin/aliases/get",
            "indices:admin/get",
            "indices:admin/mappings/fields/get*",
            "indices:admin/mappings/get",
            "indices:admin/shards/search_shards",
            "indices:admin/search/search_shards",
            "indices:admin/validate/query*",
            "indices:monitor/settings/get",
            "indices:admin/ilm/explain",
            "indices:admin/data_stream/lifecycle/explain",
            "indices:admin/data_stream/get",
            "indices:admin/resolve/index",
            "indices:admin/resolve/cluster",
            "indices:data/read/field_caps*",
            "indices:data/read/xpack/rollup/get/index/caps*",
        ],
        "maintenance" => &[
            "indices:admin/refresh*",
            "indices:admin/flush*",
            "indices:admin/synced_flush",
            "indices:admin/forcemerge*",
        ],
        "auto_configure" => &[
            "indices:admin/auto_create",
            "indices:admin/mapping/auto_put",
            "indices:admin/data_stream/create",
        ],
        "manage_follow_index" => &[
            "indices:admin/xpack/ccr/put_follow",
            "indices:admin/xpack/ccr/unfollow",
            "indices:admin/close*",
            "indices:admin/data_stream/promote",
            "indices:admin/rollover",
        ],
        "manage_leader_index" => &[
            "indices:admin/xpack/ccr/forget_follower*",
            "indices:admin/xpack/ccr/retention_lease/*",
        ],
        "manage_ilm" => &["indices:admin/ilm/*"],
        "manage_data_stream_lifecycle" => &["indices:admin/data_stream/lifecycle/*"],
        "cross_cluster_replication" => &[
            "indices:data/read/xpack/ccr/shard_changes*",
            "indices:monitor/stats*",
            "indices:admin/seq_no/add_retention_lease*",
            "indices:admin/seq_no/remove_retention_lease*",
            "indices:admin/seq_no/renew_retention_lease*",
            "indices:admin/xpack/ccr/retention_lease/*",
            "internal:transport/proxy/indices:data/read/xpack/ccr/shard_changes*",
        ],
        "cross_cluster_replication_internal" => &[
            "indices:internal/admin/ccr/restore/session/clear*",
            "indices:internal/admin/ccr/restore/file_chunk/get*",
            "indices:internal/admin/ccr/restore/session/put*",
            "internal:transport/proxy/indices:internal/admin/ccr/restore/*",
        ],
        _ => return None,
    };
    Some(patterns)
}

/// The actions an index privilege grants, as an automaton: a predefined name (any case) or a raw
/// `indices:` action pattern. `None` for anything else (validation rejects those first).
pub fn index_privilege_automaton(name: &str) -> Option<Automaton> {
    let lower = name.to_ascii_lowercase();
    if let Some(cached) = INDEX_PRIVILEGE_AUTOMATA
        .iter()
        .find(|(known, _)| *known == lower)
    {
        return Some(cached.1.clone());
    }
    if is_index_action_pattern(name) {
        return Automaton::from_patterns([name]).ok();
    }
    None
}

/// The predefined index privileges, compiled once.
static INDEX_PRIVILEGE_AUTOMATA: LazyLock<Vec<(&'static str, Automaton)>> =
    LazyLock::new(|| crate::automaton::without_budget(build_index_privilege_automata));

fn build_index_privilege_automata() -> Vec<(&'static str, Automaton)> {
    INDEX_PRIVILEGE_NAMES
        .iter()
        .map(|name| {
            let patterns = index_privilege_patterns(name).unwrap_or(&[]);
            // Every table entry is a plain wildcard pattern, far below any size limit.
            let automaton =
                Automaton::from_patterns(patterns).unwrap_or_else(|_| Automaton::empty());
            (*name, automaton)
        })
        .collect()
}

/// The actions a cluster privilege grants fully, as an automaton: a predefined name (any case) or
/// a raw cluster action pattern. Predefined privileges whose actions keyward does not serve get
/// one action of their own (`cluster:keyward/<name>`), so that they imply only themselves and the
/// privileges covering all cluster actions (`all`, `manage`), as in Elasticsearch. `None` for a
/// name that is neither.
pub fn cluster_privilege_automaton(name: &str) -> Option<Automaton> {
    let lower = name.to_ascii_lowercase();
    if let Some((_, automaton)) = CLUSTER_PRIVILEGE_AUTOMATA
        .iter()
        .find(|(known, _)| *known == lower)
    {
        return automaton.clone();
    }
    if is_cluster_action_pattern(name) {
        return Automaton::from_patterns([name]).ok();
    }
    None
}

/// The predefined cluster privileges, compiled once.
static CLUSTER_PRIVILEGE_AUTOMATA: LazyLock<Vec<(&'static str, Option<Automaton>)>> =
    LazyLock::new(|| {
        crate::automaton::without_budget(|| {
            CLUSTER_PRIVILEGE_NAMES
                .iter()
                .map(|name| (*name, build_cluster_privilege_automaton(name)))
                .collect()
        })
    });

fn build_cluster_privilege_automaton(name: &str) -> Option<Automaton> {
    let lower = name.to_ascii_lowercase();
    if CLUSTER_PRIVILEGE_NAMES.contains(&lower.as_str()) {
        if lower == "none" {
            return Some(Automaton::empty());
        }
        if lower == "manage_own_api_key" {
            return API_KEY_ACTIONS_WITHOUT_GRANT.clone();
        }
        let actions = privilege_actions(&lower);
        if actions.grants.is_empty() {
            return Automaton::from_patterns([format!("cluster:keyward/{lower}")]).ok();
        }
        let grants = Automaton::from_patterns(actions.grants).ok()?;
        let excludes = Automaton::from_patterns(actions.excludes).ok()?;
        return grants.minus(&excludes).ok();
    }
    if is_cluster_action_pattern(name) {
        return Automaton::from_patterns([name]).ok();
    }
    None
}

/// What `manage_own_api_key` reaches, for its owner's keys: the API key actions but granting.
static API_KEY_ACTIONS_WITHOUT_GRANT: LazyLock<Option<Automaton>> = LazyLock::new(|| {
    crate::automaton::without_budget(|| {
        let keys = Automaton::from_patterns([API_KEY_ACTIONS]).ok()?;
        let grant =
            Automaton::from_patterns(["cluster:admin/xpack/security/api_key/grant*"]).ok()?;
        keys.minus(&grant).ok()
    })
});

/// Index names Elasticsearch reserves for itself: index patterns reach them only in a group
/// with `allow_restricted_indices: true`.
pub const RESTRICTED_INDEX_PATTERNS: &[&str] = &[
    ".security",
    "/\\.security-[0-9]+/",
    ".security-tokens",
    "/\\.security-tokens-[0-9]+/",
    ".security-profile",
    "/\\.security-profile-[0-9]+/",
    ".async-search*",
    ".fleet-secrets*",
];

/// The restricted index names, compiled once.
pub fn restricted_indices() -> &'static Automaton {
    static RESTRICTED: LazyLock<Automaton> = LazyLock::new(|| {
        // The patterns are constants known to compile.
        crate::automaton::without_budget(|| {
            Automaton::from_patterns(RESTRICTED_INDEX_PATTERNS)
                .unwrap_or_else(|_| Automaton::empty())
        })
    });
    &RESTRICTED
}

/// Whether `name` is a concrete (pattern-free) index name that is restricted.
pub fn is_concrete_restricted_index(name: &str) -> bool {
    is_plain_name(name) && restricted_indices().matches(name)
}

/// Whether `pattern` names exactly one string: no wildcard, escape or regular expression.
pub fn is_plain_name(pattern: &str) -> bool {
    !pattern.starts_with('/') && !pattern.contains(['*', '?', '\\'])
}

/// The union of several automata; an automaton too large to combine is left out, which only
/// ever grants less.
pub fn union_all(automata: &[Automaton]) -> Automaton {
    let mut iter = automata.iter();
    let Some(first) = iter.next() else {
        return Automaton::empty();
    };
    iter.fold(first.clone(), |acc, next| acc.union(next).unwrap_or(acc))
}

/// Matches `text` against a wildcard pattern (`*` any run, `?` one character, `\` escapes), with
/// [`crate::wildcard::matches`].
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    crate::wildcard::matches(pattern, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_like_elasticsearch_automata() {
        assert!(wildcard_match("cluster:*", "cluster:monitor/health"));
        assert!(wildcard_match(
            "cluster:admin/xpack/security/api_key/grant*",
            "cluster:admin/xpack/security/api_key/grant"
        ));
        assert!(wildcard_match("a?c", "abc"));
        assert!(wildcard_match(
            "*/get",
            "cluster:admin/xpack/security/role/get"
        ));
        assert!(!wildcard_match(
            "cluster:monitor/*",
            "cluster:admin/xpack/security/api_key/create"
        ));
        assert!(!wildcard_match("abc", "abcd"));
    }

    #[test]
    fn manage_does_not_reach_security_actions() {
        let manage = ClusterPermission::from_privileges(["manage"]);
        assert_eq!(manage.check(actions::CLUSTER_HEALTH), ClusterGrant::Full);
        assert_eq!(manage.check(actions::CREATE_API_KEY), ClusterGrant::None);
        let all = ClusterPermission::from_privileges(["all"]);
        assert_eq!(all.check(actions::CREATE_API_KEY), ClusterGrant::Full);
    }

    #[test]
    fn own_api_key_privilege_is_conditional_and_cannot_grant() {
        let own = ClusterPermission::from_privileges(["manage_own_api_key"]);
        assert_eq!(own.check(actions::CREATE_API_KEY), ClusterGrant::OwnApiKeys);
        assert_eq!(
            own.check(actions::INVALIDATE_API_KEY),
            ClusterGrant::OwnApiKeys
        );
        assert_eq!(own.check(actions::GRANT_API_KEY), ClusterGrant::None);
        assert_eq!(own.check(actions::CLUSTER_HEALTH), ClusterGrant::None);
        let both = ClusterPermission::from_privileges(["manage_own_api_key", "manage_api_key"]);
        assert_eq!(both.check(actions::GET_API_KEY), ClusterGrant::Full);
    }

    #[test]
    fn manage_api_key_cannot_create_cross_cluster_keys_or_clear_caches() {
        let keys = ClusterPermission::from_privileges(["manage_api_key"]);
        assert_eq!(
            keys.check(actions::CREATE_CROSS_CLUSTER_API_KEY),
            ClusterGrant::None
        );
        assert_eq!(
            keys.check(actions::CLEAR_SECURITY_CACHE),
            ClusterGrant::None
        );
        let security = ClusterPermission::from_privileges(["manage_security"]);
        assert_eq!(
            security.check(actions::CREATE_CROSS_CLUSTER_API_KEY),
            ClusterGrant::Full
        );
        assert_eq!(
            security.check(actions::CLEAR_SECURITY_CACHE),
            ClusterGrant::Full
        );
    }

    #[test]
    fn read_security_reads_all_keys_but_writes_none() {
        let read = ClusterPermission::from_privileges(["read_security"]);
        assert_eq!(read.check(actions::GET_API_KEY), ClusterGrant::Full);
        assert_eq!(read.check(actions::CREATE_API_KEY), ClusterGrant::None);
    }

    #[test]
    fn raw_action_patterns_are_privileges() {
        let raw = ClusterPermission::from_privileges(["cluster:monitor/*"]);
        assert_eq!(raw.check(actions::CLUSTER_HEALTH), ClusterGrant::Full);
        assert_eq!(raw.check(actions::CREATE_API_KEY), ClusterGrant::None);
        assert!(validate_cluster_privilege("cluster:admin/xpack/security/*").is_ok());
    }

    #[test]
    fn unknown_privileges_are_named_in_the_error() {
        let error = validate_cluster_privilege("Bogus").unwrap_err();
        assert!(error.starts_with(
            "unknown cluster privilege [bogus]. a privilege must be either one of the predefined"
        ));
        assert!(error.ends_with("or a pattern over one of the available cluster actions"));
        assert!(validate_cluster_privilege("MONITOR").is_ok());
        assert!(validate_index_privilege("read").is_ok());
        assert!(validate_index_privilege("indices:data/read/*").is_ok());
        assert!(
            validate_index_privilege("reed")
                .unwrap_err()
                .starts_with("unknown index privilege [reed]")
        );
    }

    #[test]
    fn denial_reasons_name_the_granting_privileges() {
        assert_eq!(
            privileges_granting(actions::CLUSTER_HEALTH),
            vec!["monitor", "manage", "all"]
        );
        assert_eq!(
            privileges_granting(actions::INVALIDATE_API_KEY),
            vec!["manage_api_key", "manage_security", "all"]
        );
        assert_eq!(
            privileges_granting(actions::GET_API_KEY),
            vec!["manage_api_key", "manage_security", "read_security", "all"]
        );
        assert_eq!(
            privileges_granting(actions::CREATE_TOKEN),
            vec!["manage_token", "manage_security", "all"]
        );
        let token = ClusterPermission::from_privileges(["manage_token"]);
        for action in [
            actions::CREATE_TOKEN,
            actions::INVALIDATE_TOKEN,
            actions::REFRESH_TOKEN,
        ] {
            assert_eq!(token.check(action), ClusterGrant::Full, "{action}");
        }
    }
}
