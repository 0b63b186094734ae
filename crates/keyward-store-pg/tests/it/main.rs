//! The PostgreSQL store against a real server (`KEYWARD_TEST_PG_URL`, by default
//! `postgres://postgres@127.0.0.1:5432/test`; `scripts/ensure-postgres` starts one): the store
//! contract on a fresh database per test, and what only a shared database has to promise (the
//! change feed, leads, concurrent first starts, an unreachable server).

// Test support: a failed unwrap in a helper is a failed test, reported with its location.
#![allow(clippy::unwrap_used)]

mod descriptors;
mod feed;
mod parity;
mod startup;
mod support;

keyward_store::store_contract_tests!(support::fresh_store());
