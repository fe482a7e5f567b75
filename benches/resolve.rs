//! The in-process cost of each resolution path, per operation, without the
//! network: `cargo bench --bench resolve`. Figures and method are in
//! BENCHMARKS.md; `benches/load.sh` measures the same over the socket.
//!
//! "prepared" paths answer from the encodings made when the catalog loaded
//! (a lookup, then one copy of bytes); "computed" paths build the answer:
//! translation, template, rich status, gateway body and encoding.

// A test or a benchmark fails loudly, and its helpers are its own.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use errmap::catalog::{Catalog, SharedCatalog};
use errmap::engine::{self, Answer, Prefix};
use errmap::locale::Locale;
use errmap::mapping::{self, GatewayQuery, Profile};
use errmap::pb::errmap::v1::error_map_service_server::ErrorMapService;
use errmap::pb::errmap::v1::{
    batch_query::Query, BatchQuery, BatchResolveRequest, ResolutionView,
    ResolveGatewayErrorRequest, ResolveGrpcStatusRequest,
};
use errmap::pb::google::rpc::Code;
use errmap::present::{present, Presentation, DEFAULT_ERROR_DOMAIN};
use errmap::render::render;
use errmap::service::prepared::Prepared;
use errmap::service::{ErrorMap, Options};
use futures_util::FutureExt;
use prost::Message;
use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;

fn gateway(code: &str, http_status: Option<i32>) -> ResolveGatewayErrorRequest {
    ResolveGatewayErrorRequest {
        code: code.to_owned(),
        http_status,
        ..Default::default()
    }
}

fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn lookups(c: &mut Criterion, catalog: &Catalog) {
    c.bench_function("lookup: code as sent", |b| {
        b.iter(|| catalog.lookup(black_box("APIGW_NONCE_CONFLICT")))
    });
    c.bench_function("lookup: code folded (case, spaces)", |b| {
        b.iter(|| catalog.lookup(black_box(" apigw_nonce_conflict ")))
    });
}

/// The length of an answer's encoding, prepared or computed.
fn encoded_len<T: AsRef<[u8]>>(answer: Answer<&T>) -> usize {
    match answer {
        Answer::Cached(bytes) => bytes.as_ref().len(),
        Answer::Computed(resolution) => resolution.encode_to_vec().len(),
    }
}

fn single(c: &mut Criterion, catalog: &Arc<Catalog>, options: &Options) {
    let prepared = Prepared::build(catalog.clone(), options);
    let cache = &prepared;
    let ctx = options.context(catalog, None, None);
    let by_code = gateway("APIGW_NONCE_CONFLICT", None);
    let lookup = |request| match engine::gateway(&ctx, Prefix::ROOT, request, &cache) {
        Ok(Answer::Cached(answer)) => Some(answer),
        _ => None,
    };
    c.bench_function("by code, prepared (lookup)", |b| {
        b.iter(|| lookup(black_box(&by_code)).map(|a| a.encoded.len()))
    });
    let mut out = Vec::with_capacity(4096);
    c.bench_function("by code, prepared, encoded", |b| {
        b.iter(|| {
            out.clear();
            if let Some(answer) = lookup(black_box(&by_code)) {
                out.extend_from_slice(&answer.encoded);
            }
            out.len()
        })
    });
    c.bench_function("by code, computed, encoded", |b| {
        b.iter(|| engine::resolve_gateway(&ctx, black_box(&by_code)).map(|r| r.encode_to_vec()))
    });
    let cached = |request| {
        engine::gateway(&ctx, Prefix::ROOT, request, &cache)
            .map(|a| encoded_len(a.map_cached(|a| &a.encoded)))
    };
    let by_alias = gateway("APIGW_KEY_NOT_EXIST", None);
    c.bench_function("by alias, computed, encoded", |b| {
        b.iter(|| cached(black_box(&by_alias)))
    });
    let by_status = gateway("", Some(429));
    c.bench_function("by status alone, computed, encoded", |b| {
        b.iter(|| cached(black_box(&by_status)))
    });
    let unknown = gateway("APIGW_NONCE_CONFLICTS", None);
    c.bench_function("unknown code, with suggestions", |b| {
        b.iter(|| cached(black_box(&unknown)).is_err())
    });
    let grpc = ResolveGrpcStatusRequest {
        code: Code::Unavailable as i32,
        ..Default::default()
    };
    c.bench_function("gRPC to gateway, prepared (lookup)", |b| {
        b.iter(
            || match engine::grpc(&ctx, Prefix::ROOT, black_box(&grpc), &cache) {
                Ok(Answer::Cached(answer)) => Some(answer.encoded.len()),
                _ => None,
            },
        )
    });
    let with_reason = ResolveGrpcStatusRequest {
        code: Code::ResourceExhausted as i32,
        reason: "RATE_LIMIT_EXCEEDED".into(),
        ..Default::default()
    };
    c.bench_function("gRPC to gateway with reason, computed, encoded", |b| {
        b.iter(|| {
            engine::grpc(&ctx, Prefix::ROOT, black_box(&with_reason), &cache)
                .map(|a| encoded_len(a.map_cached(|a| &a.encoded)))
        })
    });
}

fn parts(c: &mut Criterion, catalog: &Catalog) {
    let found = catalog.lookup("HTTP_FORBIDDEN").expect("catalogued");
    let entry = catalog.entry(found.rows[0]);
    let filled = params(&[("resource", "vpc-1"), ("permission", "write")]);
    c.bench_function("template: render with params", |b| {
        b.iter(|| render(black_box(&entry.message_en), &filled))
    });
    c.bench_function("template: render without params", |b| {
        b.iter(|| render(black_box(&entry.message), &BTreeMap::new()))
    });
    let query = GatewayQuery {
        code: Some("HTTP_FORBIDDEN"),
        http_status: Some(403),
        profile: Profile::Google,
        explain: true,
    };
    c.bench_function("translation alone", |b| {
        b.iter(|| mapping::resolve_gateway(catalog, black_box(query)))
    });
    let resolution = mapping::resolve_gateway(catalog, query).expect("known");
    let how = Presentation {
        locale: Locale::EnUs,
        params: &filled,
        request_id: "req-1",
        error_domain: DEFAULT_ERROR_DOMAIN,
    };
    c.bench_function("rich status and gateway body", |b| {
        b.iter(|| present(black_box(&resolution), how))
    });
    c.bench_function("catalog load and validation", |b| b.iter(Catalog::embedded));
}

/// A decoded batch, as the server receives it: queries still encoded.
fn received_batch(catalog: &Catalog, size: usize, view: ResolutionView) -> BatchResolveRequest {
    let entries = catalog.entries();
    let queries = (0..size)
        .map(|i| {
            let query = if i % 4 == 3 {
                Query::GrpcStatus(ResolveGrpcStatusRequest {
                    code: (i % 17) as i32,
                    ..Default::default()
                })
            } else {
                Query::GatewayError(gateway(&entries[i % entries.len()].code, None))
            };
            BatchQuery { query: Some(query) }
        })
        .collect();
    let request = BatchResolveRequest {
        view: view as i32,
        ..BatchResolveRequest::new(queries)
    };
    BatchResolveRequest::decode(request.encode_to_vec().as_slice()).expect("decodes")
}

fn batches(c: &mut Criterion, catalog: &Arc<Catalog>, options: &Options) {
    let service = ErrorMap::new(
        SharedCatalog::new(Catalog::embedded().expect("loads")),
        options.clone(),
    );
    let mut group = c.benchmark_group("batch of 1000");
    group.throughput(Throughput::Elements(1000));
    for (view, name) in [
        (ResolutionView::Basic, "basic view"),
        (ResolutionView::Full, "full view"),
    ] {
        let request = received_batch(catalog, 1000, view);
        group.bench_function(name, |b| {
            b.iter_batched(
                || tonic::Request::new(request.clone()),
                |request| {
                    let answer = service.batch_resolve(request).now_or_never();
                    answer
                        .and_then(Result::ok)
                        .map(|a| a.into_inner().encode_to_vec().len())
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

fn all(c: &mut Criterion) {
    let catalog = Arc::new(Catalog::embedded().expect("the embedded catalog loads"));
    let options = Options::default();
    lookups(c, &catalog);
    single(c, &catalog, &options);
    parts(c, &catalog);
    batches(c, &catalog, &options);
}

criterion_group!(benches, all);
criterion_main!(benches);
