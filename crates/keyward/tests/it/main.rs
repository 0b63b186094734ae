//! Integration tests: the real `keyward` binary on a free loopback port with a temporary data
//! directory, driven over HTTP.

mod api_keys;
mod authentication;
mod durability;
mod server;
mod support;
mod wire;
