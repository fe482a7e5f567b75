//! What loading a large catalog file costs, in-process: parsing,
//! validating and indexing it over the embedded catalog, and preparing its
//! answers. `cargo bench --bench catalog_load`; figures in BENCHMARKS.md.
//!
//! The entries are written like the gateway's own (a Chinese and an
//! English message and solution, a retry delay on some), about 280 bytes
//! each as in `catalog/catalog.textproto`.

// A test or a benchmark fails loudly, and its helpers are its own.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use errmap::catalog::{Catalog, Source};
use errmap::service::prepared::{Prepared, MAX_PREPARED_ROWS};
use errmap::service::Options;
use std::fmt::Write;
use std::hint::black_box;
use std::sync::Arc;

/// A catalog file of `count` entries, every one added to the embedded rows.
pub fn catalog_text(count: usize) -> String {
    let mut text = String::from("# generated\n");
    for i in 0..count {
        let status = 400 + (i % 100);
        let retry = if i % 3 == 0 {
            "  retry_delay { seconds: 2 }\n"
        } else {
            ""
        };
        let _ = write!(
            text,
            "entries {{\n  code: \"GENERATED_CODE_{i}\"\n  http_status: {status}\n  \
             table: TABLE_CONSOLE\n  grpc_code: FAILED_PRECONDITION\n  \
             message: \"操作 {i} 暂时无法完成\"\n  solution: \"请稍后再试，或联系管理员\"\n  \
             message_en: \"Operation {i} cannot be completed now\"\n  \
             solution_en: \"Try again later, or ask an administrator.\"\n{retry}}}\n"
        );
    }
    text
}

fn load(c: &mut Criterion) {
    let mut group = c.benchmark_group("catalog load");
    group.sample_size(10);
    for count in [1_000, 10_000, 100_000] {
        let text = catalog_text(count);
        group.throughput(Throughput::Elements(count as u64));
        group.bench_function(format!("{count} entries ({} bytes)", text.len()), |b| {
            b.iter(|| {
                Catalog::load(Some(Source {
                    name: "generated",
                    text: black_box(&text),
                }))
                .expect("valid")
            })
        });
    }
    let catalog = Arc::new(
        Catalog::load(Some(Source {
            name: "generated",
            text: &catalog_text(100_000),
        }))
        .expect("valid"),
    );
    let options = Options::default();
    group.throughput(Throughput::Elements(MAX_PREPARED_ROWS as u64));
    group.bench_function("prepared answers, 100000 entries (the first rows)", |b| {
        b.iter(|| Prepared::build(catalog.clone(), &options))
    });
    group.finish();
}

criterion_group!(benches, load);
criterion_main!(benches);
