//! The name of the request each action carries in Elasticsearch (the Java request class), which
//! access events report as `request.name`.

use super::Action;

/// `request.name` for `action`.
pub(super) fn request_name(action: Action) -> &'static str {
    match action {
        Action::ClusterHealth => "ClusterHealthRequest",
        Action::Info => "MainRequest",
        Action::KeywardCrossClusterAuthenticate => "CrossClusterApiKeyAuthenticateRequest",
        Action::KeywardForwardAuth => "ForwardAuthRequest",
        Action::KeywardReady => "ReadyRequest",
        Action::KeywardMetrics => "MetricsRequest",
        Action::KeywardOpenApi => "OpenApiRequest",
        Action::SecurityAuthenticate => "AuthenticateRequest",
        Action::SecurityBulkDeleteRole => "BulkDeleteRolesRequest",
        Action::SecurityBulkPutRole => "BulkPutRolesRequest",
        Action::SecurityBulkUpdateApiKeys => "BulkUpdateApiKeyRequest",
        Action::SecurityChangePassword => "ChangePasswordRequest",
        Action::SecurityClearApiKeyCache => "ClearSecurityCacheRequest",
        Action::SecurityClearCachedPrivileges => "ClearPrivilegesCacheRequest",
        Action::SecurityClearCachedRoles => "ClearRolesCacheRequest",
        Action::SecurityCreateApiKey => "CreateApiKeyRequest",
        Action::SecurityCreateCrossClusterApiKey => "CreateCrossClusterApiKeyRequest",
        Action::SecurityDeletePrivileges => "DeletePrivilegesRequest",
        Action::SecurityDeleteRole => "DeleteRoleRequest",
        Action::SecurityDeleteRoleMapping => "DeleteRoleMappingRequest",
        Action::SecurityDeleteUser => "DeleteUserRequest",
        Action::SecurityDisableUser | Action::SecurityEnableUser => "SetEnabledRequest",
        Action::SecurityGetApiKey => "GetApiKeyRequest",
        Action::SecurityGetBuiltinPrivileges => "GetBuiltinPrivilegesRequest",
        Action::SecurityGetPrivileges => "GetPrivilegesRequest",
        Action::SecurityGetRole => "GetRolesRequest",
        Action::SecurityGetRoleMapping => "GetRoleMappingsRequest",
        Action::SecurityGetToken => "CreateTokenRequest",
        Action::SecurityGetUser => "GetUsersRequest",
        Action::SecurityGetUserPrivileges => "GetUserPrivilegesRequest",
        Action::SecurityHasPrivileges => "HasPrivilegesRequest",
        Action::SecurityGrantApiKey => "GrantApiKeyRequest",
        Action::SecurityInvalidateApiKey => "InvalidateApiKeyRequest",
        Action::SecurityInvalidateToken => "InvalidateTokenRequest",
        Action::SecurityPutPrivileges => "PutPrivilegesRequest",
        Action::SecurityPutRole => "PutRoleRequest",
        Action::SecurityPutRoleMapping => "PutRoleMappingRequest",
        Action::SecurityPutUser => "PutUserRequest",
        Action::SecurityQueryApiKeys => "QueryApiKeyRequest",
        Action::SecurityQueryRole => "QueryRoleRequest",
        Action::SecurityQueryUser => "QueryUserRequest",
        Action::SecurityUpdateApiKey => "UpdateApiKeyRequest",
        Action::SecurityUpdateCrossClusterApiKey => "UpdateCrossClusterApiKeyRequest",
    }
}
