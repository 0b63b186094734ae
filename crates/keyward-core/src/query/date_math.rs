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

/// [`date_value`] with date math rounding in a zone `offset` milliseconds east of UTC.
pub(super) fn date_value_in_zone(
    value: &Value,
    now: EpochMillis,
    offset: i64,
) -> Result<EpochMillis, Error> {
    match value {
        Value::String(text) if offset != 0 => match text.strip_prefix("now") {
            Some(math) => date_math_in_zone(now, math, offset)
                .ok_or_else(|| Error::Parsing(format!("failed to parse date field [{text}]"))),
            None => date_value(value, now),
        },
        _ => date_value(value, now),
    }
}

/// A fixed time zone as milliseconds east of UTC: `Z`, `UTC`, `GMT`, `+01:00`, `-0530`, `+05`.
pub(super) fn fixed_offset(zone: &str) -> Option<i64> {
    if matches!(zone, "Z" | "UTC" | "GMT" | "UT" | "Etc/UTC" | "Etc/GMT") {
        return Some(0);
    }
    let zone = zone
        .strip_prefix("UTC")
        .or_else(|| zone.strip_prefix("GMT"))
        .unwrap_or(zone);
    let (sign, rest) = match zone.as_bytes().first()? {
        b'+' => (1, &zone[1..]),
        b'-' => (-1, &zone[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) || !matches!(digits.len(), 1 | 2 | 4) {
        return None;
    }
    let (hours, minutes) = if digits.len() == 4 {
        (
            digits[..2].parse::<i64>().ok()?,
            digits[2..].parse::<i64>().ok()?,
        )
    } else {
        (digits.parse::<i64>().ok()?, 0)
    };
    if hours > 18 || minutes > 59 {
        return None;
    }
    Some(sign * (hours * 3_600_000 + minutes * 60_000))
}

/// Applies `+1d`, `-2h`, `/d` operations to `now` (UTC; months and years are not supported).
pub(super) fn date_math(now: EpochMillis, math: &str) -> Option<EpochMillis> {
    date_math_in_zone(now, math, 0)
}

/// [`date_math`] with rounding to the units of a zone `offset` milliseconds east of UTC.
fn date_math_in_zone(now: EpochMillis, mut math: &str, offset: i64) -> Option<EpochMillis> {
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
            '/' if digits == 0 => {
                let local = instant.checked_add(offset)?;
                local
                    .checked_sub(local.rem_euclid(unit_millis))?
                    .checked_sub(offset)?
            }
            _ => return None,
        };
    }
    Some(instant)
}
