//! The Elasticsearch action name of each route, for the reasons of denials that happen before
//! the handler runs (run-as).

use keyward_core::privilege::actions;

use super::Action;

/// The action name Elasticsearch authorizes `action` under.
pub(super) fn action_name(action: Action) -> &'static str {
    match action {
        Action::ClusterHealth => actions::CLUSTER_HEALTH,
        Action::Info => actions::MAIN,
        Action::KeywardForwardAuth => super::forward_auth::FORWARD_AUTH_ACTION,
        Action::KeywardMetrics => super::keyward_metrics::METRICS_ACTION,
        Action::SecurityBulkDeleteRole => actions::BULK_DELETE_ROLE,
        Action::SecurityBulkGrantApiKey => actions::BULK_GRANT_API_KEY,
        Action::SecurityBulkPutRole => actions::BULK_PUT_ROLE,
        Action::SecurityBulkUpdateApiKeys => actions::BULK_UPDATE_API_KEY,
        Action::SecurityChangePassword => actions::CHANGE_PASSWORD,
        Action::SecurityClearApiKeyCache => actions::CLEAR_SECURITY_CACHE,
        Action::SecurityClearCachedPrivileges => actions::CLEAR_PRIVILEGES_CACHE,
        Action::SecurityClearCachedRealms => actions::CLEAR_REALM_CACHE,
        Action::SecurityClearCachedRoles => actions::CLEAR_ROLES_CACHE,
        Action::SecurityCloneApiKey => actions::CLONE_API_KEY,
        Action::SecurityClearCachedServiceTokens => actions::CLEAR_SECURITY_CACHE,
        Action::SecurityCreateServiceToken => actions::CREATE_SERVICE_TOKEN,
        Action::SecurityDeleteServiceToken => actions::DELETE_SERVICE_TOKEN,
        Action::SecurityGetServiceAccounts => actions::GET_SERVICE_ACCOUNT,
        Action::SecurityGetServiceCredentials => actions::GET_SERVICE_CREDENTIALS,
        Action::SecurityCreateApiKey => actions::CREATE_API_KEY,
        Action::SecurityCreateCrossClusterApiKey => actions::CREATE_CROSS_CLUSTER_API_KEY,
        Action::SecurityDeletePrivileges => actions::DELETE_PRIVILEGES,
        Action::SecurityDeleteRole => actions::DELETE_ROLE,
        Action::SecurityDeleteRoleMapping => actions::DELETE_ROLE_MAPPING,
        Action::SecurityDeleteUser => actions::DELETE_USER,
        Action::SecurityDisableUser | Action::SecurityEnableUser => actions::SET_ENABLED,
        Action::SecurityGetApiKey => actions::GET_API_KEY,
        Action::SecurityGetBuiltinPrivileges => actions::GET_BUILTIN_PRIVILEGES,
        Action::SecurityGetPrivileges => actions::GET_PRIVILEGES,
        Action::SecurityGetRole => actions::GET_ROLE,
        Action::SecurityGetRoleMapping => actions::GET_ROLE_MAPPINGS,
        Action::SecurityGetStats => actions::SECURITY_STATS,
        Action::SecurityGetSettings => actions::GET_SECURITY_SETTINGS,
        Action::SecurityUpdateSettings => actions::UPDATE_SECURITY_SETTINGS,
        Action::SecurityGetToken => actions::CREATE_TOKEN,
        Action::SecurityGetUser => actions::GET_USER,
        Action::SecurityGetUserPrivileges => actions::GET_USER_PRIVILEGES,
        Action::SecurityHasPrivileges => actions::HAS_PRIVILEGES,
        Action::SecurityInvalidateToken => actions::INVALIDATE_TOKEN,
        Action::SecurityInvalidateApiKey => actions::INVALIDATE_API_KEY,
        Action::SecurityPutPrivileges => actions::PUT_PRIVILEGES,
        Action::SecurityPutRole => actions::PUT_ROLE,
        Action::SecurityPutRoleMapping => actions::PUT_ROLE_MAPPING,
        Action::SecurityPutUser => actions::PUT_USER,
        Action::SecurityQueryRole => actions::QUERY_ROLE,
        Action::SecurityQueryUser => actions::QUERY_USER,
        Action::SecurityUpdateApiKey => actions::UPDATE_API_KEY,
        Action::SecurityUpdateCrossClusterApiKey => actions::UPDATE_CROSS_CLUSTER_API_KEY,
        Action::SecurityActivateUserProfile => actions::ACTIVATE_PROFILE,
        Action::SecurityDisableUserProfile => actions::SET_PROFILE_ENABLED,
        Action::SecurityEnableUserProfile => actions::SET_PROFILE_ENABLED,
        Action::SecurityGetUserProfile => actions::GET_PROFILES,
        Action::SecurityHasPrivilegesUserProfile => actions::PROFILE_HAS_PRIVILEGES,
        Action::SecuritySuggestUserProfiles => actions::SUGGEST_PROFILES,
        Action::SecurityUpdateUserProfileData => actions::UPDATE_PROFILE_DATA,
        // `_authenticate`, keyward's own routes and routes added since: the run-as denial names
        // the authenticate action, which every subject may call.
        _ => actions::AUTHENTICATE,
    }
}
