//! The cost of index-pattern automata at the sizes role sets reach: compiling 100 roles of 50
//! patterns each into one automaton, matching a name against it, and the exact subset test the
//! limited-by check runs against a cached automaton.

// The patterns are fixed and valid: a failure here is a bug to see at once, not input to handle.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use keyward_core::automaton::Automaton;

const ROLES: usize = 100;
const PATTERNS_PER_ROLE: usize = 50;

/// The patterns of one role: a mix of prefix wildcards, `?` patterns and exact names.
fn role_patterns(role: usize) -> Vec<String> {
    (0..PATTERNS_PER_ROLE)
        .map(|index| {
            let n = (role * PATTERNS_PER_ROLE + index) * 7919 % 100_000;
            match index % 3 {
                0 => format!("logs-{n}-*"),
                1 => format!("metrics-?{n}"),
                _ => format!("index-{role}-{n}"),
            }
        })
        .collect()
}

fn all_patterns() -> Vec<String> {
    (0..ROLES).flat_map(role_patterns).collect()
}

fn bench(c: &mut Criterion) {
    let patterns = all_patterns();
    let roles: Vec<Automaton> = (0..ROLES)
        .map(|role| Automaton::from_patterns(role_patterns(role)).unwrap())
        .collect();
    let all = Automaton::from_patterns(&patterns).unwrap();
    eprintln!(
        "{} patterns -> {:?}; one role -> {:?}",
        patterns.len(),
        all,
        roles[0]
    );

    let mut group = c.benchmark_group("automaton");
    group.sample_size(20);
    group.bench_function("from_patterns/100x50", |b| {
        b.iter(|| Automaton::from_patterns(black_box(&patterns)).unwrap())
    });
    group.bench_function("from_patterns/1x50", |b| {
        let one = role_patterns(0);
        b.iter(|| Automaton::from_patterns(black_box(&one)).unwrap())
    });
    group.bench_function("union_of_roles/100", |b| {
        b.iter(|| {
            roles
                .iter()
                .try_fold(Automaton::empty(), |union, role| union.union(role))
                .unwrap()
        })
    });
    group.finish();

    // Role 0's fourth pattern is a prefix wildcard, role 99's third an exact name.
    let prefix = role_patterns(0)[3].trim_end_matches('*').to_owned();
    let matching = format!("{prefix}2024.01.01");
    let exact = role_patterns(ROLES - 1)[2].clone();
    let missing = format!("{prefix}x").replace("logs-", "logs-9");
    assert!(all.matches(&matching) && all.matches(&exact) && !all.matches(&missing));
    c.bench_function("matches/prefix_hit", |b| {
        b.iter(|| all.matches(black_box(&matching)))
    });
    c.bench_function("matches/exact_hit", |b| {
        b.iter(|| all.matches(black_box(&exact)))
    });
    c.bench_function("matches/miss", |b| {
        b.iter(|| all.matches(black_box(&missing)))
    });

    assert!(roles[42].subset_of(&all) && !all.subset_of(&roles[42]));
    c.bench_function("subset_of/role_in_all", |b| {
        b.iter(|| black_box(&roles[42]).subset_of(black_box(&all)))
    });
    c.bench_function("subset_of/all_in_role", |b| {
        b.iter(|| black_box(&all).subset_of(black_box(&roles[42])))
    });
    let copy = Automaton::from_patterns(&patterns).unwrap();
    c.bench_function("subset_of/all_in_all_rebuilt", |b| {
        b.iter(|| black_box(&all).subset_of(black_box(&copy)))
    });
    c.bench_function("equivalent/all_rebuilt", |b| {
        b.iter(|| black_box(&all).equivalent(black_box(&copy)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
