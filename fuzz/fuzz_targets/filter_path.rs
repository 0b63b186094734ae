//! `filter_path` (and `pretty`) over real responses: any filter must answer below 500 and in
//! bounded time, however many `*` and `**` it nests.
//!
//! Input layout: byte 0 picks the endpoint, the rest is the `filter_path` value.

#![no_main]

use keyward_fuzz::{Harness, assert_not_server_error, encode_value};
use libfuzzer_sys::fuzz_target;

/// Endpoints whose answers are deep or wide JSON.
const ENDPOINTS: &[&str] = &[
    "/_security/_authenticate",
    "/_security/role",
    "/_security/user",
    "/_security/privilege/_builtin",
    "/_security/user/_privileges",
    "/",
    "/_security/api_key/_no_such_path",
];

fuzz_target!(|data: &[u8]| {
    let [selector, filter @ ..] = data else {
        return;
    };
    let endpoint = ENDPOINTS[usize::from(*selector) % ENDPOINTS.len()];
    let pretty = if selector & 0x80 != 0 { "&pretty" } else { "" };
    let uri = format!("{endpoint}?filter_path={}{pretty}", encode_value(filter));
    if let Some(answer) = Harness::get().send("GET", &uri, b"") {
        assert_not_server_error(&uri, &answer);
        assert!(
            serde_json::from_slice::<serde_json::Value>(&answer.body).is_ok(),
            "{uri}: not JSON: {}",
            String::from_utf8_lossy(&answer.body)
        );
    }
});
