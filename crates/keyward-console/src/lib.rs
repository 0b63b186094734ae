//! keyward's web console as static files: the HTML page, its JavaScript modules and its style
//! sheet, embedded in the binary at compile time, so a release build serves them offline with
//! nothing to install or fetch.
//!
//! The console is a client of keyward's public REST API like any other: everything it shows or
//! changes goes through the signed-in caller's own requests. This crate knows nothing of the
//! service, the store or HTTP; `keyward-http` serves what [`asset`] finds, with the headers.

/// One embedded file.
#[derive(Debug)]
pub struct Asset {
    /// The file name below the console's path (`app.js`); the page itself is `index.html`.
    pub name: &'static str,
    /// Its media type, with the charset of text files.
    pub content_type: &'static str,
    /// The bytes as served.
    pub bytes: &'static [u8],
    /// A strong entity tag made from the bytes at compile time (quoted, as the header takes it).
    pub etag: &'static str,
}

/// The page, when the path names no file (`/_keyward/console/`).
pub const INDEX: &str = "index.html";

/// The file named `name` (a single path segment, no directories), if the console has one.
pub fn asset(name: &str) -> Option<&'static Asset> {
    let name = if name.is_empty() { INDEX } else { name };
    ASSETS.iter().find(|asset| asset.name == name)
}

/// Every embedded file.
pub fn assets() -> &'static [Asset] {
    ASSETS
}

const HTML: &str = "text/html; charset=utf-8";
const JAVASCRIPT: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const SVG: &str = "image/svg+xml";

/// An embedded file with its media type; its tag is computed from the bytes by the compiler.
macro_rules! embed {
    ($name:literal, $content_type:expr) => {{
        const BYTES: &[u8] = include_bytes!(concat!("../assets/", $name));
        const TAG: [u8; 18] = etag(BYTES);
        Asset {
            name: $name,
            content_type: $content_type,
            bytes: BYTES,
            etag: match std::str::from_utf8(&TAG) {
                Ok(text) => text,
                // The tag is quotes around hex digits: always UTF-8.
                Err(_) => "\"0\"",
            },
        }
    }};
}

static ASSETS: &[Asset] = &[
    embed!("index.html", HTML),
    embed!("style.css", CSS),
    embed!("icon.svg", SVG),
    embed!("app.js", JAVASCRIPT),
    embed!("api.js", JAVASCRIPT),
    embed!("search.js", JAVASCRIPT),
    embed!("ui.js", JAVASCRIPT),
    embed!("keys.js", JAVASCRIPT),
    embed!("create.js", JAVASCRIPT),
    embed!("details.js", JAVASCRIPT),
    embed!("users.js", JAVASCRIPT),
    embed!("roles.js", JAVASCRIPT),
];

/// `"<16 hex digits>"`: the 64-bit FNV-1a hash of `bytes`, quoted. Not a security measure, only
/// a cache validator: any change to a file changes its tag.
const fn etag(bytes: &[u8]) -> [u8; 18] {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut index = 0;
    while index < bytes.len() {
        hash ^= bytes[index] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        index += 1;
    }
    let digits = b"0123456789abcdef";
    let mut tag = [b'"'; 18];
    let mut position = 0;
    while position < 16 {
        let nibble = (hash >> (60 - 4 * position)) & 0xf;
        tag[1 + position] = digits[nibble as usize];
        position += 1;
    }
    tag
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_is_found_by_its_name_and_the_page_by_the_empty_name() {
        for file in assets() {
            assert_eq!(asset(file.name).map(|found| found.name), Some(file.name));
        }
        assert_eq!(asset("").map(|found| found.name), Some(INDEX));
        assert!(asset("missing.js").is_none());
        assert!(asset("../Cargo.toml").is_none());
    }

    #[test]
    fn tags_are_quoted_hex_and_differ_between_files() {
        let mut tags: Vec<&str> = assets().iter().map(|file| file.etag).collect();
        for tag in &tags {
            assert_eq!(tag.len(), 18);
            assert!(tag.starts_with('"') && tag.ends_with('"'));
            assert!(tag[1..17].bytes().all(|byte| byte.is_ascii_hexdigit()));
        }
        tags.sort_unstable();
        tags.dedup();
        assert_eq!(tags.len(), assets().len());
    }
}
