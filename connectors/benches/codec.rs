//! Codec hot path: every record that enters or leaves Compass is encoded or decoded once.
//!
//!     cargo bench -p compass-connectors --bench codec

use std::hint::black_box;

use compass_connectors::Codec;
use compass_schemas::{samples, Assignment, QueryEvent};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn codec(c: &mut Criterion) {
    let codec = Codec::single_object();
    let query = samples::query_event("q-123456");
    let assignment = samples::assignment("q-123456", 42);
    let query_bytes = codec.encode("t", &query).expect("encode");
    let assignment_bytes = codec.encode("t", &assignment).expect("encode");

    let mut g = c.benchmark_group("single-object");
    g.throughput(Throughput::Elements(1));
    g.bench_function("encode QueryEvent", |b| {
        b.iter(|| codec.encode("t", black_box(&query)))
    });
    g.bench_function("decode+validate QueryEvent", |b| {
        b.iter(|| codec.decode::<QueryEvent>(black_box(&query_bytes)))
    });
    g.bench_function("encode Assignment", |b| {
        b.iter(|| codec.encode("t", black_box(&assignment)))
    });
    g.bench_function("decode+validate Assignment", |b| {
        b.iter(|| codec.decode::<Assignment>(black_box(&assignment_bytes)))
    });
    g.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
