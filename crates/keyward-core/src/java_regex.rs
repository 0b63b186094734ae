//! Java regular expressions (`java.util.regex.Pattern`), the syntax of Elasticsearch's
//! `certificate_identity`, checked and translated into an equivalent Rust [`regex`] pattern.
//!
//! Elasticsearch accepts any pattern `Pattern.compile` accepts. keyward accepts the subset whose
//! meaning it can reproduce exactly and translates it token by token, so that the Rust engine
//! decides what Java's would:
//!
//! - literals, `\Q…\E` quoting, the escapes `\t \n \r \f \a \e \0ooo \xhh \uhhhh \x{h…} \cX` and
//!   escaped punctuation;
//! - `.` (any character but Java's line terminators `\n \r \u0085 \u2028 \u2029`);
//! - `\d \D \w \W \s \S` with Java's ASCII meaning (Rust's are Unicode-aware, so they are spelled
//!   out);
//! - classes `[…]` and `[^…]` of literals, escapes, ranges and those shorthands;
//! - groups `(…)`, `(?:…)`, `(?<name>…)`, alternation, and the greedy and lazy quantifiers
//!   `* + ? {n} {n,} {n,m}`;
//! - `^` and `\A` (start of input), `$` as the pattern's last character and `\z`.
//!
//! Everything else Java offers is refused as unsupported rather than approximated: lookaround,
//! atomic groups and possessive quantifiers, backreferences, inline flags (`(?i)` is ASCII-only
//! in Java, Unicode in Rust), `\p{…}` (ASCII POSIX classes in Java), `\b \B \G \Z \R \h \v \X`,
//! nested classes and class intersections, `$` elsewhere (Java's `$` also matches before a final
//! line terminator). Syntax Java rejects is reported as invalid, and Rust-only syntax
//! (`[[:alpha:]]`, `[a--b]`, `(?P<n>…)`) is either invalid in Java or read with Java's meaning.

use std::fmt::Write as _;

/// Why a pattern cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JavaRegexError {
    /// `Pattern.compile` would throw.
    Invalid,
    /// Valid Java that keyward does not evaluate; names the construct.
    Unsupported(&'static str),
}

/// Translates a Java pattern into a Rust pattern with the same meaning, or says why it cannot.
pub fn translate(pattern: &str) -> Result<String, JavaRegexError> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut translator = Translator {
        chars: &chars,
        at: 0,
        out: String::with_capacity(pattern.len() * 2),
        depth: 0,
    };
    translator.sequence()?;
    if translator.at != chars.len() {
        // Only an unmatched `)` stops a top-level sequence early.
        return Err(JavaRegexError::Invalid);
    }
    Ok(translator.out)
}

use JavaRegexError::{Invalid, Unsupported};

/// Java's line terminators, which `.` does not match.
const DOT: &str = r"[^\n\r\x{85}\x{2028}\x{2029}]";
const DIGIT: &str = "0-9";
const WORD: &str = "a-zA-Z_0-9";
const SPACE: &str = r" \t\n\x0B\f\r";

/// Groups may nest this deep; deeper patterns would only exhaust the stack.
const MAX_DEPTH: usize = 100;

struct Translator<'a> {
    chars: &'a [char],
    at: usize,
    out: String,
    depth: usize,
}

impl Translator<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.at + offset).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += 1;
        Some(c)
    }

    /// Alternatives up to an unmatched `)` or the end.
    fn sequence(&mut self) -> Result<(), JavaRegexError> {
        // Whether the last thing written can take a quantifier.
        let mut quantifiable = false;
        while let Some(c) = self.peek() {
            match c {
                ')' => return Ok(()),
                '|' => {
                    self.at += 1;
                    self.out.push('|');
                    quantifiable = false;
                }
                '*' | '+' | '?' | '{' => {
                    if !quantifiable {
                        // Java: "Dangling meta character" or "Illegal repetition".
                        return Err(Invalid);
                    }
                    self.quantifier()?;
                    quantifiable = false;
                }
                _ => {
                    quantifiable = self.atom()?;
                }
            }
        }
        Ok(())
    }

    /// One atom; whether it can be quantified.
    fn atom(&mut self) -> Result<bool, JavaRegexError> {
        let Some(c) = self.next() else {
            return Ok(false);
        };
        match c {
            '(' => {
                self.group()?;
                Ok(true)
            }
            '[' => {
                self.class()?;
                Ok(true)
            }
            '.' => {
                self.out.push_str(DOT);
                Ok(true)
            }
            '^' => {
                self.out.push('^');
                Ok(false)
            }
            '$' => {
                if self.at != self.chars.len() {
                    return Err(Unsupported("$ before the end of the pattern"));
                }
                self.out.push('$');
                Ok(false)
            }
            '\\' => self.escape(),
            other => {
                self.literal(other);
                Ok(true)
            }
        }
    }

    fn group(&mut self) -> Result<(), JavaRegexError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Unsupported("groups nested more than 100 deep"));
        }
        if self.peek() == Some('?') {
            self.at += 1;
            match self.next() {
                Some(':') => {}
                Some('<') if self.peek().is_some_and(|c| c.is_ascii_alphabetic()) => {
                    // A named group: Java names are ASCII letters and digits, a letter first.
                    while let Some(c) = self.next() {
                        if c == '>' {
                            break;
                        }
                        if !c.is_ascii_alphanumeric() {
                            return Err(Invalid);
                        }
                    }
                }
                Some('=' | '!') => return Err(Unsupported("lookahead")),
                Some('<') if matches!(self.peek(), Some('=' | '!')) => {
                    return Err(Unsupported("lookbehind"));
                }
                Some('>') => return Err(Unsupported("atomic groups")),
                Some(c) if "idmsuxU-".contains(c) => return Err(Unsupported("inline flags")),
                _ => return Err(Invalid),
            }
        }
        self.out.push_str("(?:");
        self.sequence()?;
        if self.next() != Some(')') {
            // Java: "Unclosed group".
            return Err(Invalid);
        }
        self.out.push(')');
        self.depth -= 1;
        Ok(())
    }

    /// A quantifier after an atom: `*`, `+`, `?` or `{n}`, `{n,}`, `{n,m}`, then an optional lazy
    /// `?`.
    fn quantifier(&mut self) -> Result<(), JavaRegexError> {
        match self.next() {
            Some('{') => {
                let low = self.number().ok_or(Invalid)?;
                let high = if self.peek() == Some(',') {
                    self.at += 1;
                    if self.peek() == Some('}') {
                        None
                    } else {
                        Some(self.number().ok_or(Invalid)?)
                    }
                } else {
                    Some(low)
                };
                if self.next() != Some('}') {
                    return Err(Invalid);
                }
                if high.is_some_and(|high| high < low) {
                    // Java: "Illegal repetition range".
                    return Err(Invalid);
                }
                let _ = match high {
                    Some(high) if high == low => write!(self.out, "{{{low}}}"),
                    Some(high) => write!(self.out, "{{{low},{high}}}"),
                    None => write!(self.out, "{{{low},}}"),
                };
            }
            Some(c) => self.out.push(c),
            None => return Err(Invalid),
        }
        match self.peek() {
            Some('?') => {
                self.at += 1;
                self.out.push('?');
            }
            Some('+') => return Err(Unsupported("possessive quantifiers")),
            _ => {}
        }
        if matches!(self.peek(), Some('*' | '+' | '?' | '{')) {
            return Err(Unsupported("a quantifier on a quantifier"));
        }
        Ok(())
    }

    /// Decimal digits (at most 9, so the value fits); `None` when there are none.
    fn number(&mut self) -> Option<u32> {
        let start = self.at;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) && self.at - start < 9 {
            self.at += 1;
        }
        if self.peek().is_some_and(|c| c.is_ascii_digit()) {
            return None;
        }
        self.chars[start..self.at]
            .iter()
            .collect::<String>()
            .parse()
            .ok()
    }

    /// The escape after `\` outside a class.
    fn escape(&mut self) -> Result<bool, JavaRegexError> {
        let c = self.next().ok_or(Invalid)?;
        match c {
            'd' | 'D' | 'w' | 'W' | 's' | 'S' => {
                let (set, negated) = shorthand(c);
                let _ = write!(self.out, "[{}{set}]", if negated { "^" } else { "" });
                Ok(true)
            }
            'A' => {
                self.out.push_str(r"\A");
                Ok(false)
            }
            'z' => {
                self.out.push_str(r"\z");
                Ok(false)
            }
            'Q' => {
                // Everything up to `\E` (or the end) is literal.
                while let Some(c) = self.next() {
                    if c == '\\' && self.peek() == Some('E') {
                        self.at += 1;
                        break;
                    }
                    self.literal(c);
                }
                Ok(true)
            }
            'b' | 'B' => Err(Unsupported("word boundaries")),
            'G' | 'Z' => Err(Unsupported("\\G and \\Z")),
            'p' | 'P' => Err(Unsupported("character properties")),
            'k' | '1'..='9' => Err(Unsupported("backreferences")),
            'R' | 'X' | 'h' | 'H' | 'v' | 'V' | 'N' => {
                Err(Unsupported("\\R, \\X, \\h, \\v and \\N"))
            }
            other => {
                let literal = self.escaped_char(other)?;
                self.literal(literal);
                Ok(true)
            }
        }
    }

    /// The character a literal escape stands for (after `\` and its first letter `c`).
    fn escaped_char(&mut self, c: char) -> Result<char, JavaRegexError> {
        Ok(match c {
            't' => '\t',
            'n' => '\n',
            'r' => '\r',
            'f' => '\u{c}',
            'a' => '\u{7}',
            'e' => '\u{1b}',
            '0' => {
                // One to three octal digits, at most \0377.
                let mut value = 0u32;
                let mut digits = 0;
                while digits < 3
                    && let Some(digit) = self.peek().and_then(|c| c.to_digit(8))
                {
                    if digits == 2 && value > 0o37 {
                        break;
                    }
                    value = value * 8 + digit;
                    digits += 1;
                    self.at += 1;
                }
                if digits == 0 {
                    return Err(Invalid);
                }
                char::from_u32(value).ok_or(Invalid)?
            }
            'x' if self.peek() == Some('{') => {
                self.at += 1;
                let mut value = 0u32;
                let mut digits = 0;
                loop {
                    let c = self.next().ok_or(Invalid)?;
                    if c == '}' {
                        break;
                    }
                    let digit = c.to_digit(16).ok_or(Invalid)?;
                    value = value.checked_mul(16).ok_or(Invalid)? + digit;
                    digits += 1;
                }
                if digits == 0 {
                    return Err(Invalid);
                }
                char::from_u32(value).ok_or(Invalid)?
            }
            'x' => self.hex(2)?,
            'u' => self.hex(4)?,
            'c' => {
                let control = self.next().ok_or(Invalid)?;
                char::from_u32(u32::from(control) ^ 64).ok_or(Invalid)?
            }
            // Java rejects escaped letters it does not define.
            c if c.is_ascii_alphabetic() => return Err(Invalid),
            c if c.is_ascii_digit() => return Err(Invalid),
            other => other,
        })
    }

    fn hex(&mut self, digits: usize) -> Result<char, JavaRegexError> {
        let mut value = 0u32;
        for _ in 0..digits {
            let digit = self.next().and_then(|c| c.to_digit(16)).ok_or(Invalid)?;
            value = value * 16 + digit;
        }
        // A lone surrogate cannot be a `char`; Java would match nothing real with it either.
        char::from_u32(value).ok_or(Unsupported("surrogate code units"))
    }

    /// A class after `[`: literals, escapes, ranges and shorthands.
    fn class(&mut self) -> Result<(), JavaRegexError> {
        let mut items = String::new();
        let negated = self.peek() == Some('^');
        if negated {
            self.at += 1;
        }
        let mut empty = true;
        loop {
            let c = self.next().ok_or(Invalid)?;
            let start = match c {
                ']' if !empty => break,
                ']' => return Err(Unsupported("] first in a class")),
                '[' => return Err(Unsupported("nested classes")),
                '&' if self.peek() == Some('&') => {
                    return Err(Unsupported("class intersections"));
                }
                '\\' => {
                    let escaped = self.next().ok_or(Invalid)?;
                    match escaped {
                        'd' | 'D' | 'w' | 'W' | 's' | 'S' => {
                            let (set, negated) = shorthand(escaped);
                            if negated {
                                return Err(Unsupported("negated shorthands inside classes"));
                            }
                            items.push_str(set);
                            empty = false;
                            continue;
                        }
                        'Q' => return Err(Unsupported("\\Q inside classes")),
                        'b' | 'B' | 'p' | 'P' | 'k' | 'R' | 'X' | 'h' | 'H' | 'v' | 'V' | 'N'
                        | 'A' | 'z' | 'Z' | 'G' => {
                            return Err(Unsupported("this escape inside classes"));
                        }
                        other => self.escaped_char(other)?,
                    }
                }
                other => other,
            };
            empty = false;
            // A range `a-z`, unless `-` is last (then it is literal).
            if self.peek() == Some('-') && !matches!(self.peek_at(1), Some(']') | None) {
                self.at += 1;
                let end = match self.next().ok_or(Invalid)? {
                    '[' => return Err(Unsupported("nested classes")),
                    '\\' => {
                        let escaped = self.next().ok_or(Invalid)?;
                        if escaped.is_ascii_alphabetic()
                            && !matches!(
                                escaped,
                                't' | 'n' | 'r' | 'f' | 'a' | 'e' | 'x' | 'u' | 'c'
                            )
                        {
                            return Err(Invalid);
                        }
                        self.escaped_char(escaped)?
                    }
                    other => other,
                };
                if end < start {
                    // Java: "Illegal character range".
                    return Err(Invalid);
                }
                push_class_char(&mut items, start);
                items.push('-');
                push_class_char(&mut items, end);
            } else {
                push_class_char(&mut items, start);
            }
        }
        let _ = write!(self.out, "[{}{items}]", if negated { "^" } else { "" });
        Ok(())
    }

    fn literal(&mut self, c: char) {
        let mut buffer = [0u8; 4];
        self.out
            .push_str(&regex::escape(c.encode_utf8(&mut buffer)));
    }
}

/// The ASCII set of a shorthand class and whether it is negated.
fn shorthand(c: char) -> (&'static str, bool) {
    match c {
        'd' => (DIGIT, false),
        'D' => (DIGIT, true),
        'w' => (WORD, false),
        'W' => (WORD, true),
        's' => (SPACE, false),
        _ => (SPACE, true),
    }
}

/// A character inside a Rust class, escaped so it is never an operator.
fn push_class_char(items: &mut String, c: char) {
    if c.is_ascii_alphanumeric() || (!c.is_ascii() && !c.is_control()) {
        items.push(c);
    } else {
        let _ = write!(items, "\\x{{{:x}}}", u32::from(c));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, text: &str) -> bool {
        let translated = translate(pattern).unwrap();
        regex::Regex::new(&format!("^(?:{translated})$"))
            .unwrap()
            .is_match(text)
    }

    #[test]
    fn translated_patterns_mean_what_java_means() {
        let cases = [
            ("CN=remote,OU=.*", "CN=remote,OU=a", true),
            ("CN=remote", "CN=other", false),
            ("CN=node-\\d+,O=example", "CN=node-12,O=example", true),
            // Java's \d is ASCII only.
            ("\\d", "٣", false),
            ("\\w+", "é", false),
            ("\\s", "\u{a0}", false),
            // `.` skips every Java line terminator.
            (".", "\r", false),
            (".", "\u{2028}", false),
            (".", "é", true),
            ("a.c", "a.c", true),
            ("a\\.c", "abc", false),
            ("\\Qa.b*\\E", "a.b*", true),
            ("\\Qa.b*\\E", "axbb", false),
            ("[a-c]+", "abca", true),
            ("[^a-c]", "d", true),
            ("[^a-c]", "a", false),
            ("[a-]", "-", true),
            ("[\\d_]+", "1_2", true),
            ("[.]", "x", false),
            ("[$^]+", "$^", true),
            ("(a|b){2,3}", "aba", true),
            ("(a|b){2,3}", "abab", false),
            ("(?<cn>CN)=x", "CN=x", true),
            ("(?:a)?b", "b", true),
            ("a*?b", "aab", true),
            ("^CN=x$", "CN=x", true),
            ("\\u0041\\x42\\x{43}\\0104", "ABCD", true),
            ("\\t", "\t", true),
            ("a\\-b", "a-b", true),
            ("}]", "}]", true),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(matches(pattern, text), expected, "{pattern:?} ~ {text:?}");
        }
    }

    #[test]
    fn invalid_java_is_invalid() {
        for pattern in [
            "(", ")", "a)", "*a", "a|*", "a{", "{1}", "a{2,1}", "[a", "[z-a]", "\\", "\\y", "\\i",
            "(?<1a>x)", "\\x4", "\\u12", "a**", "\\0", "(?P<n>x)",
        ] {
            assert!(translate(pattern).is_err(), "{pattern:?}");
        }
        assert_eq!(translate("(?P<n>x)"), Err(Invalid));
        assert_eq!(translate("\\y"), Err(Invalid));
        assert_eq!(translate("a{2,1}"), Err(Invalid));
    }

    #[test]
    fn java_only_features_are_unsupported() {
        for (pattern, feature) in [
            ("(?=a)a", "lookahead"),
            ("(?!a)b", "lookahead"),
            ("(?<=a)b", "lookbehind"),
            ("(?<!a)b", "lookbehind"),
            ("(?>a)", "atomic groups"),
            ("a*+", "possessive quantifiers"),
            ("(a)\\1", "backreferences"),
            ("(?i)cn=x", "inline flags"),
            ("\\p{Lower}", "character properties"),
            ("\\bCN", "word boundaries"),
            ("a$b", "$ before the end of the pattern"),
            ("[a[b]]", "nested classes"),
            ("[a-z&&[^b]]", "class intersections"),
        ] {
            assert_eq!(translate(pattern), Err(Unsupported(feature)), "{pattern:?}");
        }
    }

    #[test]
    fn rust_only_syntax_keeps_its_java_meaning() {
        // In Java `[[:alpha:]]` is a nested class (refused here), `[a--b]` a range from `a` down
        // to `-` (invalid), and `~~` two tildes, not Rust's symmetric difference.
        assert_eq!(translate("[a--b]"), Err(Invalid));
        assert_eq!(translate("[[:alpha:]]"), Err(Unsupported("nested classes")));
        assert!(matches("[a~~b]", "~"));
        assert!(!matches("[ab~~]", "c"));
    }
}
