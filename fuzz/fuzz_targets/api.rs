//! Every request-body parser, query-parameter check, `filter_path` and the query DSL at once:
//! fuzzed bodies and query strings sent through `keyward_http::Api::handle` as the superuser, to
//! a fixed set of routes, over a real embedded store. Any input must get an answer below 500.
//!
//! Input layout: byte 0 picks the route (its high bit puts the fuzzed query bytes into the
//! route's path parameter too), byte 1 is the query string's length, then the query string, then
//! the body.

#![no_main]

use keyward_fuzz::{Harness, assert_not_server_error, encode_value, query_string};
use libfuzzer_sys::fuzz_target;

/// Method and path of every route that reads a body or query parameters; `{}` is a path
/// parameter.
const ROUTES: &[(&str, &str)] = &[
    ("POST", "/_security/api_key"),
    ("PUT", "/_security/api_key"),
    ("GET", "/_security/api_key"),
    ("DELETE", "/_security/api_key"),
    ("PUT", "/_security/api_key/{}"),
    ("POST", "/_security/api_key/_bulk_update"),
    ("POST", "/_security/api_key/grant"),
    ("POST", "/_security/api_key/{}/_clear_cache"),
    ("POST", "/_security/cross_cluster/api_key"),
    ("PUT", "/_security/cross_cluster/api_key/{}"),
    ("POST", "/_keyward/cross_cluster/_authenticate"),
    ("POST", "/_security/_query/api_key"),
    ("GET", "/_security/_query/api_key"),
    ("POST", "/_security/_query/user"),
    ("POST", "/_security/_query/role"),
    ("POST", "/_security/oauth2/token"),
    ("DELETE", "/_security/oauth2/token"),
    ("GET", "/_security/_authenticate"),
    ("GET", "/_security/user"),
    ("PUT", "/_security/user/{}"),
    ("DELETE", "/_security/user/{}"),
    ("POST", "/_security/user/{}/_password"),
    ("POST", "/_security/user/_password"),
    ("POST", "/_security/user/{}/_enable"),
    ("POST", "/_security/user/{}/_disable"),
    ("POST", "/_security/user/_has_privileges"),
    ("POST", "/_security/user/{}/_has_privileges"),
    ("GET", "/_security/user/_privileges"),
    ("GET", "/_security/role"),
    ("POST", "/_security/role"),
    ("DELETE", "/_security/role"),
    ("PUT", "/_security/role/{}"),
    ("DELETE", "/_security/role/{}"),
    ("POST", "/_security/role/{}/_clear_cache"),
    ("GET", "/_security/privilege"),
    ("PUT", "/_security/privilege"),
    ("GET", "/_security/privilege/_builtin"),
    ("GET", "/_security/privilege/{}"),
    ("DELETE", "/_security/privilege/{}/{}"),
    ("POST", "/_security/privilege/{}/_clear_cache"),
    ("GET", "/_cluster/health"),
    ("GET", "/_cluster/health/{}"),
    ("GET", "/"),
];

fuzz_target!(|data: &[u8]| {
    let [selector, query_len, rest @ ..] = data else {
        return;
    };
    let (method, path) = ROUTES[usize::from(selector & 0x7f) % ROUTES.len()];
    let split = usize::from(*query_len).min(rest.len());
    let (query, body) = rest.split_at(split);
    let parameter = if selector & 0x80 != 0 && !query.is_empty() {
        encode_value(query)
    } else {
        "fuzz".to_owned()
    };
    let mut uri = path.replace("{}", &parameter);
    if !query.is_empty() {
        uri.push('?');
        uri.push_str(&query_string(query));
    }
    if let Some(answer) = Harness::get().send(method, &uri, body) {
        assert_not_server_error(&format!("{method} {uri}"), &answer);
    }
});
