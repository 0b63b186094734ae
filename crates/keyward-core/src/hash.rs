//! Hashing of stored secrets in Elasticsearch's formats, so that key documents move between
//! Elasticsearch and keyward and still verify.
//!
//! A stored hash names its algorithm in its prefix (`{SSHA256}`, `{PBKDF2}`, `$2a$`, …), and
//! [`verify_secret`] picks the algorithm from that prefix alone, never from current settings:
//! changing `xpack.security.authc.api_key.hashing.algorithm` never breaks existing keys. Every
//! comparison is constant-time, and copies of secrets live in zeroizing buffers.

use base64::Engine as _;
use base64::engine::GeneralPurpose;
use base64::engine::general_purpose::{NO_PAD, STANDARD};
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::credential::decode_base64_like_java;
use crate::{Error, SecretSource};

/// A hashing algorithm with its cost, as named by Elasticsearch's hashing settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlgorithm {
    /// bcrypt with `2^cost` rounds, stored as `$2a$NN$…`.
    Bcrypt {
        /// The log2 of the number of rounds (Elasticsearch names 4 to 14).
        cost: u32,
    },
    /// Unsalted MD5, stored as `{MD5}…`; only for caches.
    Md5,
    /// No hashing: the secret itself is stored; only for caches.
    Noop,
    /// PBKDF2-HMAC-SHA512 with a 32-byte salt and key, stored as `{PBKDF2}<iterations>$salt$key`.
    Pbkdf2 {
        /// The PBKDF2 iteration count.
        iterations: u32,
    },
    /// [`HashAlgorithm::Pbkdf2`] over the hex SHA-512 of the secret, stored as
    /// `{PBKDF2_STRETCH}<iterations>$salt$key`.
    Pbkdf2Stretch {
        /// The PBKDF2 iteration count.
        iterations: u32,
    },
    /// Unsalted SHA-1, stored as `{SHA}…`; only for caches.
    Sha1,
    /// SHA-256 with an 8-byte salt, stored as `{SSHA256}<salt><hash>`: Elasticsearch's default
    /// for API keys, fast because API key secrets are long and random.
    Ssha256,
}

impl HashAlgorithm {
    /// Parses a setting value: `ssha256`, `bcrypt` (cost 10), `bcrypt4` … `bcrypt14`, `pbkdf2`
    /// (10000 iterations), `pbkdf2_1000`, `pbkdf2_10000`, `pbkdf2_50000`, `pbkdf2_100000`,
    /// `pbkdf2_500000`, `pbkdf2_1000000`, `pbkdf2_stretch` with the same suffixes, `sha1`, `md5`,
    /// `noop` and `clear_text`, in any case. Anything else is
    /// `unknown hash function [<name>]`.
    pub fn from_name(name: &str) -> Result<HashAlgorithm, Error> {
        let lowered = name.to_lowercase();
        let algorithm = match lowered.as_str() {
            "bcrypt" => Some(HashAlgorithm::Bcrypt {
                cost: BCRYPT_DEFAULT_COST,
            }),
            "md5" => Some(HashAlgorithm::Md5),
            "noop" | "clear_text" => Some(HashAlgorithm::Noop),
            "pbkdf2" => Some(HashAlgorithm::Pbkdf2 {
                iterations: PBKDF2_DEFAULT_ITERATIONS,
            }),
            "pbkdf2_stretch" => Some(HashAlgorithm::Pbkdf2Stretch {
                iterations: PBKDF2_DEFAULT_ITERATIONS,
            }),
            "sha1" => Some(HashAlgorithm::Sha1),
            "ssha256" => Some(HashAlgorithm::Ssha256),
            other => parse_costed_name(other),
        };
        algorithm.ok_or_else(|| Error::IllegalArgument(format!("unknown hash function [{name}]")))
    }

    /// The canonical setting name, as Elasticsearch spells it: the default costs have the bare
    /// names (`bcrypt`, `pbkdf2`, `pbkdf2_stretch`), others carry their cost (`bcrypt12`,
    /// `pbkdf2_50000`, `pbkdf2_stretch_1000`).
    pub fn name(&self) -> String {
        match *self {
            HashAlgorithm::Bcrypt { cost } if cost == BCRYPT_DEFAULT_COST => "bcrypt".to_owned(),
            HashAlgorithm::Bcrypt { cost } => format!("bcrypt{cost}"),
            HashAlgorithm::Md5 => "md5".to_owned(),
            HashAlgorithm::Noop => "noop".to_owned(),
            HashAlgorithm::Pbkdf2 { iterations } if iterations == PBKDF2_DEFAULT_ITERATIONS => {
                "pbkdf2".to_owned()
            }
            HashAlgorithm::Pbkdf2 { iterations } => format!("pbkdf2_{iterations}"),
            HashAlgorithm::Pbkdf2Stretch { iterations }
                if iterations == PBKDF2_DEFAULT_ITERATIONS =>
            {
                "pbkdf2_stretch".to_owned()
            }
            HashAlgorithm::Pbkdf2Stretch { iterations } => format!("pbkdf2_stretch_{iterations}"),
            HashAlgorithm::Sha1 => "sha1".to_owned(),
            HashAlgorithm::Ssha256 => "ssha256".to_owned(),
        }
    }

    /// True for the algorithms Elasticsearch allows for stored API key hashes: `ssha256` and the
    /// `bcrypt`, `pbkdf2` and `pbkdf2_stretch` families, with a cost that one of the setting names
    /// above spells.
    pub fn is_allowed_for_api_keys(&self) -> bool {
        match *self {
            HashAlgorithm::Ssha256 => true,
            HashAlgorithm::Bcrypt { cost } => BCRYPT_NAMED_COSTS.contains(&cost),
            HashAlgorithm::Pbkdf2 { iterations } | HashAlgorithm::Pbkdf2Stretch { iterations } => {
                PBKDF2_NAMED_ITERATIONS.contains(&iterations)
            }
            HashAlgorithm::Md5 | HashAlgorithm::Noop | HashAlgorithm::Sha1 => false,
        }
    }
}

/// Hashes `secret` into the self-describing stored format of `algorithm`, drawing any salt from
/// `rng`: `{SSHA256}…`, `{PBKDF2}<iterations>$<salt>$<key>`, `{PBKDF2_STRETCH}…`, `$2a$NN$…`,
/// `{SHA}…`, `{MD5}…`, or the secret itself for [`HashAlgorithm::Noop`] (read as UTF-8,
/// lossily).
///
/// Slow algorithms (bcrypt, PBKDF2) take milliseconds to seconds; run them off async threads.
/// A bcrypt cost outside 4..=31 is clamped into it and a PBKDF2 iteration count of 0 becomes 1,
/// since neither can be computed; [`HashAlgorithm::from_name`] never produces them.
pub fn hash_secret(algorithm: HashAlgorithm, secret: &[u8], rng: &mut dyn SecretSource) -> String {
    match algorithm {
        HashAlgorithm::Bcrypt { cost } => hash_bcrypt(secret, cost, rng),
        HashAlgorithm::Md5 => format!("{MD5_PREFIX}{}", STANDARD.encode(Md5::digest(secret))),
        HashAlgorithm::Noop => String::from_utf8_lossy(secret).into_owned(),
        HashAlgorithm::Pbkdf2 { iterations } => hash_pbkdf2(PBKDF2_PREFIX, secret, iterations, rng),
        HashAlgorithm::Pbkdf2Stretch { iterations } => {
            hash_pbkdf2(PBKDF2_STRETCH_PREFIX, &stretch(secret)[..], iterations, rng)
        }
        HashAlgorithm::Sha1 => format!("{SHA1_PREFIX}{}", STANDARD.encode(Sha1::digest(secret))),
        HashAlgorithm::Ssha256 => {
            let mut salt = [0u8; SSHA256_SALT_BYTES];
            rng.fill(&mut salt);
            let digest = Sha256::new()
                .chain_update(secret)
                .chain_update(salt)
                .finalize();
            format!(
                "{SSHA256_PREFIX}{}{}",
                STANDARD.encode(salt),
                STANDARD.encode(digest)
            )
        }
    }
}

/// Verifies `secret` against a stored hash of any supported format, choosing the algorithm from
/// the stored value's prefix alone; a value with no known prefix is compared as plain text, as
/// Elasticsearch does. Parameters (bcrypt cost, PBKDF2 iterations, key and salt length) come from
/// the stored value. A malformed stored hash, or a PBKDF2 salt shorter than 8 bytes, verifies
/// nothing. Comparisons are constant-time.
pub fn verify_secret(secret: &[u8], stored: &str) -> bool {
    if is_bcrypt_hash(stored) {
        // The bcrypt crate reports malformed hashes (bad salt, cost out of range) as errors.
        bcrypt::verify(secret, stored).unwrap_or(false)
    } else if let Some(encoded) = stored.strip_prefix(PBKDF2_STRETCH_PREFIX) {
        verify_pbkdf2(&stretch(secret)[..], encoded)
    } else if let Some(encoded) = stored.strip_prefix(PBKDF2_PREFIX) {
        verify_pbkdf2(secret, encoded)
    } else if let Some(encoded) = stored.strip_prefix(SHA1_PREFIX) {
        let computed = Zeroizing::new(STANDARD.encode(Sha1::digest(secret)));
        constant_time_eq(computed.as_bytes(), encoded.as_bytes())
    } else if let Some(encoded) = stored.strip_prefix(MD5_PREFIX) {
        let computed = Zeroizing::new(STANDARD.encode(Md5::digest(secret)));
        constant_time_eq(computed.as_bytes(), encoded.as_bytes())
    } else if let Some(encoded) = stored.strip_prefix(SSHA256_PREFIX) {
        verify_ssha256(secret, encoded.as_bytes())
    } else {
        constant_time_eq(secret, stored.as_bytes())
    }
}

const SSHA256_PREFIX: &str = "{SSHA256}";
const PBKDF2_PREFIX: &str = "{PBKDF2}";
const PBKDF2_STRETCH_PREFIX: &str = "{PBKDF2_STRETCH}";
const SHA1_PREFIX: &str = "{SHA}";
const MD5_PREFIX: &str = "{MD5}";

const BCRYPT_DEFAULT_COST: u32 = 10;
/// The costs that have setting names (`bcrypt4` … `bcrypt14`).
const BCRYPT_NAMED_COSTS: std::ops::RangeInclusive<u32> = 4..=14;
/// The costs bcrypt can compute.
const BCRYPT_COMPUTABLE_COSTS: std::ops::RangeInclusive<u32> = 4..=31;
/// bcrypt's own base64: `./A-Za-z0-9`, no padding.
const BCRYPT_BASE64: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::BCRYPT, NO_PAD);
/// bcrypt reads at most this many bytes of the NUL-terminated password.
const BCRYPT_MAX_KEY_BYTES: usize = 72;

/// The PBKDF2 iteration count Elasticsearch uses unless told otherwise.
pub const PBKDF2_DEFAULT_ITERATIONS: u32 = 10_000;
/// The iteration counts that have setting names (`pbkdf2_1000` … `pbkdf2_1000000`).
const PBKDF2_NAMED_ITERATIONS: [u32; 6] = [1_000, 10_000, 50_000, 100_000, 500_000, 1_000_000];
const PBKDF2_SALT_BYTES: usize = 32;
const PBKDF2_KEY_BYTES: usize = 32;
const PBKDF2_MIN_SALT_BYTES: usize = 8;

const SSHA256_SALT_BYTES: usize = 8;
/// Base64 of the 8-byte salt, padding included.
const SSHA256_SALT_CHARS: usize = 12;

/// Parses the names with a cost suffix: `bcrypt4`, `pbkdf2_50000`, `pbkdf2_stretch_1000`.
fn parse_costed_name(name: &str) -> Option<HashAlgorithm> {
    if let Some(suffix) = name.strip_prefix("pbkdf2_stretch_") {
        let iterations = named_cost(suffix, PBKDF2_NAMED_ITERATIONS)?;
        Some(HashAlgorithm::Pbkdf2Stretch { iterations })
    } else if let Some(suffix) = name.strip_prefix("pbkdf2_") {
        let iterations = named_cost(suffix, PBKDF2_NAMED_ITERATIONS)?;
        Some(HashAlgorithm::Pbkdf2 { iterations })
    } else if let Some(suffix) = name.strip_prefix("bcrypt") {
        let cost = named_cost(suffix, BCRYPT_NAMED_COSTS)?;
        Some(HashAlgorithm::Bcrypt { cost })
    } else {
        None
    }
}

/// The cost among `choices` whose decimal spelling is exactly `suffix` (no sign, no leading
/// zeros, as Elasticsearch matches whole names).
fn named_cost(suffix: &str, choices: impl IntoIterator<Item = u32>) -> Option<u32> {
    choices
        .into_iter()
        .find(|choice| choice.to_string() == suffix)
}

fn hash_bcrypt(secret: &[u8], cost: u32, rng: &mut dyn SecretSource) -> String {
    let cost = cost.clamp(
        *BCRYPT_COMPUTABLE_COSTS.start(),
        *BCRYPT_COMPUTABLE_COSTS.end(),
    );
    let mut salt = [0u8; 16];
    rng.fill(&mut salt);
    // The key is the NUL-terminated password cut at 72 bytes, as every `$2a$` implementation
    // (Elasticsearch's included) reads it. Sized up front so it never reallocates.
    let mut key = Zeroizing::new(Vec::with_capacity(secret.len() + 1));
    key.extend_from_slice(secret);
    key.push(0);
    key.truncate(BCRYPT_MAX_KEY_BYTES);
    let output = Zeroizing::new(bcrypt::bcrypt(cost, salt, &key));
    // Only 23 of the 24 output bytes are kept, as the format has always done.
    format!(
        "$2a${cost:02}${}{}",
        BCRYPT_BASE64.encode(salt),
        BCRYPT_BASE64.encode(&output[..23])
    )
}

/// Whether `stored` starts like a bcrypt hash: `$2a$`, `$2b$` or `$2y$`. Other strings starting
/// with `$2` fall through to the plain comparison, as in Elasticsearch; the bcrypt crate checks
/// the rest of the shape.
fn is_bcrypt_hash(stored: &str) -> bool {
    let bytes = stored.as_bytes();
    bytes.len() >= 4
        && bytes[0] == b'$'
        && bytes[1] == b'2'
        && matches!(bytes[2], b'a' | b'b' | b'y')
        && bytes[3] == b'$'
}

fn hash_pbkdf2(
    prefix: &str,
    password: &[u8],
    iterations: u32,
    rng: &mut dyn SecretSource,
) -> String {
    let iterations = iterations.max(1);
    let mut salt = [0u8; PBKDF2_SALT_BYTES];
    rng.fill(&mut salt);
    let mut key = Zeroizing::new([0u8; PBKDF2_KEY_BYTES]);
    pbkdf2::pbkdf2_hmac::<Sha512>(password, &salt, iterations, &mut key[..]);
    format!(
        "{prefix}{iterations}${}${}",
        STANDARD.encode(salt),
        STANDARD.encode(&key[..])
    )
}

/// Checks `<iterations>$<salt>$<key>` (the part after the prefix).
fn verify_pbkdf2(password: &[u8], encoded: &str) -> bool {
    let Some((iterations, rest)) = encoded.split_once('$') else {
        return false;
    };
    let Some((salt, key)) = rest.split_once('$') else {
        return false;
    };
    // Java's `Integer.parseInt`, which Elasticsearch uses here, has Rust's integer grammar.
    let Some(iterations) = iterations
        .parse::<i32>()
        .ok()
        .and_then(|n| u32::try_from(n).ok())
    else {
        return false;
    };
    if iterations == 0 {
        return false;
    }
    // Elasticsearch sizes the key from the length of its base64 text, rounded down to whole
    // 16-byte blocks (32 bytes for the usual 44 characters), then compares the base64 texts.
    let key_bytes = key.len() * 3 / 64 * 16;
    if key_bytes == 0 {
        return false;
    }
    let Ok(salt) = decode_base64_like_java(salt.as_bytes()) else {
        return false;
    };
    if salt.len() < PBKDF2_MIN_SALT_BYTES {
        return false;
    }
    let mut derived = Zeroizing::new(vec![0u8; key_bytes]);
    pbkdf2::pbkdf2_hmac::<Sha512>(password, &salt, iterations, &mut derived[..]);
    let computed = Zeroizing::new(STANDARD.encode(&derived[..]));
    constant_time_eq(computed.as_bytes(), key.as_bytes())
}

/// Checks `<base64 salt, 12 chars><base64 SHA-256(secret ‖ salt)>` (the part after the prefix).
fn verify_ssha256(secret: &[u8], encoded: &[u8]) -> bool {
    let Some((salt, hash)) = encoded.split_at_checked(SSHA256_SALT_CHARS) else {
        return false;
    };
    let Ok(salt) = decode_base64_like_java(salt) else {
        return false;
    };
    let digest = Sha256::new()
        .chain_update(secret)
        .chain_update(&salt[..])
        .finalize();
    let computed = Zeroizing::new(STANDARD.encode(digest));
    constant_time_eq(computed.as_bytes(), hash)
}

/// The password that `pbkdf2_stretch` feeds to PBKDF2: the lowercase hex of SHA-512(secret).
fn stretch(secret: &[u8]) -> Zeroizing<[u8; 128]> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut digest = Zeroizing::new([0u8; 64]);
    Sha512::new()
        .chain_update(secret)
        .finalize_into((&mut *digest).into());
    let mut hex = Zeroizing::new([0u8; 128]);
    for (index, byte) in digest.iter().enumerate() {
        hex[2 * index] = HEX[usize::from(byte >> 4)];
        hex[2 * index + 1] = HEX[usize::from(byte & 0x0f)];
    }
    hex
}

fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    // Lengths are not secret (every format fixes them); contents are compared in constant time.
    left.ct_eq(right).into()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Fills buffers with a running counter starting at the given byte.
    struct Counter(u8);

    impl SecretSource for Counter {
        fn fill(&mut self, buf: &mut [u8]) {
            for byte in buf {
                *byte = self.0;
                self.0 = self.0.wrapping_add(1);
            }
        }
    }

    /// Hands out the given bytes, then zeros.
    struct Scripted(Vec<u8>);

    impl SecretSource for Scripted {
        fn fill(&mut self, buf: &mut [u8]) {
            for byte in buf {
                *byte = if self.0.is_empty() {
                    0
                } else {
                    self.0.remove(0)
                };
            }
        }
    }

    const SECRET: &[u8] = b"ui2lp2axTNmsyakw9tvNnw";

    #[test]
    fn names_round_trip() {
        let cases = [
            ("ssha256", HashAlgorithm::Ssha256, "ssha256"),
            ("SSHA256", HashAlgorithm::Ssha256, "ssha256"),
            ("bcrypt", HashAlgorithm::Bcrypt { cost: 10 }, "bcrypt"),
            ("bcrypt10", HashAlgorithm::Bcrypt { cost: 10 }, "bcrypt"),
            ("bcrypt4", HashAlgorithm::Bcrypt { cost: 4 }, "bcrypt4"),
            ("BCrypt12", HashAlgorithm::Bcrypt { cost: 12 }, "bcrypt12"),
            ("bcrypt14", HashAlgorithm::Bcrypt { cost: 14 }, "bcrypt14"),
            (
                "pbkdf2",
                HashAlgorithm::Pbkdf2 { iterations: 10_000 },
                "pbkdf2",
            ),
            (
                "pbkdf2_10000",
                HashAlgorithm::Pbkdf2 { iterations: 10_000 },
                "pbkdf2",
            ),
            (
                "pbkdf2_1000",
                HashAlgorithm::Pbkdf2 { iterations: 1_000 },
                "pbkdf2_1000",
            ),
            (
                "PBKDF2_50000",
                HashAlgorithm::Pbkdf2 { iterations: 50_000 },
                "pbkdf2_50000",
            ),
            (
                "pbkdf2_100000",
                HashAlgorithm::Pbkdf2 {
                    iterations: 100_000,
                },
                "pbkdf2_100000",
            ),
            (
                "pbkdf2_500000",
                HashAlgorithm::Pbkdf2 {
                    iterations: 500_000,
                },
                "pbkdf2_500000",
            ),
            (
                "pbkdf2_1000000",
                HashAlgorithm::Pbkdf2 {
                    iterations: 1_000_000,
                },
                "pbkdf2_1000000",
            ),
            (
                "pbkdf2_stretch",
                HashAlgorithm::Pbkdf2Stretch { iterations: 10_000 },
                "pbkdf2_stretch",
            ),
            (
                "pbkdf2_stretch_10000",
                HashAlgorithm::Pbkdf2Stretch { iterations: 10_000 },
                "pbkdf2_stretch",
            ),
            (
                "pbkdf2_stretch_1000",
                HashAlgorithm::Pbkdf2Stretch { iterations: 1_000 },
                "pbkdf2_stretch_1000",
            ),
            (
                "pbkdf2_stretch_1000000",
                HashAlgorithm::Pbkdf2Stretch {
                    iterations: 1_000_000,
                },
                "pbkdf2_stretch_1000000",
            ),
            ("sha1", HashAlgorithm::Sha1, "sha1"),
            ("md5", HashAlgorithm::Md5, "md5"),
            ("noop", HashAlgorithm::Noop, "noop"),
            ("clear_text", HashAlgorithm::Noop, "noop"),
            ("Clear_Text", HashAlgorithm::Noop, "noop"),
        ];
        for (name, algorithm, canonical) in cases {
            assert_eq!(HashAlgorithm::from_name(name), Ok(algorithm), "{name}");
            assert_eq!(algorithm.name(), canonical, "{name}");
            assert_eq!(
                HashAlgorithm::from_name(canonical),
                Ok(algorithm),
                "{canonical}"
            );
        }
    }

    #[test]
    fn rejects_unknown_names() {
        for name in [
            "",
            "sha256",
            "bcrypt3",
            "bcrypt15",
            "bcrypt04",
            "bcrypt+4",
            "bcrypt_4",
            "pbkdf2_2000",
            "pbkdf2_010000",
            "pbkdf2_stretch_",
            "pbkdf2_",
            "pbkdf2stretch",
            "PBKDF2_STRETCH_5",
            " ssha256",
            "argon2",
        ] {
            assert_eq!(
                HashAlgorithm::from_name(name),
                Err(Error::IllegalArgument(format!(
                    "unknown hash function [{name}]"
                ))),
                "{name}"
            );
        }
    }

    #[test]
    fn api_keys_allow_only_secure_algorithms() {
        let cases = [
            (HashAlgorithm::Ssha256, true),
            (HashAlgorithm::Bcrypt { cost: 4 }, true),
            (HashAlgorithm::Bcrypt { cost: 14 }, true),
            (HashAlgorithm::Bcrypt { cost: 15 }, false),
            (HashAlgorithm::Pbkdf2 { iterations: 1_000 }, true),
            (HashAlgorithm::Pbkdf2 { iterations: 1_234 }, false),
            (
                HashAlgorithm::Pbkdf2Stretch {
                    iterations: 1_000_000,
                },
                true,
            ),
            (HashAlgorithm::Sha1, false),
            (HashAlgorithm::Md5, false),
            (HashAlgorithm::Noop, false),
        ];
        for (algorithm, allowed) in cases {
            assert_eq!(
                algorithm.is_allowed_for_api_keys(),
                allowed,
                "{algorithm:?}"
            );
        }
    }

    /// Hashes with a counter salt starting at 0 and compares with a value computed independently
    /// (Python's hashlib and hmac), then checks that it verifies and a wrong secret does not.
    fn check(algorithm: HashAlgorithm, secret: &[u8], expected: &str) {
        let hashed = hash_secret(algorithm, secret, &mut Counter(0));
        assert_eq!(hashed, expected, "{algorithm:?}");
        assert!(verify_secret(secret, &hashed), "{algorithm:?}");
        assert!(!verify_secret(b"wrong", &hashed), "{algorithm:?}");
    }

    #[test]
    fn known_answers() {
        check(
            HashAlgorithm::Ssha256,
            SECRET,
            "{SSHA256}AAECAwQFBgc=hFkFgY4klx8/OzDjO3yaxTvxUP3XclsX0V9SQZWYW5Y=",
        );
        check(
            HashAlgorithm::Pbkdf2 { iterations: 1_000 },
            SECRET,
            "{PBKDF2}1000$AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=$E+ouIHVWDcZXEr90ZI62Dj5BhOOMCkWAmMWpiw5nH4Y=",
        );
        check(
            HashAlgorithm::Pbkdf2Stretch { iterations: 1_000 },
            SECRET,
            "{PBKDF2_STRETCH}1000$AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=$jKBfyTfRklBQ99VoqARK6xj4IgEH3zlX+0cfCjYVpC4=",
        );
        check(
            HashAlgorithm::Sha1,
            SECRET,
            "{SHA}gRaQTv2b8hMiDc9rSFq21SRacxA=",
        );
        check(HashAlgorithm::Md5, SECRET, "{MD5}Cb06f1BuRiLYPzXdo6YjAg==");
        check(HashAlgorithm::Noop, SECRET, "ui2lp2axTNmsyakw9tvNnw");
    }

    #[test]
    fn round_trips_every_algorithm() {
        let algorithms = [
            HashAlgorithm::Ssha256,
            HashAlgorithm::Bcrypt { cost: 4 },
            HashAlgorithm::Bcrypt { cost: 5 },
            HashAlgorithm::Pbkdf2 { iterations: 1_000 },
            HashAlgorithm::Pbkdf2 { iterations: 10_000 },
            HashAlgorithm::Pbkdf2Stretch { iterations: 1_000 },
            HashAlgorithm::Sha1,
            HashAlgorithm::Md5,
            HashAlgorithm::Noop,
        ];
        let mut rng = Counter(42);
        for algorithm in algorithms {
            for secret in [SECRET, b"", "pässwörd".as_bytes(), &[b'x'; 100]] {
                let hashed = hash_secret(algorithm, secret, &mut rng);
                assert!(verify_secret(secret, &hashed), "{algorithm:?} {hashed}");
                assert!(
                    !verify_secret(b"ui2lp2axTNmsyakw9tvNnW", &hashed),
                    "{algorithm:?}"
                );
            }
        }
    }

    #[test]
    fn salts_come_from_the_rng() {
        let first = hash_secret(HashAlgorithm::Ssha256, SECRET, &mut Counter(0));
        let second = hash_secret(HashAlgorithm::Ssha256, SECRET, &mut Counter(8));
        assert_ne!(first, second);
        assert_eq!(first.len(), "{SSHA256}".len() + 12 + 44);
        let pbkdf2 = hash_secret(
            HashAlgorithm::Pbkdf2 { iterations: 1_000 },
            SECRET,
            &mut Counter(0),
        );
        assert_eq!(pbkdf2.len(), "{PBKDF2}1000$".len() + 44 + 1 + 44);
    }

    #[test]
    fn bcrypt_matches_the_published_vectors() {
        // Test vectors published with jBCrypt: secret, then the hash of it.
        let vectors: [(&[u8], &str); 3] = [
            (
                b"",
                "$2a$06$DCq7YPn5Rq63x1Lad4cll.TV4S6ytwfsfvkgY8jIucDrjc8deX1s.",
            ),
            (
                b"abc",
                "$2a$06$If6bvum7DFjUnE9p2uDeDu0YHzrHM6tf.iqN8.yx.jNN1ILEf7h0i",
            ),
            (
                b"abcdefghijklmnopqrstuvwxyz",
                "$2a$06$.rCVZVOThsIa97pEDOxvGuRRgzG64bvtJ0938xuqzv18d3ZpQhstC",
            ),
        ];
        for (secret, expected) in vectors {
            assert!(verify_secret(secret, expected), "{expected}");
            assert!(!verify_secret(b"abd", expected), "{expected}");
            // Hashing with the vector's salt reproduces the vector.
            let salt = BCRYPT_BASE64.decode(&expected[7..29]).unwrap();
            let hashed = hash_secret(
                HashAlgorithm::Bcrypt { cost: 6 },
                secret,
                &mut Scripted(salt),
            );
            assert_eq!(hashed, expected);
        }
    }

    #[test]
    fn bcrypt_accepts_2b_and_2y_prefixes() {
        let hashed = hash_secret(HashAlgorithm::Bcrypt { cost: 4 }, SECRET, &mut Counter(3));
        assert!(hashed.starts_with("$2a$04$"), "{hashed}");
        assert_eq!(hashed.len(), 60);
        for version in ["$2b$", "$2y$"] {
            let variant = format!("{version}{}", &hashed[4..]);
            assert!(verify_secret(SECRET, &variant), "{variant}");
            assert!(!verify_secret(b"wrong", &variant), "{variant}");
        }
        // `$2x$` is not a bcrypt prefix Elasticsearch knows: plain comparison, so no match.
        let variant = format!("$2x${}", &hashed[4..]);
        assert!(!verify_secret(SECRET, &variant));
    }

    #[test]
    fn bcrypt_clamps_impossible_costs() {
        let hashed = hash_secret(HashAlgorithm::Bcrypt { cost: 0 }, SECRET, &mut Counter(0));
        assert!(hashed.starts_with("$2a$04$"), "{hashed}");
        assert!(verify_secret(SECRET, &hashed));
    }

    #[test]
    fn verifies_hashes_in_unusual_but_valid_shapes() {
        // Iterations with leading zeros and a 16-byte key, as Elasticsearch would accept them.
        let stored =
            "{PBKDF2}01000$AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=$E+ouIHVWDcZXEr90ZI62Dg==";
        assert!(verify_secret(SECRET, stored));
        // A salt of exactly 8 bytes, unpadded.
        let stored = "{PBKDF2}1000$AAECAwQFBgc$eOds6tXqPBBepjVQRhB4YBckSvgeja0V6UTgDz19l/U=";
        assert!(verify_secret(SECRET, stored));
        // An SSHA256 salt whose base64 has no padding decodes to 9 bytes.
        let stored = "{SSHA256}AAECAwQFBgcI6VS0C142yL/pnMBhio5F/gRK9keLzcBNBZCAdduogsI=";
        assert!(verify_secret(SECRET, stored));
    }

    #[test]
    fn malformed_hashes_verify_nothing() {
        // The PBKDF2 hash of `known_answers`, taken apart.
        const SALT: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        const KEY: &str = "E+ouIHVWDcZXEr90ZI62Dj5BhOOMCkWAmMWpiw5nH4Y=";
        assert!(verify_secret(
            SECRET,
            &format!("{{PBKDF2}}1000${SALT}${KEY}")
        ));
        let malformed = [
            "{SSHA256}".to_owned(),
            "{SSHA256}AAECAwQF".to_owned(),
            "{SSHA256}AAECAwQFBgc=".to_owned(),
            "{SSHA256}!!!!!!!!!!!!hFkFgY4klx8/OzDjO3yaxTvxUP3XclsX0V9SQZWYW5Y=".to_owned(),
            // The hash without its padding.
            "{SSHA256}AAECAwQFBgc=hFkFgY4klx8/OzDjO3yaxTvxUP3XclsX0V9SQZWYW5Y".to_owned(),
            "{PBKDF2}".to_owned(),
            "{PBKDF2}1000".to_owned(),
            "{PBKDF2}1000$".to_owned(),
            "{PBKDF2}1000$$".to_owned(),
            format!("{{PBKDF2}}1000${SALT}"),
            format!("{{PBKDF2}}${SALT}${KEY}"),
            format!("{{PBKDF2}}0${SALT}${KEY}"),
            format!("{{PBKDF2}}-1000${SALT}${KEY}"),
            format!("{{PBKDF2}}x${SALT}${KEY}"),
            format!("{{PBKDF2}}99999999999${SALT}${KEY}"),
            // A salt of 7 bytes, and one that is not base64.
            format!("{{PBKDF2}}1000$AAECAwQFBg==${KEY}"),
            format!("{{PBKDF2}}1000$!!${KEY}"),
            // A key too short to make a whole block, and one without its padding.
            format!("{{PBKDF2}}1000${SALT}$E+ouIHVW"),
            format!("{{PBKDF2}}1000${SALT}${}", KEY.trim_end_matches('=')),
            format!("{{PBKDF2}}1000${SALT}${KEY}$"),
            "{PBKDF2_STRETCH}1000$$".to_owned(),
            "{SHA}".to_owned(),
            "{SHA}gRaQTv2b8hMiDc9rSFq21SRacxA".to_owned(),
            "{MD5}".to_owned(),
            "$2a$".to_owned(),
            "$2a$04$".to_owned(),
            "$2a$04$xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx".to_owned(),
            "$2a$99$DCq7YPn5Rq63x1Lad4cll.TV4S6ytwfsfvkgY8jIucDrjc8deX1s.".to_owned(),
            "$2a$06$DCq7YPn5Rq63x1Lad4cll.TV4S6ytwfsfvkgY8jIucDrjc8deX1s".to_owned(),
            "$2a$06$DCq7YPn5Rq63x1Lad4cll.TV4S6ytwfsfvkgY8jIucDrjc8deX1s.x".to_owned(),
            "$2a$06$DCq7YPn5Rq63x1Lad4cll.TV4S6ytwfsfvkgY8jIucDrjc8deX1s€".to_owned(),
            String::new(),
        ];
        for stored in malformed {
            assert!(!verify_secret(SECRET, &stored), "{stored}");
        }
    }

    #[test]
    fn unknown_prefixes_compare_plainly() {
        assert!(verify_secret(SECRET, "ui2lp2axTNmsyakw9tvNnw"));
        assert!(!verify_secret(SECRET, "ui2lp2axTNmsyakw9tvNn"));
        assert!(!verify_secret(SECRET, "ui2lp2axTNmsyakw9tvNnwx"));
        assert!(verify_secret(b"{SSHA", "{SSHA"));
        assert!(verify_secret(b"", ""));
        assert!(!verify_secret(b"x", ""));
    }

    #[test]
    fn stretch_is_lowercase_hex_of_sha512() {
        let expected = "9b71d224bd62f3785d96d46ad3ea3d73319bfbc2890caadae2dff72519673ca72323c3d99ba5c11d7c7acc6e14b8c5da0c4663475c2e5c3adef46f73bcdec043";
        assert_eq!(&stretch(b"hello")[..], expected.as_bytes());
    }

    proptest! {
        #[test]
        fn ssha256_round_trips(secret in proptest::collection::vec(any::<u8>(), 0..64), seed: u8) {
            let hashed = hash_secret(HashAlgorithm::Ssha256, &secret, &mut Counter(seed));
            prop_assert!(verify_secret(&secret, &hashed));
            let mut other = secret;
            other.push(0);
            prop_assert!(!verify_secret(&other, &hashed));
        }

        #[test]
        fn verify_never_panics(stored in "\\PC{0,80}") {
            let _ = verify_secret(SECRET, &stored);
        }
    }
}
