//! Elasticsearch time values (`1d`, `30m`, `500ms`, `-1`): the `expiration` of API keys and
//! every duration setting.
//!
//! Parsing follows Elasticsearch's rules to the letter, quirks included, because clients send the
//! same strings to both and expect the same answers: units are matched case-insensitively except
//! `m`, since `M` would read as months; the number must be a whole `long`; the unit-less `0` and
//! `-1` are the only values without a unit; and `-1` is the only negative number allowed.

use std::fmt;
use std::time::Duration;

use crate::Error;

/// A duration as Elasticsearch's `TimeValue` holds it, at nanosecond precision. Equal durations
/// compare equal whatever unit they were written in (`60s == 1m`), as in Elasticsearch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TimeValue {
    /// Wide enough for any `long` count of days, so parsing never overflows.
    nanos: i128,
}

impl TimeValue {
    /// `-1`: minus one millisecond, Elasticsearch's marker for "no value" or "never".
    pub const MINUS_ONE: TimeValue = TimeValue {
        nanos: -NANOS_PER_MILLI,
    };
    /// No time at all.
    pub const ZERO: TimeValue = TimeValue { nanos: 0 };

    /// A duration of `ms` milliseconds; `from_millis(-1)` is [`TimeValue::MINUS_ONE`].
    pub fn from_millis(ms: i64) -> TimeValue {
        TimeValue {
            nanos: i128::from(ms) * NANOS_PER_MILLI,
        }
    }

    /// A duration of `s` seconds.
    pub fn from_secs(s: i64) -> TimeValue {
        TimeValue {
            nanos: i128::from(s) * NANOS_PER_SECOND,
        }
    }

    /// Parses a time value such as `1d`, `10m`, `500ms`, `30s`, `2h`, `100nanos`, `5micros`,
    /// `-1` or `0`, exactly as Elasticsearch does. `setting` names the field or setting in error
    /// messages (e.g. `expiration`); every error is an `illegal_argument_exception`.
    pub fn parse(value: &str, setting: &str) -> Result<TimeValue, Error> {
        let lowered = value.to_lowercase();
        let normalized = java_trim(&lowered);
        let unit = UNITS.iter().find(|unit| {
            // Only minutes look at the original spelling: `M` means months elsewhere, so it is
            // rejected rather than read as minutes.
            let subject = if unit.suffix == "m" {
                value
            } else {
                normalized
            };
            subject.ends_with(unit.suffix)
        });
        if let Some(unit) = unit {
            let number = normalized.strip_suffix(unit.suffix).unwrap_or(normalized);
            let count = parse_count(java_trim(number), value, setting)?;
            return Ok(TimeValue {
                nanos: i128::from(count) * unit.nanos,
            });
        }
        if is_minus_one(normalized) {
            return Ok(TimeValue::MINUS_ONE);
        }
        if !normalized.is_empty() && normalized.bytes().all(|b| b == b'0') {
            return Ok(TimeValue::ZERO);
        }
        Err(Error::IllegalArgument(format!(
            "failed to parse setting [{setting}] with value [{value}] as a time value: unit is missing or unrecognized"
        )))
    }

    /// Whole seconds, truncated toward zero as Java's `TimeUnit.toSeconds` does: `1500ms` is 1,
    /// and `-1` (minus one millisecond) is 0. Saturates at the bounds of `i64`.
    pub fn whole_seconds(&self) -> i64 {
        saturate(self.nanos / NANOS_PER_SECOND)
    }

    /// Whole milliseconds, truncated toward zero; saturates at the bounds of `i64`.
    pub fn millis(&self) -> i64 {
        saturate(self.nanos / NANOS_PER_MILLI)
    }

    /// True for [`TimeValue::MINUS_ONE`] (also when written `-1ms`).
    pub fn is_minus_one(&self) -> bool {
        *self == TimeValue::MINUS_ONE
    }

    /// The duration as a standard one; `None` when negative, [`Duration::MAX`] when larger.
    pub fn as_std(&self) -> Option<Duration> {
        if self.nanos < 0 {
            return None;
        }
        let Ok(secs) = u64::try_from(self.nanos / NANOS_PER_SECOND) else {
            return Some(Duration::MAX);
        };
        // Below a second, so it fits.
        let subsec_nanos = u32::try_from(self.nanos % NANOS_PER_SECOND).unwrap_or(0);
        Some(Duration::new(secs, subsec_nanos))
    }
}

impl fmt::Display for TimeValue {
    /// Elasticsearch's short form in the largest unit that holds the value exactly (`1d`, `90m`,
    /// `1500ms`); `-1` for [`TimeValue::MINUS_ONE`] and `0s` for zero.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_minus_one() {
            return f.write_str("-1");
        }
        if self.nanos == 0 {
            return f.write_str("0s");
        }
        // UNITS is ordered so that the largest unit comes last; nanos always divide.
        let unit = UNITS
            .iter()
            .rev()
            .find(|unit| self.nanos % unit.nanos == 0)
            .unwrap_or(&UNITS[0]);
        write!(f, "{}{}", self.nanos / unit.nanos, unit.suffix)
    }
}

const NANOS_PER_MILLI: i128 = 1_000_000;
const NANOS_PER_SECOND: i128 = 1_000_000_000;

/// A unit suffix and its length in nanoseconds.
struct Unit {
    suffix: &'static str,
    nanos: i128,
}

/// The units in the order Elasticsearch tests the suffixes: `nanos` before `s` and `ms` before
/// `s`, since the longer suffixes end with the shorter ones. This is also smallest first.
const UNITS: [Unit; 7] = [
    Unit {
        suffix: "nanos",
        nanos: 1,
    },
    Unit {
        suffix: "micros",
        nanos: 1_000,
    },
    Unit {
        suffix: "ms",
        nanos: NANOS_PER_MILLI,
    },
    Unit {
        suffix: "s",
        nanos: NANOS_PER_SECOND,
    },
    Unit {
        suffix: "m",
        nanos: 60 * NANOS_PER_SECOND,
    },
    Unit {
        suffix: "h",
        nanos: 3_600 * NANOS_PER_SECOND,
    },
    Unit {
        suffix: "d",
        nanos: 86_400 * NANOS_PER_SECOND,
    },
];

/// Parses the count before a unit: a Java `long`, no less than -1. `value` is the whole input as
/// given, which every message quotes.
fn parse_count(number: &str, value: &str, setting: &str) -> Result<i64, Error> {
    // Rust's integer grammar is Java's `Long.parseLong` for ASCII: optional sign, digits only.
    match number.parse::<i64>() {
        Ok(count) if count < -1 => Err(Error::IllegalArgument(format!(
            "failed to parse setting [{setting}] with value [{value}] as a time value: negative durations are not supported"
        ))),
        Ok(count) => Ok(count),
        // Elasticsearch tells fractions apart by whether Java could read the text as a double,
        // which also covers exponents, hex floats and out-of-range integers.
        Err(_) if is_java_double(number) => Err(Error::IllegalArgument(format!(
            "failed to parse [{value}], fractional time values are not supported"
        ))),
        Err(_) => Err(Error::IllegalArgument(format!("failed to parse [{value}]"))),
    }
}

/// Matches `-0*1`, the unit-less spellings of minus one.
fn is_minus_one(normalized: &str) -> bool {
    normalized
        .strip_prefix('-')
        .and_then(|rest| rest.strip_suffix('1'))
        .is_some_and(|zeros| zeros.bytes().all(|b| b == b'0'))
}

/// Java's `String.trim`: strips every character up to and including the space.
fn java_trim(text: &str) -> &str {
    text.trim_matches(|c: char| c <= ' ')
}

/// Whether Java's `Double.parseDouble` accepts `text` (already trimmed and lower-cased, so
/// `NaN` and `Infinity`, which Java spells with capitals, can never match).
fn is_java_double(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut at = 0;
    if matches!(bytes.first(), Some(b'+' | b'-')) {
        at += 1;
    }
    let rest = &bytes[at..];
    let end = if rest.starts_with(b"0x") {
        hex_float_end(&rest[2..]).map(|end| at + 2 + end)
    } else {
        decimal_float_end(rest).map(|end| at + end)
    };
    match end {
        // One optional type suffix (`1.5d`, `2f`) may close the number.
        Some(end) => {
            end == bytes.len() || (end + 1 == bytes.len() && matches!(bytes[end], b'f' | b'd'))
        }
        None => false,
    }
}

/// The end of `digits [. digits] [e [sign] digits]` at the start of `bytes`, with at least one
/// digit in the mantissa and in the exponent if there is one.
fn decimal_float_end(bytes: &[u8]) -> Option<usize> {
    let integer = count_while(bytes, u8::is_ascii_digit);
    let mut at = integer;
    let mut fraction = 0;
    if bytes.get(at) == Some(&b'.') {
        at += 1;
        fraction = count_while(&bytes[at..], u8::is_ascii_digit);
        at += fraction;
    }
    if integer + fraction == 0 {
        return None;
    }
    if bytes.get(at) == Some(&b'e') {
        at += 1;
        if matches!(bytes.get(at), Some(b'+' | b'-')) {
            at += 1;
        }
        let exponent = count_while(&bytes[at..], u8::is_ascii_digit);
        if exponent == 0 {
            return None;
        }
        at += exponent;
    }
    Some(at)
}

/// The end of a hexadecimal float after its `0x`: hex digits with an optional point (at least
/// one digit), then a mandatory binary exponent `p [sign] digits`.
fn hex_float_end(bytes: &[u8]) -> Option<usize> {
    let integer = count_while(bytes, u8::is_ascii_hexdigit);
    let mut at = integer;
    let mut fraction = 0;
    if bytes.get(at) == Some(&b'.') {
        at += 1;
        fraction = count_while(&bytes[at..], u8::is_ascii_hexdigit);
        at += fraction;
    }
    if integer + fraction == 0 || bytes.get(at) != Some(&b'p') {
        return None;
    }
    at += 1;
    if matches!(bytes.get(at), Some(b'+' | b'-')) {
        at += 1;
    }
    let exponent = count_while(&bytes[at..], u8::is_ascii_digit);
    if exponent == 0 {
        return None;
    }
    Some(at + exponent)
}

fn count_while(bytes: &[u8], accept: fn(&u8) -> bool) -> usize {
    bytes.iter().take_while(|b| accept(b)).count()
}

fn saturate(value: i128) -> i64 {
    i64::try_from(value).unwrap_or(if value < 0 { i64::MIN } else { i64::MAX })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const NANOS_PER_MINUTE: i128 = 60 * NANOS_PER_SECOND;
    const NANOS_PER_HOUR: i128 = 60 * NANOS_PER_MINUTE;
    const NANOS_PER_DAY: i128 = 24 * NANOS_PER_HOUR;

    fn check(value: &str, expected: Result<i128, &str>) {
        let actual = TimeValue::parse(value, "expiration").map(|parsed| parsed.nanos);
        let expected = expected.map_err(|message| Error::IllegalArgument(message.to_owned()));
        assert_eq!(actual, expected, "{value:?}");
    }

    fn unit_missing(value: &str) -> String {
        format!(
            "failed to parse setting [expiration] with value [{value}] as a time value: unit is missing or unrecognized"
        )
    }

    #[test]
    fn parses_every_unit() {
        check("100nanos", Ok(100));
        check("5micros", Ok(5_000));
        check("500ms", Ok(500 * NANOS_PER_MILLI));
        check("30s", Ok(30 * NANOS_PER_SECOND));
        check("10m", Ok(10 * NANOS_PER_MINUTE));
        check("2h", Ok(2 * NANOS_PER_HOUR));
        check("1d", Ok(NANOS_PER_DAY));
        check("7d", Ok(7 * NANOS_PER_DAY));
    }

    #[test]
    fn units_ignore_case_except_minutes() {
        check("1D", Ok(NANOS_PER_DAY));
        check("2H", Ok(2 * NANOS_PER_HOUR));
        check("30S", Ok(30 * NANOS_PER_SECOND));
        check("500MS", Ok(500 * NANOS_PER_MILLI));
        check("500mS", Ok(500 * NANOS_PER_MILLI));
        check("5MICROS", Ok(5_000));
        check("100Nanos", Ok(100));
        check("10M", Err(&unit_missing("10M")));
    }

    #[test]
    fn spaces_around_the_number_and_unit() {
        check(" 1d ", Ok(NANOS_PER_DAY));
        check("1 d", Ok(NANOS_PER_DAY));
        check("\t30s\n", Ok(30 * NANOS_PER_SECOND));
        check("10 m", Ok(10 * NANOS_PER_MINUTE));
        // The minutes test looks at the untrimmed input, so a trailing space hides the unit.
        check("10m ", Err(&unit_missing("10m ")));
        // Unicode spaces are not trimmed by Java.
        check("1\u{a0}d", Err("failed to parse [1\u{a0}d]"));
    }

    #[test]
    fn unitless_values() {
        check("0", Ok(0));
        check("000", Ok(0));
        check(" 0 ", Ok(0));
        check("-1", Ok(-NANOS_PER_MILLI));
        check("-01", Ok(-NANOS_PER_MILLI));
        check("-0001", Ok(-NANOS_PER_MILLI));
        check("1", Err(&unit_missing("1")));
        check("+0", Err(&unit_missing("+0")));
        check("-0", Err(&unit_missing("-0")));
        check("-2", Err(&unit_missing("-2")));
        check("10", Err(&unit_missing("10")));
        check("", Err(&unit_missing("")));
        check("  ", Err(&unit_missing("  ")));
        check("1w", Err(&unit_missing("1w")));
        check("1y", Err(&unit_missing("1y")));
        check("abc", Err(&unit_missing("abc")));
    }

    #[test]
    fn negative_values() {
        check("-1d", Ok(-NANOS_PER_DAY));
        check("-1s", Ok(-NANOS_PER_SECOND));
        check("-1ms", Ok(-NANOS_PER_MILLI));
        check("-0d", Ok(0));
        check(
            "-2d",
            Err(
                "failed to parse setting [expiration] with value [-2d] as a time value: negative durations are not supported",
            ),
        );
        check("-10M", Err(&unit_missing("-10M")));
        check(
            " -5 S",
            Err(
                "failed to parse setting [expiration] with value [ -5 S] as a time value: negative durations are not supported",
            ),
        );
    }

    #[test]
    fn numbers_must_be_whole_longs() {
        check(
            "1.5d",
            Err("failed to parse [1.5d], fractional time values are not supported"),
        );
        check(
            "0.5s",
            Err("failed to parse [0.5s], fractional time values are not supported"),
        );
        check(
            ".5s",
            Err("failed to parse [.5s], fractional time values are not supported"),
        );
        check(
            "5.s",
            Err("failed to parse [5.s], fractional time values are not supported"),
        );
        check(
            "1e3ms",
            Err("failed to parse [1e3ms], fractional time values are not supported"),
        );
        check(
            "1E3MS",
            Err("failed to parse [1E3MS], fractional time values are not supported"),
        );
        check(
            "-1.5h",
            Err("failed to parse [-1.5h], fractional time values are not supported"),
        );
        // Java reads `1d` and `2f` as doubles, so a doubled suffix counts as a fraction.
        check(
            "1dd",
            Err("failed to parse [1dd], fractional time values are not supported"),
        );
        check(
            "2fs",
            Err("failed to parse [2fs], fractional time values are not supported"),
        );
        check(
            "0x1p3h",
            Err("failed to parse [0x1p3h], fractional time values are not supported"),
        );
        // Beyond a long, but a fine double.
        check(
            "9223372036854775808s",
            Err("failed to parse [9223372036854775808s], fractional time values are not supported"),
        );
        check("9223372036854775807nanos", Ok(i128::from(i64::MAX)));
        check("+5s", Ok(5 * NANOS_PER_SECOND));
        check("007s", Ok(7 * NANOS_PER_SECOND));
        check("s", Err("failed to parse [s]"));
        check("ms", Err("failed to parse [ms]"));
        check("-s", Err("failed to parse [-s]"));
        check("abcd", Err("failed to parse [abcd]"));
        check("1,5d", Err("failed to parse [1,5d]"));
        check("1_000s", Err("failed to parse [1_000s]"));
        check("1e", Err(&unit_missing("1e")));
        check("1ed", Err("failed to parse [1ed]"));
        check("0x1h", Err("failed to parse [0x1h]"));
        check("nand", Err("failed to parse [nand]"));
        check("infinityd", Err("failed to parse [infinityd]"));
        check("1.5.5s", Err("failed to parse [1.5.5s]"));
        check("1dfs", Err("failed to parse [1dfs]"));
    }

    #[test]
    fn huge_counts_do_not_overflow() {
        let parsed = TimeValue::parse("9223372036854775807d", "expiration").unwrap();
        assert_eq!(parsed.nanos, i128::from(i64::MAX) * NANOS_PER_DAY);
        assert_eq!(parsed.whole_seconds(), i64::MAX);
        assert_eq!(parsed.millis(), i64::MAX);
        assert_eq!(parsed.as_std(), Some(Duration::MAX));
        assert_eq!(parsed.to_string(), "9223372036854775807d");
    }

    #[test]
    fn setting_name_appears_in_messages() {
        let error = TimeValue::parse("5", "xpack.security.authc.api_key.cache.ttl").unwrap_err();
        assert_eq!(
            error.to_string(),
            "failed to parse setting [xpack.security.authc.api_key.cache.ttl] with value [5] as a time value: unit is missing or unrecognized"
        );
    }

    #[test]
    fn conversions() {
        let cases: &[(&str, i64, i64, Option<Duration>)] = &[
            ("0", 0, 0, Some(Duration::ZERO)),
            ("-1", 0, -1, None),
            ("-1s", -1, -1_000, None),
            ("-1d", -86_400, -86_400_000, None),
            ("1500ms", 1, 1_500, Some(Duration::from_millis(1_500))),
            ("999ms", 0, 999, Some(Duration::from_millis(999))),
            ("1d", 86_400, 86_400_000, Some(Duration::from_secs(86_400))),
            ("5micros", 0, 0, Some(Duration::from_micros(5))),
            ("1000001nanos", 0, 1, Some(Duration::from_nanos(1_000_001))),
        ];
        for (value, seconds, millis, std) in cases {
            let parsed = TimeValue::parse(value, "expiration").unwrap();
            assert_eq!(parsed.whole_seconds(), *seconds, "{value}");
            assert_eq!(parsed.millis(), *millis, "{value}");
            assert_eq!(parsed.as_std(), *std, "{value}");
        }
    }

    #[test]
    fn minus_one_and_zero() {
        assert!(TimeValue::MINUS_ONE.is_minus_one());
        assert!(TimeValue::from_millis(-1).is_minus_one());
        assert!(TimeValue::parse("-1ms", "x").unwrap().is_minus_one());
        assert!(!TimeValue::parse("-1s", "x").unwrap().is_minus_one());
        assert!(!TimeValue::ZERO.is_minus_one());
        assert_eq!(TimeValue::parse("0", "x").unwrap(), TimeValue::ZERO);
        assert_eq!(TimeValue::parse("0d", "x").unwrap(), TimeValue::ZERO);
        assert_eq!(TimeValue::from_secs(0), TimeValue::ZERO);
        assert_eq!(TimeValue::MINUS_ONE.millis(), -1);
    }

    #[test]
    fn equal_durations_compare_equal_across_units() {
        let parse = |value| TimeValue::parse(value, "x").unwrap();
        assert_eq!(parse("60s"), parse("1m"));
        assert_eq!(parse("24h"), parse("1d"));
        assert_eq!(parse("1000ms"), TimeValue::from_secs(1));
        assert_eq!(TimeValue::from_millis(90_000), parse("90s"));
        assert!(parse("59s") < parse("1m"));
        assert!(TimeValue::MINUS_ONE < TimeValue::ZERO);
    }

    #[test]
    fn displays_the_short_form() {
        let cases = [
            ("1d", "1d"),
            ("24h", "1d"),
            ("5m", "5m"),
            ("90m", "90m"),
            ("60m", "1h"),
            ("30s", "30s"),
            ("1500ms", "1500ms"),
            ("5micros", "5micros"),
            ("100nanos", "100nanos"),
            ("0", "0s"),
            ("0ms", "0s"),
            ("-1", "-1"),
            ("-1ms", "-1"),
            ("-1d", "-1d"),
            ("-1s", "-1s"),
        ];
        for (value, shown) in cases {
            assert_eq!(
                TimeValue::parse(value, "x").unwrap().to_string(),
                shown,
                "{value}"
            );
        }
        assert_eq!(TimeValue::from_secs(-5).to_string(), "-5s");
        assert_eq!(TimeValue::from_millis(7_200_000).to_string(), "2h");
    }

    proptest! {
        #[test]
        fn display_parses_back(count in 0i64..=i64::MAX, unit in 0usize..UNITS.len()) {
            let value = format!("{count}{}", UNITS[unit].suffix);
            let parsed = TimeValue::parse(&value, "x").unwrap();
            prop_assert_eq!(TimeValue::parse(&parsed.to_string(), "x").unwrap(), parsed);
        }

        #[test]
        fn parse_never_panics(value in "\\PC{0,12}") {
            let _ = TimeValue::parse(&value, "x");
        }
    }
}
