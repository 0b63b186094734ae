//! Routing: one module per rest-api-spec action, a route table mapping paths and methods to
//! them, and the request pipeline every route shares (negotiate, route, authenticate, handle,
//! render).

mod action_name;
mod actions;
mod activate_user_profile;
mod authenticate;
mod bulk_delete_role;
mod bulk_put_role;
mod bulk_update_api_keys;
mod change_password;
mod clear_api_key_cache;
mod clear_cached_privileges;
mod clear_cached_realms;
mod clear_cached_roles;
mod clear_cached_service_tokens;
mod clone_api_key;
mod cluster_health;
mod create_api_key;
mod create_cross_cluster_api_key;
mod create_service_token;
mod delete_privileges;
mod delete_role;
mod delete_role_mapping;
mod delete_service_token;
mod delete_user;
mod disable_user;
mod disable_user_profile;
mod enable_user;
mod enable_user_profile;
mod forward_auth;
mod get_api_key;
mod get_builtin_privileges;
mod get_privileges;
mod get_role;
mod get_role_mapping;
mod get_service_accounts;
mod get_service_credentials;
mod get_stats;
mod get_token;
mod get_user;
mod get_user_privileges;
mod get_user_profile;
mod grant_api_key;
mod has_privileges;
mod has_privileges_user_profile;
mod info;
mod intake;
mod invalidate_api_key;
mod invalidate_token;
mod keyward_cross_cluster_authenticate;
mod keyward_metrics;
mod keyward_ready;
mod openapi;
mod put_privileges;
mod put_role;
mod put_role_mapping;
mod put_user;
mod query_api_keys;
mod query_role;
mod query_user;
mod realms;
mod request_name;
mod settings;
mod suggest_user_profiles;
mod update_api_key;
mod update_cross_cluster_api_key;
mod update_user_profile_data;

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use keyward_service::Authentication;
use serde_json::Value;

use crate::AppState;
use crate::audit::{RequestIds, RequestInfo};
use crate::compat::{Rendering, Response};
use crate::error::EsError;
use crate::metrics::RequestMetrics;
use crate::wire::QueryParams;

/// What a handler answers: a status and a JSON body.
pub(crate) type Reply = Result<(StatusCode, Value), EsError>;

/// The body an API that reads its body "from content or the `source` parameter" (as
/// Elasticsearch's query and has-privileges handlers do) takes from `source` when the request
/// has none: `source` with `source_content_type`, which must be JSON. A body, when there is one,
/// wins, as in Elasticsearch.
fn source_param_body(query: &QueryParams) -> Result<Option<Bytes>, EsError> {
    let Some(source) = query.raw("source") else {
        return Ok(None);
    };
    let Some(content_type) = query.raw("source_content_type") else {
        // Elasticsearch throws an IllegalStateException here, which it answers with a 500; a
        // client's omission is a 400 here.
        return Err(EsError::illegal_argument(
            "source and source_content_type parameters are required",
        ));
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if essence != "application/json" && essence != "application/vnd.elasticsearch+json" {
        return Err(EsError::illegal_argument(format!(
            "source_content_type [{content_type}] is not supported: keyward reads JSON bodies only"
        )));
    }
    Ok(Some(Bytes::copy_from_slice(source.as_bytes())))
}

/// The answer of the delete APIs (roles, users, role mappings, service tokens): `{"found": …}`,
/// with 404 when there was nothing to delete, as Elasticsearch answers them.
pub(crate) fn found_reply(found: bool) -> Reply {
    let status = if found {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    Ok((status, serde_json::json!({ "found": found })))
}

/// Everything a handler gets.
pub(crate) struct Ctx<'a> {
    pub(crate) state: &'a AppState,
    pub(crate) subject: Arc<Authentication>,
    pub(crate) params: Vec<(&'static str, String)>,
    pub(crate) query: QueryParams,
    pub(crate) body: Bytes,
    pub(crate) path: &'a str,
}

impl Ctx<'_> {
    /// A path parameter.
    pub(crate) fn param(&self, name: &str) -> &str {
        self.params
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.as_str())
            .unwrap_or("")
    }
}

/// The actions keyward serves, named after their rest-api-spec entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    ClusterHealth,
    Info,
    /// keyward's own `POST /_keyward/cross_cluster/_authenticate`.
    KeywardCrossClusterAuthenticate,
    /// keyward's own `/_keyward/forward_auth` (any method and path below it), for reverse
    /// proxies.
    KeywardForwardAuth,
    /// keyward's own `GET /_keyward/ready`: unauthenticated, for load balancers.
    KeywardReady,
    /// keyward's own `GET /_keyward/metrics` (Prometheus).
    KeywardMetrics,
    /// keyward's own `GET /_keyward/openapi.json`.
    KeywardOpenApi,
    SecurityAuthenticate,
    SecurityBulkDeleteRole,
    SecurityBulkGrantApiKey,
    SecurityBulkPutRole,
    SecurityBulkUpdateApiKeys,
    SecurityChangePassword,
    SecurityClearApiKeyCache,
    SecurityClearCachedPrivileges,
    SecurityClearCachedRealms,
    SecurityClearCachedRoles,
    SecurityCloneApiKey,
    SecurityClearCachedServiceTokens,
    SecurityCreateApiKey,
    SecurityCreateCrossClusterApiKey,
    SecurityCreateServiceToken,
    SecurityDeletePrivileges,
    SecurityDeleteRole,
    SecurityDeleteRoleMapping,
    SecurityDeleteServiceToken,
    SecurityDeleteUser,
    SecurityDisableUser,
    SecurityEnableUser,
    SecurityGetApiKey,
    SecurityGetBuiltinPrivileges,
    SecurityGetPrivileges,
    SecurityGetRole,
    SecurityGetRoleMapping,
    SecurityGetSettings,
    SecurityGetStats,
    SecurityGetServiceAccounts,
    SecurityGetServiceCredentials,
    SecurityGetToken,
    SecurityGetUser,
    SecurityGetUserPrivileges,
    SecurityHasPrivileges,
    SecurityGrantApiKey,
    SecurityInvalidateApiKey,
    SecurityInvalidateToken,
    SecurityPutPrivileges,
    SecurityPutRole,
    SecurityPutRoleMapping,
    SecurityPutUser,
    SecurityQueryApiKeys,
    SecurityQueryRole,
    SecurityQueryUser,
    SecurityUpdateApiKey,
    SecurityUpdateCrossClusterApiKey,
    SecurityUpdateSettings,
    SecurityActivateUserProfile,
    SecurityDisableUserProfile,
    SecurityEnableUserProfile,
    SecurityGetUserProfile,
    SecurityHasPrivilegesUserProfile,
    SecuritySuggestUserProfiles,
    SecurityUpdateUserProfileData,
    /// `security.saml_prepare_authentication`: answered as Elasticsearch answers without such a realm or enrollment.
    SecuritySamlPrepareAuthentication,
    /// `security.saml_authenticate`: answered as Elasticsearch answers without such a realm or enrollment.
    SecuritySamlAuthenticate,
    /// `security.saml_logout`: answered as Elasticsearch answers without such a realm or enrollment.
    SecuritySamlLogout,
    /// `security.saml_invalidate`: answered as Elasticsearch answers without such a realm or enrollment.
    SecuritySamlInvalidate,
    /// `security.saml_complete_logout`: answered as Elasticsearch answers without such a realm or enrollment.
    SecuritySamlCompleteLogout,
    /// `security.saml_service_provider_metadata`: answered as Elasticsearch answers without such a realm or enrollment.
    SecuritySamlServiceProviderMetadata,
    /// `security.oidc_prepare_authentication`: answered as Elasticsearch answers without such a realm or enrollment.
    SecurityOidcPrepareAuthentication,
    /// `security.oidc_authenticate`: answered as Elasticsearch answers without such a realm or enrollment.
    SecurityOidcAuthenticate,
    /// `security.oidc_logout`: answered as Elasticsearch answers without such a realm or enrollment.
    SecurityOidcLogout,
    /// `security.delegate_pki`: answered as Elasticsearch answers without such a realm or enrollment.
    SecurityDelegatePki,
    /// `security.enroll_node`: answered as Elasticsearch answers without such a realm or enrollment.
    SecurityEnrollNode,
    /// `security.enroll_kibana`: answered as Elasticsearch answers without such a realm or enrollment.
    SecurityEnrollKibana,
}

impl Action {
    /// Whether the action reads a request body: the `body` entry of its rest-api-spec
    /// (`GET /` and cluster health take none in Elasticsearch either).
    fn takes_body(self) -> bool {
        match self {
            Action::KeywardCrossClusterAuthenticate
            | Action::SecurityBulkDeleteRole
            | Action::SecurityBulkGrantApiKey
            | Action::SecurityBulkPutRole
            | Action::SecurityBulkUpdateApiKeys
            | Action::SecurityChangePassword
            | Action::SecurityCloneApiKey
            | Action::SecurityCreateApiKey
            | Action::SecurityCreateCrossClusterApiKey
            | Action::SecurityGetToken
            | Action::SecurityGrantApiKey
            | Action::SecurityHasPrivileges
            | Action::SecurityInvalidateApiKey
            | Action::SecurityInvalidateToken
            | Action::SecurityPutPrivileges
            | Action::SecurityPutRole
            | Action::SecurityPutRoleMapping
            | Action::SecurityPutUser
            | Action::SecurityQueryApiKeys
            | Action::SecurityQueryRole
            | Action::SecurityQueryUser
            | Action::SecurityUpdateApiKey
            | Action::SecurityUpdateCrossClusterApiKey
            | Action::SecurityUpdateSettings
            | Action::SecurityActivateUserProfile
            | Action::SecurityHasPrivilegesUserProfile
            | Action::SecuritySuggestUserProfiles
            | Action::SecurityUpdateUserProfileData
            | Action::SecuritySamlPrepareAuthentication
            | Action::SecuritySamlAuthenticate
            | Action::SecuritySamlLogout
            | Action::SecuritySamlInvalidate
            | Action::SecuritySamlCompleteLogout
            | Action::SecurityOidcPrepareAuthentication
            | Action::SecurityOidcAuthenticate
            | Action::SecurityOidcLogout
            | Action::SecurityDelegatePki => true,
            Action::ClusterHealth
            | Action::Info
            | Action::KeywardForwardAuth
            | Action::KeywardReady
            | Action::KeywardMetrics
            | Action::KeywardOpenApi
            | Action::SecurityAuthenticate
            | Action::SecurityClearApiKeyCache
            | Action::SecurityClearCachedPrivileges
            | Action::SecurityClearCachedRealms
            | Action::SecurityClearCachedRoles
            | Action::SecurityClearCachedServiceTokens
            | Action::SecurityCreateServiceToken
            | Action::SecurityDeletePrivileges
            | Action::SecurityDeleteRole
            | Action::SecurityDeleteRoleMapping
            | Action::SecurityDeleteServiceToken
            | Action::SecurityGetServiceAccounts
            | Action::SecurityGetServiceCredentials
            | Action::SecurityDeleteUser
            | Action::SecurityDisableUser
            | Action::SecurityEnableUser
            | Action::SecurityGetApiKey
            | Action::SecurityGetBuiltinPrivileges
            | Action::SecurityGetPrivileges
            | Action::SecurityGetRole
            | Action::SecurityGetRoleMapping
            | Action::SecurityGetSettings
            | Action::SecurityGetStats
            | Action::SecurityGetUser
            | Action::SecurityGetUserPrivileges
            | Action::SecurityDisableUserProfile
            | Action::SecurityEnableUserProfile
            | Action::SecurityGetUserProfile
            | Action::SecuritySamlServiceProviderMetadata
            | Action::SecurityEnrollNode
            | Action::SecurityEnrollKibana => false,
        }
    }
}

struct Route {
    path: &'static [&'static str],
    methods: &'static [(Method, Action)],
}

/// Paths as in `../shared/spec/rest-api-spec`; `{name}` segments are parameters. Literal
/// segments win over parameters when both match.
const ROUTES: &[Route] = &[
    Route {
        path: &[],
        methods: &[(Method::GET, Action::Info)],
    },
    Route {
        path: &["_cluster", "health"],
        methods: &[(Method::GET, Action::ClusterHealth)],
    },
    Route {
        path: &["_cluster", "health", "{index}"],
        methods: &[(Method::GET, Action::ClusterHealth)],
    },
    Route {
        path: &["_security", "_authenticate"],
        methods: &[(Method::GET, Action::SecurityAuthenticate)],
    },
    Route {
        path: &["_security", "api_key"],
        methods: &[
            (Method::POST, Action::SecurityCreateApiKey),
            (Method::PUT, Action::SecurityCreateApiKey),
            (Method::GET, Action::SecurityGetApiKey),
            (Method::DELETE, Action::SecurityInvalidateApiKey),
        ],
    },
    Route {
        path: &["_security", "api_key", "_bulk_update"],
        methods: &[(Method::POST, Action::SecurityBulkUpdateApiKeys)],
    },
    Route {
        path: &["_security", "settings"],
        methods: &[
            (Method::GET, Action::SecurityGetSettings),
            (Method::PUT, Action::SecurityUpdateSettings),
        ],
    },
    Route {
        path: &["_security", "stats"],
        methods: &[(Method::GET, Action::SecurityGetStats)],
    },
    Route {
        path: &["_security", "realm", "{realms}", "_clear_cache"],
        methods: &[(Method::POST, Action::SecurityClearCachedRealms)],
    },
    Route {
        path: &["_security", "api_key", "_bulk_grant"],
        methods: &[(Method::POST, Action::SecurityBulkGrantApiKey)],
    },
    Route {
        path: &["_security", "api_key", "clone"],
        methods: &[
            (Method::POST, Action::SecurityCloneApiKey),
            (Method::PUT, Action::SecurityCloneApiKey),
        ],
    },
    Route {
        path: &["_security", "api_key", "grant"],
        methods: &[
            (Method::POST, Action::SecurityGrantApiKey),
            (Method::PUT, Action::SecurityGrantApiKey),
        ],
    },
    Route {
        path: &["_security", "api_key", "{id}"],
        methods: &[(Method::PUT, Action::SecurityUpdateApiKey)],
    },
    Route {
        path: &["_security", "api_key", "{ids}", "_clear_cache"],
        methods: &[(Method::POST, Action::SecurityClearApiKeyCache)],
    },
    Route {
        path: &["_security", "cross_cluster", "api_key"],
        methods: &[(Method::POST, Action::SecurityCreateCrossClusterApiKey)],
    },
    Route {
        path: &["_security", "cross_cluster", "api_key", "{id}"],
        methods: &[(Method::PUT, Action::SecurityUpdateCrossClusterApiKey)],
    },
    Route {
        path: &["_keyward", "forward_auth"],
        methods: &[
            (Method::GET, Action::KeywardForwardAuth),
            (Method::POST, Action::KeywardForwardAuth),
            (Method::PUT, Action::KeywardForwardAuth),
            (Method::DELETE, Action::KeywardForwardAuth),
            (Method::PATCH, Action::KeywardForwardAuth),
            (Method::OPTIONS, Action::KeywardForwardAuth),
        ],
    },
    Route {
        path: &["_keyward", "ready"],
        methods: &[(Method::GET, Action::KeywardReady)],
    },
    Route {
        path: &["_keyward", "cross_cluster", "_authenticate"],
        methods: &[(Method::POST, Action::KeywardCrossClusterAuthenticate)],
    },
    Route {
        path: &["_keyward", "metrics"],
        methods: &[(Method::GET, Action::KeywardMetrics)],
    },
    Route {
        path: &["_keyward", "openapi.json"],
        methods: &[(Method::GET, Action::KeywardOpenApi)],
    },
    Route {
        path: &["_security", "oauth2", "token"],
        methods: &[
            (Method::POST, Action::SecurityGetToken),
            (Method::DELETE, Action::SecurityInvalidateToken),
        ],
    },
    Route {
        path: &["_security", "user"],
        methods: &[(Method::GET, Action::SecurityGetUser)],
    },
    Route {
        path: &["_security", "user", "_has_privileges"],
        methods: &[
            (Method::GET, Action::SecurityHasPrivileges),
            (Method::POST, Action::SecurityHasPrivileges),
        ],
    },
    Route {
        path: &["_security", "user", "{user}", "_has_privileges"],
        methods: &[
            (Method::GET, Action::SecurityHasPrivileges),
            (Method::POST, Action::SecurityHasPrivileges),
        ],
    },
    Route {
        path: &["_security", "user", "_privileges"],
        methods: &[(Method::GET, Action::SecurityGetUserPrivileges)],
    },
    Route {
        path: &["_security", "user", "_password"],
        methods: &[
            (Method::PUT, Action::SecurityChangePassword),
            (Method::POST, Action::SecurityChangePassword),
        ],
    },
    Route {
        path: &["_security", "user", "{username}"],
        methods: &[
            (Method::GET, Action::SecurityGetUser),
            (Method::PUT, Action::SecurityPutUser),
            (Method::POST, Action::SecurityPutUser),
            (Method::DELETE, Action::SecurityDeleteUser),
        ],
    },
    Route {
        path: &["_security", "user", "{username}", "_password"],
        methods: &[
            (Method::PUT, Action::SecurityChangePassword),
            (Method::POST, Action::SecurityChangePassword),
        ],
    },
    Route {
        path: &["_security", "user", "{username}", "_enable"],
        methods: &[
            (Method::PUT, Action::SecurityEnableUser),
            (Method::POST, Action::SecurityEnableUser),
        ],
    },
    Route {
        path: &["_security", "user", "{username}", "_disable"],
        methods: &[
            (Method::PUT, Action::SecurityDisableUser),
            (Method::POST, Action::SecurityDisableUser),
        ],
    },
    Route {
        path: &["_security", "_query", "user"],
        methods: &[
            (Method::GET, Action::SecurityQueryUser),
            (Method::POST, Action::SecurityQueryUser),
        ],
    },
    Route {
        path: &["_security", "role"],
        methods: &[
            (Method::GET, Action::SecurityGetRole),
            (Method::POST, Action::SecurityBulkPutRole),
            (Method::DELETE, Action::SecurityBulkDeleteRole),
        ],
    },
    Route {
        path: &["_security", "role", "{name}"],
        methods: &[
            (Method::GET, Action::SecurityGetRole),
            (Method::PUT, Action::SecurityPutRole),
            (Method::POST, Action::SecurityPutRole),
            (Method::DELETE, Action::SecurityDeleteRole),
        ],
    },
    Route {
        path: &["_security", "role_mapping"],
        methods: &[(Method::GET, Action::SecurityGetRoleMapping)],
    },
    Route {
        path: &["_security", "role_mapping", "{name}"],
        methods: &[
            (Method::GET, Action::SecurityGetRoleMapping),
            (Method::PUT, Action::SecurityPutRoleMapping),
            (Method::POST, Action::SecurityPutRoleMapping),
            (Method::DELETE, Action::SecurityDeleteRoleMapping),
        ],
    },
    Route {
        path: &["_security", "role", "{name}", "_clear_cache"],
        methods: &[(Method::POST, Action::SecurityClearCachedRoles)],
    },
    Route {
        path: &["_security", "service"],
        methods: &[(Method::GET, Action::SecurityGetServiceAccounts)],
    },
    Route {
        path: &["_security", "service", "{namespace}"],
        methods: &[(Method::GET, Action::SecurityGetServiceAccounts)],
    },
    Route {
        path: &["_security", "service", "{namespace}", "{service}"],
        methods: &[(Method::GET, Action::SecurityGetServiceAccounts)],
    },
    Route {
        path: &[
            "_security",
            "service",
            "{namespace}",
            "{service}",
            "credential",
        ],
        methods: &[(Method::GET, Action::SecurityGetServiceCredentials)],
    },
    Route {
        path: &[
            "_security",
            "service",
            "{namespace}",
            "{service}",
            "credential",
            "token",
        ],
        methods: &[(Method::POST, Action::SecurityCreateServiceToken)],
    },
    Route {
        path: &[
            "_security",
            "service",
            "{namespace}",
            "{service}",
            "credential",
            "token",
            "{name}",
        ],
        methods: &[
            (Method::PUT, Action::SecurityCreateServiceToken),
            (Method::POST, Action::SecurityCreateServiceToken),
            (Method::DELETE, Action::SecurityDeleteServiceToken),
        ],
    },
    Route {
        path: &[
            "_security",
            "service",
            "{namespace}",
            "{service}",
            "credential",
            "token",
            "{name}",
            "_clear_cache",
        ],
        methods: &[(Method::POST, Action::SecurityClearCachedServiceTokens)],
    },
    Route {
        path: &["_security", "_query", "api_key"],
        methods: &[
            (Method::GET, Action::SecurityQueryApiKeys),
            (Method::POST, Action::SecurityQueryApiKeys),
        ],
    },
    Route {
        path: &["_security", "_query", "role"],
        methods: &[
            (Method::GET, Action::SecurityQueryRole),
            (Method::POST, Action::SecurityQueryRole),
        ],
    },
    Route {
        path: &["_security", "privilege"],
        methods: &[
            (Method::GET, Action::SecurityGetPrivileges),
            (Method::PUT, Action::SecurityPutPrivileges),
            (Method::POST, Action::SecurityPutPrivileges),
        ],
    },
    Route {
        path: &["_security", "privilege", "_builtin"],
        methods: &[(Method::GET, Action::SecurityGetBuiltinPrivileges)],
    },
    Route {
        path: &["_security", "privilege", "{application}"],
        methods: &[(Method::GET, Action::SecurityGetPrivileges)],
    },
    Route {
        path: &["_security", "privilege", "{application}", "_clear_cache"],
        methods: &[(Method::POST, Action::SecurityClearCachedPrivileges)],
    },
    Route {
        path: &["_security", "privilege", "{application}", "{name}"],
        methods: &[
            (Method::GET, Action::SecurityGetPrivileges),
            (Method::DELETE, Action::SecurityDeletePrivileges),
        ],
    },
    Route {
        path: &["_security", "profile", "_activate"],
        methods: &[(Method::POST, Action::SecurityActivateUserProfile)],
    },
    Route {
        path: &["_security", "profile", "_suggest"],
        methods: &[
            (Method::GET, Action::SecuritySuggestUserProfiles),
            (Method::POST, Action::SecuritySuggestUserProfiles),
        ],
    },
    Route {
        path: &["_security", "profile", "_has_privileges"],
        methods: &[
            (Method::GET, Action::SecurityHasPrivilegesUserProfile),
            (Method::POST, Action::SecurityHasPrivilegesUserProfile),
        ],
    },
    Route {
        path: &["_security", "profile", "{uid}"],
        methods: &[(Method::GET, Action::SecurityGetUserProfile)],
    },
    Route {
        path: &["_security", "profile", "{uid}", "_data"],
        methods: &[
            (Method::PUT, Action::SecurityUpdateUserProfileData),
            (Method::POST, Action::SecurityUpdateUserProfileData),
        ],
    },
    Route {
        path: &["_security", "profile", "{uid}", "_enable"],
        methods: &[
            (Method::PUT, Action::SecurityEnableUserProfile),
            (Method::POST, Action::SecurityEnableUserProfile),
        ],
    },
    Route {
        path: &["_security", "profile", "{uid}", "_disable"],
        methods: &[
            (Method::PUT, Action::SecurityDisableUserProfile),
            (Method::POST, Action::SecurityDisableUserProfile),
        ],
    },
    Route {
        path: &["_security", "saml", "prepare"],
        methods: &[(Method::POST, Action::SecuritySamlPrepareAuthentication)],
    },
    Route {
        path: &["_security", "saml", "authenticate"],
        methods: &[(Method::POST, Action::SecuritySamlAuthenticate)],
    },
    Route {
        path: &["_security", "saml", "logout"],
        methods: &[(Method::POST, Action::SecuritySamlLogout)],
    },
    Route {
        path: &["_security", "saml", "invalidate"],
        methods: &[(Method::POST, Action::SecuritySamlInvalidate)],
    },
    Route {
        path: &["_security", "saml", "complete_logout"],
        methods: &[(Method::POST, Action::SecuritySamlCompleteLogout)],
    },
    Route {
        path: &["_security", "saml", "metadata", "{realm_name}"],
        methods: &[(Method::GET, Action::SecuritySamlServiceProviderMetadata)],
    },
    Route {
        path: &["_security", "oidc", "prepare"],
        methods: &[(Method::POST, Action::SecurityOidcPrepareAuthentication)],
    },
    Route {
        path: &["_security", "oidc", "authenticate"],
        methods: &[(Method::POST, Action::SecurityOidcAuthenticate)],
    },
    Route {
        path: &["_security", "oidc", "logout"],
        methods: &[(Method::POST, Action::SecurityOidcLogout)],
    },
    Route {
        path: &["_security", "delegate_pki"],
        methods: &[(Method::POST, Action::SecurityDelegatePki)],
    },
    Route {
        path: &["_security", "enroll", "node"],
        methods: &[(Method::GET, Action::SecurityEnrollNode)],
    },
    Route {
        path: &["_security", "enroll", "kibana"],
        methods: &[(Method::GET, Action::SecurityEnrollKibana)],
    },
];

/// keyward's REST API as a function from requests to responses: the state every request is
/// served from, and the answers rendered once at start-up. [`crate::serve`] puts it behind an
/// HTTP server; anything else that speaks hyper can call [`Api::handle`] itself.
#[derive(Debug)]
pub struct Api {
    state: AppState,
    /// `GET /_cluster/health`, compact: it only changes with the cluster name.
    cluster_health: Bytes,
    /// The id each request gets when it arrives.
    request_ids: RequestIds,
    /// `GET /_keyward/openapi.json`, compact: made from the route table at start-up.
    openapi: Bytes,
    /// Requests and authentications counted for `GET /_keyward/metrics`.
    metrics: RequestMetrics,
}

/// The client's address, which the server puts in a request's extensions.
#[derive(Debug, Clone, Copy)]
pub struct RemoteAddr(pub std::net::SocketAddr);

/// The header a client names its request with; echoed on the response, as Elasticsearch does.
const OPAQUE_ID: &str = "x-opaque-id";

impl Api {
    /// The API served from `state`.
    pub fn new(state: AppState) -> Api {
        // Leaked once for the life of the server: a static body is sent without touching a
        // reference count that every core would contend for.
        let cluster_health = Bytes::from_static(
            Box::leak(cluster_health::render(&state.node.cluster_name).into_boxed_str()).as_bytes(),
        );
        let openapi = Bytes::from(openapi::document(ROUTES).to_string());
        let metrics =
            RequestMetrics::new(Action::ALL.iter().map(|action| action.api_name()).collect());
        Api {
            state,
            cluster_health,
            request_ids: RequestIds::new(),
            openapi,
            metrics,
        }
    }

    /// Answers one request: every request passes through here.
    ///
    /// The order is Elasticsearch's, and it keeps an unauthenticated caller cheap: the request
    /// line and headers are checked, the route is found, the caller authenticated, and only
    /// then is the body read (within `http.max_content_length` and the body read timeout). A
    /// request refused before that leaves its body unread; hyper then closes the connection
    /// instead of reading the rest.
    pub async fn handle<B>(&self, request: Request<B>) -> Response
    where
        B: hyper::body::Body<Data = Bytes>,
        B::Error: Into<BoxError>,
    {
        let started = Instant::now();
        let mut series = self.metrics.unrouted();
        let response = self.respond(request, &mut series).await;
        self.metrics
            .record(series, response.status(), started.elapsed());
        response
    }

    /// [`Api::handle`] without the counting; sets `series` to the request's action's once it
    /// is routed.
    async fn respond<B>(&self, request: Request<B>, series: &mut usize) -> Response
    where
        B: hyper::body::Body<Data = Bytes>,
        B::Error: Into<BoxError>,
    {
        let (parts, body) = request.into_parts();
        let opaque_id = parts.headers.get(OPAQUE_ID).cloned();
        let info = RequestInfo {
            id: self.request_ids.next(),
            origin: parts.extensions.get::<RemoteAddr>().map(|addr| addr.0),
            opaque_id: opaque_id.as_ref().and_then(|value| value.to_str().ok()),
            forwarded_for: parts
                .headers
                .get("x-forwarded-for")
                .and_then(|value| value.to_str().ok()),
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query(),
        };
        let span = tracing::info_span!("request", request_id = %info.id);
        let mut response =
            tracing::Instrument::instrument(self.respond_parts(&parts, body, &info, series), span)
                .await;
        if let Some(opaque_id) = opaque_id {
            response.headers_mut().insert(OPAQUE_ID, opaque_id);
        }
        response
    }

    /// Answers a request whose head was taken apart.
    async fn respond_parts<B>(
        &self,
        parts: &http::request::Parts,
        body: B,
        info: &RequestInfo<'_>,
        series: &mut usize,
    ) -> Response
    where
        B: hyper::body::Body<Data = Bytes>,
        B::Error: Into<BoxError>,
    {
        let method = &parts.method;
        let path = parts.uri.path();
        // The path and query as sent, for error reasons.
        let uri = parts
            .uri
            .path_and_query()
            .map_or(path, |path_and_query| path_and_query.as_str());
        if let Err(err) = intake::check_head(&self.state.limits, method, uri, &parts.headers) {
            return Rendering::default().respond(err.status(), &err.body(), Some(&err));
        }
        if crate::console::is_console(path) {
            // Static files for everyone: no credentials, no query parameters, no body read.
            return crate::console::respond(method, path, &parts.headers);
        }
        let query = match QueryParams::parse(parts.uri.query()) {
            Ok(query) => query,
            Err(err) => return Rendering::default().respond(err.status(), &err.body(), Some(&err)),
        };
        // Whether the headers announce a body of known, non-zero length; a chunked body's
        // media type is checked once it is read and turns out not to be empty.
        let announced = body.size_hint().lower() > 0;
        let (rendering, negotiated) =
            Rendering::negotiate(method, &parts.headers, &query, announced);
        let request = Incoming {
            method,
            path,
            uri,
            headers: &parts.headers,
            query,
            body,
            announced,
        };
        let result = match negotiated {
            Ok(()) => answer(self, request, info, series).await,
            Err(err) => Err(err),
        };
        let response = match result {
            Ok((status, Answer::Value(value))) => rendering.respond(status, &value, None),
            Ok((status, Answer::Rendered(body))) => rendering.respond_rendered(status, body),
            Ok((status, Answer::Text(body))) => {
                rendering.respond_text(status, body, crate::metrics::CONTENT_TYPE)
            }
            Ok((status, Answer::ApiKeys(pages))) => {
                crate::stream::respond_api_keys(&rendering, status, pages).await
            }
            Ok((status, Answer::Headers(headers))) => {
                let mut response = rendering.respond_empty(status);
                response.headers_mut().extend(headers);
                response
            }
            Err(err) => {
                if let Some(cause) = err.internal_cause() {
                    tracing::error!(%method, path, cause, "request failed");
                }
                rendering.respond(err.status(), &err.body(), Some(&err))
            }
        };
        tracing::debug!(%method, path, status = response.status().as_u16(), "answered");
        response
    }
}

/// A handler's body: JSON to render, JSON rendered once ahead of time, or a listing of keys to
/// render as it is read.
enum Answer {
    Value(Value),
    Rendered(Bytes),
    /// Not JSON: sent as it is, with this media type.
    Text(Bytes),
    ApiKeys(crate::stream::ApiKeyPages),
    /// No body, only headers of its own.
    Headers(http::HeaderMap),
}

/// The error a request body's stream may end with.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A request as the dispatcher sees it, its body not read yet.
struct Incoming<'a, B> {
    method: &'a Method,
    path: &'a str,
    uri: &'a str,
    headers: &'a http::HeaderMap,
    query: QueryParams,
    body: B,
    /// The headers announced a non-empty body, and its media type was checked.
    announced: bool,
}

/// Routes, authenticates, reads the body and runs the action; sets `series` to the action's
/// metric series once routed.
async fn answer<B>(
    api: &Api,
    request: Incoming<'_, B>,
    info: &RequestInfo<'_>,
    series: &mut usize,
) -> Result<(StatusCode, Answer), EsError>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let Incoming {
        method,
        path,
        uri,
        headers,
        query,
        body,
        announced,
    } = request;
    if forward_auth::is_forward_auth(path) {
        // Any method and any path below the prefix (Envoy appends the request's path); the
        // query string is the proxied request's, not parameters of this endpoint.
        *series = Action::KeywardForwardAuth.index();
        let query = uri.split_once('?').map(|(_, query)| query);
        return forward_auth::answer(api, method, path, query, headers, info, body).await;
    }
    let (action, params) = route(method, path, uri)?;
    *series = action.index();
    let state = &api.state;
    let action_name = action_name::action_name(action);
    if action == Action::KeywardReady {
        // Before authentication: a load balancer has no credentials, and the answer says
        // nothing but ready or not.
        intake::refuse_body(body, &state.limits, method, path).await?;
        let (status, value) = keyward_ready::handle(state, &query).await?;
        return Ok((status, Answer::Value(value)));
    }
    if action == Action::KeywardOpenApi {
        // The API is public knowledge (Elasticsearch publishes its own): the document needs no
        // credentials, like `GET /_keyward/ready` for load balancers.
        intake::refuse_body(body, &state.limits, method, path).await?;
        query.check_allowed(path, action.params())?;
        return Ok((StatusCode::OK, Answer::Rendered(api.openapi.clone())));
    }
    let subject = crate::authn::authenticate(
        &state.service,
        &state.audit,
        info,
        &api.metrics,
        headers,
        uri,
        action_name,
    )
    .await?;
    let body = if action.takes_body() {
        let body = intake::read_body(body, &state.limits).await?;
        if !announced && !body.is_empty() {
            crate::compat::body_content_type(headers)?;
        }
        if body.is_empty() && action.params().contains(&"source") {
            source_param_body(&query)?.unwrap_or(body)
        } else {
            body
        }
    } else {
        intake::refuse_body(body, &state.limits, method, path).await?;
        Bytes::new()
    };
    query.check_allowed(path, action.params())?;
    let ctx = Ctx {
        state,
        subject,
        params,
        query,
        body,
        path,
    };
    let result = run(api, action, &ctx).await;
    if state.audit.is_enabled() {
        audit_outcome(action, action_name, &ctx, info, &result).await;
    }
    result
}

/// The access event for a request's outcome, and its configuration changes when it succeeded.
///
/// keyward validates a request before it authorizes it, so the outcome is what tells: a 403
/// is a denial; a request refused as malformed (400 and the other input errors) reached no
/// decision and is not recorded; anything else passed authorization.
async fn audit_outcome(
    action: Action,
    action_name: &'static str,
    ctx: &Ctx<'_>,
    info: &RequestInfo<'_>,
    result: &Result<(StatusCode, Answer), EsError>,
) {
    let audit = &ctx.state.audit;
    let status = match result {
        Ok((status, _)) => *status,
        Err(err) => err.status(),
    };
    let granted = match status {
        StatusCode::FORBIDDEN => false,
        StatusCode::BAD_REQUEST
        | StatusCode::METHOD_NOT_ALLOWED
        | StatusCode::NOT_ACCEPTABLE
        | StatusCode::REQUEST_TIMEOUT
        | StatusCode::PAYLOAD_TOO_LARGE
        | StatusCode::UNSUPPORTED_MEDIA_TYPE => return,
        _ => true,
    };
    audit
        .access(
            info,
            &ctx.subject,
            action_name,
            request_name::request_name(action),
            granted,
        )
        .await;
    let Ok((_, Answer::Value(reply))) = result else {
        return;
    };
    if !crate::audit::changes_config(action) || !audit.wants_config_changes() {
        return;
    }
    let body: Value = serde_json::from_slice(&ctx.body).unwrap_or(Value::Null);
    let param = |name: &str| {
        ctx.params
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.clone())
    };
    let changes =
        crate::audit::config_changes(action, &body, &param, reply, &ctx.subject.user.username);
    for (event_action, payload) in changes {
        audit.config_change(info, event_action, &payload).await;
    }
}

/// Runs the action's handler.
async fn run(api: &Api, action: Action, ctx: &Ctx<'_>) -> Result<(StatusCode, Answer), EsError> {
    let reply = match action {
        Action::KeywardMetrics => {
            let text = keyward_metrics::handle(ctx, &api.metrics).await?;
            return Ok((StatusCode::OK, Answer::Text(text)));
        }
        Action::KeywardOpenApi => {
            return Ok((StatusCode::OK, Answer::Rendered(api.openapi.clone())));
        }
        Action::ClusterHealth => {
            cluster_health::handle(ctx)?;
            return Ok((StatusCode::OK, Answer::Rendered(api.cluster_health.clone())));
        }
        Action::Info => info::handle(ctx).await,
        Action::KeywardCrossClusterAuthenticate => {
            keyward_cross_cluster_authenticate::handle(ctx).await
        }
        Action::KeywardReady => keyward_ready::handle(&api.state, &ctx.query).await,
        Action::KeywardForwardAuth => {
            Err(EsError::internal("forward auth is answered before routing"))
        }
        Action::SecurityAuthenticate => authenticate::handle(ctx).await,
        Action::SecurityBulkDeleteRole => bulk_delete_role::handle(ctx).await,
        Action::SecurityBulkPutRole => bulk_put_role::handle(ctx).await,
        Action::SecurityBulkUpdateApiKeys => bulk_update_api_keys::handle(ctx).await,
        Action::SecurityChangePassword => change_password::handle(ctx).await,
        Action::SecurityClearApiKeyCache => clear_api_key_cache::handle(ctx).await,
        Action::SecurityClearCachedPrivileges => clear_cached_privileges::handle(ctx).await,
        Action::SecurityClearCachedRoles => clear_cached_roles::handle(ctx).await,
        Action::SecurityClearCachedServiceTokens => clear_cached_service_tokens::handle(ctx).await,
        Action::SecurityCreateServiceToken => create_service_token::handle(ctx).await,
        Action::SecurityDeleteServiceToken => delete_service_token::handle(ctx).await,
        Action::SecurityGetServiceAccounts => get_service_accounts::handle(ctx).await,
        Action::SecurityGetServiceCredentials => get_service_credentials::handle(ctx).await,
        Action::SecurityCreateApiKey => create_api_key::handle(ctx).await,
        Action::SecurityCreateCrossClusterApiKey => create_cross_cluster_api_key::handle(ctx).await,
        Action::SecurityDeletePrivileges => delete_privileges::handle(ctx).await,
        Action::SecurityDeleteRole => delete_role::handle(ctx).await,
        Action::SecurityDeleteRoleMapping => delete_role_mapping::handle(ctx).await,
        Action::SecurityDeleteUser => delete_user::handle(ctx).await,
        Action::SecurityDisableUser => disable_user::handle(ctx).await,
        Action::SecurityEnableUser => enable_user::handle(ctx).await,
        Action::SecurityGetApiKey => return get_api_key::handle(ctx).await,
        Action::SecurityGetBuiltinPrivileges => get_builtin_privileges::handle(ctx).await,
        Action::SecurityGetPrivileges => get_privileges::handle(ctx).await,
        Action::SecurityGetRole => get_role::handle(ctx).await,
        Action::SecurityGetRoleMapping => get_role_mapping::handle(ctx).await,
        Action::SecurityGetToken => get_token::handle(ctx).await,
        Action::SecurityGetUser => get_user::handle(ctx).await,
        Action::SecurityGetUserPrivileges => get_user_privileges::handle(ctx).await,
        Action::SecurityHasPrivileges => has_privileges::handle(ctx).await,
        Action::SecurityGrantApiKey => grant_api_key::handle(ctx).await,
        Action::SecurityBulkGrantApiKey => grant_api_key::handle_bulk(ctx).await,
        Action::SecurityCloneApiKey => clone_api_key::handle(ctx).await,
        Action::SecurityClearCachedRealms => clear_cached_realms::handle(ctx).await,
        Action::SecurityGetStats => get_stats::handle(ctx).await,
        Action::SecurityGetSettings => settings::get(ctx).await,
        Action::SecurityUpdateSettings => settings::update(ctx).await,
        Action::SecurityInvalidateApiKey => invalidate_api_key::handle(ctx).await,
        Action::SecurityInvalidateToken => invalidate_token::handle(ctx).await,
        Action::SecurityPutPrivileges => put_privileges::handle(ctx).await,
        Action::SecurityPutRole => put_role::handle(ctx).await,
        Action::SecurityPutRoleMapping => put_role_mapping::handle(ctx).await,
        Action::SecurityPutUser => put_user::handle(ctx).await,
        Action::SecurityQueryApiKeys => query_api_keys::handle(ctx).await,
        Action::SecurityQueryRole => query_role::handle(ctx).await,
        Action::SecurityQueryUser => query_user::handle(ctx).await,
        Action::SecurityUpdateApiKey => update_api_key::handle(ctx).await,
        Action::SecurityUpdateCrossClusterApiKey => update_cross_cluster_api_key::handle(ctx).await,
        Action::SecurityActivateUserProfile => activate_user_profile::handle(ctx).await,
        Action::SecurityDisableUserProfile => disable_user_profile::handle(ctx).await,
        Action::SecurityEnableUserProfile => enable_user_profile::handle(ctx).await,
        Action::SecurityGetUserProfile => get_user_profile::handle(ctx).await,
        Action::SecurityHasPrivilegesUserProfile => has_privileges_user_profile::handle(ctx).await,
        Action::SecuritySuggestUserProfiles => suggest_user_profiles::handle(ctx).await,
        Action::SecurityUpdateUserProfileData => update_user_profile_data::handle(ctx).await,
        Action::SecuritySamlPrepareAuthentication => realms::saml_prepare_authentication(ctx).await,
        Action::SecuritySamlAuthenticate => realms::saml_authenticate(ctx).await,
        Action::SecuritySamlLogout => realms::saml_logout(ctx).await,
        Action::SecuritySamlInvalidate => realms::saml_invalidate(ctx).await,
        Action::SecuritySamlCompleteLogout => realms::saml_complete_logout(ctx).await,
        Action::SecuritySamlServiceProviderMetadata => {
            realms::saml_service_provider_metadata(ctx).await
        }
        Action::SecurityOidcPrepareAuthentication => realms::oidc_prepare_authentication(ctx).await,
        Action::SecurityOidcAuthenticate => realms::oidc_authenticate(ctx).await,
        Action::SecurityOidcLogout => realms::oidc_logout(ctx).await,
        Action::SecurityDelegatePki => realms::delegate_pki(ctx).await,
        Action::SecurityEnrollNode => realms::enroll(ctx).await,
        Action::SecurityEnrollKibana => realms::enroll(ctx).await,
    };
    reply.map(|(status, value)| (status, Answer::Value(value)))
}

/// Path parameters by name, as matched (`{id}` → the decoded segment).
type PathParams = Vec<(&'static str, String)>;

/// No route has more segments than this.
const MAX_SEGMENTS: usize = 8;

/// Finds the action for a method and path: Elasticsearch's 400 "no handler" when no path
/// matches, 405 with `Allow` when the path exists for other methods. `HEAD` is served by the
/// `GET` handler without a body.
fn route(method: &Method, path: &str, uri: &str) -> Result<(Action, PathParams), EsError> {
    let mut buffer = [""; MAX_SEGMENTS];
    let mut count = 0;
    for segment in path.split('/').filter(|segment| !segment.is_empty()) {
        let Some(slot) = buffer.get_mut(count) else {
            return Err(EsError::no_handler(uri, method.as_str()));
        };
        *slot = segment;
        count += 1;
    }
    let segments = &buffer[..count];
    let wanted = if method == Method::HEAD {
        &Method::GET
    } else {
        method
    };
    // Of the routes that fit the path and take the method, the one with the fewest parameters:
    // literal segments win.
    let mut fitting = false;
    let mut best: Option<(usize, &Route, Action)> = None;
    for route in ROUTES {
        let Some(parameters) = fits(route, segments) else {
            continue;
        };
        fitting = true;
        if best.is_some_and(|(fewest, _, _)| fewest <= parameters) {
            continue;
        }
        if let Some((_, action)) = route.methods.iter().find(|(allowed, _)| allowed == wanted) {
            best = Some((parameters, route, *action));
            if parameters == 0 {
                // Nothing beats an all-literal route.
                break;
            }
        }
    }
    match best {
        Some((_, route, action)) => Ok((action, params(route, segments))),
        None if fitting => Err(method_not_allowed(method, segments, uri)),
        None => Err(EsError::no_handler(uri, method.as_str())),
    }
}

/// The 405 for a path that exists for other methods, with their list for `Allow`.
fn method_not_allowed(method: &Method, segments: &[&str], uri: &str) -> EsError {
    let mut allowed: Vec<&str> = ROUTES
        .iter()
        .filter(|route| fits(route, segments).is_some())
        .flat_map(|route| route.methods.iter().map(|(method, _)| method.as_str()))
        .collect();
    if allowed.contains(&"GET") {
        allowed.push("HEAD");
    }
    allowed.sort_unstable();
    allowed.dedup();
    EsError::method_not_allowed(uri, method.as_str(), &allowed)
}

/// The parameter name of a `{name}` pattern segment.
fn parameter_name(pattern: &'static str) -> Option<&'static str> {
    pattern
        .strip_prefix('{')
        .and_then(|rest| rest.strip_suffix('}'))
}

/// How many parameters `route` binds when it fits `segments`.
fn fits(route: &Route, segments: &[&str]) -> Option<usize> {
    if route.path.len() != segments.len() {
        return None;
    }
    let mut parameters = 0;
    for (pattern, segment) in route.path.iter().zip(segments) {
        if parameter_name(pattern).is_some() {
            parameters += 1;
        } else if pattern != segment {
            return None;
        }
    }
    Some(parameters)
}

/// The decoded parameters of a route that fits `segments`.
fn params(route: &Route, segments: &[&str]) -> PathParams {
    route
        .path
        .iter()
        .zip(segments)
        .filter_map(|(pattern, segment)| {
            let name = parameter_name(pattern)?;
            let decoded = percent_encoding::percent_decode_str(segment)
                .decode_utf8_lossy()
                .into_owned();
            Some((name, decoded))
        })
        .collect()
}
