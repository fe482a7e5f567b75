//! The lookup path allocates nothing: a plain query by code, or by gRPC
//! code, is answered from prepared encodings with no heap allocation at
//! all. Counted with dhat's allocator, so this is a count, not a timing.

// A test or a benchmark fails loudly, and its helpers are its own.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use errmap::catalog::Catalog;
use errmap::engine::{self, Answer, Context, Prefix, View};
use errmap::locale::Locale;
use errmap::pb::errmap::v1::{Profile, ResolveGatewayErrorRequest, ResolveGrpcStatusRequest};
use errmap::service::prepared::Prepared;
use errmap::service::Options;
use std::sync::Arc;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// Heap blocks allocated while `f` runs.
fn blocks_during(f: impl FnOnce()) -> u64 {
    let before = dhat::HeapStats::get().total_blocks;
    f();
    dhat::HeapStats::get().total_blocks - before
}

#[test]
fn plain_queries_allocate_nothing() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let catalog = Arc::new(Catalog::embedded().expect("the embedded catalog loads"));
    let options = Options::default();
    let prepared = Prepared::build(catalog.clone(), &options);
    let cache = &prepared;
    let ctx = options.context(
        &catalog,
        Some("fr;q=0.9, en-US;q=0.8, zh;q=0.5, *;q=0.1"),
        None,
    );
    let basic = Context {
        view: View::Basic,
        ..ctx
    };
    let mut requests = Vec::new();
    for entry in catalog.entries() {
        for code in [
            entry.code.clone(),
            format!("  {}\t", entry.code.to_lowercase()),
        ] {
            for locale in ["", "zh-CN", "en-US"] {
                requests.push(ResolveGatewayErrorRequest {
                    code: code.clone(),
                    http_status: Some(entry.http_status),
                    locale: locale.into(),
                    profile: Profile::GrpcProxy as i32,
                    ..Default::default()
                });
            }
        }
    }
    let grpc: Vec<ResolveGrpcStatusRequest> = (0..=16)
        .map(|code| ResolveGrpcStatusRequest {
            code,
            locale: Locale::EnUs.tag().into(),
            ..Default::default()
        })
        .collect();
    let mut answered = 0;
    let blocks = blocks_during(|| {
        for ctx in [&ctx, &basic] {
            for request in &requests {
                let answer = engine::gateway(ctx, Prefix::ROOT, request, &cache);
                answered += usize::from(matches!(answer, Ok(Answer::Cached(_))));
            }
            for request in &grpc {
                let answer = engine::grpc(ctx, Prefix::ROOT, request, &cache);
                answered += usize::from(matches!(answer, Ok(Answer::Cached(_))));
            }
        }
    });
    assert_eq!(
        answered,
        2 * (requests.len() + grpc.len()),
        "every plain query is prepared"
    );
    assert_eq!(blocks, 0, "heap blocks allocated on the lookup path");
}
