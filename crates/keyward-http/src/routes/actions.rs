//! What each action is called and which query parameters it takes: the facts the dispatcher,
//! the metrics and the OpenAPI document share, so none of them can drift from the others.

use super::Action;

impl Action {
    /// Every action, in the order of their metric series.
    pub(super) const ALL: [Action; 74] = [
        Action::ClusterHealth,
        Action::Info,
        Action::KeywardCrossClusterAuthenticate,
        Action::KeywardForwardAuth,
        Action::KeywardReady,
        Action::KeywardMetrics,
        Action::KeywardOpenApi,
        Action::SecurityAuthenticate,
        Action::SecurityBulkDeleteRole,
        Action::SecurityBulkGrantApiKey,
        Action::SecurityBulkPutRole,
        Action::SecurityBulkUpdateApiKeys,
        Action::SecurityChangePassword,
        Action::SecurityClearApiKeyCache,
        Action::SecurityClearCachedPrivileges,
        Action::SecurityClearCachedRealms,
        Action::SecurityClearCachedRoles,
        Action::SecurityCloneApiKey,
        Action::SecurityClearCachedServiceTokens,
        Action::SecurityCreateApiKey,
        Action::SecurityCreateCrossClusterApiKey,
        Action::SecurityCreateServiceToken,
        Action::SecurityDeletePrivileges,
        Action::SecurityDeleteRole,
        Action::SecurityDeleteRoleMapping,
        Action::SecurityDeleteServiceToken,
        Action::SecurityDeleteUser,
        Action::SecurityDisableUser,
        Action::SecurityEnableUser,
        Action::SecurityGetApiKey,
        Action::SecurityGetBuiltinPrivileges,
        Action::SecurityGetPrivileges,
        Action::SecurityGetRole,
        Action::SecurityGetRoleMapping,
        Action::SecurityGetSettings,
        Action::SecurityGetStats,
        Action::SecurityGetServiceAccounts,
        Action::SecurityGetServiceCredentials,
        Action::SecurityGetToken,
        Action::SecurityGetUser,
        Action::SecurityGetUserPrivileges,
        Action::SecurityHasPrivileges,
        Action::SecurityGrantApiKey,
        Action::SecurityInvalidateApiKey,
        Action::SecurityInvalidateToken,
        Action::SecurityPutPrivileges,
        Action::SecurityPutRole,
        Action::SecurityPutRoleMapping,
        Action::SecurityPutUser,
        Action::SecurityQueryApiKeys,
        Action::SecurityQueryRole,
        Action::SecurityQueryUser,
        Action::SecurityUpdateApiKey,
        Action::SecurityUpdateCrossClusterApiKey,
        Action::SecurityUpdateSettings,
        Action::SecurityActivateUserProfile,
        Action::SecurityDisableUserProfile,
        Action::SecurityEnableUserProfile,
        Action::SecurityGetUserProfile,
        Action::SecurityHasPrivilegesUserProfile,
        Action::SecuritySuggestUserProfiles,
        Action::SecurityUpdateUserProfileData,
        Action::SecuritySamlPrepareAuthentication,
        Action::SecuritySamlAuthenticate,
        Action::SecuritySamlLogout,
        Action::SecuritySamlInvalidate,
        Action::SecuritySamlCompleteLogout,
        Action::SecuritySamlServiceProviderMetadata,
        Action::SecurityOidcPrepareAuthentication,
        Action::SecurityOidcAuthenticate,
        Action::SecurityOidcLogout,
        Action::SecurityDelegatePki,
        Action::SecurityEnrollNode,
        Action::SecurityEnrollKibana,
    ];

    /// The action's index in [`Action::ALL`]: its metric series.
    pub(super) fn index(self) -> usize {
        // Fieldless enum: the discriminant is the declaration order, which `ALL` follows (a
        // test checks it).
        self as usize
    }

    /// The rest-api-spec name (`security.create_api_key`); `keyward.*` for keyward's own.
    pub(super) fn api_name(self) -> &'static str {
        match self {
            Action::ClusterHealth => "cluster.health",
            Action::Info => "info",
            Action::KeywardCrossClusterAuthenticate => "keyward.cross_cluster_authenticate",
            Action::KeywardForwardAuth => "keyward.forward_auth",
            Action::KeywardReady => "keyward.ready",
            Action::KeywardMetrics => "keyward.metrics",
            Action::KeywardOpenApi => "keyward.openapi",
            Action::SecurityAuthenticate => "security.authenticate",
            Action::SecurityBulkDeleteRole => "security.bulk_delete_role",
            Action::SecurityBulkGrantApiKey => "security.bulk_grant_api_key",
            Action::SecurityBulkPutRole => "security.bulk_put_role",
            Action::SecurityBulkUpdateApiKeys => "security.bulk_update_api_keys",
            Action::SecurityChangePassword => "security.change_password",
            Action::SecurityClearApiKeyCache => "security.clear_api_key_cache",
            Action::SecurityClearCachedPrivileges => "security.clear_cached_privileges",
            Action::SecurityClearCachedRealms => "security.clear_cached_realms",
            Action::SecurityClearCachedRoles => "security.clear_cached_roles",
            Action::SecurityCloneApiKey => "security.clone_api_key",
            Action::SecurityClearCachedServiceTokens => "security.clear_cached_service_tokens",
            Action::SecurityCreateServiceToken => "security.create_service_token",
            Action::SecurityDeleteServiceToken => "security.delete_service_token",
            Action::SecurityGetServiceAccounts => "security.get_service_accounts",
            Action::SecurityGetServiceCredentials => "security.get_service_credentials",
            Action::SecurityCreateApiKey => "security.create_api_key",
            Action::SecurityCreateCrossClusterApiKey => "security.create_cross_cluster_api_key",
            Action::SecurityDeletePrivileges => "security.delete_privileges",
            Action::SecurityDeleteRole => "security.delete_role",
            Action::SecurityDeleteRoleMapping => "security.delete_role_mapping",
            Action::SecurityDeleteUser => "security.delete_user",
            Action::SecurityDisableUser => "security.disable_user",
            Action::SecurityEnableUser => "security.enable_user",
            Action::SecurityGetApiKey => "security.get_api_key",
            Action::SecurityGetBuiltinPrivileges => "security.get_builtin_privileges",
            Action::SecurityGetPrivileges => "security.get_privileges",
            Action::SecurityGetRole => "security.get_role",
            Action::SecurityGetRoleMapping => "security.get_role_mapping",
            Action::SecurityGetSettings => "security.get_settings",
            Action::SecurityGetStats => "security.get_stats",
            Action::SecurityGetToken => "security.get_token",
            Action::SecurityGetUser => "security.get_user",
            Action::SecurityGetUserPrivileges => "security.get_user_privileges",
            Action::SecurityHasPrivileges => "security.has_privileges",
            Action::SecurityGrantApiKey => "security.grant_api_key",
            Action::SecurityInvalidateApiKey => "security.invalidate_api_key",
            Action::SecurityInvalidateToken => "security.invalidate_token",
            Action::SecurityPutPrivileges => "security.put_privileges",
            Action::SecurityPutRole => "security.put_role",
            Action::SecurityPutRoleMapping => "security.put_role_mapping",
            Action::SecurityPutUser => "security.put_user",
            Action::SecurityQueryApiKeys => "security.query_api_keys",
            Action::SecurityQueryRole => "security.query_role",
            Action::SecurityQueryUser => "security.query_user",
            Action::SecurityUpdateApiKey => "security.update_api_key",
            Action::SecurityUpdateCrossClusterApiKey => "security.update_cross_cluster_api_key",
            Action::SecurityUpdateSettings => "security.update_settings",
            Action::SecurityActivateUserProfile => "security.activate_user_profile",
            Action::SecurityDisableUserProfile => "security.disable_user_profile",
            Action::SecurityEnableUserProfile => "security.enable_user_profile",
            Action::SecurityGetUserProfile => "security.get_user_profile",
            Action::SecurityHasPrivilegesUserProfile => "security.has_privileges_user_profile",
            Action::SecuritySuggestUserProfiles => "security.suggest_user_profiles",
            Action::SecurityUpdateUserProfileData => "security.update_user_profile_data",
            Action::SecuritySamlPrepareAuthentication => "security.saml_prepare_authentication",
            Action::SecuritySamlAuthenticate => "security.saml_authenticate",
            Action::SecuritySamlLogout => "security.saml_logout",
            Action::SecuritySamlInvalidate => "security.saml_invalidate",
            Action::SecuritySamlCompleteLogout => "security.saml_complete_logout",
            Action::SecuritySamlServiceProviderMetadata => {
                "security.saml_service_provider_metadata"
            }
            Action::SecurityOidcPrepareAuthentication => "security.oidc_prepare_authentication",
            Action::SecurityOidcAuthenticate => "security.oidc_authenticate",
            Action::SecurityOidcLogout => "security.oidc_logout",
            Action::SecurityDelegatePki => "security.delegate_pki",
            Action::SecurityEnrollNode => "security.enroll_node",
            Action::SecurityEnrollKibana => "security.enroll_kibana",
        }
    }

    /// The query parameters the action takes, besides those every action takes (`pretty`,
    /// `human`, `error_trace`, `filter_path`): a subset of its rest-api-spec `params`. Any
    /// other is refused before the handler runs.
    pub(super) fn params(self) -> &'static [&'static str] {
        match self {
            Action::ClusterHealth => &[
                "expand_wildcards",
                "level",
                "local",
                "master_timeout",
                "timeout",
                "wait_for_active_shards",
                "wait_for_nodes",
                "wait_for_events",
                "wait_for_no_relocating_shards",
                "wait_for_no_initializing_shards",
                "wait_for_status",
            ],
            Action::SecurityBulkDeleteRole
            | Action::SecurityBulkGrantApiKey
            | Action::SecurityBulkPutRole
            | Action::SecurityChangePassword
            | Action::SecurityCloneApiKey
            | Action::SecurityCreateApiKey
            | Action::SecurityDeletePrivileges
            | Action::SecurityDeleteRole
            | Action::SecurityDeleteRoleMapping
            | Action::SecurityDeleteUser
            | Action::SecurityDisableUser
            | Action::SecurityEnableUser
            | Action::SecurityGrantApiKey
            | Action::SecurityPutPrivileges
            | Action::SecurityPutRole
            | Action::SecurityPutRoleMapping
            | Action::SecurityPutUser
            | Action::SecurityCreateServiceToken
            | Action::SecurityDeleteServiceToken
            | Action::SecurityDisableUserProfile
            | Action::SecurityEnableUserProfile => &["refresh"],
            Action::SecurityGetUserProfile | Action::SecuritySuggestUserProfiles => &["data"],
            Action::SecurityUpdateUserProfileData => &["if_seq_no", "if_primary_term", "refresh"],
            Action::SecurityGetApiKey => &[
                "id",
                "name",
                "username",
                "realm_name",
                "owner",
                "with_limited_by",
                "active_only",
                "with_profile_uid",
            ],
            Action::SecurityGetUser => &["with_profile_uid"],
            // The APIs whose Elasticsearch handlers read "content or the source parameter".
            Action::SecurityQueryUser => &["with_profile_uid", "source", "source_content_type"],
            Action::SecurityQueryRole | Action::SecurityHasPrivileges => {
                &["source", "source_content_type"]
            }
            Action::SecurityClearCachedRealms => &["usernames"],
            Action::SecurityGetSettings => &["master_timeout"],
            Action::SecurityUpdateSettings => &["master_timeout", "timeout"],
            Action::SecurityQueryApiKeys => &[
                "with_limited_by",
                "with_profile_uid",
                "typed_keys",
                "source",
                "source_content_type",
            ],
            Action::Info
            | Action::KeywardCrossClusterAuthenticate
            | Action::KeywardForwardAuth
            | Action::KeywardReady
            | Action::KeywardMetrics
            | Action::KeywardOpenApi
            | Action::SecurityAuthenticate
            | Action::SecurityBulkUpdateApiKeys
            | Action::SecurityClearApiKeyCache
            | Action::SecurityClearCachedPrivileges
            | Action::SecurityClearCachedRoles
            | Action::SecurityClearCachedServiceTokens
            | Action::SecurityGetServiceAccounts
            | Action::SecurityGetServiceCredentials
            | Action::SecurityCreateCrossClusterApiKey
            | Action::SecurityGetBuiltinPrivileges
            | Action::SecurityGetPrivileges
            | Action::SecurityGetRole
            | Action::SecurityGetRoleMapping
            | Action::SecurityGetStats
            | Action::SecurityGetToken
            | Action::SecurityGetUserPrivileges
            | Action::SecurityInvalidateApiKey
            | Action::SecurityInvalidateToken
            | Action::SecurityUpdateApiKey
            | Action::SecurityUpdateCrossClusterApiKey
            | Action::SecurityActivateUserProfile
            | Action::SecurityHasPrivilegesUserProfile
            | Action::SecuritySamlPrepareAuthentication
            | Action::SecuritySamlAuthenticate
            | Action::SecuritySamlLogout
            | Action::SecuritySamlInvalidate
            | Action::SecuritySamlCompleteLogout
            | Action::SecuritySamlServiceProviderMetadata
            | Action::SecurityOidcPrepareAuthentication
            | Action::SecurityOidcAuthenticate
            | Action::SecurityOidcLogout
            | Action::SecurityDelegatePki
            | Action::SecurityEnrollNode
            | Action::SecurityEnrollKibana => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_follows_the_declaration_order() {
        for (index, action) in Action::ALL.iter().enumerate() {
            assert_eq!(action.index(), index, "{action:?}");
        }
    }

    #[test]
    fn every_routed_action_is_listed_once() {
        for route in super::super::ROUTES {
            for (_, action) in route.methods {
                assert!(Action::ALL.contains(action), "{action:?}");
            }
        }
        let mut names: Vec<_> = Action::ALL.iter().map(|action| action.api_name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Action::ALL.len());
    }

    #[test]
    fn action_and_request_names_are_written_into_audit_events_as_they_are() {
        for action in Action::ALL {
            for name in [
                super::super::action_name::action_name(action),
                super::super::request_name::request_name(action),
            ] {
                assert!(crate::audit::needs_no_escape(name), "{action:?}: {name}");
            }
        }
    }
}
