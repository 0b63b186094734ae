//! Syntax trees to automata: the Thompson NFA with range transitions and the subset
//! construction.

use super::*;

/// Compiles a pattern tree into a minimal automaton.
pub(super) fn compile(node: &Node) -> Result<Dfa, PatternError> {
    let mut nfa = Nfa::default();
    let fragment = nfa.build(node)?;
    let raw = determinize(&nfa, fragment)?;
    minimize(&raw)
}

/// A Thompson NFA with range transitions and epsilon moves.
#[derive(Default)]
pub(super) struct Nfa {
    pub(super) states: Vec<NfaState>,
}

#[derive(Clone, Default)]
pub(super) struct NfaState {
    pub(super) epsilon: Vec<u32>,
    pub(super) transitions: Vec<Transition>,
}

/// A piece of NFA: the strings it accepts label the paths from `start` to `end`. `end` has no
/// outgoing moves until the fragment is composed into a larger one.
#[derive(Clone, Copy)]
pub(super) struct Fragment {
    pub(super) start: u32,
    pub(super) end: u32,
}

impl Nfa {
    pub(super) fn add(&mut self) -> Result<u32, PatternError> {
        if self.states.len() >= MAX_NFA_STATES {
            return Err(PatternError::TooComplex);
        }
        self.states.push(NfaState::default());
        Ok(self.states.len() as u32 - 1)
    }

    pub(super) fn epsilon(&mut self, from: u32, to: u32) {
        self.states[from as usize].epsilon.push(to);
    }

    pub(super) fn chars(&mut self, from: u32, to: u32, ranges: &[(u32, u32)]) {
        let transitions = ranges
            .iter()
            .map(|&(lo, hi)| Transition { lo, hi, target: to });
        self.states[from as usize].transitions.extend(transitions);
    }

    pub(super) fn build(&mut self, node: &Node) -> Result<Fragment, PatternError> {
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
    pub(super) fn build_repeat(
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
    pub(super) fn copy(&mut self, first: usize, size: usize, fragment: Fragment) -> Fragment {
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
    pub(super) fn embed(&mut self, dfa: &Dfa) -> Result<Fragment, PatternError> {
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
pub(super) enum Kind {
    /// Only epsilon moves: it does not distinguish subsets.
    Silent,
    /// Has transitions, or is the accepting state.
    Important,
    /// Accepts every continuation (a `*` at the end of a pattern): any subset holding it is the
    /// universal state, whatever else it holds.
    Universal,
}

/// The key of the universal subset.
pub(super) const UNIVERSAL: u32 = u32::MAX;

/// The subset construction. Subsets are keyed by their important states only, and any subset
/// holding a universal state collapses into one universal state: a set of prefix patterns
/// (`logs-*`, `metrics-*`) then stays as small as the trie of its prefixes.
pub(super) fn determinize(nfa: &Nfa, fragment: Fragment) -> Result<Dfa, PatternError> {
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

pub(super) fn classify(nfa: &Nfa, accept: u32) -> Vec<Kind> {
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
pub(super) struct Closure {
    pub(super) stamp: Vec<u32>,
    pub(super) generation: u32,
    pub(super) stack: Vec<u32>,
}

impl Closure {
    /// Puts the important states reachable from `seeds` by epsilon moves into `out`, sorted, or
    /// just [`UNIVERSAL`] when one of them is universal. Returns the number of states visited.
    pub(super) fn close(
        &mut self,
        nfa: &Nfa,
        seeds: &[u32],
        kinds: &[Kind],
        out: &mut Vec<u32>,
    ) -> usize {
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
pub(super) struct Subsets {
    pub(super) keys: Vec<Rc<[u32]>>,
    pub(super) ids: HashMap<Rc<[u32]>, u32>,
}

impl Subsets {
    pub(super) fn intern(&mut self, key: &[u32]) -> Result<u32, PatternError> {
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
