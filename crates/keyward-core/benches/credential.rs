//! The per-request cost of API key authentication in core: parsing the `Authorization` header and
//! checking the presented secret against an `{SSHA256}` hash.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use keyward_core::SecretSource;
use keyward_core::credential::parse_authorization;
use keyward_core::hash::{HashAlgorithm, hash_secret, verify_secret};

/// A fixed salt is fine here: the cost of verifying does not depend on it.
struct Counter(u8);

impl SecretSource for Counter {
    fn fill(&mut self, buf: &mut [u8]) {
        for byte in buf {
            *byte = self.0;
            self.0 = self.0.wrapping_add(1);
        }
    }
}

fn bench(c: &mut Criterion) {
    let header = b"ApiKey VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==";
    c.bench_function("parse_authorization/api_key", |b| {
        b.iter(|| parse_authorization(black_box(header)))
    });

    let secret = b"ui2lp2axTNmsyakw9tvNnw";
    let stored = hash_secret(HashAlgorithm::Ssha256, secret, &mut Counter(0));
    c.bench_function("verify_secret/ssha256", |b| {
        b.iter(|| verify_secret(black_box(secret), black_box(&stored)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
