//! The rules for what the security APIs store: user and role names, passwords, pre-hashed
//! passwords, user metadata and application privileges. Messages use Elasticsearch's wording.

use serde_json::{Map, Value};

use crate::ValidationErrors;
use crate::hash::HashAlgorithm;

/// Elasticsearch's minimum password length for native and reserved users.
pub const MIN_PASSWORD_LENGTH: usize = 6;

/// The longest user or role name Elasticsearch accepts.
const MAX_NAME_LENGTH: usize = 507;

/// Whether `name` is a valid user or role name: 1 to 507 printable ASCII characters (space
/// included) with no leading or trailing whitespace.
fn valid_name(name: &str) -> bool {
    let length = name.chars().count();
    (1..=MAX_NAME_LENGTH).contains(&length)
        && name.chars().all(|c| (' '..='~').contains(&c))
        && !name.starts_with(' ')
        && !name.ends_with(' ')
}

/// Checks a username; adds Elasticsearch's message when it is not valid.
pub fn validate_username(username: &str, errors: &mut ValidationErrors) {
    if !valid_name(username) {
        errors.add(
            "Valid usernames must be at least 1 and no more than 507 characters. They can contain \
             alphanumeric characters (a-z, A-Z, 0-9), spaces, punctuation, and printable symbols in \
             the Basic Latin (ASCII) block. Leading or trailing whitespace is not allowed.",
        );
    }
}

/// Checks a role name; adds Elasticsearch's message when it is not valid.
pub fn validate_role_name(name: &str, errors: &mut ValidationErrors) {
    if !valid_name(name) {
        errors.add(
            "Role names must be at least 1 and no more than 507 characters. They can contain \
             alphanumeric characters (a-z, A-Z, 0-9), spaces, punctuation, and printable symbols in \
             the Basic Latin (ASCII) block. Leading or trailing whitespace is not allowed.",
        );
    }
}

/// The password rule: `None` when `password` is long enough, else Elasticsearch's message.
pub fn password_error(password: &str) -> Option<String> {
    (password.chars().count() < MIN_PASSWORD_LENGTH)
        .then(|| format!("passwords must be at least [{MIN_PASSWORD_LENGTH}] characters long"))
}

/// The stored-password hash algorithms Elasticsearch accepts in `password_hash`, by name.
pub const PASSWORD_HASH_ALGORITHMS: &[&str] = &[
    "bcrypt",
    "bcrypt4",
    "bcrypt5",
    "bcrypt6",
    "bcrypt7",
    "bcrypt8",
    "bcrypt9",
    "bcrypt10",
    "bcrypt11",
    "bcrypt12",
    "bcrypt13",
    "bcrypt14",
    "pbkdf2",
    "pbkdf2_1000",
    "pbkdf2_10000",
    "pbkdf2_50000",
    "pbkdf2_100000",
    "pbkdf2_500000",
    "pbkdf2_1000000",
    "pbkdf2_stretch",
    "pbkdf2_stretch_1000",
    "pbkdf2_stretch_10000",
    "pbkdf2_stretch_50000",
    "pbkdf2_stretch_100000",
    "pbkdf2_stretch_500000",
    "pbkdf2_stretch_1000000",
];

/// Checks a pre-computed password hash (`password_hash` of put-user and change-password) as
/// Elasticsearch does: it must be a bcrypt or PBKDF2 hash whose cost names one of the
/// algorithms of [`PASSWORD_HASH_ALGORITHMS`] (bcrypt cost 4 to 14; PBKDF2 with 1 000, 10 000,
/// 50 000, 100 000, 500 000 or 1 000 000 iterations). So no stored hash can cost more to verify
/// than the slowest algorithm the setting itself allows: a bcrypt cost of 31 or a billion PBKDF2
/// iterations is refused, with Elasticsearch's `unknown hash function [bcrypt31]`. And, as the
/// put-user and change-password docs require (and Elasticsearch's request builder checks), it
/// must have been made with `configured`, the `xpack.security.authc.password_hashing.algorithm`
/// new passwords are hashed with: same family and same cost. `None` when the hash is accepted,
/// else Elasticsearch's message.
pub fn password_hash_error(hash: &str, configured: HashAlgorithm) -> Option<String> {
    let not_a_hash = || {
        format!(
            "The provided password hash is not a hash or it could not be resolved to a supported hash algorithm. \
             The supported password hash algorithms are [{}]",
            PASSWORD_HASH_ALGORITHMS.join(", ")
        )
    };
    let name = if is_bcrypt(hash) {
        // `$2a$NN$…`: the two digits are the cost.
        let Some(cost) = hash.get(4..6).and_then(|cost| cost.parse::<u32>().ok()) else {
            return Some(not_a_hash());
        };
        format!("bcrypt{cost}")
    } else if let Some((prefix, rest)) = hash
        .strip_prefix("{PBKDF2_STRETCH}")
        .map(|rest| ("pbkdf2_stretch_", rest))
        .or_else(|| hash.strip_prefix("{PBKDF2}").map(|rest| ("pbkdf2_", rest)))
    {
        // Java's `Integer.parseInt`, which Elasticsearch uses here, has Rust's `i32` grammar.
        let Some(iterations) = rest
            .split_once('$')
            .and_then(|(iterations, _)| iterations.parse::<i32>().ok())
        else {
            return Some(
                "The number of iterations could not be determined from the provided PBKDF2 hash."
                    .to_owned(),
            );
        };
        if !is_pbkdf2(hash) {
            return Some(not_a_hash());
        }
        format!("{prefix}{iterations}")
    } else {
        return Some(not_a_hash());
    };
    match HashAlgorithm::from_name(&name) {
        Ok(algorithm) if algorithm == configured => None,
        Ok(algorithm) => Some(format!(
            "Provided password hash uses [{}] but the configured hashing algorithm is [{}]",
            algorithm.name().to_uppercase(),
            configured.name().to_uppercase()
        )),
        Err(err) => Some(err.to_string()),
    }
}

/// Whether `algorithm` may hash stored passwords (the `password_hashing.algorithm` setting):
/// the bcrypt, PBKDF2 and PBKDF2-stretch families that [`PASSWORD_HASH_ALGORITHMS`] names.
pub fn is_password_hashing_algorithm(algorithm: HashAlgorithm) -> bool {
    PASSWORD_HASH_ALGORITHMS.contains(&algorithm.name().as_str())
}

fn is_bcrypt(hash: &str) -> bool {
    let bytes = hash.as_bytes();
    hash.len() == 60
        && (hash.starts_with("$2a$") || hash.starts_with("$2b$") || hash.starts_with("$2y$"))
        && bytes[4].is_ascii_digit()
        && bytes[5].is_ascii_digit()
        && bytes[6] == b'$'
}

fn is_pbkdf2(hash: &str) -> bool {
    let Some(rest) = hash
        .strip_prefix("{PBKDF2_STRETCH}")
        .or_else(|| hash.strip_prefix("{PBKDF2}"))
    else {
        return false;
    };
    let parts: Vec<&str> = rest.split('$').collect();
    parts.len() == 3
        && parts[0]
            .parse::<u32>()
            .is_ok_and(|iterations| iterations > 0)
        && !parts[1].is_empty()
        && !parts[2].is_empty()
}

/// Checks user metadata: no key may start with `_`.
pub fn validate_user_metadata(metadata: &Map<String, Value>, errors: &mut ValidationErrors) {
    if metadata.keys().any(|key| key.starts_with('_')) {
        errors.add("metadata keys may not start with [_]");
    }
}

/// Checks an application name as Elasticsearch does for stored privileges.
pub fn application_name_error(application: &str) -> Option<String> {
    if application.is_empty() {
        return Some("Application names cannot be blank".to_owned());
    }
    let (prefix, suffix) = match application.split_once('-') {
        Some((prefix, suffix)) => (prefix, Some(suffix)),
        None => (application, None),
    };
    let mut chars = prefix.chars();
    let prefix_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_alphanumeric());
    if !prefix_ok {
        return Some(
            "An application name prefix must match the pattern ^[a-z][A-Za-z0-9]*$".to_owned(),
        );
    }
    if prefix.len() < 3 {
        return Some("An application name prefix must be at least 3 characters long".to_owned());
    }
    if let Some(suffix) = suffix
        && suffix
            .chars()
            .any(|c| "\\/*?\"<>|, ".contains(c) || c.is_whitespace())
    {
        return Some(
            "An application name suffix may not contain any of the characters '\\/*?\"<>|, '"
                .to_owned(),
        );
    }
    None
}

/// Checks an application privilege name (`^[a-z][a-zA-Z0-9_.-]*$`).
pub fn privilege_name_error(name: &str) -> Option<String> {
    let mut chars = name.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    (!valid).then(|| {
        format!(
            "Application privilege names must match the pattern ^[a-z][a-zA-Z0-9_.-]*$ (found '{name}')"
        )
    })
}

/// Checks one application privilege to be stored; adds every failure.
pub fn validate_app_privilege(
    application: &str,
    name: &str,
    actions: &[String],
    metadata: &Map<String, Value>,
    errors: &mut ValidationErrors,
) {
    if let Some(message) = application_name_error(application) {
        errors.add(message);
    }
    if let Some(message) = privilege_name_error(name) {
        errors.add(message);
    }
    if actions.is_empty() {
        errors.add("Application privileges must have at least one action");
    }
    for action in actions {
        if !action.contains(['/', '*', ':']) {
            errors.add(format!("action [{action}] must contain one of [/ , * , :]"));
        }
        if action.chars().any(|c| !c.is_ascii_graphic()) {
            errors.add(format!(
                "Application privilege names and actions must match the pattern ^\\p{{Graph}}*$ (found '{action}')"
            ));
        }
    }
    if metadata.keys().any(|key| key.starts_with('_')) {
        errors.add(format!(
            "metadata keys may not start with [_] (in privilege {application} {name})"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(check: impl FnOnce(&mut ValidationErrors)) -> Vec<String> {
        let mut errors = ValidationErrors::default();
        check(&mut errors);
        errors.messages().to_vec()
    }

    #[test]
    fn names() {
        assert!(messages(|errors| validate_username("joe doe!", errors)).is_empty());
        assert_eq!(
            messages(|errors| validate_username(" joe", errors)).len(),
            1
        );
        assert_eq!(messages(|errors| validate_username("", errors)).len(), 1);
        assert_eq!(
            messages(|errors| validate_role_name("rôle", errors)).len(),
            1
        );
        assert_eq!(
            messages(|errors| validate_role_name(&"a".repeat(508), errors)).len(),
            1
        );
        assert!(messages(|errors| validate_role_name(&"a".repeat(507), errors)).is_empty());
    }

    #[test]
    fn passwords_and_hashes() {
        assert_eq!(
            password_error("12345").as_deref(),
            Some("passwords must be at least [6] characters long")
        );
        assert_eq!(password_error("123456"), None);
        let bcrypt = "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy";
        let bcrypt10 = HashAlgorithm::Bcrypt { cost: 10 };
        let pbkdf2 = HashAlgorithm::Pbkdf2 { iterations: 10_000 };
        assert_eq!(password_hash_error(bcrypt, bcrypt10), None);
        assert_eq!(
            password_hash_error("{PBKDF2}10000$c2FsdA==$a2V5", pbkdf2),
            None
        );
        assert!(password_hash_error("plain-text", bcrypt10).is_some());
        assert!(password_hash_error("{SSHA256}abcd", bcrypt10).is_some());
    }

    /// The algorithm a well-formed test hash was made with.
    fn password_hash_algorithm(hash: &str) -> HashAlgorithm {
        let name = if let Some(rest) = hash.strip_prefix("$2a$") {
            format!("bcrypt{}", rest[..2].trim_start_matches('0'))
        } else if let Some(rest) = hash.strip_prefix("{PBKDF2_STRETCH}") {
            format!("pbkdf2_stretch_{}", rest.split('$').next().unwrap_or(""))
        } else {
            let rest = hash.strip_prefix("{PBKDF2}").unwrap_or("");
            format!("pbkdf2_{}", rest.split('$').next().unwrap_or(""))
        };
        HashAlgorithm::from_name(&name).unwrap_or(HashAlgorithm::Noop)
    }

    #[test]
    fn password_hashes_must_name_an_algorithm_elasticsearch_allows() {
        let bcrypt = |cost: &str| {
            format!("$2a${cost}$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234")
        };
        let pbkdf2 = |prefix: &str, iterations: &str| {
            format!("{prefix}{iterations}$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA==")
        };
        for accepted in [
            bcrypt("04"),
            bcrypt("10"),
            bcrypt("14"),
            pbkdf2("{PBKDF2}", "1000"),
            pbkdf2("{PBKDF2}", "1000000"),
            pbkdf2("{PBKDF2_STRETCH}", "10000"),
        ] {
            let algorithm = password_hash_algorithm(&accepted);
            assert_eq!(
                password_hash_error(&accepted, algorithm),
                None,
                "{accepted}"
            );
        }
        // Well-formed, but not made with the configured algorithm.
        assert_eq!(
            password_hash_error(&bcrypt("12"), HashAlgorithm::Bcrypt { cost: 10 }).as_deref(),
            Some(
                "Provided password hash uses [BCRYPT12] but the configured hashing algorithm is [BCRYPT]"
            )
        );
        assert_eq!(
            password_hash_error(
                &pbkdf2("{PBKDF2}", "10000"),
                HashAlgorithm::Bcrypt { cost: 10 }
            )
            .as_deref(),
            Some(
                "Provided password hash uses [PBKDF2] but the configured hashing algorithm is [BCRYPT]"
            )
        );
        let refused = [
            (bcrypt("31"), "unknown hash function [bcrypt31]"),
            (bcrypt("15"), "unknown hash function [bcrypt15]"),
            (bcrypt("03"), "unknown hash function [bcrypt3]"),
            (
                pbkdf2("{PBKDF2}", "1000000000"),
                "unknown hash function [pbkdf2_1000000000]",
            ),
            (
                pbkdf2("{PBKDF2_STRETCH}", "20000"),
                "unknown hash function [pbkdf2_stretch_20000]",
            ),
            (
                pbkdf2("{PBKDF2}", "many"),
                "The number of iterations could not be determined from the provided PBKDF2 hash.",
            ),
        ];
        for (hash, message) in refused {
            assert_eq!(
                password_hash_error(&hash, HashAlgorithm::Bcrypt { cost: 10 }).as_deref(),
                Some(message),
                "{hash}"
            );
        }
        assert!(
            password_hash_error("{SHA}abc", HashAlgorithm::Bcrypt { cost: 10 }).is_some_and(
                |message| { message.starts_with("The provided password hash is not a hash") }
            )
        );
    }

    #[test]
    fn application_privileges() {
        assert_eq!(application_name_error("app"), None);
        assert_eq!(application_name_error("kibana-.kibana"), None);
        assert!(application_name_error("ap").is_some());
        assert!(application_name_error("App").is_some());
        assert!(application_name_error("app-a b").is_some());
        assert_eq!(privilege_name_error("p1"), None);
        assert!(privilege_name_error("P1").is_some());
        let errors = messages(|errors| {
            validate_app_privilege("app", "p1", &["read".to_owned()], &Map::new(), errors)
        });
        assert_eq!(errors, ["action [read] must contain one of [/ , * , :]"]);
    }
}
