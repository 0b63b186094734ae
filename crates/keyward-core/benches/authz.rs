//! The cost of authorization checks against a cached principal: 100 roles of 50 index patterns
//! each, built once into a `RolePermission` (as the service caches it), then asked the
//! questions a request and `has_privileges` ask. Every check runs on the pre-built automata.

// The descriptors are fixed and valid: a failure here is a bug to see at once.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use keyward_core::authz::{Permission, RolePermission};
use keyward_core::privilege::index_privilege_automaton;
use keyward_core::role::{DescriptorContext, RoleDescriptors};
use serde_json::{Map, Value, json};

const ROLES: usize = 100;
const PATTERNS_PER_ROLE: usize = 50;

/// One role: 50 patterns (prefix wildcards, `?` patterns, exact names) with `read` or `write`.
fn role(role: usize) -> Value {
    let names: Vec<String> = (0..PATTERNS_PER_ROLE)
        .map(|index| {
            let n = (role * PATTERNS_PER_ROLE + index) * 7919 % 100_000;
            match index % 3 {
                0 => format!("logs-{n}-*"),
                1 => format!("metrics-?{n}"),
                _ => format!("index-{role}-{n}"),
            }
        })
        .collect();
    let privileges = if role.is_multiple_of(2) {
        "read"
    } else {
        "write"
    };
    json!({"cluster": ["monitor"], "indices": [{"names": names, "privileges": [privileges]}]})
}

fn permission() -> Arc<RolePermission> {
    let roles: Map<String, Value> = (0..ROLES).map(|r| (format!("role-{r}"), role(r))).collect();
    let descriptors =
        RoleDescriptors::parse(&Value::Object(roles), DescriptorContext::Role).unwrap();
    Arc::new(RolePermission::new(descriptors))
}

fn bench(c: &mut Criterion) {
    let started = Instant::now();
    let roles = permission();
    eprintln!("building the permission once: {:?}", started.elapsed());
    let user = Permission::Roles(roles.clone());
    let key = Permission::Limited {
        assigned: Some(roles.clone()),
        limited_by: roles,
    };
    // Role 0's first pattern is `logs-0-*`; role 2's exact names start at pattern 2.
    let hit = "logs-0-2024.01.01";
    let miss = "logs-x-2024.01.01";
    let read = [index_privilege_automaton("read").unwrap()];
    let several = ["read", "write", "index", "view_index_metadata"]
        .map(|name| index_privilege_automaton(name).unwrap());

    c.bench_function(
        "authz/request: index action on a concrete index (user)",
        |b| b.iter(|| user.check_index(black_box("indices:data/read/search"), black_box(hit))),
    );
    c.bench_function(
        "authz/request: index action on a concrete index (API key)",
        |b| b.iter(|| key.check_index(black_box("indices:data/read/search"), black_box(hit))),
    );
    c.bench_function("authz/request: denied index (API key)", |b| {
        b.iter(|| key.check_index(black_box("indices:data/read/search"), black_box(miss)))
    });
    c.bench_function("authz/request: cluster action (API key)", |b| {
        b.iter(|| key.check_cluster(black_box("cluster:monitor/health")))
    });
    c.bench_function(
        "authz/has_privileges: read on a concrete index (user)",
        |b| b.iter(|| user.index_privileges(black_box(hit), false, &read)),
    );
    c.bench_function(
        "authz/has_privileges: 4 privileges on a concrete index (API key)",
        |b| b.iter(|| key.index_privileges(black_box(hit), false, &several)),
    );
    c.bench_function("authz/has_privileges: read on a pattern (user)", |b| {
        b.iter(|| user.index_privileges(black_box("logs-0-2024*"), false, &read))
    });
    c.bench_function(
        "authz/has_privileges: 4 privileges on a pattern (API key)",
        |b| b.iter(|| key.index_privileges(black_box("logs-0-*"), false, &several)),
    );
    c.bench_function("authz/has_privileges: cluster privilege (API key)", |b| {
        b.iter(|| key.has_cluster_privilege(black_box("monitor")))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
