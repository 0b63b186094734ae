//! Integration tests: the real `keyward` binary on a free loopback port with a temporary data
//! directory, driven over HTTP.

// Test helpers outside #[test] functions: a failed unwrap is a failed test, which is the point.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api_keys;
mod authentication;
mod authz;
mod bad_input;
mod cross_cluster;
mod durability;
mod grant;
mod privileges;
mod query;
mod roles;
mod server;
mod support;
mod tokens;
mod users;
mod wire;
