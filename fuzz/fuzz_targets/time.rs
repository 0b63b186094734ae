//! Elasticsearch time values (`1d`, `-1`, `500ms`) and date math (`now-1d/d`, `2024-01-01||+1M`)
//! in range queries: any text parses or fails with an error, never a panic or an overflow.
//!
//! Input: UTF-8 text, used whole as a time value and as each bound of a date range.

#![no_main]

use keyward_core::duration::TimeValue;
use keyward_core::query::{ApiKeyField, parse_query};
use libfuzzer_sys::fuzz_target;
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(value) = TimeValue::parse(text, "expiration") {
        let _ = (value.whole_seconds(), value.millis(), value.as_std());
    }
    for now in [0, 1_700_000_000_000, 253_402_300_799_999] {
        for operator in ["gt", "gte", "lt", "lte"] {
            let query = json!({"range": {"expiration": {operator: text}}});
            let _ = parse_query::<ApiKeyField>(&query, now);
        }
        let query =
            json!({"range": {"creation": {"gte": text, "format": "strict_date_optional_time"}}});
        let _ = parse_query::<ApiKeyField>(&query, now);
    }
});
