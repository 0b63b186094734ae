//! Dates of `epoch_millis` fields: numbers, digit strings and `now` date math.

use serde_json::Value;

use super::*;
use crate::{EpochMillis, Error};

/// A date value of an `epoch_millis` field: a number, a string of digits, or `now` date math
/// (`now`, `now-1d`, `now+2h/d`).
pub(super) fn date_value(value: &Value, now: EpochMillis) -> Result<EpochMillis, Error> {
    let failed = |text: &str| {
        Error::Parsing(format!(
            "failed to parse date field [{text}] with format [epoch_millis]"
        ))
    };
    match value {
        Value::Number(number) => number
            .as_i64()
            .or_else(|| number.as_f64().map(|float| float as i64))
            .ok_or_else(|| failed(&number.to_string())),
        Value::String(text) => {
            if let Some(math) = text.strip_prefix("now") {
                return date_math(now, math)
                    .ok_or_else(|| Error::Parsing(format!("failed to parse date field [{text}]")));
            }
            text.parse::<i64>().map_err(|_| failed(text))
        }
        other => Err(failed(&plain(other))),
    }
}

/// Applies `+1d`, `-2h`, `/d` operations to `now` (UTC; months and years are not supported).
pub(super) fn date_math(now: EpochMillis, mut math: &str) -> Option<EpochMillis> {
    let mut instant = now;
    while !math.is_empty() {
        let operator = math.chars().next()?;
        math = &math[operator.len_utf8()..];
        let digits = math.chars().take_while(char::is_ascii_digit).count();
        let amount = if digits == 0 {
            1
        } else {
            math[..digits].parse::<i64>().ok()?
        };
        math = &math[digits..];
        let unit = math.chars().next()?;
        math = &math[unit.len_utf8()..];
        let unit_millis = match unit {
            'w' => 7 * 86_400_000,
            'd' => 86_400_000,
            'h' | 'H' => 3_600_000,
            'm' => 60_000,
            's' => 1_000,
            _ => return None,
        };
        instant = match operator {
            '+' => instant.checked_add(amount.checked_mul(unit_millis)?)?,
            '-' => instant.checked_sub(amount.checked_mul(unit_millis)?)?,
            '/' if digits == 0 => instant.checked_sub(instant.rem_euclid(unit_millis))?,
            _ => return None,
        };
    }
    Some(instant)
}
