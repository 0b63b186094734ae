//! Deterministic automata: the dense transition table, products (intersection, difference,
//! union) and complements.

use super::*;

/// All symbols from `lo` to `hi` lead to `target`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Transition {
    pub(super) lo: u32,
    pub(super) hi: u32,
    pub(super) target: u32,
}

/// A deterministic automaton; state 0 is the start.
///
/// Invariants: `offsets` has one entry per state plus one, and the transitions of state `s` are
/// `transitions[offsets[s]..offsets[s + 1]]`, sorted by `lo`, disjoint, each `target` a state.
/// Automata handed out by [`Automaton`] are also trimmed (every state is reachable and leads to an
/// accepting state), minimal, numbered in breadth-first order with adjacent ranges to the same
/// target merged: that form is unique per language.
#[derive(Clone, PartialEq, Eq)]
pub(super) struct Dfa {
    pub(super) accepting: Vec<bool>,
    pub(super) offsets: Vec<u32>,
    pub(super) transitions: Vec<Transition>,
}

impl Dfa {
    pub(super) fn empty() -> Dfa {
        Dfa {
            accepting: vec![false],
            offsets: vec![0, 0],
            transitions: Vec::new(),
        }
    }

    pub(super) fn total() -> Dfa {
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

    pub(super) fn len(&self) -> usize {
        self.accepting.len()
    }

    /// The transitions of `state`; none for [`DEAD`].
    pub(super) fn out(&self, state: u32) -> &[Transition] {
        if state == DEAD {
            return &[];
        }
        let state = state as usize;
        &self.transitions[self.offsets[state] as usize..self.offsets[state + 1] as usize]
    }

    pub(super) fn step(&self, state: u32, symbol: u32) -> Option<u32> {
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

    pub(super) fn accepts(&self, state: u32) -> bool {
        state != DEAD && self.accepting[state as usize]
    }

    /// Whether `state` accepts every continuation: it accepts and loops on every symbol.
    pub(super) fn is_universal(&self, state: u32) -> bool {
        self.accepts(state)
            && self.out(state)
                == [Transition {
                    lo: 0,
                    hi: MAX_SYMBOL,
                    target: state,
                }]
    }

    /// The state that accepts every continuation; a minimal automaton has at most one.
    pub(super) fn universal_state(&self) -> Option<u32> {
        (0..self.len() as u32).find(|&state| self.is_universal(state))
    }

    pub(super) fn push_state(&mut self, accepting: bool) {
        self.accepting.push(accepting);
    }

    /// Adds a transition to the state being built, merging it into the previous one when they
    /// are adjacent and share a target.
    pub(super) fn push_transition(&mut self, lo: u32, hi: u32, target: u32) {
        let begin = self.offsets.last().copied().unwrap_or(0) as usize;
        match self.transitions[begin..].last_mut() {
            Some(last) if last.target == target && last.hi + 1 == lo => last.hi = hi,
            _ => self.transitions.push(Transition { lo, hi, target }),
        }
    }

    pub(super) fn finish_state(&mut self) -> Result<(), PatternError> {
        if self.transitions.len() > MAX_TRANSITIONS {
            return Err(PatternError::TooComplex);
        }
        self.offsets.push(self.transitions.len() as u32);
        Ok(())
    }

    pub(super) fn builder() -> Dfa {
        Dfa {
            accepting: Vec::new(),
            offsets: vec![0],
            transitions: Vec::new(),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Operation {
    Intersection,
    Minus,
    Union,
}

/// The product automaton of `a` and `b` for `operation`, minimised.
pub(super) fn product(a: &Dfa, b: &Dfa, operation: Operation) -> Result<Dfa, PatternError> {
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
pub(super) fn complement(dfa: &Dfa) -> Result<Dfa, PatternError> {
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
pub(super) fn for_each_segment(
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
