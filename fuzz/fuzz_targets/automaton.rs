//! The index-pattern and regular-expression compiler: any two lists of patterns compile or fail
//! with an error, and the set operations agree with matching on sample names.
//!
//! Input: UTF-8 text; lines are patterns, and a line holding only `---` separates the first list
//! from the second.

#![no_main]

use keyward_core::automaton::Automaton;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (first, second) = text.split_once("\n---\n").unwrap_or((text, ""));
    let first: Vec<&str> = first.lines().collect();
    let second: Vec<&str> = second.lines().collect();
    let Ok(a) = Automaton::from_patterns(&first) else {
        return;
    };
    let Ok(b) = Automaton::from_patterns(&second) else {
        return;
    };
    // Sample names: the patterns themselves, with their special characters and without.
    let mut samples: Vec<String> = vec![String::new(), "a".to_owned(), ".kibana".to_owned()];
    for pattern in first.iter().chain(&second) {
        samples.push((*pattern).to_owned());
        samples.push(pattern.replace(['*', '?', '/', '\\', '.', '+'], ""));
        samples.push(pattern.replace(['*', '?'], "x"));
    }
    let union = a.union(&b).ok();
    let intersection = a.intersection(&b).ok();
    let minus = a.minus(&b).ok();
    let subset = a.try_subset_of(&b).ok();
    for sample in &samples {
        let (in_a, in_b) = (a.matches(sample), b.matches(sample));
        if let Some(union) = &union {
            assert_eq!(union.matches(sample), in_a || in_b, "union, {sample:?}");
        }
        if let Some(intersection) = &intersection {
            assert_eq!(
                intersection.matches(sample),
                in_a && in_b,
                "intersection, {sample:?}"
            );
        }
        if let Some(minus) = &minus {
            assert_eq!(minus.matches(sample), in_a && !in_b, "minus, {sample:?}");
        }
        if subset == Some(true) && in_a {
            assert!(in_b, "subset, {sample:?}");
        }
    }
    if let Some(union) = &union {
        assert!(a.subset_of(union) && b.subset_of(union));
    }
});
