//! The cost of one answer without the network: catalog lookup, translation
//! and presentation (message, status with details, gateway body), the work
//! every call does. `cargo bench --bench resolve`; figures in
//! docs/performance.md.

use criterion::{criterion_group, criterion_main, Criterion};
use errmap::catalog::Catalog;
use errmap::locale::Locale;
use errmap::mapping::{self, GatewayQuery, GrpcQuery, Profile, ReasonFrom};
use errmap::pb::google::rpc::Code;
use errmap::present::{present, Presentation, DEFAULT_ERROR_DOMAIN};
use std::collections::BTreeMap;
use std::hint::black_box;

fn resolve(c: &mut Criterion) {
    let catalog = Catalog::embedded().expect("the embedded catalog loads");
    let no_params = BTreeMap::new();
    let params: BTreeMap<String, String> = [("resource", "vpc-1"), ("permission", "write")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let how = |params| Presentation {
        locale: Locale::EnUs,
        params,
        request_id: "req-1",
        error_domain: DEFAULT_ERROR_DOMAIN,
    };

    c.bench_function("lookup by code", |b| {
        b.iter(|| catalog.lookup(black_box(" apigw_nonce_conflict ")))
    });
    c.bench_function("gateway error to gRPC, resolution only", |b| {
        b.iter(|| {
            let query = GatewayQuery {
                code: Some(black_box("APIGW_NONCE_CONFLICT")),
                http_status: Some(403),
                profile: Profile::Google,
            };
            mapping::resolve_gateway(&catalog, query)
        })
    });
    c.bench_function("gateway error to gRPC, presented", |b| {
        b.iter(|| {
            let query = GatewayQuery {
                code: Some(black_box("HTTP_FORBIDDEN")),
                http_status: Some(403),
                profile: Profile::Google,
            };
            let resolution = mapping::resolve_gateway(&catalog, query).expect("known");
            present(&resolution, how(&params))
        })
    });
    c.bench_function("gRPC to gateway, presented", |b| {
        b.iter(|| {
            let query = GrpcQuery {
                code: black_box(Code::ResourceExhausted),
                reason: Some("RATE_LIMIT_EXCEEDED"),
                reason_from: ReasonFrom::Request,
                http_status: None,
            };
            let resolution = mapping::resolve_grpc(&catalog, query);
            present(&resolution, how(&no_params))
        })
    });
    c.bench_function("unknown code with suggestions", |b| {
        b.iter(|| {
            mapping::resolve_gateway(
                &catalog,
                GatewayQuery {
                    code: Some(black_box("APIGW_NONCE_CONFLICTS")),
                    http_status: None,
                    profile: Profile::Google,
                },
            )
        })
    });
    c.bench_function("catalog load and validation", |b| b.iter(Catalog::embedded));
}

criterion_group!(benches, resolve);
criterion_main!(benches);
