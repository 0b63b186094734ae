//! Exact automata over Elasticsearch name patterns: index names, action names and anything else a
//! role descriptor names by pattern.
//!
//! A pattern is a plain name, a wildcard pattern where `*` stands for any (possibly empty) run of
//! characters, `?` for exactly one and `\` escapes the next character, or a Lucene regular
//! expression between slashes (`/logs-[0-9]+/`). A set of patterns denotes the union of their
//! languages. Elasticsearch compiles such sets into automata and asks two questions of them: does
//! a name match, and does one set grant nothing beyond another (the limited-by check).
//! [`Automaton`] answers both exactly: it is a minimal deterministic automaton, so intersection,
//! difference and the subset test decide the languages themselves, never an approximation.
//!
//! How it is built: each pattern is parsed into a small syntax tree, the trees become one Thompson
//! NFA whose transitions carry character ranges (so `*` is one transition, not one per
//! character), the subset construction makes it deterministic and Valmari's partition refinement
//! (Hopcroft's algorithm for partial automata) minimises it. Intersection and complement inside a
//! regular expression (`&`, `~`) are computed on the minimal automata of their operands and
//! spliced back into the NFA. Every stage has a budget: patterns whose automaton would be too large
//! fail with [`PatternError::TooComplex`] rather than running away with memory or time.
//!
//! The alphabet is Unicode scalar values: `?` and `.` match one `char`, whatever its UTF-8 length,
//! and matching is case-sensitive. Elasticsearch reads wildcard patterns by UTF-16 code unit, so
//! there a wildcard pattern holding a literal character outside the Basic Multilingual Plane never
//! matches; here it matches that character.

use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::rc::Rc;
use std::sync::Arc;

/// The most states one deterministic automaton may have, during construction or after it: the
/// default of Elasticsearch's `xpack.security.automata.max_determinized_states`.
pub const MAX_STATES: usize = 100_000;

/// The most pairs of states a subset test may visit.
const MAX_PAIRS: usize = 10 * MAX_STATES;
/// The most NFA states one compilation may create (`a{1000}{1000}` would need a million).
const MAX_NFA_STATES: usize = 1_000_000;
/// The most range transitions one automaton may hold, and the most single-class transitions
/// minimisation may expand them into.
const MAX_TRANSITIONS: usize = 4_000_000;
/// The most NFA states and transitions the subset construction may visit in total.
const MAX_WORK: usize = 50_000_000;
/// The deepest a regular expression may nest groups, complements and repetitions; deeper ones
/// would only exhaust the stack.
const MAX_DEPTH: u32 = 100;

/// The automaton work one request may do in all ([`with_request_budget`]). A role with a
/// thousand wildcard index patterns takes about 160 000; the largest single regular expression
/// below [`MAX_STATES`] about 6 million (around a second of CPU in an unoptimised build).
pub const REQUEST_WORK: usize = 10_000_000;

thread_local! {
    /// The budget of the request running on this thread, when one is set.
    static BUDGET: Cell<Option<Budget>> = const { Cell::new(None) };
}

/// Work left, and whether some construction was refused for want of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Budget {
    left: usize,
    exhausted: bool,
}

/// Puts the enclosing budget back when a scope ends, even by unwinding.
struct RestoreBudget(Option<Budget>);

impl Drop for RestoreBudget {
    fn drop(&mut self) {
        BUDGET.set(self.0);
    }
}

/// Runs `f` with one budget of `work` steps shared by every automaton built, combined or
/// compared in it (subset construction, products, minimisation, subset tests), so that a request
/// holding many patterns cannot multiply the per-automaton limits. Once the budget is spent every
/// further construction fails with [`PatternError::TooComplex`]. Returns `f`'s result and whether
/// the budget ran out. Nested calls keep the inner budget for their extent.
pub fn with_request_budget<R>(work: usize, f: impl FnOnce() -> R) -> (R, bool) {
    let restore = RestoreBudget(BUDGET.replace(Some(Budget {
        left: work,
        exhausted: false,
    })));
    let result = f();
    let exhausted = BUDGET.get().is_some_and(|budget| budget.exhausted);
    drop(restore);
    (result, exhausted)
}

/// Runs `f` outside any request budget: for automata built once and shared by every later
/// request (the predefined privilege tables), which must never be cut short by the request that
/// happens to build them first.
pub fn without_budget<R>(f: impl FnOnce() -> R) -> R {
    let _restore = RestoreBudget(BUDGET.replace(None));
    f()
}

/// Takes `steps` from the current request's budget, if one is set.
fn charge(steps: usize) -> Result<(), PatternError> {
    match BUDGET.get() {
        None => Ok(()),
        Some(budget) if steps <= budget.left => {
            BUDGET.set(Some(Budget {
                left: budget.left - steps,
                exhausted: budget.exhausted,
            }));
            Ok(())
        }
        Some(_) => {
            BUDGET.set(Some(Budget {
                left: 0,
                exhausted: true,
            }));
            Err(PatternError::TooComplex)
        }
    }
}

/// Characters are numbered densely, with the surrogate gap (never a `char`) squeezed out, so that a
/// complement or a negated class never contains a symbol no string can hold.
const FIRST_SURROGATE: u32 = 0xD800;
const SURROGATE_COUNT: u32 = 0x800;
const MAX_SYMBOL: u32 = char::MAX as u32 - SURROGATE_COUNT;

/// No state: a missing transition, or the dead half of a product pair.
const DEAD: u32 = u32::MAX;

/// Why a set of patterns could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// A pattern starts with `/` but is not a Lucene regular expression between slashes. The
    /// message is the one Elasticsearch's role validation gives.
    #[error("invalid regular expression pattern [{pattern}]")]
    InvalidRegex {
        /// The whole pattern, slashes included.
        pattern: String,
    },
    /// The automaton would exceed [`MAX_STATES`] states, or a construction budget of the same
    /// order (NFA size, transitions, work, nesting depth).
    #[error("pattern too complex")]
    TooComplex,
}

/// A set of names given by patterns, compiled into a minimal deterministic automaton over Unicode
/// characters.
///
/// Cloning is cheap: clones share one immutable automaton. Every value is minimal and in a
/// canonical numbering, so two automata accept the same names exactly when they are equal.
#[derive(Clone)]
pub struct Automaton {
    dfa: Arc<Dfa>,
    /// The state that accepts every continuation, or [`DEAD`]: a walk that reaches it is done.
    universal: u32,
}

impl Automaton {
    /// The union of `patterns`, each a plain name, a wildcard pattern (`*`, `?`, `\` escapes) or a
    /// Lucene regular expression between slashes. No patterns at all give the empty set.
    pub fn from_patterns(
        patterns: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> Result<Automaton, PatternError> {
        let mut alternatives = Vec::new();
        for pattern in patterns {
            alternatives.push(parse_pattern(pattern.as_ref())?);
        }
        if alternatives.is_empty() {
            return Ok(Automaton::empty());
        }
        Ok(Automaton::new(compile(&Node::Union(alternatives))?))
    }

    /// The automaton that accepts nothing.
    pub fn empty() -> Automaton {
        Automaton::new(Dfa::empty())
    }

    /// The automaton that accepts every name, the empty one included.
    pub fn any() -> Automaton {
        Automaton::new(Dfa::total())
    }

    /// Whether `name` is in the set: one walk through the automaton, no allocation.
    pub fn matches(&self, name: &str) -> bool {
        let dfa = &*self.dfa;
        let mut state = 0;
        for c in name.chars() {
            if state == self.universal {
                return true;
            }
            match dfa.step(state, symbol(c)) {
                Some(next) => state = next,
                None => return false,
            }
        }
        dfa.accepting[state as usize]
    }

    /// The names in either set.
    pub fn union(&self, other: &Automaton) -> Result<Automaton, PatternError> {
        if self.is_total() || other.is_empty() {
            return Ok(self.clone());
        }
        if other.is_total() || self.is_empty() {
            return Ok(other.clone());
        }
        Ok(Automaton::new(product(
            &self.dfa,
            &other.dfa,
            Operation::Union,
        )?))
    }

    /// The names in both sets.
    pub fn intersection(&self, other: &Automaton) -> Result<Automaton, PatternError> {
        if self.is_empty() || other.is_total() {
            return Ok(self.clone());
        }
        if other.is_empty() || self.is_total() {
            return Ok(other.clone());
        }
        Ok(Automaton::new(product(
            &self.dfa,
            &other.dfa,
            Operation::Intersection,
        )?))
    }

    /// The names in this set and not in `other`.
    pub fn minus(&self, other: &Automaton) -> Result<Automaton, PatternError> {
        if self.is_empty() || other.is_empty() {
            return Ok(self.clone());
        }
        if other.is_total() {
            return Ok(Automaton::empty());
        }
        Ok(Automaton::new(product(
            &self.dfa,
            &other.dfa,
            Operation::Minus,
        )?))
    }

    /// Whether the set has no names at all.
    pub fn is_empty(&self) -> bool {
        // The minimal automaton of the empty set is one rejecting state without transitions.
        self.dfa.len() == 1 && !self.dfa.accepting[0] && self.dfa.transitions.is_empty()
    }

    /// Whether the set has every name, the empty one included.
    pub fn is_total(&self) -> bool {
        self.dfa.len() == 1 && self.dfa.is_universal(0)
    }

    /// Whether every name in this set is also in `other`: exact, except for automata so large
    /// and unrelated that the walk over pairs of states would exceed its budget (ten times
    /// [`MAX_STATES`] pairs), where it answers `false`, the safe answer for authorization. See
    /// [`Automaton::try_subset_of`] to tell the two apart.
    pub fn subset_of(&self, other: &Automaton) -> bool {
        self.try_subset_of(other).unwrap_or(false)
    }

    /// Whether every name in this set is also in `other`, decided exactly: a walk over pairs of
    /// states looking for a name this set accepts and `other` rejects. It builds no automaton;
    /// it fails with [`PatternError::TooComplex`] rather than visit more than ten times
    /// [`MAX_STATES`] pairs.
    pub fn try_subset_of(&self, other: &Automaton) -> Result<bool, PatternError> {
        if self.is_empty() || other.is_total() || self.equivalent(other) {
            return Ok(true);
        }
        let (a, b) = (&*self.dfa, &*other.dfa);
        let mut seen = HashSet::from([(0u32, 0u32)]);
        let mut stack = vec![(0u32, 0u32)];
        while let Some((x, y)) = stack.pop() {
            if a.accepting[x as usize] && !b.accepting[y as usize] {
                return Ok(false);
            }
            let mut escapes = false;
            for_each_segment(a.out(x), b.out(y), |_, _, next_a, next_b| {
                match (next_a, next_b) {
                    // Every state of a minimal automaton leads to an accepting one, so a name
                    // that leaves `other` while staying in this set can be completed to one this
                    // set accepts and `other` rejects.
                    (Some(_), None) => escapes = true,
                    (Some(next_a), Some(next_b)) => {
                        if seen.insert((next_a, next_b)) {
                            stack.push((next_a, next_b));
                        }
                    }
                    (None, _) => {}
                }
            });
            if escapes {
                return Ok(false);
            }
            charge(1)?;
            if seen.len() > MAX_PAIRS {
                return Err(PatternError::TooComplex);
            }
        }
        Ok(true)
    }

    /// Whether both sets have exactly the same names.
    pub fn equivalent(&self, other: &Automaton) -> bool {
        // Minimal automata in canonical numbering are equal exactly when their languages are.
        Arc::ptr_eq(&self.dfa, &other.dfa) || self.dfa == other.dfa
    }

    /// The number of states of the minimal automaton, a measure of its size.
    pub fn state_count(&self) -> usize {
        self.dfa.len()
    }

    fn new(dfa: Dfa) -> Automaton {
        let universal = dfa.universal_state().unwrap_or(DEAD);
        Automaton {
            dfa: Arc::new(dfa),
            universal,
        }
    }
}

impl fmt::Debug for Automaton {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Automaton")
            .field("states", &self.dfa.len())
            .field("transitions", &self.dfa.transitions.len())
            .finish_non_exhaustive()
    }
}

/// The number of `c` in the dense alphabet.
fn symbol(c: char) -> u32 {
    let code = u32::from(c);
    if code < FIRST_SURROGATE {
        code
    } else {
        code - SURROGATE_COUNT
    }
}

/// All symbols from `lo` to `hi` lead to `target`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Transition {
    lo: u32,
    hi: u32,
    target: u32,
}

/// A deterministic automaton; state 0 is the start.
///
/// Invariants: `offsets` has one entry per state plus one, and the transitions of state `s` are
/// `transitions[offsets[s]..offsets[s + 1]]`, sorted by `lo`, disjoint, each `target` a state.
/// Automata handed out by [`Automaton`] are also trimmed (every state is reachable and leads to an
/// accepting state), minimal, numbered in breadth-first order with adjacent ranges to the same
/// target merged: that form is unique per language.
#[derive(Clone, PartialEq, Eq)]
struct Dfa {
    accepting: Vec<bool>,
    offsets: Vec<u32>,
    transitions: Vec<Transition>,
}

impl Dfa {
    fn empty() -> Dfa {
        Dfa {
            accepting: vec![false],
            offsets: vec![0, 0],
            transitions: Vec::new(),
        }
    }

    fn total() -> Dfa {
        Dfa {
            accepting: vec![true],
            offsets: vec![0, 1],
            transitions: vec![Transition {
                lo: 0,
                hi: MAX_SYMBOL,
                target: 0,
            }],
        }
    }

    fn len(&self) -> usize {
        self.accepting.len()
    }

    /// The transitions of `state`; none for [`DEAD`].
    fn out(&self, state: u32) -> &[Transition] {
        if state == DEAD {
            return &[];
        }
        let state = state as usize;
        &self.transitions[self.offsets[state] as usize..self.offsets[state + 1] as usize]
    }

    fn step(&self, state: u32, symbol: u32) -> Option<u32> {
        let out = self.out(state);
        // Most states have a handful of transitions, where a scan beats a binary search.
        let found = if out.len() <= 8 {
            out.iter().find(|transition| symbol <= transition.hi)
        } else {
            out.get(out.partition_point(|transition| transition.hi < symbol))
        };
        match found {
            Some(transition) if transition.lo <= symbol => Some(transition.target),
            _ => None,
        }
    }

    fn accepts(&self, state: u32) -> bool {
        state != DEAD && self.accepting[state as usize]
    }

    /// Whether `state` accepts every continuation: it accepts and loops on every symbol.
    fn is_universal(&self, state: u32) -> bool {
        self.accepts(state)
            && self.out(state)
                == [Transition {
                    lo: 0,
                    hi: MAX_SYMBOL,
                    target: state,
                }]
    }

    /// The state that accepts every continuation; a minimal automaton has at most one.
    fn universal_state(&self) -> Option<u32> {
        (0..self.len() as u32).find(|&state| self.is_universal(state))
    }

    fn push_state(&mut self, accepting: bool) {
        self.accepting.push(accepting);
    }

    /// Adds a transition to the state being built, merging it into the previous one when they
    /// are adjacent and share a target.
    fn push_transition(&mut self, lo: u32, hi: u32, target: u32) {
        let begin = self.offsets.last().copied().unwrap_or(0) as usize;
        match self.transitions[begin..].last_mut() {
            Some(last) if last.target == target && last.hi + 1 == lo => last.hi = hi,
            _ => self.transitions.push(Transition { lo, hi, target }),
        }
    }

    fn finish_state(&mut self) -> Result<(), PatternError> {
        if self.transitions.len() > MAX_TRANSITIONS {
            return Err(PatternError::TooComplex);
        }
        self.offsets.push(self.transitions.len() as u32);
        Ok(())
    }

    fn builder() -> Dfa {
        Dfa {
            accepting: Vec::new(),
            offsets: vec![0],
            transitions: Vec::new(),
        }
    }
}

/// A parsed pattern.
#[derive(Clone, Debug)]
enum Node {
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
    fn literal(c: char) -> Node {
        Node::Chars(vec![(symbol(c), symbol(c))])
    }

    fn any_char() -> Node {
        Node::Chars(vec![(0, MAX_SYMBOL)])
    }

    fn repeat(node: Node, min: u32, max: Option<u32>) -> Node {
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

fn parse_pattern(pattern: &str) -> Result<Node, PatternError> {
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

fn wildcard(pattern: &str) -> Node {
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

enum ParseError {
    Invalid,
    TooComplex,
}

/// A node and the depth of its tree.
type Parsed = Result<(Node, u32), ParseError>;

/// A recursive-descent parser for Lucene's `RegExp` syntax with all optional features on, as
/// Elasticsearch uses it. It follows Lucene's grammar closely, quirks included: a character that
/// cannot start an expression is a literal (`/*a/` is the string `*a`, `/)/` is `)`).
struct RegexParser {
    chars: Vec<char>,
    position: usize,
    nesting: u32,
}

impl RegexParser {
    fn parse(regex: &str) -> Result<Node, ParseError> {
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

    fn more(&self) -> bool {
        self.position < self.chars.len()
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.position).copied()
    }

    fn peek_in(&self, set: &str) -> bool {
        self.peek().is_some_and(|c| set.contains(c))
    }

    fn eat(&mut self, c: char) -> bool {
        let found = self.peek() == Some(c);
        if found {
            self.position += 1;
        }
        found
    }

    fn next(&mut self) -> Result<char, ParseError> {
        let c = self.peek().ok_or(ParseError::Invalid)?;
        self.position += 1;
        Ok(c)
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.nesting += 1;
        if self.nesting > MAX_DEPTH {
            return Err(ParseError::TooComplex);
        }
        Ok(())
    }

    fn union(&mut self) -> Parsed {
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

    fn intersection(&mut self) -> Parsed {
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

    fn concatenation(&mut self) -> Parsed {
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

    fn repetition(&mut self) -> Parsed {
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
    fn integer(&mut self) -> Result<Option<u32>, ParseError> {
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

    fn complement(&mut self) -> Parsed {
        if !self.eat('~') {
            return self.char_class();
        }
        self.enter()?;
        let (node, depth) = self.complement()?;
        self.nesting -= 1;
        deeper(Node::Complement(Box::new(node)), depth)
    }

    fn char_class(&mut self) -> Parsed {
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

    fn class_item(&mut self) -> Result<Vec<(u32, u32)>, ParseError> {
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
    fn predefined_class(&mut self) -> Result<Option<Vec<(u32, u32)>>, ParseError> {
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

    fn char_exp(&mut self) -> Result<char, ParseError> {
        self.eat('\\');
        self.next()
    }

    fn simple(&mut self) -> Parsed {
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
fn deeper(node: Node, depth: u32) -> Parsed {
    if depth >= MAX_DEPTH {
        return Err(ParseError::TooComplex);
    }
    Ok((node, depth + 1))
}

/// Parses like Java's `Integer.parseInt` on ASCII input: an optional `+`, digits, at most
/// `i32::MAX`.
fn java_int(text: &str) -> Result<u32, ParseError> {
    let digits = text.strip_prefix('+').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::Invalid);
    }
    match digits.parse::<i32>() {
        Ok(value) => u32::try_from(value).map_err(|_| ParseError::Invalid),
        Err(_) => Err(ParseError::Invalid),
    }
}

fn whitespace() -> Vec<(u32, u32)> {
    normalize(vec![(9, 10), (13, 13), (32, 32)])
}

fn word() -> Vec<(u32, u32)> {
    normalize(vec![(48, 57), (65, 90), (95, 95), (97, 122)])
}

/// Sorts and merges ranges.
fn normalize(mut ranges: Vec<(u32, u32)>) -> Vec<(u32, u32)> {
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
fn complement_ranges(ranges: &[(u32, u32)]) -> Vec<(u32, u32)> {
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
fn interval(text: &str) -> Parsed {
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
    const WIDTH: usize = 10;
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
fn fixed_width_range(low: &[u8], high: &[u8]) -> Node {
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

fn digits(lo: u8, hi: u8) -> Node {
    Node::Chars(vec![(u32::from(lo), u32::from(hi))])
}

/// Compiles a pattern tree into a minimal automaton.
fn compile(node: &Node) -> Result<Dfa, PatternError> {
    let mut nfa = Nfa::default();
    let fragment = nfa.build(node)?;
    let raw = determinize(&nfa, fragment)?;
    minimize(&raw)
}

/// A Thompson NFA with range transitions and epsilon moves.
#[derive(Default)]
struct Nfa {
    states: Vec<NfaState>,
}

#[derive(Clone, Default)]
struct NfaState {
    epsilon: Vec<u32>,
    transitions: Vec<Transition>,
}

/// A piece of NFA: the strings it accepts label the paths from `start` to `end`. `end` has no
/// outgoing moves until the fragment is composed into a larger one.
#[derive(Clone, Copy)]
struct Fragment {
    start: u32,
    end: u32,
}

impl Nfa {
    fn add(&mut self) -> Result<u32, PatternError> {
        if self.states.len() >= MAX_NFA_STATES {
            return Err(PatternError::TooComplex);
        }
        self.states.push(NfaState::default());
        Ok(self.states.len() as u32 - 1)
    }

    fn epsilon(&mut self, from: u32, to: u32) {
        self.states[from as usize].epsilon.push(to);
    }

    fn chars(&mut self, from: u32, to: u32, ranges: &[(u32, u32)]) {
        let transitions = ranges
            .iter()
            .map(|&(lo, hi)| Transition { lo, hi, target: to });
        self.states[from as usize].transitions.extend(transitions);
    }

    fn build(&mut self, node: &Node) -> Result<Fragment, PatternError> {
        match node {
            Node::AnyString => {
                let start = self.add()?;
                let end = self.add()?;
                self.chars(start, start, &[(0, MAX_SYMBOL)]);
                self.epsilon(start, end);
                Ok(Fragment { start, end })
            }
            Node::Chars(ranges) => {
                let start = self.add()?;
                let end = self.add()?;
                self.chars(start, end, ranges);
                Ok(Fragment { start, end })
            }
            Node::Complement(inner) => {
                let dfa = complement(&compile(inner)?)?;
                self.embed(&dfa)
            }
            Node::Concat(parts) => {
                let start = self.add()?;
                let mut end = start;
                for part in parts {
                    if let Node::Chars(ranges) = part {
                        // `end` has no outgoing moves yet, so the characters can leave from it
                        // directly: one state per literal character instead of two.
                        let next = self.add()?;
                        self.chars(end, next, ranges);
                        end = next;
                    } else {
                        let fragment = self.build(part)?;
                        self.epsilon(end, fragment.start);
                        end = fragment.end;
                    }
                }
                Ok(Fragment { start, end })
            }
            Node::Empty => {
                let state = self.add()?;
                Ok(Fragment {
                    start: state,
                    end: state,
                })
            }
            Node::Intersection(operands) => {
                let mut result: Option<Dfa> = None;
                for operand in operands {
                    let dfa = compile(operand)?;
                    result = Some(match result {
                        Some(left) => product(&left, &dfa, Operation::Intersection)?,
                        None => dfa,
                    });
                }
                self.embed(&result.unwrap_or_else(Dfa::total))
            }
            Node::Nothing => {
                let start = self.add()?;
                let end = self.add()?;
                Ok(Fragment { start, end })
            }
            Node::Repeat { node, min, max } => self.build_repeat(node, *min, *max),
            Node::Union(alternatives) => {
                let start = self.add()?;
                let end = self.add()?;
                for alternative in alternatives {
                    let fragment = self.build(alternative)?;
                    self.epsilon(start, fragment.start);
                    self.epsilon(fragment.end, end);
                }
                Ok(Fragment { start, end })
            }
        }
    }

    /// `node` at least `min` and at most `max` times: copies of one fragment, the first `min`
    /// mandatory, the rest skippable, the last looping back when there is no maximum.
    fn build_repeat(
        &mut self,
        node: &Node,
        min: u32,
        max: Option<u32>,
    ) -> Result<Fragment, PatternError> {
        let copies = match max {
            Some(max) if min > max => return self.build(&Node::Nothing),
            Some(0) => return self.build(&Node::Empty),
            Some(max) => max,
            None => min.max(1),
        } as usize;
        let first = self.states.len();
        let fragment = self.build(node)?;
        let size = self.states.len() - first;
        let needed = size
            .checked_mul(copies - 1)
            .ok_or(PatternError::TooComplex)?;
        if needed > MAX_NFA_STATES - self.states.len() {
            return Err(PatternError::TooComplex);
        }
        let mut fragments = Vec::with_capacity(copies);
        fragments.push(fragment);
        for _ in 1..copies {
            fragments.push(self.copy(first, size, fragment));
        }
        let start = self.add()?;
        let end = self.add()?;
        let mut current = start;
        let mut last = fragment;
        for (index, &copy) in fragments.iter().enumerate() {
            if index >= min as usize {
                self.epsilon(current, end);
            }
            self.epsilon(current, copy.start);
            current = copy.end;
            last = copy;
        }
        self.epsilon(current, end);
        if max.is_none() {
            self.epsilon(last.end, last.start);
        }
        Ok(Fragment { start, end })
    }

    /// Appends a copy of the `size` states from `first`, which form `fragment` and refer only to
    /// one another.
    fn copy(&mut self, first: usize, size: usize, fragment: Fragment) -> Fragment {
        let base = self.states.len();
        let shift = |state: u32| state - first as u32 + base as u32;
        for index in first..first + size {
            let original = &self.states[index];
            let copy = NfaState {
                epsilon: original.epsilon.iter().map(|&state| shift(state)).collect(),
                transitions: original
                    .transitions
                    .iter()
                    .map(|transition| Transition {
                        target: shift(transition.target),
                        ..*transition
                    })
                    .collect(),
            };
            self.states.push(copy);
        }
        Fragment {
            start: shift(fragment.start),
            end: shift(fragment.end),
        }
    }

    /// Splices a deterministic automaton in as a fragment.
    fn embed(&mut self, dfa: &Dfa) -> Result<Fragment, PatternError> {
        let base = self.states.len();
        if dfa.len() + 1 > MAX_NFA_STATES - base {
            return Err(PatternError::TooComplex);
        }
        for state in 0..dfa.len() as u32 {
            let transitions = dfa
                .out(state)
                .iter()
                .map(|transition| Transition {
                    target: transition.target + base as u32,
                    ..*transition
                })
                .collect();
            self.states.push(NfaState {
                epsilon: Vec::new(),
                transitions,
            });
        }
        let end = self.add()?;
        for state in 0..dfa.len() as u32 {
            if dfa.accepts(state) {
                self.epsilon(base as u32 + state, end);
            }
        }
        Ok(Fragment {
            start: base as u32,
            end,
        })
    }
}

/// How the subset construction treats an NFA state.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Only epsilon moves: it does not distinguish subsets.
    Silent,
    /// Has transitions, or is the accepting state.
    Important,
    /// Accepts every continuation (a `*` at the end of a pattern): any subset holding it is the
    /// universal state, whatever else it holds.
    Universal,
}

/// The key of the universal subset.
const UNIVERSAL: u32 = u32::MAX;

/// The subset construction. Subsets are keyed by their important states only, and any subset
/// holding a universal state collapses into one universal state: a set of prefix patterns
/// (`logs-*`, `metrics-*`) then stays as small as the trie of its prefixes.
fn determinize(nfa: &Nfa, fragment: Fragment) -> Result<Dfa, PatternError> {
    let size = nfa.states.len();
    let accept = fragment.end;
    let kinds = classify(nfa, accept);
    let mut closure = Closure {
        stamp: vec![0; size],
        generation: 0,
        stack: Vec::new(),
    };
    let mut key = Vec::new();
    let mut work = closure.close(nfa, &[fragment.start], &kinds, &mut key);
    if key.is_empty() {
        return Ok(Dfa::empty());
    }
    let mut subsets = Subsets::default();
    subsets.intern(&key)?;

    let mut dfa = Dfa::builder();
    let mut gathered = Vec::new();
    let mut bounds = Vec::new();
    let mut entries: Vec<(u32, u32)> = Vec::new();
    let mut targets = Vec::new();
    let mut cache: HashMap<Vec<u32>, u32> = HashMap::new();
    let mut state = 0;
    while state < subsets.keys.len() {
        let current = Rc::clone(&subsets.keys[state]);
        if *current == [UNIVERSAL] {
            dfa.push_state(true);
            dfa.push_transition(0, MAX_SYMBOL, state as u32);
            dfa.finish_state()?;
            state += 1;
            continue;
        }
        dfa.push_state(current.binary_search(&accept).is_ok());

        gathered.clear();
        for &member in current.iter() {
            gathered.extend_from_slice(&nfa.states[member as usize].transitions);
        }
        // Split the alphabet at every range boundary: within one piece every gathered
        // transition either applies or does not.
        bounds.clear();
        for transition in &gathered {
            bounds.push(transition.lo);
            bounds.push(transition.hi + 1);
        }
        bounds.sort_unstable();
        bounds.dedup();
        let piece = |bounds: &[u32], at: u32| bounds.partition_point(|&bound| bound < at);
        let expanded: usize = gathered
            .iter()
            .map(|t| piece(&bounds, t.hi + 1) - piece(&bounds, t.lo))
            .sum();
        let step = current.len() + gathered.len() + expanded;
        charge(step)?;
        work += step;
        if work > MAX_WORK {
            return Err(PatternError::TooComplex);
        }
        entries.clear();
        for transition in &gathered {
            for index in piece(&bounds, transition.lo)..piece(&bounds, transition.hi + 1) {
                entries.push((index as u32, transition.target));
            }
        }
        entries.sort_unstable();
        entries.dedup();

        cache.clear();
        let mut position = 0;
        while position < entries.len() {
            let index = entries[position].0;
            targets.clear();
            while position < entries.len() && entries[position].0 == index {
                targets.push(entries[position].1);
                position += 1;
            }
            let target = match cache.get(targets.as_slice()) {
                Some(&target) => target,
                None => {
                    let step = closure.close(nfa, &targets, &kinds, &mut key);
                    charge(step)?;
                    work += step;
                    let target = if key.is_empty() {
                        DEAD
                    } else {
                        subsets.intern(&key)?
                    };
                    cache.insert(targets.clone(), target);
                    target
                }
            };
            if target != DEAD {
                let index = index as usize;
                dfa.push_transition(bounds[index], bounds[index + 1] - 1, target);
            }
        }
        dfa.finish_state()?;
        state += 1;
    }
    Ok(dfa)
}

fn classify(nfa: &Nfa, accept: u32) -> Vec<Kind> {
    let size = nfa.states.len();
    // States that reach `accept` through epsilon moves alone: a reverse search over epsilons.
    let mut offsets = vec![0usize; size + 1];
    for state in &nfa.states {
        for &target in &state.epsilon {
            offsets[target as usize + 1] += 1;
        }
    }
    for index in 0..size {
        offsets[index + 1] += offsets[index];
    }
    let mut fill = offsets.clone();
    let mut sources = vec![0u32; offsets[size]];
    for (source, state) in nfa.states.iter().enumerate() {
        for &target in &state.epsilon {
            sources[fill[target as usize]] = source as u32;
            fill[target as usize] += 1;
        }
    }
    let mut accepts_empty = vec![false; size];
    accepts_empty[accept as usize] = true;
    let mut stack = vec![accept];
    while let Some(state) = stack.pop() {
        let state = state as usize;
        for &source in &sources[offsets[state]..offsets[state + 1]] {
            if !accepts_empty[source as usize] {
                accepts_empty[source as usize] = true;
                stack.push(source);
            }
        }
    }
    nfa.states
        .iter()
        .enumerate()
        .map(|(index, state)| {
            let loops_on_everything = state.transitions.iter().any(|transition| {
                transition.lo == 0
                    && transition.hi == MAX_SYMBOL
                    && transition.target as usize == index
            });
            if loops_on_everything && accepts_empty[index] {
                Kind::Universal
            } else if !state.transitions.is_empty() || index == accept as usize {
                Kind::Important
            } else {
                Kind::Silent
            }
        })
        .collect()
}

/// Epsilon closure with a generation stamp per state, so no set is cleared between calls.
struct Closure {
    stamp: Vec<u32>,
    generation: u32,
    stack: Vec<u32>,
}

impl Closure {
    /// Puts the important states reachable from `seeds` by epsilon moves into `out`, sorted, or
    /// just [`UNIVERSAL`] when one of them is universal. Returns the number of states visited.
    fn close(&mut self, nfa: &Nfa, seeds: &[u32], kinds: &[Kind], out: &mut Vec<u32>) -> usize {
        if self.generation == u32::MAX {
            self.stamp.fill(0);
            self.generation = 0;
        }
        self.generation += 1;
        let generation = self.generation;
        out.clear();
        self.stack.clear();
        for &seed in seeds {
            if self.stamp[seed as usize] != generation {
                self.stamp[seed as usize] = generation;
                self.stack.push(seed);
            }
        }
        let mut visited = 0;
        while let Some(state) = self.stack.pop() {
            visited += 1;
            match kinds[state as usize] {
                Kind::Universal => {
                    out.clear();
                    out.push(UNIVERSAL);
                    return visited;
                }
                Kind::Important => out.push(state),
                Kind::Silent => {}
            }
            for &next in &nfa.states[state as usize].epsilon {
                if self.stamp[next as usize] != generation {
                    self.stamp[next as usize] = generation;
                    self.stack.push(next);
                }
            }
        }
        out.sort_unstable();
        visited
    }
}

/// The subsets found so far, numbered in discovery order.
#[derive(Default)]
struct Subsets {
    keys: Vec<Rc<[u32]>>,
    ids: HashMap<Rc<[u32]>, u32>,
}

impl Subsets {
    fn intern(&mut self, key: &[u32]) -> Result<u32, PatternError> {
        if let Some(&id) = self.ids.get(key) {
            return Ok(id);
        }
        if self.keys.len() >= MAX_STATES {
            return Err(PatternError::TooComplex);
        }
        let id = self.keys.len() as u32;
        let key: Rc<[u32]> = Rc::from(key);
        self.keys.push(Rc::clone(&key));
        self.ids.insert(key, id);
        Ok(id)
    }
}

/// Trims and minimises a deterministic automaton and puts it in canonical form.
///
/// Minimisation is Valmari and Lehtinen's partition refinement ("Efficient minimization of DFAs
/// with partial transition functions", 2008), which runs Hopcroft's "process the smaller half"
/// strategy on partial automata in O(m log n). Its alphabet is the classes of symbols no
/// transition tells apart.
fn minimize(raw: &Dfa) -> Result<Dfa, PatternError> {
    let size = raw.len();
    charge(size + raw.transitions.len())?;
    let useful = useful_states(raw);
    if !useful[0] {
        return Ok(Dfa::empty());
    }
    let mut index = vec![DEAD; size];
    let mut states = Vec::new();
    for state in 0..size {
        if useful[state] {
            index[state] = states.len() as u32;
            states.push(state as u32);
        }
    }
    let kept = |transition: &&Transition| useful[transition.target as usize];

    let mut bounds = vec![0, MAX_SYMBOL + 1];
    for &state in &states {
        for transition in raw.out(state).iter().filter(kept) {
            bounds.push(transition.lo);
            bounds.push(transition.hi + 1);
        }
    }
    bounds.sort_unstable();
    bounds.dedup();
    let class = |at: u32| bounds.partition_point(|&bound| bound < at);

    let mut expanded = 0;
    for &state in &states {
        for transition in raw.out(state).iter().filter(kept) {
            expanded += class(transition.hi + 1) - class(transition.lo);
        }
    }
    if expanded > MAX_TRANSITIONS {
        return Err(PatternError::TooComplex);
    }
    let mut tails = Vec::with_capacity(expanded);
    let mut labels = Vec::with_capacity(expanded);
    let mut heads = Vec::with_capacity(expanded);
    let mut out_offsets = Vec::with_capacity(states.len() + 1);
    out_offsets.push(0);
    for (tail, &state) in states.iter().enumerate() {
        for transition in raw.out(state).iter().filter(kept) {
            for label in class(transition.lo)..class(transition.hi + 1) {
                tails.push(tail as u32);
                labels.push(label as u32);
                heads.push(index[transition.target as usize]);
            }
        }
        out_offsets.push(tails.len());
    }

    let blocks = refine(raw, &states, &tails, &labels, &heads);

    // Canonical form: blocks numbered in breadth-first order from the start, transitions in
    // symbol order, adjacent ranges to the same block merged.
    let mut ids = vec![DEAD; blocks.sets];
    let start = blocks.set_of[0] as usize;
    ids[start] = 0;
    let mut order = vec![start];
    let mut dfa = Dfa::builder();
    let mut next = 0;
    while next < order.len() {
        let block = order[next];
        next += 1;
        let representative = blocks.elements[blocks.first[block] as usize] as usize;
        dfa.push_state(raw.accepting[states[representative] as usize]);
        for transition in out_offsets[representative]..out_offsets[representative + 1] {
            let target_block = blocks.set_of[heads[transition] as usize] as usize;
            if ids[target_block] == DEAD {
                ids[target_block] = order.len() as u32;
                order.push(target_block);
            }
            let label = labels[transition] as usize;
            dfa.push_transition(bounds[label], bounds[label + 1] - 1, ids[target_block]);
        }
        dfa.finish_state()?;
    }
    Ok(dfa)
}

/// The states reachable from the start that also lead to an accepting state.
fn useful_states(dfa: &Dfa) -> Vec<bool> {
    let size = dfa.len();
    let mut reachable = vec![false; size];
    reachable[0] = true;
    let mut stack = vec![0u32];
    while let Some(state) = stack.pop() {
        for transition in dfa.out(state) {
            if !reachable[transition.target as usize] {
                reachable[transition.target as usize] = true;
                stack.push(transition.target);
            }
        }
    }
    let mut offsets = vec![0usize; size + 1];
    for state in (0..size).filter(|&state| reachable[state]) {
        for transition in dfa.out(state as u32) {
            offsets[transition.target as usize + 1] += 1;
        }
    }
    for index in 0..size {
        offsets[index + 1] += offsets[index];
    }
    let mut fill = offsets.clone();
    let mut sources = vec![0u32; offsets[size]];
    for state in (0..size).filter(|&state| reachable[state]) {
        for transition in dfa.out(state as u32) {
            sources[fill[transition.target as usize]] = state as u32;
            fill[transition.target as usize] += 1;
        }
    }
    let mut useful = vec![false; size];
    for state in 0..size {
        if reachable[state] && dfa.accepting[state] {
            useful[state] = true;
            stack.push(state as u32);
        }
    }
    while let Some(state) = stack.pop() {
        let state = state as usize;
        for &source in &sources[offsets[state]..offsets[state + 1]] {
            if !useful[source as usize] {
                useful[source as usize] = true;
                stack.push(source);
            }
        }
    }
    useful
}

/// Partitions the states (numbered by position in `states`) into blocks of equivalent states.
/// The transitions are `tails[t] --labels[t]--> heads[t]`, at most one per state and label.
fn refine(raw: &Dfa, states: &[u32], tails: &[u32], labels: &[u32], heads: &[u32]) -> Partition {
    let size = states.len();
    let count = tails.len();
    let mut blocks = Partition::new(size);
    for (position, &state) in states.iter().enumerate() {
        if raw.accepting[state as usize] {
            blocks.mark(position as u32);
        }
    }
    blocks.split();

    // Cords: the transitions grouped by label, to be split by the blocks of their heads.
    let mut cords = Partition::new(count);
    if count > 0 {
        let mut order: Vec<u32> = (0..count as u32).collect();
        order.sort_unstable_by_key(|&transition| labels[transition as usize]);
        let mut set = 0;
        for position in 0..count {
            let transition = order[position] as usize;
            if position > 0 && labels[transition] != labels[order[position - 1] as usize] {
                cords.past[set] = position as u32;
                set += 1;
                cords.first[set] = position as u32;
            }
            cords.set_of[transition] = set as u32;
            cords.location[transition] = position as u32;
        }
        cords.past[set] = count as u32;
        cords.sets = set + 1;
        cords.elements = order;
    }

    // Incoming transitions of each state.
    let mut in_offsets = vec![0usize; size + 1];
    for &head in heads {
        in_offsets[head as usize + 1] += 1;
    }
    for index in 0..size {
        in_offsets[index + 1] += in_offsets[index];
    }
    let mut fill = in_offsets.clone();
    let mut incoming = vec![0u32; count];
    for (transition, &head) in heads.iter().enumerate() {
        incoming[fill[head as usize]] = transition as u32;
        fill[head as usize] += 1;
    }

    // Split blocks by the tails of each cord, and cords by the heads in each new block. Block 0
    // never needs to split cords: splitting by every other block already separates it.
    let mut block = 1;
    let mut cord = 0;
    while cord < cords.sets {
        for position in cords.first[cord]..cords.past[cord] {
            let transition = cords.elements[position as usize] as usize;
            blocks.mark(tails[transition]);
        }
        blocks.split();
        cord += 1;
        while block < blocks.sets {
            for position in blocks.first[block]..blocks.past[block] {
                let state = blocks.elements[position as usize] as usize;
                for &transition in &incoming[in_offsets[state]..in_offsets[state + 1]] {
                    cords.mark(transition);
                }
            }
            cords.split();
            block += 1;
        }
    }
    blocks
}

/// A refinable partition of `0..n`: each set is a contiguous slice of `elements`, with its marked
/// elements moved to the front until the next split.
struct Partition {
    sets: usize,
    elements: Vec<u32>,
    location: Vec<u32>,
    set_of: Vec<u32>,
    first: Vec<u32>,
    past: Vec<u32>,
    marked: Vec<u32>,
    touched: Vec<u32>,
}

impl Partition {
    fn new(size: usize) -> Partition {
        let capacity = size.max(1);
        let mut past = vec![0; capacity];
        past[0] = size as u32;
        Partition {
            sets: usize::from(size > 0),
            elements: (0..size as u32).collect(),
            location: (0..size as u32).collect(),
            set_of: vec![0; size],
            first: vec![0; capacity],
            past,
            marked: vec![0; capacity],
            touched: Vec::new(),
        }
    }

    /// Marks `element`; each element is marked at most once between splits.
    fn mark(&mut self, element: u32) {
        let set = self.set_of[element as usize] as usize;
        let from = self.location[element as usize] as usize;
        let to = (self.first[set] + self.marked[set]) as usize;
        self.elements.swap(from, to);
        self.location[self.elements[from] as usize] = from as u32;
        self.location[element as usize] = to as u32;
        if self.marked[set] == 0 {
            self.touched.push(set as u32);
        }
        self.marked[set] += 1;
    }

    /// Splits every set with marked and unmarked elements; the smaller part becomes the new set.
    fn split(&mut self) {
        while let Some(set) = self.touched.pop() {
            let set = set as usize;
            let boundary = self.first[set] + self.marked[set];
            if boundary == self.past[set] {
                self.marked[set] = 0;
                continue;
            }
            let new = self.sets;
            if self.marked[set] <= self.past[set] - boundary {
                self.first[new] = self.first[set];
                self.past[new] = boundary;
                self.first[set] = boundary;
            } else {
                self.past[new] = self.past[set];
                self.first[new] = boundary;
                self.past[set] = boundary;
            }
            for position in self.first[new]..self.past[new] {
                self.set_of[self.elements[position as usize] as usize] = new as u32;
            }
            self.marked[set] = 0;
            self.marked[new] = 0;
            self.sets += 1;
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Operation {
    Intersection,
    Minus,
    Union,
}

/// The product automaton of `a` and `b` for `operation`, minimised.
fn product(a: &Dfa, b: &Dfa, operation: Operation) -> Result<Dfa, PatternError> {
    let a_universal = a.universal_state();
    let b_universal = b.universal_state();
    // In a union, a pair with a universal half is universal; (DEAD, DEAD) stands for it, a pair
    // that never occurs otherwise.
    let universal_pair = (DEAD, DEAD);
    let normalize = |(x, y): (u32, u32)| -> Option<(u32, u32)> {
        match operation {
            Operation::Union if Some(x) == a_universal || Some(y) == b_universal => {
                Some(universal_pair)
            }
            Operation::Union if x == DEAD && y == DEAD => None,
            Operation::Intersection if x == DEAD || y == DEAD => None,
            Operation::Minus if x == DEAD || Some(y) == b_universal => None,
            _ => Some((x, y)),
        }
    };
    let Some(start) = normalize((0, 0)) else {
        return Ok(Dfa::empty());
    };
    let mut pairs = vec![start];
    let mut ids = HashMap::from([(start, 0u32)]);
    let mut dfa = Dfa::builder();
    let mut segments = Vec::new();
    let mut next = 0;
    while next < pairs.len() {
        let pair = pairs[next];
        if pair == universal_pair {
            dfa.push_state(true);
            dfa.push_transition(0, MAX_SYMBOL, next as u32);
            dfa.finish_state()?;
            next += 1;
            continue;
        }
        let (x, y) = pair;
        charge(1)?;
        dfa.push_state(match operation {
            Operation::Intersection => a.accepts(x) && b.accepts(y),
            Operation::Minus => a.accepts(x) && !b.accepts(y),
            Operation::Union => a.accepts(x) || b.accepts(y),
        });
        segments.clear();
        for_each_segment(a.out(x), b.out(y), |lo, hi, next_a, next_b| {
            segments.push((lo, hi, next_a.unwrap_or(DEAD), next_b.unwrap_or(DEAD)));
        });
        for &(lo, hi, next_a, next_b) in &segments {
            let Some(target) = normalize((next_a, next_b)) else {
                continue;
            };
            let id = match ids.get(&target) {
                Some(&id) => id,
                None => {
                    if pairs.len() >= MAX_STATES {
                        return Err(PatternError::TooComplex);
                    }
                    let id = pairs.len() as u32;
                    pairs.push(target);
                    ids.insert(target, id);
                    id
                }
            };
            dfa.push_transition(lo, hi, id);
        }
        dfa.finish_state()?;
        next += 1;
    }
    minimize(&dfa)
}

/// The complement of a trimmed automaton, minimised: missing transitions go to an accepting sink.
fn complement(dfa: &Dfa) -> Result<Dfa, PatternError> {
    let sink = dfa.len() as u32;
    let mut result = Dfa::builder();
    for state in 0..sink {
        result.push_state(!dfa.accepts(state));
        let mut next = 0;
        for transition in dfa.out(state) {
            if transition.lo > next {
                result.push_transition(next, transition.lo - 1, sink);
            }
            result.push_transition(transition.lo, transition.hi, transition.target);
            next = transition.hi + 1;
        }
        if next <= MAX_SYMBOL {
            result.push_transition(next, MAX_SYMBOL, sink);
        }
        result.finish_state()?;
    }
    result.push_state(true);
    result.push_transition(0, MAX_SYMBOL, sink);
    result.finish_state()?;
    minimize(&result)
}

/// Walks two sorted transition lists together, calling `f(lo, hi, a_target, b_target)` for each
/// maximal run of symbols on which both lists are constant and at least one has a transition.
fn for_each_segment(
    a: &[Transition],
    b: &[Transition],
    mut f: impl FnMut(u32, u32, Option<u32>, Option<u32>),
) {
    let (mut i, mut j) = (0, 0);
    let mut position = 0;
    loop {
        while a.get(i).is_some_and(|transition| transition.hi < position) {
            i += 1;
        }
        while b.get(j).is_some_and(|transition| transition.hi < position) {
            j += 1;
        }
        let next_a = a.get(i).map(|transition| transition.lo.max(position));
        let next_b = b.get(j).map(|transition| transition.lo.max(position));
        let lo = match (next_a, next_b) {
            (None, None) => return,
            (Some(lo), None) | (None, Some(lo)) => lo,
            (Some(lo_a), Some(lo_b)) => lo_a.min(lo_b),
        };
        let mut hi = MAX_SYMBOL;
        let mut target = |transition: Option<&Transition>| match transition {
            Some(transition) if transition.lo <= lo => {
                hi = hi.min(transition.hi);
                Some(transition.target)
            }
            Some(transition) => {
                hi = hi.min(transition.lo - 1);
                None
            }
            None => None,
        };
        let target_a = target(a.get(i));
        let target_b = target(b.get(j));
        f(lo, hi, target_a, target_b);
        if hi == MAX_SYMBOL {
            return;
        }
        position = hi + 1;
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;

    fn automaton(patterns: &[&str]) -> Automaton {
        Automaton::from_patterns(patterns).unwrap()
    }

    /// Checks that `patterns` accept every name in `accepted` and none in `rejected`.
    fn check(patterns: &[&str], accepted: &[&str], rejected: &[&str]) {
        let automaton = automaton(patterns);
        for name in accepted {
            assert!(
                automaton.matches(name),
                "{patterns:?} should match {name:?}"
            );
        }
        for name in rejected {
            assert!(
                !automaton.matches(name),
                "{patterns:?} should not match {name:?}"
            );
        }
    }

    fn error(pattern: &str) -> String {
        Automaton::from_patterns([pattern]).unwrap_err().to_string()
    }

    #[test]
    fn automata_are_shareable() {
        fn assert_shareable<T: Clone + Send + Sync + fmt::Debug + 'static>() {}
        assert_shareable::<Automaton>();
        assert_eq!(
            format!("{:?}", automaton(&["logs-*"])),
            "Automaton { states: 6, transitions: 6, .. }"
        );
    }

    #[test]
    fn exact_names() {
        check(&["logs"], &["logs"], &["", "log", "logs-", "Logs", "xlogs"]);
        check(&[""], &[""], &["a"]);
        check(&["a", "bc"], &["a", "bc"], &["", "b", "abc", "ab"]);
    }

    #[test]
    fn star_matches_any_run() {
        check(
            &["logs-*"],
            &["logs-", "logs-a", "logs-a-b*?"],
            &["logs", "log-", "xlogs-a"],
        );
        check(
            &["*-prod"],
            &["-prod", "eu-prod", "a-prod-prod"],
            &["prod", "eu-prod2"],
        );
        check(
            &["a*b*c"],
            &["abc", "aXbYc", "abbc", "acbc"],
            &["ab", "acb", "bac"],
        );
        check(&["**"], &["", "x", "xyz"], &[]);
    }

    #[test]
    fn question_mark_matches_exactly_one_char() {
        check(
            &["logs-?"],
            &["logs-a", "logs-日", "logs-😀"],
            &["logs-", "logs-ab"],
        );
        check(&["??"], &["ab", "日本", "a😀"], &["", "a", "abc"]);
        check(&["a?c"], &["abc", "a?c", "a*c"], &["ac", "abbc"]);
    }

    #[test]
    fn backslash_escapes_the_next_char_in_wildcards() {
        check(&[r"a\*"], &["a*"], &["a", "ab"]);
        check(&[r"a\?"], &["a?"], &["ab"]);
        check(&[r"a\\b"], &[r"a\b"], &[r"a\\b"]);
        check(&[r"a\"], &[r"a\"], &["a"]);
        check(&[r"\x"], &["x"], &[r"\x"]);
    }

    #[test]
    fn star_alone_is_total() {
        assert!(automaton(&["*"]).is_total());
        assert!(automaton(&["/@/"]).is_total());
        assert!(automaton(&["/.*/"]).is_total());
        assert!(automaton(&["logs-*", "*"]).is_total());
        assert!(automaton(&["*"]).equivalent(&Automaton::any()));
        assert!(!automaton(&["?*"]).is_total());
        assert!(!automaton(&["logs-*"]).is_total());
    }

    #[test]
    fn empty_sets() {
        let none: [&str; 0] = [];
        assert!(Automaton::from_patterns(none).unwrap().is_empty());
        assert!(Automaton::empty().is_empty());
        assert!(automaton(&["/#/"]).is_empty());
        assert!(automaton(&["/a{3,2}/"]).is_empty());
        assert!(automaton(&["/[^\\s\\S]/"]).is_empty());
        assert!(!automaton(&[""]).is_empty());
        assert!(!Automaton::empty().matches(""));
        assert!(Automaton::any().matches(""));
    }

    #[test]
    fn regex_between_slashes() {
        let cases: &[(&str, &[&str], &[&str])] = &[
            ("/abc/", &["abc"], &["", "ab", "abcd", "/abc/"]),
            ("//", &[""], &["a", "/"]),
            ("/()/", &[""], &["a"]),
            ("/a.c/", &["abc", "a日c", "a.c"], &["ac", "abbc"]),
            ("/ab*c/", &["ac", "abc", "abbbc"], &["abd"]),
            ("/ab+c/", &["abc", "abbc"], &["ac"]),
            ("/ab?c/", &["ac", "abc"], &["abbc"]),
            ("/a{2}/", &["aa"], &["a", "aaa"]),
            ("/a{2,3}/", &["aa", "aaa"], &["a", "aaaa"]),
            ("/a{2,}/", &["aa", "aaaaaa"], &["a", ""]),
            ("/a{0}/", &[""], &["a"]),
            ("/(ab|cd)e/", &["abe", "cde"], &["ae", "abcde"]),
            ("/ab|cd/", &["ab", "cd"], &["abd", "acd"]),
            ("/(ab)+/", &["ab", "abab"], &["", "aba"]),
            ("/[a-c]x/", &["ax", "cx"], &["dx", "x"]),
            ("/[^a-c]x/", &["dx", "日x", "-x"], &["ax", "x", "ddx"]),
            ("/[\\-a]/", &["-", "a"], &["b"]),
            ("/[]a]/", &["]", "a"], &["b"]),
            ("/a\\.b/", &["a.b"], &["axb"]),
            ("/a\\*/", &["a*"], &["a", "aa"]),
            ("/\\d+/", &["0", "123"], &["", "a1"]),
            ("/\\D/", &["a", "-"], &["1"]),
            ("/\\w+/", &["a_Z9"], &["a-b"]),
            ("/\\W/", &["-", " "], &["a"]),
            ("/\\s/", &[" ", "\t", "\n", "\r"], &["a", "\u{b}"]),
            ("/\\S/", &["a"], &[" "]),
            ("/[\\d-]+/", &["1-2"], &["a"]),
            ("/\\\\/", &["\\"], &[""]),
            ("/\"a.b\"/", &["a.b"], &["axb"]),
            ("/\"\"/", &[""], &["a"]),
            ("/logs-.*/", &["logs-", "logs-x"], &["logs"]),
            (
                "/~(logs-.*)/",
                &["", "logs", "metrics-1"],
                &["logs-", "logs-1"],
            ),
            ("/~(a)*/", &["", "b", "aa", "ab"], &["a"]),
            (
                "/logs-.*&.*-prod/",
                &["logs-eu-prod", "logs-prod"],
                &["logs-eu", "x-prod"],
            ),
            (
                "/.*a.*&.*b.*&.*c.*/",
                &["cab", "abc", "xaxbxcx"],
                &["ab", "cc"],
            ),
            (
                "/<1-10>/",
                &["1", "9", "10", "010", "0007"],
                &["0", "11", "", "100"],
            ),
            ("/<10-1>/", &["1", "10"], &["11"]),
            ("/<01-10>/", &["01", "09", "10"], &["1", "001", "11", "00"]),
            ("/<0-5>/", &["0", "5"], &["00", "6", "05"]),
            ("/<+5-20>/", &["05", "20"], &["5", "21", "04"]),
            (
                "/<0-2147483647>/",
                &["0", "2147483647", "000"],
                &["2147483648", ""],
            ),
            (
                "/<95-105>/",
                &["95", "99", "100", "105", "0099"],
                &["94", "106", "10"],
            ),
            ("/*a/", &["*a"], &["a", "xa"]),
            ("/)/", &[")"], &[""]),
            ("/a|*b/", &["a", "*b"], &["b"]),
            ("/\\é/", &["é"], &["e"]),
            ("/日本-[0-9]+/", &["日本-1"], &["日本-", "日本1"]),
            ("/😀+/", &["😀", "😀😀"], &["", "😁"]),
            ("/[😀-😂]/", &["😀", "😁", "😂"], &["😃", "a"]),
        ];
        for &(pattern, accepted, rejected) in cases {
            check(&[pattern], accepted, rejected);
        }
    }

    #[test]
    fn regex_equals_the_plain_name() {
        assert!(automaton(&["/abc/"]).equivalent(&automaton(&["abc"])));
        assert!(automaton(&["/logs-.*/"]).equivalent(&automaton(&["logs-*"])));
        assert!(automaton(&["/a.c/"]).equivalent(&automaton(&["a?c"])));
        assert!(!automaton(&["/abc/"]).equivalent(&automaton(&["abc*"])));
    }

    #[test]
    fn invalid_regexes_are_errors_with_elasticsearchs_message() {
        let invalid = [
            "/logs-(/",
            "/",
            "/abc",
            "/a)/",
            "/[a/",
            "/[]/",
            "/[z-a]/",
            "/[a-]/",
            "/a{/",
            "/a{x}/",
            "/a{1,2/",
            "/a{,2}/",
            "/a{2147483648}/",
            "/\"abc/",
            "/<1-5/",
            "/<foo>/",
            "/<1-2-3>/",
            "/<-1-5>/",
            "/<1->/",
            "/<a-5>/",
            "/\\q/",
            "/\\/",
            "/a|/",
            "/a&/",
            "/~/",
            "/(/",
        ];
        for pattern in invalid {
            assert_eq!(
                error(pattern),
                format!("invalid regular expression pattern [{pattern}]"),
                "{pattern}"
            );
        }
        assert_eq!(
            error("/logs-(/"),
            "invalid regular expression pattern [/logs-(/]"
        );
        assert_eq!(
            Automaton::from_patterns(["logs-*", "/logs-(/"]).unwrap_err(),
            PatternError::InvalidRegex {
                pattern: "/logs-(/".to_owned()
            }
        );
    }

    #[test]
    fn oversized_patterns_are_too_complex_not_slow() {
        let too_complex = [
            // The classic exponential blow-up: the DFA needs 2^18 states.
            "/(a|b)*a(a|b){17}/".to_owned(),
            format!("/{}a{}/", "(".repeat(200), ")".repeat(200)),
            format!("/{}a/", "~".repeat(200)),
            format!("/a{}/", "?".repeat(200)),
            "/(a{1000}){1001}/".to_owned(),
            "/a{2147483647}/".to_owned(),
            format!("/<{}-{}1>/", "0".repeat(2_000_000), "0".repeat(1_999_999)),
        ];
        for pattern in &too_complex {
            assert_eq!(
                Automaton::from_patterns([pattern]).unwrap_err(),
                PatternError::TooComplex,
                "{pattern}"
            );
        }
        assert_eq!(PatternError::TooComplex.to_string(), "pattern too complex");
        // Just below the limits still works.
        let deep = format!("/{}a{}/", "(".repeat(90), ")".repeat(90));
        assert!(automaton(&[&deep]).matches("a"));
        let shifted = automaton(&["/(a|b)*a(a|b){10}/"]);
        assert!(shifted.matches("babbbbbbbbbb"));
        assert!(!shifted.matches("abbbbbbbbbbb"));
        let wide = format!("/<{}-{}7>/", "0".repeat(60), "0".repeat(59));
        check(
            &[&wide],
            &[&format!("{}5", "0".repeat(59))],
            &["5", &format!("{}8", "0".repeat(59))],
        );
    }

    #[test]
    fn subsets() {
        let logs_dash = automaton(&["logs-*"]);
        let log = automaton(&["log*"]);
        assert!(logs_dash.subset_of(&log));
        assert!(!log.subset_of(&logs_dash));
        assert!(automaton(&["/logs-[0-9]+/"]).subset_of(&logs_dash));
        assert!(!logs_dash.subset_of(&automaton(&["/logs-[0-9]+/"])));
        assert!(automaton(&["logs-a", "logs-b"]).subset_of(&automaton(&["logs-?"])));
        assert!(!automaton(&["logs-a", "logs-bb"]).subset_of(&automaton(&["logs-?"])));
        assert!(automaton(&["a*", "b*"]).subset_of(&automaton(&["*"])));
        assert!(Automaton::empty().subset_of(&Automaton::empty()));
        assert!(Automaton::empty().subset_of(&logs_dash));
        assert!(!logs_dash.subset_of(&Automaton::empty()));
        assert!(logs_dash.subset_of(&logs_dash));
        assert!(!Automaton::any().subset_of(&logs_dash));
        // A name shorter than the other's prefix: `logs` itself is not in `logs-*`.
        assert!(!automaton(&["logs*"]).subset_of(&automaton(&["logs-*", "logsx*"])));
        assert!(automaton(&["logs?*"]).subset_of(&automaton(&["logs-*", "logs?*"])));
    }

    #[test]
    fn subset_walks_have_a_budget() {
        // A counts `a`s, B counts `b`s, and A is a subset of B (every name of A ends in `c`),
        // so the walk must visit every reachable pair of counters to say so.
        let counters = |p: u32, q: u32| {
            let a = automaton(&[&format!("/(([bc]*a){{{p}}})*[bc]*c/")]);
            let b = automaton(&[&format!("/(([ac]*b){{{q}}})*[ac]*|.*c/")]);
            (a, b)
        };
        let (small_a, small_b) = counters(3, 4);
        assert_eq!(small_a.try_subset_of(&small_b), Ok(true));
        assert!(!small_b.subset_of(&small_a));
        let (a, b) = counters(1000, 1001);
        // Small automata, two million pairs.
        assert!(a.state_count() < 2100 && b.state_count() < 2100);
        assert_eq!(a.try_subset_of(&b), Err(PatternError::TooComplex));
        assert!(!a.subset_of(&b));
        assert_eq!(a.try_subset_of(&a), Ok(true));
        assert_eq!(
            automaton(&["logs-*"]).try_subset_of(&automaton(&["log*"])),
            Ok(true)
        );
    }

    #[test]
    fn intersections() {
        let logs_a = automaton(&["logs-a*"]);
        let logs = automaton(&["logs-*"]);
        let both = logs_a.intersection(&logs).unwrap();
        assert!(both.equivalent(&logs_a));
        let disjoint = automaton(&["logs-*"])
            .intersection(&automaton(&["metrics-*"]))
            .unwrap();
        assert!(disjoint.is_empty());
        let crossed = automaton(&["logs-*"])
            .intersection(&automaton(&["*-prod"]))
            .unwrap();
        assert!(crossed.equivalent(&automaton(&["/logs-(.*-)?prod/"])));
        assert!(crossed.matches("logs-prod"));
        assert!(crossed.matches("logs-eu-prod"));
        assert!(!crossed.matches("logs-eu"));
    }

    #[test]
    fn unions() {
        let union = automaton(&["a*"]).union(&automaton(&["b*"])).unwrap();
        assert!(union.matches("apple"));
        assert!(union.matches("banana"));
        assert!(!union.matches("cherry"));
        assert!(!union.matches(""));
        assert!(union.equivalent(&automaton(&["a*", "b*"])));
        assert!(union.equivalent(&automaton(&["/[ab].*/"])));
        assert!(
            automaton(&["a*"])
                .union(&Automaton::any())
                .unwrap()
                .is_total()
        );
        assert!(
            Automaton::empty()
                .union(&Automaton::empty())
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn differences() {
        let rest = automaton(&["logs-*"])
            .minus(&automaton(&["logs-a*"]))
            .unwrap();
        assert!(rest.matches("logs-b"));
        assert!(rest.matches("logs-"));
        assert!(!rest.matches("logs-a"));
        assert!(!rest.matches("logs-abc"));
        assert!(rest.equivalent(&automaton(&["/logs-([^a].*)?/"])));
        assert!(
            automaton(&["logs-*"])
                .minus(&Automaton::any())
                .unwrap()
                .is_empty()
        );
        assert!(
            Automaton::any()
                .minus(&automaton(&["*"]))
                .unwrap()
                .is_empty()
        );
        let complement = Automaton::any().minus(&automaton(&["logs-*"])).unwrap();
        assert!(complement.equivalent(&automaton(&["/~(logs-.*)/"])));
    }

    #[test]
    fn non_ascii_names() {
        check(
            &["日本-*"],
            &["日本-", "日本-東京", "日本-x"],
            &["日本", "日本x", "本-x"],
        );
        check(&["日?"], &["日本", "日a"], &["日", "日本語"]);
        check(&["😀-*"], &["😀-", "😀-😀"], &["😀", "😁-"]);
        assert!(automaton(&["日本-東京"]).subset_of(&automaton(&["日本-*"])));
        assert!(!automaton(&["日本-*"]).subset_of(&automaton(&["日*-東京"])));
        // Characters on both sides of the surrogate gap are neighbours in the alphabet.
        check(
            &["/[\u{d7ff}-\u{e000}]/"],
            &["\u{d7ff}", "\u{e000}"],
            &["\u{d7fe}", "\u{e001}"],
        );
        let around_gap = automaton(&["/[\u{d7ff}-\u{e000}]/"]);
        assert!(around_gap.equivalent(&automaton(&["\u{d7ff}", "\u{e000}"])));
        let highest = automaton(&["/[^\u{0}-\u{10fffe}]/"]);
        assert!(highest.equivalent(&automaton(&["\u{10ffff}"])));
    }

    #[test]
    fn equal_languages_give_equal_automata() {
        let pairs = [
            (vec!["a*", "ab*"], vec!["a*"]),
            (vec!["?", "??"], vec!["/.{1,2}/"]),
            (vec!["logs-1", "logs-2", "logs-3"], vec!["/logs-[1-3]/"]),
            (vec!["*a*"], vec!["/~(~(@a@))/"]),
        ];
        for (left, right) in pairs {
            let (left, right) = (automaton(&left), automaton(&right));
            assert!(left.equivalent(&right));
            assert_eq!(left.state_count(), right.state_count());
        }
    }

    #[test]
    fn prefix_sets_stay_small() {
        let patterns: Vec<String> = (0..1000).map(|n| format!("logs-{n}-*")).collect();
        let automaton = Automaton::from_patterns(&patterns).unwrap();
        assert!(automaton.matches("logs-999-x"));
        assert!(!automaton.matches("logs-1000-x"));
        assert!(automaton.state_count() < 1200, "{automaton:?}");
    }

    // --- Property tests against independent matchers ---

    /// Backtracking wildcard matcher: the oracle for wildcard patterns without escapes.
    fn wildcard_oracle(pattern: &[char], name: &[char]) -> bool {
        match pattern.split_first() {
            None => name.is_empty(),
            Some(('*', rest)) => (0..=name.len()).any(|skip| wildcard_oracle(rest, &name[skip..])),
            Some(('?', rest)) => !name.is_empty() && wildcard_oracle(rest, &name[1..]),
            Some((c, rest)) => name.first() == Some(c) && wildcard_oracle(rest, &name[1..]),
        }
    }

    fn wildcard_matches(pattern: &str, name: &str) -> bool {
        let pattern: Vec<char> = pattern.chars().collect();
        let name: Vec<char> = name.chars().collect();
        wildcard_oracle(&pattern, &name)
    }

    fn from_alphabet(
        alphabet: &'static [char],
        lengths: std::ops::Range<usize>,
    ) -> impl Strategy<Value = String> {
        proptest::collection::vec(proptest::sample::select(alphabet), lengths)
            .prop_map(|chars| chars.into_iter().collect())
    }

    fn wildcard_pattern() -> impl Strategy<Value = String> {
        from_alphabet(&['a', 'b', '-', '*', '?'], 0..8)
    }

    fn name() -> impl Strategy<Value = String> {
        from_alphabet(&['a', 'b', '-'], 0..9)
    }

    /// Every string over `alphabet` of at most `max` characters.
    fn all_names(alphabet: &[char], max: usize) -> Vec<String> {
        let mut names = vec![String::new()];
        let mut last = vec![String::new()];
        for _ in 0..max {
            last = last
                .iter()
                .flat_map(|prefix| {
                    alphabet.iter().map(move |&c| {
                        let mut name = prefix.clone();
                        name.push(c);
                        name
                    })
                })
                .collect();
            names.extend(last.iter().cloned());
        }
        names
    }

    /// A regular expression in the subset the naive matcher below understands.
    #[derive(Clone, Debug)]
    enum Re {
        AnyChar,
        AnyString,
        Char(char),
        Class { negated: bool, chars: Vec<char> },
        Complement(Box<Re>),
        Concat(Box<Re>, Box<Re>),
        Empty,
        Intersection(Box<Re>, Box<Re>),
        Repeat(Box<Re>, u32, Option<u32>),
        Union(Box<Re>, Box<Re>),
    }

    impl Re {
        /// Lucene syntax, fully parenthesised.
        fn render(&self) -> String {
            match self {
                Re::AnyChar => ".".to_owned(),
                Re::AnyString => "@".to_owned(),
                Re::Char(c) => c.to_string(),
                Re::Class { negated, chars } => {
                    let body: String = chars
                        .iter()
                        .map(|&c| {
                            if c == '-' {
                                "\\-".to_owned()
                            } else {
                                c.to_string()
                            }
                        })
                        .collect();
                    format!("[{}{body}]", if *negated { "^" } else { "" })
                }
                Re::Complement(inner) => format!("~({})", inner.render()),
                Re::Concat(a, b) => format!("({})({})", a.render(), b.render()),
                Re::Empty => "()".to_owned(),
                Re::Intersection(a, b) => format!("(({})&({}))", a.render(), b.render()),
                Re::Repeat(inner, min, max) => {
                    let inner = inner.render();
                    match (min, max) {
                        (0, None) => format!("({inner})*"),
                        (1, None) => format!("({inner})+"),
                        (0, Some(1)) => format!("({inner})?"),
                        (min, None) => format!("({inner}){{{min},}}"),
                        (min, Some(max)) if min == max => format!("({inner}){{{min}}}"),
                        (min, Some(max)) => format!("({inner}){{{min},{max}}}"),
                    }
                }
                Re::Union(a, b) => format!("(({})|({}))", a.render(), b.render()),
            }
        }

        /// The positions `j` such that `name[start..j]` is in the language.
        fn ends(&self, name: &[char], start: usize) -> BTreeSet<usize> {
            let one = |accept: &dyn Fn(char) -> bool| -> BTreeSet<usize> {
                match name.get(start) {
                    Some(&c) if accept(c) => BTreeSet::from([start + 1]),
                    _ => BTreeSet::new(),
                }
            };
            match self {
                Re::AnyChar => one(&|_| true),
                Re::AnyString => (start..=name.len()).collect(),
                Re::Char(expected) => one(&|c| c == *expected),
                Re::Class { negated, chars } => one(&|c| chars.contains(&c) != *negated),
                Re::Complement(inner) => {
                    let inside = inner.ends(name, start);
                    (start..=name.len())
                        .filter(|end| !inside.contains(end))
                        .collect()
                }
                Re::Concat(a, b) => a
                    .ends(name, start)
                    .into_iter()
                    .flat_map(|middle| b.ends(name, middle))
                    .collect(),
                Re::Empty => BTreeSet::from([start]),
                Re::Intersection(a, b) => {
                    let right = b.ends(name, start);
                    a.ends(name, start).intersection(&right).copied().collect()
                }
                Re::Repeat(inner, min, max) => {
                    // Positions after exactly `count` repetitions, until `max` or a fixpoint.
                    let mut result = BTreeSet::new();
                    let mut current = BTreeSet::from([start]);
                    let mut seen_after_min = BTreeSet::new();
                    let mut count = 0;
                    loop {
                        if count >= *min {
                            result.extend(current.iter().copied());
                        }
                        if max.is_some_and(|max| count >= max) || current.is_empty() {
                            break;
                        }
                        if count >= *min {
                            let before = seen_after_min.len();
                            seen_after_min.extend(current.iter().copied());
                            if seen_after_min.len() == before && count > *min {
                                break;
                            }
                        }
                        current = current
                            .iter()
                            .flat_map(|&position| inner.ends(name, position))
                            .collect();
                        count += 1;
                    }
                    result
                }
                Re::Union(a, b) => {
                    let mut ends = a.ends(name, start);
                    ends.extend(b.ends(name, start));
                    ends
                }
            }
        }

        fn matches(&self, name: &str) -> bool {
            let name: Vec<char> = name.chars().collect();
            self.ends(&name, 0).contains(&name.len())
        }
    }

    fn regex() -> impl Strategy<Value = Re> {
        let letters = || proptest::sample::select(&['a', 'b', '-'][..]);
        let leaf = prop_oneof![
            4 => letters().prop_map(Re::Char),
            1 => Just(Re::AnyChar),
            1 => Just(Re::AnyString),
            1 => Just(Re::Empty),
            2 => (any::<bool>(), proptest::collection::vec(letters(), 1..3))
                .prop_map(|(negated, chars)| Re::Class { negated, chars }),
        ];
        leaf.prop_recursive(4, 16, 2, |inner| {
            let boxed = || inner.clone().prop_map(Box::new);
            prop_oneof![
                3 => (boxed(), boxed()).prop_map(|(a, b)| Re::Concat(a, b)),
                2 => (boxed(), boxed()).prop_map(|(a, b)| Re::Union(a, b)),
                1 => (boxed(), boxed()).prop_map(|(a, b)| Re::Intersection(a, b)),
                1 => boxed().prop_map(Re::Complement),
                2 => (boxed(), 0u32..3, proptest::option::of(0u32..4))
                    .prop_map(|(inner, min, max)| Re::Repeat(inner, min, max)),
            ]
        })
    }

    fn regex_name() -> impl Strategy<Value = String> {
        from_alphabet(&['a', 'b', '-', 'c'], 0..7)
    }

    proptest! {
        #[test]
        fn wildcard_membership_agrees_with_backtracking(
            patterns in proptest::collection::vec(wildcard_pattern(), 1..4),
            names in proptest::collection::vec(name(), 1..16),
        ) {
            let automaton = Automaton::from_patterns(&patterns).unwrap();
            for name in &names {
                let expected = patterns.iter().any(|pattern| wildcard_matches(pattern, name));
                prop_assert_eq!(automaton.matches(name), expected, "{:?} {:?}", patterns, name);
            }
        }

        #[test]
        fn regex_membership_agrees_with_backtracking(
            re in regex(),
            names in proptest::collection::vec(regex_name(), 1..16),
        ) {
            let pattern = format!("/{}/", re.render());
            let automaton = Automaton::from_patterns([&pattern]).unwrap();
            for name in &names {
                prop_assert_eq!(automaton.matches(name), re.matches(name), "{} {:?}", pattern, name);
            }
        }

        #[test]
        fn subset_of_agrees_with_enumeration(a in wildcard_pattern(), b in wildcard_pattern()) {
            let (left, right) = (automaton(&[&a]), automaton(&[&b]));
            let subset = left.subset_of(&right);
            let counterexample = all_names(&['a', 'b', '-'], 6)
                .into_iter()
                .find(|name| wildcard_matches(&a, name) && !wildcard_matches(&b, name));
            if subset {
                prop_assert!(counterexample.is_none(), "{} {} {:?}", a, b, counterexample);
            }
            if counterexample.is_some() {
                prop_assert!(!subset, "{} {}", a, b);
            }
            // Without `*` every name of `a` has its length, and a `?` facing a literal can always
            // be given another letter of the alphabet: the enumeration decides the question.
            if !a.contains('*') && !b.contains('*') && a.chars().count() <= 6 {
                prop_assert_eq!(subset, counterexample.is_none(), "{} {}", a, b);
            }
            prop_assert_eq!(
                left.equivalent(&right),
                subset && right.subset_of(&left),
                "{} {}", a, b
            );
        }

        #[test]
        fn regex_subset_is_sound(a in regex(), b in regex()) {
            let left = automaton(&[&format!("/{}/", a.render())]);
            let right = automaton(&[&format!("/{}/", b.render())]);
            let counterexample = all_names(&['a', 'b', '-', 'c'], 4)
                .into_iter()
                .find(|name| a.matches(name) && !b.matches(name));
            if left.subset_of(&right) {
                prop_assert!(counterexample.is_none(), "{:?}", counterexample);
            }
            if counterexample.is_some() {
                prop_assert!(!left.subset_of(&right));
            }
            prop_assert_eq!(
                left.subset_of(&right),
                left.minus(&right).unwrap().is_empty()
            );
            // Equality of canonical minimal automata must be language equality.
            prop_assert_eq!(
                left.equivalent(&right),
                left.subset_of(&right) && right.subset_of(&left)
            );
        }

        #[test]
        fn operations_agree_with_membership(
            a in regex(),
            b in regex(),
            names in proptest::collection::vec(regex_name(), 1..16),
        ) {
            let left = automaton(&[&format!("/{}/", a.render())]);
            let right = automaton(&[&format!("/{}/", b.render())]);
            let union = left.union(&right).unwrap();
            let intersection = left.intersection(&right).unwrap();
            let minus = left.minus(&right).unwrap();
            for name in &names {
                let (in_a, in_b) = (a.matches(name), b.matches(name));
                prop_assert_eq!(union.matches(name), in_a || in_b);
                prop_assert_eq!(intersection.matches(name), in_a && in_b);
                prop_assert_eq!(minus.matches(name), in_a && !in_b);
            }
            prop_assert!(intersection.subset_of(&left));
            prop_assert!(left.subset_of(&union));
            prop_assert!(minus.intersection(&right).unwrap().is_empty());
            prop_assert!(union.equivalent(&right.union(&left).unwrap()));
            let patterns = [format!("/{}/", a.render()), format!("/{}/", b.render())];
            prop_assert!(union.equivalent(&Automaton::from_patterns(&patterns).unwrap()));
        }
    }
}

#[cfg(test)]
mod budget_tests {
    use super::*;

    /// A regular expression whose automaton has about 8 000 states: costly, yet far inside the
    /// limits of one compilation.
    fn costly(variant: usize) -> String {
        format!("/x{variant}[ab]*a[ab]{{12}}/")
    }

    #[test]
    fn one_budget_covers_every_automaton_of_a_request() {
        let (results, exhausted) = with_request_budget(REQUEST_WORK, || {
            (0..40)
                .map(|variant| Automaton::from_patterns([costly(variant)]).is_ok())
                .collect::<Vec<_>>()
        });
        assert!(exhausted);
        assert!(results[0]);
        assert!(!results[39]);
        // Outside a budget, each one compiles.
        assert!(Automaton::from_patterns([costly(39)]).is_ok());
        let ((), exhausted) = with_request_budget(REQUEST_WORK, || {
            assert!(Automaton::from_patterns([costly(1)]).is_ok());
        });
        assert!(!exhausted);
    }

    #[test]
    fn shared_tables_are_built_outside_the_budget() {
        let (built, exhausted) = with_request_budget(0, || {
            without_budget(|| Automaton::from_patterns(["logs-*"]).is_ok())
        });
        assert!(built);
        assert!(!exhausted);
        let (built, exhausted) =
            with_request_budget(0, || Automaton::from_patterns(["/logs-[0-9]+/"]).is_ok());
        assert!(!built);
        assert!(exhausted);
    }
}
