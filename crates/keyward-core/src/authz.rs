//! What an authenticated subject may do: a permission built from role descriptors, and for API
//! keys the intersection of the key's own descriptors with its owner's snapshot (`limited_by`).
//!
//! Callers ask a [`Permission`] whether it grants an action or implies a privilege and never look
//! at descriptors themselves. Everything a check needs is compiled once, when the
//! [`RolePermission`] is built: index name patterns, the actions of each group's privileges,
//! application resources and run-as names are automata, so a check is a few automaton walks
//! (membership) or subset tests, never a rebuild.
//!
//! The model follows Elasticsearch's: a subject has index privilege `P` on index pattern `X`
//! when the actions of `P` are a subset of the union of the actions of every group whose index
//! names cover all of `X`. Group names leave out restricted indices unless the group has
//! `allow_restricted_indices`; a requested pattern leaves them out too unless the request allows
//! them or names one restricted index exactly. Application privileges work the same way over
//! resources, with privilege names resolved through the stored application privileges.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use serde_json::Value;

use crate::automaton::Automaton;
use crate::privilege::{
    ClusterGrant, ClusterPermission, index_privilege_automaton, is_plain_name, restricted_indices,
    union_all,
};
use crate::role::{IndicesPrivileges, RoleDescriptors};

/// The privileges of one set of role descriptors, pre-built for checks on the request path.
#[derive(Debug)]
pub struct RolePermission {
    descriptors: RoleDescriptors,
    cluster: ClusterPermission,
    indices: Vec<IndexGroup>,
    applications: Vec<ApplicationGrant>,
    run_as: Automaton,
}

/// Index privileges on a set of index names: descriptor entries with the same names and the same
/// `allow_restricted_indices` merged into one group, as Elasticsearch merges them.
#[derive(Debug, Clone)]
pub struct IndexGroup {
    /// The index names or patterns, sorted.
    pub names: Vec<String>,
    /// The privileges, as named (deduplicated, in first-seen order).
    pub privileges: Vec<String>,
    /// Whether the patterns also reach restricted indices.
    pub allow_restricted_indices: bool,
    /// Field-level security entries, as given.
    pub field_security: Vec<Value>,
    /// Document-level security queries, as given.
    pub queries: Vec<String>,
    names_automaton: Automaton,
    actions: Automaton,
}

/// One `applications` entry of a role: privileges on resources of the applications a pattern
/// names.
#[derive(Debug, Clone)]
pub struct ApplicationGrant {
    /// The application name or pattern.
    pub application: String,
    /// Privilege names or action patterns.
    pub privileges: Vec<String>,
    /// Resource names or patterns.
    pub resources: Vec<String>,
    application_automaton: Automaton,
    resources_automaton: Automaton,
}

/// Stored application privileges, resolved to the actions they grant: what application
/// privilege names mean. Built by the caller for the applications a check concerns.
#[derive(Debug, Default, Clone)]
pub struct ApplicationPrivileges {
    by_application: HashMap<String, HashMap<String, Automaton>>,
}

impl ApplicationPrivileges {
    /// No stored privileges: only action patterns mean anything.
    pub fn new() -> ApplicationPrivileges {
        ApplicationPrivileges::default()
    }

    /// Adds the stored privilege `name` of `application` granting `actions` (patterns). Actions
    /// that cannot be compiled grant nothing.
    pub fn insert(&mut self, application: &str, name: &str, actions: &[String]) {
        let automaton = Automaton::from_patterns(actions).unwrap_or_else(|_| Automaton::empty());
        self.by_application
            .entry(application.to_owned())
            .or_default()
            .insert(name.to_owned(), automaton);
    }

    /// The actions privilege `privilege` grants in `application`: an action pattern stands for
    /// itself (a name with `/`, `:` or `*`), a name for its stored definition, and an unknown
    /// name for nothing.
    pub fn actions(&self, application: &str, privilege: &str) -> Automaton {
        if is_application_action(privilege) {
            return Automaton::from_patterns([privilege]).unwrap_or_else(|_| Automaton::empty());
        }
        self.by_application
            .get(application)
            .and_then(|privileges| privileges.get(privilege))
            .cloned()
            .unwrap_or_else(Automaton::empty)
    }
}

/// Whether an application privilege entry is an action pattern rather than a privilege name, as
/// Elasticsearch tells them apart.
pub fn is_application_action(privilege: &str) -> bool {
    privilege.contains(['/', ':', '*'])
}

impl RolePermission {
    /// Builds the permission granted by the union of `descriptors`: every pattern is compiled
    /// here, once. A pattern that cannot be compiled (validation rejects those before they are
    /// stored) grants nothing.
    pub fn new(descriptors: RoleDescriptors) -> RolePermission {
        let cluster = ClusterPermission::from_privileges(
            descriptors
                .0
                .iter()
                .flat_map(|(_, descriptor)| descriptor.cluster.iter().map(String::as_str)),
        );
        let indices = index_groups(
            descriptors
                .0
                .iter()
                .flat_map(|(_, descriptor)| descriptor.indices.iter()),
        );
        let applications = descriptors
            .0
            .iter()
            .flat_map(|(_, descriptor)| descriptor.applications.iter())
            .filter_map(ApplicationGrant::from_json)
            .collect();
        let run_as = compile(
            descriptors
                .0
                .iter()
                .flat_map(|(_, descriptor)| descriptor.run_as.iter()),
        );
        RolePermission {
            descriptors,
            cluster,
            indices,
            applications,
            run_as,
        }
    }

    /// The descriptors this permission was built from.
    pub fn descriptors(&self) -> &RoleDescriptors {
        &self.descriptors
    }

    /// How far this permission grants a cluster action.
    pub fn check_cluster(&self, action: &str) -> ClusterGrant {
        self.cluster.check(action)
    }

    /// Whether this permission implies the cluster privilege (name or action pattern).
    pub fn has_cluster_privilege(&self, privilege: &str) -> bool {
        self.cluster.implies(privilege)
    }

    /// The cluster privileges as named in the descriptors, sorted and deduplicated.
    pub fn cluster_privileges(&self) -> Vec<String> {
        let names: BTreeSet<&String> = self
            .descriptors
            .0
            .iter()
            .flat_map(|(_, descriptor)| descriptor.cluster.iter())
            .collect();
        names.into_iter().cloned().collect()
    }

    /// The merged index groups.
    pub fn index_groups(&self) -> &[IndexGroup] {
        &self.indices
    }

    /// The application grants.
    pub fn application_grants(&self) -> &[ApplicationGrant] {
        &self.applications
    }

    /// The run-as names as given, sorted and deduplicated.
    pub fn run_as_names(&self) -> Vec<String> {
        let names: BTreeSet<&String> = self
            .descriptors
            .0
            .iter()
            .flat_map(|(_, descriptor)| descriptor.run_as.iter())
            .collect();
        names.into_iter().cloned().collect()
    }

    /// Whether an index action on one concrete index is granted: some group covers the index
    /// and grants the action.
    pub fn check_index(&self, action: &str, index: &str) -> bool {
        self.indices
            .iter()
            .any(|group| group.names_automaton.matches(index) && group.actions.matches(action))
    }

    /// For an index name or pattern, which of `requested` (action automata of index privileges)
    /// this permission implies on all of it.
    pub fn index_privileges(
        &self,
        index: &str,
        allow_restricted_indices: bool,
        requested: &[Automaton],
    ) -> Vec<bool> {
        let covering: Vec<&Automaton> = match RequestedIndex::new(index, allow_restricted_indices) {
            RequestedIndex::Plain(name) => self
                .indices
                .iter()
                .filter(|group| group.names_automaton.matches(name))
                .map(|group| &group.actions)
                .collect(),
            RequestedIndex::Pattern(names) => self
                .indices
                .iter()
                .filter(|group| names.subset_of(&group.names_automaton))
                .map(|group| &group.actions)
                .collect(),
        };
        implied(&covering, requested)
    }

    /// Whether index privilege `privilege` (name or `indices:` pattern) is implied on `index`.
    pub fn has_index_privilege(&self, index: &str, privilege: &str) -> bool {
        let Some(requested) = index_privilege_automaton(privilege) else {
            return false;
        };
        self.index_privileges(index, false, &[requested])
            .first()
            .copied()
            .unwrap_or(false)
    }

    /// For one application and resource (name or pattern), which of `requested` (privilege
    /// names or action patterns) this permission implies, with names resolved through `stored`.
    pub fn application_privileges(
        &self,
        application: &str,
        resource: &str,
        requested: &[&str],
        stored: &ApplicationPrivileges,
    ) -> Vec<bool> {
        let resource_automaton = (!is_plain_name(resource))
            .then(|| Automaton::from_patterns([resource]).unwrap_or_else(|_| Automaton::empty()));
        self.application_privileges_where(application, requested, stored, |grant| {
            match &resource_automaton {
                None => grant.resources_automaton.matches(resource),
                Some(resources) => resources.subset_of(&grant.resources_automaton),
            }
        })
    }

    /// Like [`RolePermission::application_privileges`] for a resource that is always a name,
    /// never a pattern, whatever characters it holds: a resource built from a request path.
    pub fn application_privileges_on_name(
        &self,
        application: &str,
        resource: &str,
        requested: &[&str],
        stored: &ApplicationPrivileges,
    ) -> Vec<bool> {
        self.application_privileges_where(application, requested, stored, |grant| {
            grant.resources_automaton.matches(resource)
        })
    }

    fn application_privileges_where(
        &self,
        application: &str,
        requested: &[&str],
        stored: &ApplicationPrivileges,
        covers_resource: impl Fn(&ApplicationGrant) -> bool,
    ) -> Vec<bool> {
        let granted: Vec<Automaton> = self
            .applications
            .iter()
            .filter(|grant| grant.application_automaton.matches(application))
            .filter(|grant| covers_resource(grant))
            .map(|grant| {
                union_all(
                    &grant
                        .privileges
                        .iter()
                        .map(|privilege| stored.actions(application, privilege))
                        .collect::<Vec<_>>(),
                )
            })
            .collect();
        let granted: Vec<&Automaton> = granted.iter().collect();
        let requested: Vec<Automaton> = requested
            .iter()
            .map(|privilege| stored.actions(application, privilege))
            .collect();
        // A privilege that names no action (unknown to the application) is never held.
        implied(&granted, &requested)
            .into_iter()
            .zip(&requested)
            .map(|(held, actions)| held && !actions.is_empty())
            .collect()
    }

    /// Whether this permission may run as `username`.
    pub fn can_run_as(&self, username: &str) -> bool {
        self.run_as.matches(username)
    }
}

/// Which requested action sets are subsets of the union of `granted`.
fn implied(granted: &[&Automaton], requested: &[Automaton]) -> Vec<bool> {
    let mut union: Option<Automaton> = None;
    requested
        .iter()
        .map(|actions| {
            if actions.is_empty() {
                return true;
            }
            // Most questions are answered by one group alone; the union is built only when not.
            if granted.iter().any(|group| actions.subset_of(group)) {
                return true;
            }
            if granted.len() < 2 {
                return false;
            }
            let union = union.get_or_insert_with(|| {
                union_all(
                    &granted
                        .iter()
                        .map(|group| (*group).clone())
                        .collect::<Vec<_>>(),
                )
            });
            actions.subset_of(union)
        })
        .collect()
}

/// An index name or pattern of a has-privileges request, ready to compare with groups.
enum RequestedIndex<'a> {
    /// One concrete name: a group covers it when its names match it.
    Plain(&'a str),
    /// A pattern: a group covers it when its names are a superset.
    Pattern(Automaton),
}

impl<'a> RequestedIndex<'a> {
    fn new(index: &'a str, allow_restricted_indices: bool) -> RequestedIndex<'a> {
        if is_plain_name(index) {
            // A concrete restricted name is asked about as such, whatever the flag says.
            return RequestedIndex::Plain(index);
        }
        let names = Automaton::from_patterns([index]).unwrap_or_else(|_| Automaton::empty());
        // Restricted names all start with a dot: a pattern starting with another literal
        // character cannot reach them, and skips the subtraction.
        let may_reach_restricted = !index
            .chars()
            .next()
            .is_some_and(|first| !matches!(first, '.' | '*' | '?' | '/' | '\\'));
        if allow_restricted_indices || !may_reach_restricted {
            return RequestedIndex::Pattern(names);
        }
        RequestedIndex::Pattern(
            names
                .minus(restricted_indices())
                .unwrap_or_else(|_| Automaton::empty()),
        )
    }
}

fn compile<'a>(patterns: impl IntoIterator<Item = &'a String>) -> Automaton {
    Automaton::from_patterns(patterns).unwrap_or_else(|_| Automaton::empty())
}

/// Merges descriptor index entries with the same names and restriction flag, then compiles them.
fn index_groups<'a>(entries: impl Iterator<Item = &'a IndicesPrivileges>) -> Vec<IndexGroup> {
    let mut merged: Vec<IndexGroup> = Vec::new();
    for entry in entries {
        let mut names = entry.names.clone();
        names.sort_unstable();
        names.dedup();
        let existing = merged.iter_mut().find(|group| {
            group.names == names && group.allow_restricted_indices == entry.allow_restricted_indices
        });
        let group = match existing {
            Some(group) => group,
            None => {
                merged.push(IndexGroup {
                    names,
                    privileges: Vec::new(),
                    allow_restricted_indices: entry.allow_restricted_indices,
                    field_security: Vec::new(),
                    queries: Vec::new(),
                    names_automaton: Automaton::empty(),
                    actions: Automaton::empty(),
                });
                let last = merged.len() - 1;
                &mut merged[last]
            }
        };
        for privilege in &entry.privileges {
            if !group.privileges.contains(privilege) {
                group.privileges.push(privilege.clone());
            }
        }
        if let Some(field_security) = &entry.field_security {
            group.field_security.push(field_security.clone());
        }
        if let Some(query) = &entry.query {
            group.queries.push(query.clone());
        }
    }
    for group in &mut merged {
        let names = compile(&group.names);
        group.names_automaton = if group.allow_restricted_indices {
            names
        } else {
            names
                .minus(restricted_indices())
                .unwrap_or_else(|_| Automaton::empty())
        };
        group.actions = union_all(
            &group
                .privileges
                .iter()
                .filter_map(|privilege| index_privilege_automaton(privilege))
                .collect::<Vec<_>>(),
        );
    }
    merged
}

impl ApplicationGrant {
    fn from_json(value: &Value) -> Option<ApplicationGrant> {
        let object = value.as_object()?;
        let application = object.get("application")?.as_str()?.to_owned();
        let strings = |field: &str| crate::role::string_list(object.get(field));
        let privileges = strings("privileges");
        let resources = strings("resources");
        Some(ApplicationGrant {
            application_automaton: compile([&application]),
            resources_automaton: compile(&resources),
            application,
            privileges,
            resources,
        })
    }
}

/// The effective permission of an authenticated subject.
#[derive(Debug, Clone)]
pub enum Permission {
    /// A user's roles.
    Roles(Arc<RolePermission>),
    /// An API key: what both the key's own descriptors and its owner's snapshot grant. A key
    /// without descriptors of its own has `assigned: None` and is exactly its owner's snapshot.
    Limited {
        /// The key's own role descriptors, if it has any.
        assigned: Option<Arc<RolePermission>>,
        /// The owner's role descriptors when the key was created or last updated.
        limited_by: Arc<RolePermission>,
    },
}

impl Permission {
    /// How far this permission grants a cluster action: for a limited permission, the weaker of
    /// the two grants.
    pub fn check_cluster(&self, action: &str) -> ClusterGrant {
        match self {
            Permission::Roles(roles) => roles.check_cluster(action),
            Permission::Limited {
                assigned,
                limited_by,
            } => {
                let owner = limited_by.check_cluster(action);
                match assigned {
                    Some(assigned) => owner.min(assigned.check_cluster(action)),
                    None => owner,
                }
            }
        }
    }

    /// The descriptors a new API key created by this subject is limited by: a user's own roles.
    /// `None` for API keys, which Elasticsearch does not let pass their own privileges on.
    pub fn role_descriptors(&self) -> Option<&RoleDescriptors> {
        match self {
            Permission::Roles(roles) => Some(roles.descriptors()),
            Permission::Limited { .. } => None,
        }
    }

    /// The role permissions whose intersection this permission is.
    fn parts(&self) -> impl Iterator<Item = &RolePermission> {
        let (first, second) = match self {
            Permission::Roles(roles) => (Some(&**roles), None),
            Permission::Limited {
                assigned,
                limited_by,
            } => (Some(&**limited_by), assigned.as_deref()),
        };
        first.into_iter().chain(second)
    }

    /// Whether the cluster privilege (name or action pattern) is implied.
    pub fn has_cluster_privilege(&self, privilege: &str) -> bool {
        self.parts()
            .all(|part| part.has_cluster_privilege(privilege))
    }

    /// Whether an index action on one concrete index is granted.
    pub fn check_index(&self, action: &str, index: &str) -> bool {
        self.parts().all(|part| part.check_index(action, index))
    }

    /// For an index name or pattern, which of `requested` (action automata of index privileges,
    /// see [`crate::privilege::index_privilege_automaton`]) are implied on all of it.
    pub fn index_privileges(
        &self,
        index: &str,
        allow_restricted_indices: bool,
        requested: &[Automaton],
    ) -> Vec<bool> {
        let mut answers = vec![true; requested.len()];
        for part in self.parts() {
            let part_answers = part.index_privileges(index, allow_restricted_indices, requested);
            for (answer, part_answer) in answers.iter_mut().zip(part_answers) {
                *answer &= part_answer;
            }
        }
        answers
    }

    /// Whether index privilege `privilege` (name or `indices:` pattern) is implied on `index`.
    pub fn has_index_privilege(&self, index: &str, privilege: &str) -> bool {
        self.parts()
            .all(|part| part.has_index_privilege(index, privilege))
    }

    /// For one application and resource, which of `requested` are implied; see
    /// [`RolePermission::application_privileges`].
    pub fn application_privileges(
        &self,
        application: &str,
        resource: &str,
        requested: &[&str],
        stored: &ApplicationPrivileges,
    ) -> Vec<bool> {
        let mut answers = vec![true; requested.len()];
        for part in self.parts() {
            let part_answers =
                part.application_privileges(application, resource, requested, stored);
            for (answer, part_answer) in answers.iter_mut().zip(part_answers) {
                *answer &= part_answer;
            }
        }
        answers
    }

    /// Whether every one of `requested` is implied on the resource named `resource` (a name,
    /// never a pattern); see [`RolePermission::application_privileges_on_name`].
    pub fn holds_application_privileges(
        &self,
        application: &str,
        resource: &str,
        requested: &[&str],
        stored: &ApplicationPrivileges,
    ) -> bool {
        !requested.is_empty()
            && self.parts().all(|part| {
                part.application_privileges_on_name(application, resource, requested, stored)
                    .into_iter()
                    .all(|held| held)
            })
    }

    /// Whether one application privilege is implied on one resource.
    pub fn check_application(
        &self,
        application: &str,
        privilege: &str,
        resource: &str,
        stored: &ApplicationPrivileges,
    ) -> bool {
        self.application_privileges(application, resource, &[privilege], stored)
            .first()
            .copied()
            .unwrap_or(false)
    }

    /// Whether this subject may run as `username`.
    pub fn can_run_as(&self, username: &str) -> bool {
        self.parts().all(|part| part.can_run_as(username))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::privilege::{INDEX_PRIVILEGE_NAMES, index_privilege_patterns};
    use crate::role::DescriptorContext;

    fn role(value: Value) -> Arc<RolePermission> {
        let descriptors = RoleDescriptors::parse(&json!({ "r": value }), DescriptorContext::Role)
            .expect("valid descriptor");
        Arc::new(RolePermission::new(descriptors))
    }

    fn read_on(pattern: &str) -> Arc<RolePermission> {
        role(json!({"indices": [{"names": [pattern], "privileges": ["read"]}]}))
    }

    #[test]
    fn limited_key_is_the_intersection_of_key_and_owner() {
        let key = Permission::Limited {
            assigned: Some(read_on("logs-*")),
            limited_by: read_on("logs-a*"),
        };
        assert!(key.check_index("indices:data/read/search", "logs-abc"));
        assert!(!key.check_index("indices:data/read/search", "logs-b"));
        assert!(!key.check_index("indices:data/write/index", "logs-abc"));
        assert!(key.has_index_privilege("logs-abc", "read"));
        assert!(!key.has_index_privilege("logs-b", "read"));
        assert!(key.has_index_privilege("logs-a*", "read"));
        assert!(!key.has_index_privilege("logs-*", "read"));
        let owner_only = Permission::Limited {
            assigned: None,
            limited_by: read_on("logs-a*"),
        };
        assert!(owner_only.has_index_privilege("logs-abc", "read"));
    }

    #[test]
    fn privileges_imply_the_privileges_they_contain() {
        let all = role(json!({"indices": [{"names": ["*"], "privileges": ["all"]}]}));
        let write = role(json!({"indices": [{"names": ["idx"], "privileges": ["write"]}]}));
        for (permission, index, privilege, expected) in [
            (&all, "anything", "read", true),
            (&all, "any*", "manage", true),
            (&all, ".security", "read", false),
            (&all, ".security-7", "read", false),
            (&write, "idx", "index", true),
            (&write, "idx", "create_doc", true),
            (&write, "idx", "delete", true),
            (&write, "idx", "read", false),
            (&write, "idx", "indices:data/write/update", true),
            (&write, "idx", "all", false),
            (&write, "idx*", "write", false),
        ] {
            assert_eq!(
                permission.has_index_privilege(index, privilege),
                expected,
                "{privilege} on {index}"
            );
        }
    }

    #[test]
    fn restricted_indices_need_the_flag_on_both_sides() {
        let superuser = Arc::new(RolePermission::new(RoleDescriptors(vec![(
            "superuser".to_owned(),
            crate::role::superuser_role(),
        )])));
        let read = index_privilege_automaton("read").unwrap();
        let all = index_privilege_automaton("all").unwrap();
        let answers = |index: &str, allow: bool| {
            superuser.index_privileges(index, allow, &[read.clone(), all.clone()])
        };
        assert_eq!(answers("*", false), vec![true, true]);
        assert_eq!(answers("*", true), vec![true, false]);
        assert_eq!(answers(".security", false), vec![true, false]);
        assert_eq!(answers(".sec*", false), vec![true, true]);
        assert_eq!(answers(".sec*", true), vec![true, false]);
        assert!(superuser.check_index("indices:data/write/index", ".other"));
        assert!(!superuser.check_index("indices:data/write/index", ".security-7"));
        assert!(superuser.check_index("indices:data/read/search", ".security-7"));
    }

    #[test]
    fn application_privileges_resolve_through_stored_definitions() {
        let mut stored = ApplicationPrivileges::new();
        stored.insert("myapp", "read", &["data:read/*".to_owned()]);
        stored.insert("myapp", "write", &["data:write/*".to_owned()]);
        let key = role(json!({"applications": [
            {"application": "myapp", "privileges": ["read"], "resources": ["*"]}
        ]}));
        let owner = role(json!({"applications": [
            {"application": "myapp", "privileges": ["*"], "resources": ["*"]}
        ]}));
        let permission = Permission::Limited {
            assigned: Some(key),
            limited_by: owner,
        };
        for resource in ["*", "some-other-res"] {
            assert_eq!(
                permission.application_privileges(
                    "myapp",
                    resource,
                    &["data:read/me", "data:write/me", "read", "write", "unknown"],
                    &stored
                ),
                vec![true, false, true, false, false]
            );
        }
        assert!(!permission.check_application("other", "data:read/me", "*", &stored));
    }

    #[test]
    fn run_as_and_cluster_privileges_intersect() {
        let key = Permission::Limited {
            assigned: Some(role(json!({"cluster": ["manage"], "run_as": ["bob*"]}))),
            limited_by: role(json!({"cluster": ["all"], "run_as": ["*"]})),
        };
        assert!(key.can_run_as("bobby"));
        assert!(!key.can_run_as("alice"));
        assert!(key.has_cluster_privilege("manage"));
        assert!(key.has_cluster_privilege("monitor"));
        assert!(key.has_cluster_privilege("cluster:monitor/health"));
        assert!(!key.has_cluster_privilege("all"));
        assert!(!key.has_cluster_privilege("manage_security"));
        let own = role(json!({"cluster": ["manage_own_api_key"]}));
        assert!(own.has_cluster_privilege("manage_own_api_key"));
        assert!(!own.has_cluster_privilege("manage_api_key"));
        let keys = role(json!({"cluster": ["manage_api_key"]}));
        assert!(keys.has_cluster_privilege("manage_own_api_key"));
        assert!(!keys.has_cluster_privilege("create_snapshot"));
        assert!(role(json!({"cluster": ["manage"]})).has_cluster_privilege("create_snapshot"));
    }

    /// Concrete actions drawn from the privilege tables: each pattern with its wildcards
    /// replaced by nothing and by a letter.
    static SAMPLE_ACTIONS: std::sync::LazyLock<Vec<String>> =
        std::sync::LazyLock::new(sample_actions);

    fn sample_actions() -> Vec<String> {
        let mut actions: Vec<String> = INDEX_PRIVILEGE_NAMES
            .iter()
            .flat_map(|name| index_privilege_patterns(name).unwrap_or(&[]).iter())
            .flat_map(|pattern| [pattern.replace('*', ""), pattern.replace('*', "x")])
            .collect();
        actions.push("indices:other".to_owned());
        actions.sort();
        actions.dedup();
        actions
    }

    const INDEX_PATTERNS: &[&str] = &[
        "*",
        "logs-*",
        "logs-a*",
        "logs-?b",
        "/logs-[ab]+/",
        "metrics",
        ".security",
        ".sec*",
    ];
    const INDEX_NAMES: &[&str] = &[
        "logs-a",
        "logs-ab",
        "logs-b",
        "logs-xb",
        "metrics",
        "other",
        ".security",
        ".secret",
    ];

    fn group_strategy() -> impl Strategy<Value = Value> {
        (
            proptest::sample::subsequence(INDEX_PATTERNS, 1..3),
            proptest::sample::subsequence(INDEX_PRIVILEGE_NAMES, 1..3),
            any::<bool>(),
        )
            .prop_map(|(names, privileges, allow)| {
                json!({"names": names, "privileges": privileges, "allow_restricted_indices": allow})
            })
    }

    fn permission_strategy() -> impl Strategy<Value = Arc<RolePermission>> {
        proptest::collection::vec(group_strategy(), 0..4)
            .prop_map(|groups| role(json!({ "indices": groups })))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// A raw action privilege on a concrete index is implied exactly when some group grants
        /// the action there, the brute-force answer.
        #[test]
        fn raw_actions_agree_with_brute_force(permission in permission_strategy()) {
            let entries: Vec<(Automaton, &IndicesPrivileges)> = permission
                .descriptors()
                .0
                .iter()
                .flat_map(|(_, descriptor)| descriptor.indices.iter())
                .map(|entry| (Automaton::from_patterns(&entry.names).unwrap(), entry))
                .collect();
            for index in INDEX_NAMES {
                let restricted = restricted_indices().matches(index);
                for action in SAMPLE_ACTIONS.iter() {
                    let brute = entries.iter().any(|(names, entry)| {
                        (entry.allow_restricted_indices || !restricted)
                            && names.matches(index)
                            && entry.privileges.iter().any(|privilege| {
                                index_privilege_patterns(privilege)
                                    .unwrap()
                                    .iter()
                                    .any(|pattern| crate::privilege::wildcard_match(pattern, action))
                            })
                    });
                    prop_assert_eq!(permission.check_index(action, index), brute, "{} {}", index, action);
                    prop_assert_eq!(permission.has_index_privilege(index, action), brute, "{} {}", index, action);
                }
            }
        }

        /// A named privilege implied on a concrete index grants each of its actions there, and
        /// one implied on a pattern is implied on every name the pattern matches.
        #[test]
        fn named_privileges_are_sound(permission in permission_strategy()) {
            let actions = &*SAMPLE_ACTIONS;
            for privilege in INDEX_PRIVILEGE_NAMES {
                let automaton = index_privilege_automaton(privilege).unwrap();
                for index in INDEX_NAMES {
                    if permission.has_index_privilege(index, privilege) {
                        for action in actions.iter().filter(|action| automaton.matches(action)) {
                            prop_assert!(permission.check_index(action, index), "{privilege} {index} {action}");
                        }
                    }
                }
                for pattern in INDEX_PATTERNS {
                    let names = Automaton::from_patterns([pattern]).unwrap();
                    if permission.has_index_privilege(pattern, privilege) {
                        for index in INDEX_NAMES.iter().filter(|index| {
                            names.matches(index) && !restricted_indices().matches(index)
                        }) {
                            prop_assert!(permission.has_index_privilege(index, privilege));
                        }
                    }
                }
            }
        }

        /// A limited key never holds more than its owner, nor more than its own descriptors.
        #[test]
        fn limited_keys_never_exceed_either_side(
            key in permission_strategy(),
            owner in permission_strategy(),
        ) {
            let limited = Permission::Limited { assigned: Some(key.clone()), limited_by: owner.clone() };
            for privilege in INDEX_PRIVILEGE_NAMES {
                for index in INDEX_NAMES.iter().chain(INDEX_PATTERNS) {
                    let both = key.has_index_privilege(index, privilege)
                        && owner.has_index_privilege(index, privilege);
                    prop_assert_eq!(limited.has_index_privilege(index, privilege), both);
                }
            }
        }
    }
}
