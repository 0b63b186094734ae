//! Integration tests: the real `keyward` binary on a free loopback port with a temporary data
//! directory, driven over HTTP.

// Test helpers outside #[test] functions: a failed unwrap is a failed test, which is the point.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api_keys;
mod audit;
mod authentication;
mod authz;
mod bad_input;
mod clone;
mod console;
mod cross_cluster;
mod durability;
mod files;
mod forward_auth;
mod grant;
mod hang_ups;
mod input_rules;
mod key_ownership;
mod lifecycle;
mod limits;
mod listings;
mod metrics;
mod multi_node;
mod postgres;
mod privileges;
mod profiles;
mod query;
mod query_limits;
mod realms;
mod request_bodies;
mod role_mappings;
mod roles;
mod security_settings;
mod server;
mod service_accounts;
mod support;
mod tls;
mod tokens;
mod users;
mod wire;
