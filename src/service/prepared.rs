//! Answers made ready when a catalog first serves: for every plain query
//! (a bare code, or a bare gRPC code, with no params, request id, body or
//! details), in each locale, profile and view, the encoded `BatchResult`.
//! That encoding is also the whole `Resolve*Response`, as both carry the
//! resolution in field 1, so one copy serves single calls and batches.
//!
//! They are built by the ordinary path, so a prepared answer is the
//! computed one byte for byte (`tests/grpc/prepared.rs` checks every
//! entry); what a call saves is building, rendering and encoding it again.

use super::resolve::{self, CallContext};
use super::Options;
use crate::catalog::Catalog;
use crate::locale::Locale;
use crate::pb::errmap::v1 as pb;
use crate::pb::google::rpc::Code;
use crate::wire;
use bytes::Bytes;
use std::sync::Arc;

/// The rows whose answers are prepared, from the top: the embedded rows
/// come first, then a file's. The six answers of a row take about 4,000
/// bytes (the embedded catalog's average), so this bounds them near 8 MB;
/// the rows of a larger catalog past it are answered as they are asked
/// for, byte for byte the same.
pub const MAX_PREPARED_ROWS: usize = 2048;

/// An encoded answer and how it was matched (for metrics).
#[derive(Debug, Clone)]
pub struct Answer {
    pub encoded: Bytes,
    pub match_kind: pb::MatchKind,
}

/// One full and one basic answer per locale.
type PerLocale = [[Answer; 2]; 2];

/// The prepared answers of one catalog snapshot.
#[derive(Debug)]
pub struct Prepared {
    catalog: Arc<Catalog>,
    /// By row: `[profile][locale]`, profiles Google and GrpcProxy, full view.
    gateway: Vec<[[Answer; 2]; 2]>,
    /// By row: `[locale]`, basic view.
    gateway_basic: Vec<[Answer; 2]>,
    /// By gRPC code: `[view][locale]`, views full and basic.
    grpc: Vec<PerLocale>,
}

/// Which `ResolutionView` an answer is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Full,
    Basic,
}

impl Prepared {
    /// Answers every plain query against `catalog`, as `options` say.
    pub fn build(catalog: Arc<Catalog>, options: &Options) -> Self {
        let answer = |basic: bool, query: &Query<'_>, locale: Locale| -> Answer {
            let ctx = CallContext {
                catalog: &catalog,
                accept_language: None,
                options,
                observer: None,
                basic,
                prepared: None,
                tally: None,
            };
            let resolution = match query {
                Query::Gateway(code, status, profile) => {
                    let request = pb::ResolveGatewayErrorRequest {
                        code: (*code).to_owned(),
                        http_status: Some(*status),
                        locale: locale.tag().to_owned(),
                        profile: *profile as i32,
                        ..Default::default()
                    };
                    resolve::gateway(&ctx, "", &request).unwrap_or_default()
                }
                Query::Grpc(code) => {
                    let request = pb::ResolveGrpcStatusRequest {
                        code: *code as i32,
                        locale: locale.tag().to_owned(),
                        ..Default::default()
                    };
                    resolve::grpc(&ctx, "", &request).unwrap_or_default()
                }
            };
            Answer {
                match_kind: pb::MatchKind::try_from(resolution.match_kind)
                    .unwrap_or(pb::MatchKind::Unspecified),
                encoded: wire::field_one(&resolution),
            }
        };
        let per_locale =
            |basic: bool, query: Query<'_>| Locale::ALL.map(|l| answer(basic, &query, l));
        let rows = &catalog.entries()[..catalog.entries().len().min(MAX_PREPARED_ROWS)];
        let gateway = rows
            .iter()
            .map(|e| {
                [pb::Profile::Google, pb::Profile::GrpcProxy]
                    .map(|p| per_locale(false, Query::Gateway(&e.code, e.http_status, p)))
            })
            .collect();
        let gateway_basic = rows
            .iter()
            .map(|e| {
                per_locale(
                    true,
                    Query::Gateway(&e.code, e.http_status, pb::Profile::Google),
                )
            })
            .collect();
        let grpc = (0..=16)
            .map(|c| {
                let code = Code::try_from(c).unwrap_or(Code::Unknown);
                [
                    per_locale(false, Query::Grpc(code)),
                    per_locale(true, Query::Grpc(code)),
                ]
            })
            .collect();
        Self {
            catalog,
            gateway,
            gateway_basic,
            grpc,
        }
    }

    /// The snapshot these answers were made from.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The answer for an entry's row, as matched by its own code; `None`
    /// past [`MAX_PREPARED_ROWS`].
    pub fn gateway(
        &self,
        row: usize,
        profile: pb::Profile,
        locale: Locale,
        view: View,
    ) -> Option<&Answer> {
        match view {
            View::Full => {
                let profile = usize::from(profile == pb::Profile::GrpcProxy);
                Some(&self.gateway.get(row)?[profile][locale.index()])
            }
            View::Basic => Some(&self.gateway_basic.get(row)?[locale.index()]),
        }
    }

    /// The answer for a bare gRPC code.
    pub fn grpc(&self, code: Code, locale: Locale, view: View) -> Option<&Answer> {
        let view = usize::from(view == View::Basic);
        Some(&self.grpc.get(code as usize)?[view][locale.index()])
    }
}

enum Query<'a> {
    Gateway(&'a str, i32, pb::Profile),
    Grpc(Code),
}
