//! Minimisation by partition refinement.

use super::*;

/// Trims and minimises a deterministic automaton and puts it in canonical form.
///
/// Minimisation is Valmari and Lehtinen's partition refinement ("Efficient minimization of DFAs
/// with partial transition functions", 2008), which runs Hopcroft's "process the smaller half"
/// strategy on partial automata in O(m log n). Its alphabet is the classes of symbols no
/// transition tells apart.
pub(super) fn minimize(raw: &Dfa) -> Result<Dfa, PatternError> {
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
pub(super) fn useful_states(dfa: &Dfa) -> Vec<bool> {
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
pub(super) fn refine(
    raw: &Dfa,
    states: &[u32],
    tails: &[u32],
    labels: &[u32],
    heads: &[u32],
) -> Partition {
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
pub(super) struct Partition {
    pub(super) sets: usize,
    pub(super) elements: Vec<u32>,
    pub(super) location: Vec<u32>,
    pub(super) set_of: Vec<u32>,
    pub(super) first: Vec<u32>,
    pub(super) past: Vec<u32>,
    pub(super) marked: Vec<u32>,
    pub(super) touched: Vec<u32>,
}

impl Partition {
    pub(super) fn new(size: usize) -> Partition {
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
    pub(super) fn mark(&mut self, element: u32) {
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
    pub(super) fn split(&mut self) {
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
