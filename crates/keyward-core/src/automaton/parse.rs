//! Patterns to syntax trees: wildcards, and Lucene regular expressions between slashes.

use super::*;

/// A parsed pattern.
#[derive(Clone, Debug)]
pub(super) enum Node {
    /// Every string.
    AnyString,
    /// One character from a set of symbol ranges (sorted, disjoint).
    Chars(Vec<(u32, u32)>),
    Complement(Box<Node>),
    Concat(Vec<Node>),
    /// Only the empty string.
    Empty,
    Intersection(Vec<Node>),
    /// No string at all.
    Nothing,
    Repeat {
        node: Box<Node>,
        min: u32,
        max: Option<u32>,
    },
    Union(Vec<Node>),
}

impl Node {
    pub(super) fn literal(c: char) -> Node {
        Node::Chars(vec![(symbol(c), symbol(c))])
    }

    pub(super) fn any_char() -> Node {
        Node::Chars(vec![(0, MAX_SYMBOL)])
    }

    pub(super) fn repeat(node: Node, min: u32, max: Option<u32>) -> Node {
        if let (Node::Chars(set), 0, None) = (&node, min, max)
            && set.as_slice() == [(0, MAX_SYMBOL)]
        {
            // `.*` is the common case and the universal state detection relies on its shape.
            return Node::AnyString;
        }
        Node::Repeat {
            node: Box::new(node),
            min,
            max,
        }
    }
}

pub(super) fn parse_pattern(pattern: &str) -> Result<Node, PatternError> {
    let Some(body) = pattern.strip_prefix('/') else {
        return Ok(wildcard(pattern));
    };
    let invalid = || PatternError::InvalidRegex {
        pattern: pattern.to_owned(),
    };
    // Elasticsearch rejects `/` alone and `/abc` (no closing slash) with the same message.
    let regex = body.strip_suffix('/').ok_or_else(invalid)?;
    RegexParser::parse(regex).map_err(|error| match error {
        ParseError::Invalid => invalid(),
        ParseError::TooComplex => PatternError::TooComplex,
    })
}

pub(super) fn wildcard(pattern: &str) -> Node {
    let mut parts = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        parts.push(match c {
            '*' => Node::AnyString,
            '?' => Node::any_char(),
            // A trailing backslash has nothing to escape and stands for itself, as in
            // Elasticsearch.
            '\\' => Node::literal(chars.next().unwrap_or('\\')),
            _ => Node::literal(c),
        });
    }
    Node::Concat(parts)
}

pub(super) enum ParseError {
    Invalid,
    TooComplex,
}

/// A node and the depth of its tree.
pub(super) type Parsed = Result<(Node, u32), ParseError>;

/// A recursive-descent parser for Lucene's `RegExp` syntax with all optional features on, as
/// Elasticsearch uses it. It follows Lucene's grammar closely, quirks included: a character that
/// cannot start an expression is a literal (`/*a/` is the string `*a`, `/)/` is `)`).
pub(super) struct RegexParser {
    pub(super) chars: Vec<char>,
    pub(super) position: usize,
    pub(super) nesting: u32,
}

impl RegexParser {
    pub(super) fn parse(regex: &str) -> Result<Node, ParseError> {
        let mut parser = RegexParser {
            chars: regex.chars().collect(),
            position: 0,
            nesting: 0,
        };
        if parser.chars.is_empty() {
            return Ok(Node::Empty);
        }
        let (node, _) = parser.union()?;
        if parser.more() {
            return Err(ParseError::Invalid);
        }
        Ok(node)
    }

    pub(super) fn more(&self) -> bool {
        self.position < self.chars.len()
    }

    pub(super) fn peek(&self) -> Option<char> {
        self.chars.get(self.position).copied()
    }

    pub(super) fn peek_in(&self, set: &str) -> bool {
        self.peek().is_some_and(|c| set.contains(c))
    }

    pub(super) fn eat(&mut self, c: char) -> bool {
        let found = self.peek() == Some(c);
        if found {
            self.position += 1;
        }
        found
    }

    pub(super) fn next(&mut self) -> Result<char, ParseError> {
        let c = self.peek().ok_or(ParseError::Invalid)?;
        self.position += 1;
        Ok(c)
    }

    pub(super) fn enter(&mut self) -> Result<(), ParseError> {
        self.nesting += 1;
        if self.nesting > MAX_DEPTH {
            return Err(ParseError::TooComplex);
        }
        Ok(())
    }

    pub(super) fn union(&mut self) -> Parsed {
        let (first, mut depth) = self.intersection()?;
        if self.peek() != Some('|') {
            return Ok((first, depth));
        }
        let mut alternatives = vec![first];
        while self.eat('|') {
            let (node, node_depth) = self.intersection()?;
            depth = depth.max(node_depth);
            alternatives.push(node);
        }
        deeper(Node::Union(alternatives), depth)
    }

    pub(super) fn intersection(&mut self) -> Parsed {
        let (first, mut depth) = self.concatenation()?;
        if self.peek() != Some('&') {
            return Ok((first, depth));
        }
        let mut operands = vec![first];
        while self.eat('&') {
            let (node, node_depth) = self.concatenation()?;
            depth = depth.max(node_depth);
            operands.push(node);
        }
        deeper(Node::Intersection(operands), depth)
    }

    pub(super) fn concatenation(&mut self) -> Parsed {
        let (first, mut depth) = self.repetition()?;
        let mut parts = vec![first];
        while self.more() && !self.peek_in(")|&") {
            let (node, node_depth) = self.repetition()?;
            depth = depth.max(node_depth);
            parts.push(node);
        }
        if parts.len() == 1
            && let Some(only) = parts.pop()
        {
            return Ok((only, depth));
        }
        deeper(Node::Concat(parts), depth)
    }

    pub(super) fn repetition(&mut self) -> Parsed {
        let (mut node, mut depth) = self.complement()?;
        while self.peek_in("?*+{") {
            let (min, max) = match self.next()? {
                '?' => (0, Some(1)),
                '*' => (0, None),
                '+' => (1, None),
                _ => {
                    let min = self.integer()?.ok_or(ParseError::Invalid)?;
                    let max = if self.eat(',') {
                        self.integer()?
                    } else {
                        Some(min)
                    };
                    if !self.eat('}') {
                        return Err(ParseError::Invalid);
                    }
                    (min, max)
                }
            };
            (node, depth) = deeper(Node::repeat(node, min, max), depth)?;
        }
        Ok((node, depth))
    }

    /// A run of ASCII digits that fits a Java `int`, as Lucene's `Integer.parseInt` demands.
    pub(super) fn integer(&mut self) -> Result<Option<u32>, ParseError> {
        let start = self.position;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.position += 1;
        }
        if start == self.position {
            return Ok(None);
        }
        let digits: String = self.chars[start..self.position].iter().collect();
        java_int(&digits).map(Some)
    }

    pub(super) fn complement(&mut self) -> Parsed {
        if !self.eat('~') {
            return self.char_class();
        }
        self.enter()?;
        let (node, depth) = self.complement()?;
        self.nesting -= 1;
        deeper(Node::Complement(Box::new(node)), depth)
    }

    pub(super) fn char_class(&mut self) -> Parsed {
        if !self.eat('[') {
            return self.simple();
        }
        let negated = self.eat('^');
        let mut ranges = self.class_item()?;
        while self.more() && self.peek() != Some(']') {
            ranges.extend(self.class_item()?);
        }
        if !self.eat(']') {
            return Err(ParseError::Invalid);
        }
        let ranges = normalize(ranges);
        let ranges = if negated {
            complement_ranges(&ranges)
        } else {
            ranges
        };
        Ok((Node::Chars(ranges), 1))
    }

    pub(super) fn class_item(&mut self) -> Result<Vec<(u32, u32)>, ParseError> {
        if let Some(ranges) = self.predefined_class()? {
            return Ok(ranges);
        }
        let lo = self.char_exp()?;
        if !self.eat('-') {
            return Ok(vec![(symbol(lo), symbol(lo))]);
        }
        let hi = self.char_exp()?;
        if lo > hi {
            return Err(ParseError::Invalid);
        }
        Ok(vec![(symbol(lo), symbol(hi))])
    }

    /// `\d`, `\s`, `\w` and their negations; `\\` is a backslash. Another escaped letter is an
    /// error; any other escaped character is left for [`RegexParser::char_exp`], with the
    /// backslash already consumed, as Lucene does.
    pub(super) fn predefined_class(&mut self) -> Result<Option<Vec<(u32, u32)>>, ParseError> {
        if !self.eat('\\') {
            return Ok(None);
        }
        let ranges = match self.peek() {
            Some('d') => vec![(u32::from('0'), u32::from('9'))],
            Some('s') => whitespace(),
            Some('w') => word(),
            Some('D') => complement_ranges(&[(u32::from('0'), u32::from('9'))]),
            Some('S') => complement_ranges(&whitespace()),
            Some('W') => complement_ranges(&word()),
            Some('\\') => vec![(symbol('\\'), symbol('\\'))],
            Some(c) if c.is_ascii_alphabetic() => return Err(ParseError::Invalid),
            _ => return Ok(None),
        };
        self.position += 1;
        Ok(Some(ranges))
    }

    pub(super) fn char_exp(&mut self) -> Result<char, ParseError> {
        self.eat('\\');
        self.next()
    }

    pub(super) fn simple(&mut self) -> Parsed {
        let node = match self.peek() {
            Some('.') => Node::any_char(),
            Some('#') => Node::Nothing,
            Some('@') => Node::AnyString,
            Some('"') => {
                self.position += 1;
                let start = self.position;
                while self.more() && self.peek() != Some('"') {
                    self.position += 1;
                }
                let text: Vec<Node> = self.chars[start..self.position]
                    .iter()
                    .map(|&c| Node::literal(c))
                    .collect();
                if !self.eat('"') {
                    return Err(ParseError::Invalid);
                }
                return Ok((Node::Concat(text), 2));
            }
            Some('(') => {
                self.position += 1;
                if self.eat(')') {
                    return Ok((Node::Empty, 1));
                }
                self.enter()?;
                let (node, depth) = self.union()?;
                self.nesting -= 1;
                if !self.eat(')') {
                    return Err(ParseError::Invalid);
                }
                return Ok((node, depth));
            }
            Some('<') => {
                self.position += 1;
                let start = self.position;
                while self.more() && self.peek() != Some('>') {
                    self.position += 1;
                }
                let text: String = self.chars[start..self.position].iter().collect();
                if !self.eat('>') {
                    return Err(ParseError::Invalid);
                }
                return interval(&text);
            }
            _ => {
                let ranges = match self.predefined_class()? {
                    Some(ranges) => ranges,
                    None => {
                        let c = self.char_exp()?;
                        return Ok((Node::literal(c), 1));
                    }
                };
                return Ok((Node::Chars(ranges), 1));
            }
        };
        self.position += 1;
        Ok((node, 1))
    }
}

/// Wraps `node`, whose children are at most `depth` deep, checking the depth limit.
pub(super) fn deeper(node: Node, depth: u32) -> Parsed {
    if depth >= MAX_DEPTH {
        return Err(ParseError::TooComplex);
    }
    Ok((node, depth + 1))
}

/// Parses like Java's `Integer.parseInt` on ASCII input: an optional `+`, digits, at most
/// `i32::MAX`.
pub(super) fn java_int(text: &str) -> Result<u32, ParseError> {
    let digits = text.strip_prefix('+').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::Invalid);
    }
    match digits.parse::<i32>() {
        Ok(value) => u32::try_from(value).map_err(|_| ParseError::Invalid),
        Err(_) => Err(ParseError::Invalid),
    }
}

pub(super) fn whitespace() -> Vec<(u32, u32)> {
    normalize(vec![(9, 10), (13, 13), (32, 32)])
}

pub(super) fn word() -> Vec<(u32, u32)> {
    normalize(vec![(48, 57), (65, 90), (95, 95), (97, 122)])
}

/// Sorts and merges ranges.
pub(super) fn normalize(mut ranges: Vec<(u32, u32)>) -> Vec<(u32, u32)> {
    ranges.sort_unstable();
    let mut merged: Vec<(u32, u32)> = Vec::with_capacity(ranges.len());
    for (lo, hi) in ranges {
        match merged.last_mut() {
            Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
            _ => merged.push((lo, hi)),
        }
    }
    merged
}

/// Every symbol not in `ranges` (sorted, disjoint).
pub(super) fn complement_ranges(ranges: &[(u32, u32)]) -> Vec<(u32, u32)> {
    let mut result = Vec::new();
    let mut next = 0;
    for &(lo, hi) in ranges {
        if lo > next {
            result.push((next, lo - 1));
        }
        next = hi + 1;
    }
    if next <= MAX_SYMBOL {
        result.push((next, MAX_SYMBOL));
    }
    result
}

/// Lucene's numeric interval `<n-m>`: decimal numbers from `n` to `m` (either order). When both
/// bounds are written with the same number of characters the numbers must have exactly that many
/// digits (zero padded); otherwise any number of leading zeros is allowed. `<name>` (a named
/// automaton) is valid Lucene syntax, but Elasticsearch provides no names, so it is an error.
pub(super) fn interval(text: &str) -> Parsed {
    let Some(dash) = text.find('-') else {
        return Err(ParseError::Invalid);
    };
    if dash == 0 || dash + 1 == text.len() || text.rfind('-') != Some(dash) {
        return Err(ParseError::Invalid);
    }
    let (low_text, high_text) = (&text[..dash], &text[dash + 1..]);
    let (mut low, mut high) = (java_int(low_text)?, java_int(high_text)?);
    if low > high {
        (low, high) = (high, low);
    }
    let digits = if low_text.len() == high_text.len() {
        low_text.len()
    } else {
        0
    };
    // An `int` has at most ten digits: wider bounds start with zeros, kept out of the tree, which
    // nests about two levels per digit.
    pub(super) const WIDTH: usize = 10;
    let node = if digits > WIDTH {
        let zeros = (digits - WIDTH) as u32;
        Node::Concat(vec![
            Node::repeat(Node::literal('0'), zeros, Some(zeros)),
            fixed_width_range(
                format!("{low:0WIDTH$}").as_bytes(),
                format!("{high:0WIDTH$}").as_bytes(),
            ),
        ])
    } else if digits > 0 {
        fixed_width_range(
            format!("{low:0digits$}").as_bytes(),
            format!("{high:0digits$}").as_bytes(),
        )
    } else {
        // Any leading zeros, then the number without them (`0` itself is the digit 0).
        let low_len = low.to_string().len();
        let high_len = high.to_string().len();
        let alternatives = (low_len..=high_len)
            .map(|len| {
                let floor = if len == 1 {
                    0
                } else {
                    10u32.pow(len as u32 - 1)
                };
                let ceiling = 10u32.saturating_pow(len as u32) - 1;
                let from = if len == low_len { low } else { floor };
                let to = if len == high_len { high } else { ceiling };
                fixed_width_range(from.to_string().as_bytes(), to.to_string().as_bytes())
            })
            .collect();
        Node::Concat(vec![
            Node::repeat(Node::literal('0'), 0, None),
            Node::Union(alternatives),
        ])
    };
    Ok((node, 2 * WIDTH as u32 + 6))
}

/// Strings of `low.len()` decimal digits from `low` to `high` (same length, `low <= high`).
pub(super) fn fixed_width_range(low: &[u8], high: &[u8]) -> Node {
    let (Some((&first_low, low_rest)), Some((&first_high, high_rest))) =
        (low.split_first(), high.split_first())
    else {
        return Node::Empty;
    };
    let width = low_rest.len() as u32;
    let any_digits = || Node::repeat(digits(b'0', b'9'), width, Some(width));
    if low_rest.iter().all(|&b| b == b'0') && high_rest.iter().all(|&b| b == b'9') {
        return Node::Concat(vec![digits(first_low, first_high), any_digits()]);
    }
    if first_low == first_high {
        return Node::Concat(vec![
            digits(first_low, first_low),
            fixed_width_range(low_rest, high_rest),
        ]);
    }
    let nines = vec![b'9'; low_rest.len()];
    let zeros = vec![b'0'; high_rest.len()];
    let mut alternatives = vec![Node::Concat(vec![
        digits(first_low, first_low),
        fixed_width_range(low_rest, &nines),
    ])];
    if first_low + 1 < first_high {
        alternatives.push(Node::Concat(vec![
            digits(first_low + 1, first_high - 1),
            any_digits(),
        ]));
    }
    alternatives.push(Node::Concat(vec![
        digits(first_high, first_high),
        fixed_width_range(&zeros, high_rest),
    ]));
    Node::Union(alternatives)
}

pub(super) fn digits(lo: u8, hi: u8) -> Node {
    Node::Chars(vec![(u32::from(lo), u32::from(hi))])
}
