//! API key material and the `Authorization` header that carries it.
//!
//! An API key is an id and a secret. Clients send them as `ApiKey <base64(id:secret)>`; this
//! module generates both halves, builds the `encoded` value of create responses and classifies
//! and parses `Authorization` header values the way Elasticsearch does, down to the wording of its
//! base64 decoder's complaints. Decoded secrets only ever live in zeroizing buffers.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use zeroize::Zeroizing;

use crate::SecretSource;

/// An API key id as presented or generated. Generated ids are 20 characters of URL-safe base64
/// without padding (15 random bytes); presented ids are taken as they come, since clients treat
/// ids as opaque.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ApiKeyId(String);

impl ApiKeyId {
    /// Generates a fresh id from 15 random bytes.
    pub fn generate(rng: &mut dyn SecretSource) -> ApiKeyId {
        let mut bytes = [0u8; ID_BYTES];
        rng.fill(&mut bytes);
        ApiKeyId(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Wraps an id that came from a client or a store.
    pub fn new(id: impl Into<String>) -> ApiKeyId {
        ApiKeyId(id.into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ApiKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The secret half of an API key (`api_key` in create responses): zeroized on drop; never
/// printed, cloned, serialized or `==`-compared. [`ApiKeySecret::expose`] is the only way out.
pub struct ApiKeySecret(Zeroizing<String>);

impl ApiKeySecret {
    /// Generates a fresh secret: 16 random bytes carrying the version 4 and variant bits of an
    /// RFC 4122 random UUID (122 bits of entropy), as 22 characters of URL-safe base64 without
    /// padding.
    pub fn generate(rng: &mut dyn SecretSource) -> ApiKeySecret {
        let mut bytes = Zeroizing::new([0u8; SECRET_BYTES]);
        rng.fill(&mut bytes[..]);
        // Elasticsearch's secrets are random UUIDs; keep their shape so nothing downstream can
        // tell our keys from theirs.
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        // `encode` writes straight into an exactly sized buffer, so no unzeroized copy is left.
        ApiKeySecret(Zeroizing::new(URL_SAFE_NO_PAD.encode(&bytes[..])))
    }

    /// Wraps a secret presented by a client.
    pub fn from_presented(secret: Zeroizing<String>) -> ApiKeySecret {
        ApiKeySecret(secret)
    }

    /// The secret in clear, for hashing and for the one response field that returns it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKeySecret(..)")
    }
}

/// An id and secret presented in an `ApiKey` header.
pub struct ApiKeyCredential {
    /// The key id, the part before the first `:`.
    pub id: ApiKeyId,
    /// The secret, everything after the first `:`.
    pub secret: ApiKeySecret,
}

impl fmt::Debug for ApiKeyCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyCredential")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A user name and password presented in a `Basic` header.
pub struct BasicCredential {
    /// The user name, the part before the first `:` (may be empty, as in Elasticsearch).
    pub username: String,
    /// The password, everything after the first `:`.
    pub password: Zeroizing<String>,
}

impl fmt::Debug for BasicCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicCredential")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// What an `Authorization` header value carries.
#[derive(Debug)]
pub enum Credential {
    /// `ApiKey <base64(id:secret)>`.
    ApiKey(ApiKeyCredential),
    /// `Basic <base64(user:password)>`.
    Basic(BasicCredential),
    /// `Bearer <token>`: an access token.
    Bearer(BearerToken),
    /// Any other scheme, or a known scheme with nothing after it: not a credential keyward
    /// recognizes, so the request counts as carrying no credentials.
    Other,
}

/// The token of a `Bearer` credential: zeroized on drop, never printed.
pub struct BearerToken(Zeroizing<String>);

impl BearerToken {
    /// The token as presented.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BearerToken(..)")
    }
}

/// Why an `Authorization` header with a known scheme could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// An `ApiKey` value that is not valid: `invalid ApiKey value`, or the base64 decoder's
    /// complaint in Java's words (e.g. `Illegal base64 character 5f`).
    #[error("{0}")]
    InvalidApiKey(String),
    /// A `Basic` value that is not valid: `invalid basic authentication header value` or
    /// `invalid basic authentication header encoding`.
    #[error("{0}")]
    InvalidBasic(String),
}

/// Parses an `Authorization` header value.
///
/// The scheme (`ApiKey`, `Basic`, `Bearer`) is matched case-insensitively and must be followed by
/// a space. An `ApiKey` value is decoded with the standard base64 alphabet (padding optional, as
/// Java's decoder has it), read as UTF-8 and split at the first `:`; a missing `:` or an empty id
/// is `invalid ApiKey value`. A `Basic` value is trimmed, decoded the same way and split at the
/// first `:`. A known scheme followed by nothing is [`Credential::Other`], except `Basic `, which
/// Elasticsearch rejects outright.
pub fn parse_authorization(value: &[u8]) -> Result<Credential, CredentialError> {
    if let Some(encoded) = strip_scheme(value, b"ApiKey ") {
        // Elasticsearch's API key authenticator ignores a header with nothing after the scheme,
        // so such a request is simply unauthenticated.
        if encoded.is_empty() {
            return Ok(Credential::Other);
        }
        return parse_api_key(encoded).map(Credential::ApiKey);
    }
    if let Some(encoded) = strip_scheme(value, b"Basic ") {
        return parse_basic(encoded).map(Credential::Basic);
    }
    if let Some(token) = strip_scheme(value, b"Bearer ") {
        return Ok(if token.is_empty() {
            Credential::Other
        } else {
            Credential::Bearer(BearerToken(utf8_lossy_zeroizing(Zeroizing::new(
                token.to_vec(),
            ))))
        });
    }
    Ok(Credential::Other)
}

/// The `encoded` field of create responses: standard base64, padded, of `<id>:<secret>`.
pub fn encode_api_key(id: &ApiKeyId, secret: &ApiKeySecret) -> String {
    let id = id.as_str().as_bytes();
    let secret = secret.expose().as_bytes();
    // Sized up front: growing a zeroizing vector would leave the old buffer behind unzeroized.
    let mut joined = Zeroizing::new(Vec::with_capacity(id.len() + 1 + secret.len()));
    joined.extend_from_slice(id);
    joined.push(b':');
    joined.extend_from_slice(secret);
    STANDARD.encode(&joined[..])
}

/// Bytes of a generated id.
const ID_BYTES: usize = 15;
/// Bytes of a generated secret.
const SECRET_BYTES: usize = 16;

/// Why Java's standard base64 decoder (`java.util.Base64.getDecoder()`) rejects its input; the
/// `Display` form is Java's message, which Elasticsearch passes on to clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Base64Error {
    /// A byte outside the alphabet, as the decoder saw it.
    IllegalCharacter(u8),
    /// Input after the padding; the index of the first such byte.
    IncorrectEndingByte(usize),
    /// A final group of one character.
    NotEnoughBits,
    /// A single character of input.
    TooShort,
    /// Padding where it cannot be, or a single `=` where two are needed.
    WrongEndingUnit,
}

impl fmt::Display for Base64Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Base64Error::IllegalCharacter(byte) => {
                // Java prints the byte as a signed integer in hex, so bytes above 0x7f come out
                // negative (0xc3 is "-3d").
                let signed = i32::from(*byte as i8);
                if signed < 0 {
                    write!(f, "Illegal base64 character -{:x}", -signed)
                } else {
                    write!(f, "Illegal base64 character {signed:x}")
                }
            }
            Base64Error::IncorrectEndingByte(index) => {
                write!(f, "Input byte array has incorrect ending byte at {index}")
            }
            Base64Error::NotEnoughBits => f.write_str("Last unit does not have enough valid bits"),
            Base64Error::TooShort => {
                f.write_str("Input byte[] should at least have 2 bytes for base64 bytes")
            }
            Base64Error::WrongEndingUnit => {
                f.write_str("Input byte array has wrong 4-byte ending unit")
            }
        }
    }
}

/// Decodes standard base64 exactly as Java's basic decoder does: padding is optional, but when
/// present it must be complete and end the input. The output buffer is allocated once at its
/// largest possible size and zeroized on drop, so decoded secrets leave no copies behind.
pub(crate) fn decode_base64_like_java(input: &[u8]) -> Result<Zeroizing<Vec<u8>>, Base64Error> {
    let mut out = Zeroizing::new(Vec::with_capacity(input.len().div_ceil(4) * 3));
    if input.is_empty() {
        return Ok(out);
    }
    if input.len() < 2 {
        return Err(Base64Error::TooShort);
    }
    let position = decode_whole_groups(input, &mut out);
    decode_from(input, position, &mut out)?;
    Ok(out)
}

/// Decodes the leading groups of four alphabet characters, the bulk of any input: they need none
/// of the padding rules and decode straight to three bytes. Returns where the first group that is
/// not one (padding, an illegal byte, a short tail) starts, for [`decode_from`].
fn decode_whole_groups(input: &[u8], out: &mut Vec<u8>) -> usize {
    let mut position = 0;
    while let Some(&[a, b, c, d]) = input.get(position..position + 4) {
        let [a, b, c, d] = [a, b, c, d].map(|byte| BASE64_VALUES[usize::from(byte)]);
        // Alphabet values fit in six bits; `NOT_BASE64` does not.
        if (a | b | c | d) & 0xC0 != 0 {
            break;
        }
        out.extend_from_slice(&[a << 2 | b >> 4, b << 4 | c >> 2, c << 6 | d]);
        position += 4;
    }
    position
}

/// Decodes `input` from `position` (the start of a group) one character at a time, with Java's
/// rules for padding and for what may follow it.
fn decode_from(input: &[u8], mut position: usize, out: &mut Vec<u8>) -> Result<(), Base64Error> {
    let mut bits: u32 = 0;
    // Where the next sextet goes: 18, 12, 6, 0 for the four characters of a group.
    let mut shift: i32 = 18;
    while position < input.len() {
        let byte = input[position];
        position += 1;
        if let Some(sextet) = base64_value(byte) {
            bits |= u32::from(sextet) << shift;
            shift -= 6;
            if shift < 0 {
                out.extend_from_slice(&[(bits >> 16) as u8, (bits >> 8) as u8, bits as u8]);
                shift = 18;
                bits = 0;
            }
            continue;
        }
        if byte != b'=' {
            return Err(Base64Error::IllegalCharacter(byte));
        }
        // Padding ends the data. After two characters it must be `==`; after three, `=`; at the
        // start of a group it is never allowed; after one character the group is short anyway.
        if shift == 18 {
            return Err(Base64Error::WrongEndingUnit);
        }
        if shift == 6 {
            if input.get(position) != Some(&b'=') {
                return Err(Base64Error::WrongEndingUnit);
            }
            position += 1;
        }
        break;
    }
    match shift {
        6 => out.push((bits >> 16) as u8),
        0 => out.extend_from_slice(&[(bits >> 16) as u8, (bits >> 8) as u8]),
        12 => return Err(Base64Error::NotEnoughBits),
        _ => {}
    }
    if position < input.len() {
        return Err(Base64Error::IncorrectEndingByte(position));
    }
    Ok(())
}

/// Not a character of the alphabet (in [`BASE64_VALUES`]).
const NOT_BASE64: u8 = 0xFF;

/// The value of each byte as a character of the standard base64 alphabet.
const BASE64_VALUES: [u8; 256] = {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut values = [NOT_BASE64; 256];
    let mut index = 0;
    while index < alphabet.len() {
        values[alphabet[index] as usize] = index as u8;
        index += 1;
    }
    values
};

/// The value of one character of the standard base64 alphabet.
fn base64_value(byte: u8) -> Option<u8> {
    let value = BASE64_VALUES[usize::from(byte)];
    (value != NOT_BASE64).then_some(value)
}

/// The rest of `value` when it starts with `scheme` (which ends with its space), ignoring case.
fn strip_scheme<'a>(value: &'a [u8], scheme: &[u8]) -> Option<&'a [u8]> {
    let (head, rest) = value.split_at_checked(scheme.len())?;
    head.eq_ignore_ascii_case(scheme).then_some(rest)
}

/// Decodes `id:secret`. Elasticsearch does not trim the value, so surrounding spaces are illegal
/// base64 characters.
pub fn parse_api_key(encoded: &[u8]) -> Result<ApiKeyCredential, CredentialError> {
    let decoded = decode_base64_like_java(encoded)
        .map_err(|error| CredentialError::InvalidApiKey(header_decoder_error(error).to_string()))?;
    let mut text = utf8_lossy_zeroizing(decoded);
    let colon = match text.find(':') {
        Some(colon) if colon > 0 => colon,
        _ => {
            return Err(CredentialError::InvalidApiKey(
                "invalid ApiKey value".to_owned(),
            ));
        }
    };
    let id = ApiKeyId::new(&text[..colon]);
    // Shift the secret to the front of the buffer it was decoded into rather than copying it.
    text.drain(..=colon);
    Ok(ApiKeyCredential {
        id,
        secret: ApiKeySecret::from_presented(text),
    })
}

/// Decodes `user:password`. Unlike `ApiKey`, Elasticsearch trims the value, allows an empty user
/// name, and hides the decoder's message behind its own.
fn parse_basic(encoded: &[u8]) -> Result<BasicCredential, CredentialError> {
    if encoded.is_empty() {
        return Err(CredentialError::InvalidBasic(
            BASIC_INVALID_VALUE.to_owned(),
        ));
    }
    let decoded = decode_base64_like_java(java_trim(encoded))
        .map_err(|_| CredentialError::InvalidBasic(BASIC_INVALID_ENCODING.to_owned()))?;
    let mut text = utf8_lossy_zeroizing(decoded);
    let Some(colon) = text.find(':') else {
        return Err(CredentialError::InvalidBasic(
            BASIC_INVALID_VALUE.to_owned(),
        ));
    };
    let username = text[..colon].to_owned();
    text.drain(..=colon);
    Ok(BasicCredential {
        username,
        password: text,
    })
}

const BASIC_INVALID_VALUE: &str = "invalid basic authentication header value";
const BASIC_INVALID_ENCODING: &str = "invalid basic authentication header encoding";

/// Elasticsearch reads header bytes as ISO-8859-1 characters and encodes them as UTF-8 before
/// decoding base64, so for a byte above 0x7f its decoder reports the UTF-8 lead byte of that
/// character, not the byte itself.
fn header_decoder_error(error: Base64Error) -> Base64Error {
    match error {
        Base64Error::IllegalCharacter(byte) if byte >= 0x80 => {
            Base64Error::IllegalCharacter(0xc0 | (byte >> 6))
        }
        other => other,
    }
}

/// Turns decoded bytes into text without copying valid UTF-8. Like Java's decoder, malformed
/// sequences become U+FFFD rather than an error.
fn utf8_lossy_zeroizing(mut bytes: Zeroizing<Vec<u8>>) -> Zeroizing<String> {
    // `take` moves the heap buffer out without copying it; the zeroizing wrapper is left empty.
    match String::from_utf8(std::mem::take(&mut *bytes)) {
        Ok(text) => Zeroizing::new(text),
        Err(error) => {
            let bytes = Zeroizing::new(error.into_bytes());
            Zeroizing::new(String::from_utf8_lossy(&bytes).into_owned())
        }
    }
}

/// Java's `String.trim`: strips every character up to and including the space.
fn java_trim(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b > b' ').unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|&b| b > b' ')
        .map_or(start, |last| last + 1);
    &bytes[start..end]
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::STANDARD_NO_PAD;
    use proptest::prelude::*;

    use super::*;

    /// Fills every buffer with one repeated byte.
    struct Repeat(u8);

    impl SecretSource for Repeat {
        fn fill(&mut self, buf: &mut [u8]) {
            buf.fill(self.0);
        }
    }

    /// Fills buffers with a running counter, so consecutive draws differ.
    struct Counter(u8);

    impl SecretSource for Counter {
        fn fill(&mut self, buf: &mut [u8]) {
            for byte in buf {
                *byte = self.0;
                self.0 = self.0.wrapping_add(1);
            }
        }
    }

    fn is_url_safe_base64(text: &str) -> bool {
        text.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }

    #[test]
    fn generated_ids_are_20_url_safe_characters() {
        for fill in [0x00, 0xff, 0xfb, 0x3e] {
            let id = ApiKeyId::generate(&mut Repeat(fill));
            assert_eq!(id.as_str().len(), 20, "{id}");
            assert!(is_url_safe_base64(id.as_str()), "{id}");
        }
        assert_eq!(
            ApiKeyId::generate(&mut Repeat(0xff)).as_str(),
            "____________________"
        );
        assert_ne!(
            ApiKeyId::generate(&mut Counter(0)),
            ApiKeyId::generate(&mut Counter(100))
        );
    }

    #[test]
    fn generated_secrets_are_22_url_safe_characters_with_uuid_v4_bits() {
        for fill in [0x00, 0xff, 0xfb, 0x3e, 0x5a] {
            let secret = ApiKeySecret::generate(&mut Repeat(fill));
            let text = secret.expose();
            assert_eq!(text.len(), 22, "{text}");
            assert!(is_url_safe_base64(text), "{text}");
            let bytes = URL_SAFE_NO_PAD.decode(text).unwrap();
            assert_eq!(bytes.len(), 16);
            assert_eq!(bytes[6] >> 4, 0b0100, "version nibble of {text}");
            assert_eq!(bytes[8] >> 6, 0b10, "variant bits of {text}");
            // Every other byte is untouched.
            for (index, byte) in bytes.iter().enumerate() {
                if index != 6 && index != 8 {
                    assert_eq!(*byte, fill);
                }
            }
        }
        // All zero bytes: only the version and variant bits are set.
        assert_eq!(
            ApiKeySecret::generate(&mut Repeat(0)).expose(),
            "AAAAAAAAQACAAAAAAAAAAA"
        );
    }

    #[test]
    fn encodes_the_documented_example() {
        let id = ApiKeyId::new("VuaCfGcBCdbkQm-e5aOx");
        let secret = ApiKeySecret::from_presented(Zeroizing::new("ui2lp2axTNmsyakw9tvNnw".into()));
        assert_eq!(
            encode_api_key(&id, &secret),
            "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="
        );
    }

    #[test]
    fn generated_keys_encode_to_60_characters_and_parse_back() {
        let mut rng = Counter(7);
        for _ in 0..20 {
            let id = ApiKeyId::generate(&mut rng);
            let secret = ApiKeySecret::generate(&mut rng);
            let encoded = encode_api_key(&id, &secret);
            assert_eq!(encoded.len(), 60);
            assert!(encoded.ends_with("=="));
            let header = format!("ApiKey {encoded}");
            let Ok(Credential::ApiKey(parsed)) = parse_authorization(header.as_bytes()) else {
                panic!("{header} did not parse");
            };
            assert_eq!(parsed.id, id);
            assert_eq!(parsed.secret.expose(), secret.expose());
        }
    }

    /// What a header parses to, in a form tests can compare.
    #[derive(Debug, PartialEq, Eq)]
    enum Parsed {
        ApiKey(&'static str, &'static str),
        Basic(&'static str, &'static str),
        Bearer,
        Other,
        InvalidApiKey(&'static str),
        InvalidBasic(&'static str),
    }

    fn check(header: &[u8], expected: Parsed) {
        let shown = String::from_utf8_lossy(header);
        match (parse_authorization(header), &expected) {
            (Ok(Credential::ApiKey(key)), Parsed::ApiKey(id, secret)) => {
                assert_eq!(
                    (key.id.as_str(), key.secret.expose()),
                    (*id, *secret),
                    "{shown}"
                );
            }
            (Ok(Credential::Basic(basic)), Parsed::Basic(user, password)) => {
                assert_eq!(
                    (basic.username.as_str(), basic.password.as_str()),
                    (*user, *password),
                    "{shown}"
                );
            }
            (Ok(Credential::Bearer(_)), Parsed::Bearer)
            | (Ok(Credential::Other), Parsed::Other) => {}
            (Err(CredentialError::InvalidApiKey(message)), Parsed::InvalidApiKey(expected))
            | (Err(CredentialError::InvalidBasic(message)), Parsed::InvalidBasic(expected)) => {
                assert_eq!(message, *expected, "{shown}");
            }
            (actual, _) => panic!("{shown}: expected {expected:?}, got {actual:?}"),
        }
    }

    fn b64(text: &str) -> String {
        STANDARD.encode(text)
    }

    #[test]
    fn parses_api_keys() {
        let example = "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==";
        let key = Parsed::ApiKey("VuaCfGcBCdbkQm-e5aOx", "ui2lp2axTNmsyakw9tvNnw");
        check(format!("ApiKey {example}").as_bytes(), key);
        let key = Parsed::ApiKey("VuaCfGcBCdbkQm-e5aOx", "ui2lp2axTNmsyakw9tvNnw");
        check(format!("apikey {example}").as_bytes(), key);
        let key = Parsed::ApiKey("VuaCfGcBCdbkQm-e5aOx", "ui2lp2axTNmsyakw9tvNnw");
        check(format!("APIKEY {example}").as_bytes(), key);
        // Java's decoder does not require padding.
        let unpadded = example.trim_end_matches('=');
        let key = Parsed::ApiKey("VuaCfGcBCdbkQm-e5aOx", "ui2lp2axTNmsyakw9tvNnw");
        check(format!("ApiKey {unpadded}").as_bytes(), key);
        // Split at the first colon; the secret may contain more, or be empty.
        check(
            format!("ApiKey {}", b64("id:se:cret")).as_bytes(),
            Parsed::ApiKey("id", "se:cret"),
        );
        check(
            format!("ApiKey {}", b64("id:")).as_bytes(),
            Parsed::ApiKey("id", ""),
        );
        check(
            format!("ApiKey {}", b64("i:s")).as_bytes(),
            Parsed::ApiKey("i", "s"),
        );
        check(
            format!("ApiKey {}", b64("ïd:sé")).as_bytes(),
            Parsed::ApiKey("ïd", "sé"),
        );
        // Invalid UTF-8 becomes U+FFFD, as in Java.
        let invalid = STANDARD.encode(b"id:\xffx");
        check(
            format!("ApiKey {invalid}").as_bytes(),
            Parsed::ApiKey("id", "\u{fffd}x"),
        );
    }

    #[test]
    fn rejects_malformed_api_keys() {
        use Parsed::InvalidApiKey as Invalid;
        check(
            format!("ApiKey {}", b64("no-colon")).as_bytes(),
            Invalid("invalid ApiKey value"),
        );
        check(
            format!("ApiKey {}", b64(":secret")).as_bytes(),
            Invalid("invalid ApiKey value"),
        );
        check(
            format!("ApiKey {}", b64(":")).as_bytes(),
            Invalid("invalid ApiKey value"),
        );
        check(
            b"ApiKey ====",
            Invalid("Input byte array has wrong 4-byte ending unit"),
        );
        // URL-safe base64 is not accepted: `_` is 0x5f, `-` is 0x2d.
        check(b"ApiKey VnVh_2Zn", Invalid("Illegal base64 character 5f"));
        check(b"ApiKey VnVh-2Zn", Invalid("Illegal base64 character 2d"));
        // The value is not trimmed.
        check(b"ApiKey  VnVh", Invalid("Illegal base64 character 20"));
        check(b"ApiKey VnVh ", Invalid("Illegal base64 character 20"));
        check(
            b"ApiKey \t",
            Invalid("Input byte[] should at least have 2 bytes for base64 bytes"),
        );
        check(
            b"ApiKey V",
            Invalid("Input byte[] should at least have 2 bytes for base64 bytes"),
        );
        check(
            b"ApiKey VnVhQ",
            Invalid("Last unit does not have enough valid bits"),
        );
        check(b"ApiKey VnVhQ2Z=", Invalid("invalid ApiKey value"));
        check(
            b"ApiKey VnVhQ2==x",
            Invalid("Input byte array has incorrect ending byte at 8"),
        );
        check(
            b"ApiKey VnVhQ2=x",
            Invalid("Input byte array has wrong 4-byte ending unit"),
        );
        // Non-ASCII bytes are reported as the UTF-8 lead byte Elasticsearch would see.
        check(b"ApiKey VnVh\xe9", Invalid("Illegal base64 character -3d"));
        check(b"ApiKey VnVh\x85", Invalid("Illegal base64 character -3e"));
    }

    #[test]
    fn parses_basic_credentials() {
        check(
            format!("Basic {}", b64("elastic:changeme")).as_bytes(),
            Parsed::Basic("elastic", "changeme"),
        );
        check(
            format!("bAsIc {}", b64("user:pa:ss")).as_bytes(),
            Parsed::Basic("user", "pa:ss"),
        );
        // Trimmed, unlike ApiKey; the user name may be empty.
        check(
            format!("Basic  {} \t", b64("u:p")).as_bytes(),
            Parsed::Basic("u", "p"),
        );
        check(
            format!("Basic {}", b64(":p")).as_bytes(),
            Parsed::Basic("", "p"),
        );
        check(
            format!("Basic {}", b64("u:")).as_bytes(),
            Parsed::Basic("u", ""),
        );
        check(
            b"Basic ",
            Parsed::InvalidBasic("invalid basic authentication header value"),
        );
        check(
            b"Basic   ",
            Parsed::InvalidBasic("invalid basic authentication header value"),
        );
        check(
            format!("Basic {}", b64("no-colon")).as_bytes(),
            Parsed::InvalidBasic("invalid basic authentication header value"),
        );
        check(
            b"Basic !!!!",
            Parsed::InvalidBasic("invalid basic authentication header encoding"),
        );
    }

    #[test]
    fn recognizes_other_schemes() {
        check(b"Bearer abc", Parsed::Bearer);
        check(b"bearer abc", Parsed::Bearer);
        check(b"Bearer ", Parsed::Other);
        check(b"ApiKey ", Parsed::Other);
        check(b"ApiKey", Parsed::Other);
        check(b"Basic", Parsed::Other);
        check(b"Bearer", Parsed::Other);
        check(b"ApiKeyVnVh", Parsed::Other);
        check(b"ApiKey\tVnVh", Parsed::Other);
        check(b"Digest abc", Parsed::Other);
        check(b"", Parsed::Other);
        check(b"\xff\xfe", Parsed::Other);
    }

    #[test]
    fn debug_never_shows_secrets() {
        let secret = ApiKeySecret::from_presented(Zeroizing::new("ui2lp2axTNmsyakw9tvNnw".into()));
        assert_eq!(format!("{secret:?}"), "ApiKeySecret(..)");
        let header = format!("ApiKey {}", b64("key-id:ui2lp2axTNmsyakw9tvNnw"));
        let credential = parse_authorization(header.as_bytes()).unwrap();
        let shown = format!("{credential:?}");
        assert_eq!(
            shown,
            r#"ApiKey(ApiKeyCredential { id: ApiKeyId("key-id"), .. })"#
        );
        let header = format!("Basic {}", b64("elastic:hunter2"));
        let credential = parse_authorization(header.as_bytes()).unwrap();
        let shown = format!("{credential:#?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("elastic"), "{shown}");
    }

    fn check_decode(input: &[u8], expected: Result<&[u8], &str>) {
        let actual = decode_base64_like_java(input);
        let actual = actual
            .as_ref()
            .map(|bytes| &bytes[..])
            .map_err(ToString::to_string);
        let expected = expected.map_err(str::to_owned);
        assert_eq!(actual, expected, "{}", String::from_utf8_lossy(input));
    }

    #[test]
    fn decoder_errors_read_like_java() {
        check_decode(b"", Ok(b""));
        check_decode(b"QQ", Ok(b"A"));
        check_decode(b"QQ==", Ok(b"A"));
        check_decode(b"QUI", Ok(b"AB"));
        check_decode(b"QUI=", Ok(b"AB"));
        check_decode(b"QUJD", Ok(b"ABC"));
        check_decode(
            b"Q",
            Err("Input byte[] should at least have 2 bytes for base64 bytes"),
        );
        check_decode(
            b"=",
            Err("Input byte[] should at least have 2 bytes for base64 bytes"),
        );
        check_decode(b"QQ=", Err("Input byte array has wrong 4-byte ending unit"));
        check_decode(
            b"QQ=A",
            Err("Input byte array has wrong 4-byte ending unit"),
        );
        check_decode(
            b"QUJD=",
            Err("Input byte array has wrong 4-byte ending unit"),
        );
        check_decode(b"==", Err("Input byte array has wrong 4-byte ending unit"));
        check_decode(b"Q===", Err("Last unit does not have enough valid bits"));
        check_decode(b"QUJDR", Err("Last unit does not have enough valid bits"));
        check_decode(
            b"QUI==",
            Err("Input byte array has incorrect ending byte at 4"),
        );
        check_decode(
            b"QQ==QQ",
            Err("Input byte array has incorrect ending byte at 4"),
        );
        check_decode(b"QQ\n=", Err("Illegal base64 character a"));
        check_decode(b"QQ\x7f=", Err("Illegal base64 character 7f"));
        check_decode(b"QQ\x80=", Err("Illegal base64 character -80"));
        check_decode(b"QQ\xff=", Err("Illegal base64 character -1"));
    }

    #[test]
    fn java_trim_strips_control_characters_and_spaces() {
        assert_eq!(java_trim(b" \t\x00ab c\r\n"), b"ab c");
        assert_eq!(java_trim(b"   "), b"");
        assert_eq!(java_trim(b""), b"");
        assert_eq!(java_trim(b"\xa0x\xa0"), b"\xa0x\xa0");
    }

    /// The decoder's rules applied one character at a time, with no fast path for whole groups.
    fn decode_one_at_a_time(input: &[u8]) -> Result<Vec<u8>, Base64Error> {
        if input.len() == 1 {
            return Err(Base64Error::TooShort);
        }
        let mut out = Vec::new();
        decode_from(input, 0, &mut out).map(|()| out)
    }

    proptest! {
        #[test]
        fn decoder_agrees_with_the_base64_crate(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let padded = STANDARD.encode(&bytes);
            prop_assert_eq!(&decode_base64_like_java(padded.as_bytes()).unwrap()[..], &bytes[..]);
            let unpadded = STANDARD_NO_PAD.encode(&bytes);
            prop_assert_eq!(&decode_base64_like_java(unpadded.as_bytes()).unwrap()[..], &bytes[..]);
        }

        #[test]
        fn whole_groups_decode_as_one_character_at_a_time(input in "[A-Za-z0-9+/= _-]{0,24}") {
            prop_assert_eq!(
                decode_base64_like_java(input.as_bytes()).map(|out| out.to_vec()),
                decode_one_at_a_time(input.as_bytes())
            );
        }

        #[test]
        fn decoder_never_panics(input in proptest::collection::vec(any::<u8>(), 0..16)) {
            let _ = decode_base64_like_java(&input);
        }

        #[test]
        fn any_id_and_secret_round_trip(id in "[^:]{1,40}", secret in ".{0,40}") {
            let id = ApiKeyId::new(id);
            let secret = ApiKeySecret::from_presented(Zeroizing::new(secret));
            let header = format!("ApiKey {}", encode_api_key(&id, &secret));
            let Ok(Credential::ApiKey(parsed)) = parse_authorization(header.as_bytes()) else {
                panic!("{header} did not parse");
            };
            prop_assert_eq!(parsed.id, id);
            prop_assert_eq!(parsed.secret.expose(), secret.expose());
        }
    }
}
