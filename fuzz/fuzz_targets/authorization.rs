//! The `Authorization` header codec: any bytes parse to a credential or an error, never a panic,
//! and an `ApiKey` credential survives a round trip through the encoder.

#![no_main]

use keyward_core::credential::{Credential, encode_api_key, parse_authorization};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(Credential::ApiKey(key)) = parse_authorization(data) else {
        return;
    };
    let header = format!("ApiKey {}", encode_api_key(&key.id, &key.secret));
    match parse_authorization(header.as_bytes()) {
        Ok(Credential::ApiKey(again)) => {
            assert_eq!(again.id.as_str(), key.id.as_str());
            assert_eq!(again.secret.expose(), key.secret.expose());
        }
        other => panic!("re-encoded key did not parse back: {other:?}"),
    }
});
