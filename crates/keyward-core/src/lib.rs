//! keyward's domain: API key material, hashing, role descriptors, privileges and the rules that
//! tie them together.
//!
//! This crate does no IO. It never reads the clock or the operating system's random number
//! generator itself: time comes in as an argument and randomness through [`SecretSource`], so every
//! function here is deterministic under test.

pub mod api_key;
pub mod authz;
pub mod automaton;
pub mod credential;
pub mod cross_cluster;
pub mod duration;
pub mod error;
pub mod forward_auth;
pub mod hash;
pub mod java_regex;
pub mod native;
pub mod privilege;
pub mod profile;
pub mod query;
pub mod reserved;
pub mod role;
pub mod role_mapping;
pub mod service_account;
pub mod wildcard;

pub use error::{Error, ValidationErrors, json_token};

/// Where key material and salts come from. The service passes the operating system's CSPRNG;
/// tests pass a seeded generator.
pub trait SecretSource {
    /// Fills `buf` with random bytes.
    fn fill(&mut self, buf: &mut [u8]);
}

/// Milliseconds since the Unix epoch, the unit Elasticsearch uses on the wire for every instant.
pub type EpochMillis = i64;
