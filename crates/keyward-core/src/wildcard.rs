//! The one wildcard matcher: `*` stands for any run of characters (none included), `?` for
//! exactly one character, and `\` makes the next character literal (a trailing `\` stands for
//! itself, as in Elasticsearch). Characters are Unicode scalar values and comparison is exact.
//!
//! Matching is iterative with a single resume point (the last `*` seen): each text position is
//! tried at most once per pattern position, so the cost is at most pattern length × text length
//! and never exponential, whatever the number of stars. It allocates nothing, so the request path
//! can use it for action names. Sets of patterns that must be compared with each other are
//! compiled by [`crate::automaton`] instead.

/// One element of a wildcard pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    /// Any run of characters.
    AnyRun,
    /// Exactly one character.
    AnyChar,
    /// This character.
    Char(char),
}

/// Whether `text` matches the wildcard `pattern` as a whole.
pub fn matches(pattern: &str, text: &str) -> bool {
    matches_with(pattern, text, token)
}

/// Whether `text` matches `pattern` where only `*` is special (`?` and `\` stand for
/// themselves): Elasticsearch's `Glob.globMatch`, which `filter_path` uses.
pub fn matches_stars_only(pattern: &str, text: &str) -> bool {
    matches_with(pattern, text, star_token)
}

/// The matcher, over the tokens `token` reads from the pattern.
fn matches_with(
    pattern: &str,
    text: &str,
    token: fn(&str, usize) -> Option<(Token, usize)>,
) -> bool {
    let mut pattern_at = 0;
    let mut text_at = 0;
    // After a `*`: where the pattern continues, and the text position the star's run ends at.
    let mut resume: Option<(usize, usize)> = None;
    loop {
        match token(pattern, pattern_at) {
            Some((Token::AnyRun, next)) => {
                resume = Some((next, text_at));
                pattern_at = next;
                continue;
            }
            Some((wanted, next)) => {
                if let Some(c) = text[text_at..].chars().next()
                    && (wanted == Token::AnyChar || wanted == Token::Char(c))
                {
                    pattern_at = next;
                    text_at += c.len_utf8();
                    continue;
                }
            }
            None if text_at == text.len() => return true,
            None => {}
        }
        // A mismatch: let the last star swallow one more character and try again from there.
        let Some((after_star, run_end)) = resume else {
            return false;
        };
        let Some(c) = text[run_end..].chars().next() else {
            return false;
        };
        let run_end = run_end + c.len_utf8();
        resume = Some((after_star, run_end));
        pattern_at = after_star;
        text_at = run_end;
    }
}

/// `text` as a wildcard pattern that matches exactly itself.
pub fn escape(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern
}

/// The token at byte `at` of a pattern where only `*` is special.
fn star_token(pattern: &str, at: usize) -> Option<(Token, usize)> {
    let c = pattern[at..].chars().next()?;
    let after = at + c.len_utf8();
    Some(match c {
        '*' => (Token::AnyRun, after),
        other => (Token::Char(other), after),
    })
}

/// The token at byte `at` of `pattern` and the byte where the next one starts.
fn token(pattern: &str, at: usize) -> Option<(Token, usize)> {
    let mut chars = pattern[at..].chars();
    let c = chars.next()?;
    let after = at + c.len_utf8();
    Some(match c {
        '*' => (Token::AnyRun, after),
        '?' => (Token::AnyChar, after),
        '\\' => match chars.next() {
            Some(escaped) => (Token::Char(escaped), after + escaped.len_utf8()),
            None => (Token::Char('\\'), after),
        },
        other => (Token::Char(other), after),
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The definition, by exhaustive backtracking over tokens: slow, obviously right.
    fn oracle(pattern: &[Token], text: &[char]) -> bool {
        match pattern.split_first() {
            None => text.is_empty(),
            Some((Token::AnyRun, rest)) => (0..=text.len()).any(|skip| oracle(rest, &text[skip..])),
            Some((Token::AnyChar, rest)) => !text.is_empty() && oracle(rest, &text[1..]),
            Some((Token::Char(c), rest)) => text.first() == Some(c) && oracle(rest, &text[1..]),
        }
    }

    fn tokens(pattern: &str) -> Vec<Token> {
        let mut at = 0;
        let mut out = Vec::new();
        while let Some((token, next)) = token(pattern, at) {
            out.push(token);
            at = next;
        }
        out
    }

    #[test]
    fn matches_stars_marks_and_escapes() {
        let cases = [
            ("", "", true),
            ("", "a", false),
            ("*", "", true),
            ("*", "anything", true),
            ("cluster:*", "cluster:monitor/health", true),
            ("*/get", "cluster:admin/xpack/security/role/get", true),
            ("cluster:monitor/*", "cluster:admin/api_key/create", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("u?er*", "user", true),
            ("abc", "abcd", false),
            ("a\\*", "a*", true),
            ("a\\*", "ab", false),
            ("a\\?", "a?", true),
            ("a\\?", "ab", false),
            ("a\\\\", "a\\", true),
            ("a\\", "a\\", true),
            ("?", "é", true),
            ("?", "😀", true),
            ("*é*", "café au lait", true),
            ("*a*b", "aaab", true),
            ("*a*b", "aaaa", false),
            ("a*b*c", "abcbc", true),
            ("a*b*c", "acb", false),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(matches(pattern, text), expected, "{pattern:?} ~ {text:?}");
        }
    }

    #[test]
    fn stars_only_leaves_marks_and_backslashes_literal() {
        assert!(matches_stars_only("api_keys.*.id", "api_keys.0.id"));
        assert!(matches_stars_only("*", "anything"));
        assert!(matches_stars_only("a?c", "a?c"));
        assert!(!matches_stars_only("a?c", "abc"));
        assert!(matches_stars_only("a\\*", "a\\b"));
        assert!(!matches_stars_only(
            "*a*a*a*a*a*a*a*a*a*a*b",
            &"a".repeat(10_000)
        ));
    }

    #[test]
    fn escape_round_trips() {
        for text in ["", "plain", "a*b?c\\d", "***", "\\"] {
            assert!(matches(&escape(text), text), "{text:?}");
            assert!(!matches(&escape(text), &format!("{text}x")), "{text:?}");
        }
    }

    #[test]
    fn many_stars_against_a_long_run_is_not_exponential() {
        // A backtracking matcher tries on the order of C(n, 10) splits here.
        let pattern = "*a*a*a*a*a*a*a*a*a*a*b";
        let text = "a".repeat(10_000);
        assert!(!matches(pattern, &text));
        assert!(matches(pattern, &format!("{text}b")));
    }

    proptest! {
        #[test]
        fn agrees_with_backtracking(
            pattern in "[ab*?\\\\]{0,8}",
            text in "[ab*?\\\\]{0,8}",
        ) {
            let chars: Vec<char> = text.chars().collect();
            prop_assert_eq!(matches(&pattern, &text), oracle(&tokens(&pattern), &chars));
        }
    }
}
