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

mod dfa;
mod minimize;
mod nfa;
mod parse;
#[cfg(test)]
mod tests;

use dfa::*;
use minimize::*;
use nfa::*;
use parse::*;
