//! Answers made ready for a catalog: for every plain query (a code by its
//! own spelling, or a bare gRPC code, with no params, request id, body or
//! details), in each locale, profile and view, the encoded `BatchResult`.
//! That encoding is also the whole `Resolve*Response`, as both carry the
//! resolution in field 1, so one copy serves single calls and batches.
//!
//! It is a cache in front of the engine ([`AnswerCache`]), filled by asking
//! the engine, so a prepared answer is the computed one byte for byte
//! (`tests/grpc/prepared.rs` checks every entry); what a call saves is
//! building, rendering and encoding it again.

use super::options::Options;
use crate::catalog::Catalog;
use crate::engine::{self, AnswerCache, Context, GatewayKey, GrpcKey, View};
use crate::locale::Locale;
use crate::pb::errmap::v1 as pb;
use crate::pb::google::rpc::Code;
use crate::pb::wire;
use bytes::Bytes;
use std::sync::Arc;

/// An encoded answer and how it was matched (for metrics).
#[derive(Debug, Clone)]
pub struct Answer {
    pub encoded: Bytes,
    pub match_kind: pb::MatchKind,
}

/// One answer per locale.
type PerLocale = [Answer; 2];

/// The rows whose answers are prepared, from the top: the embedded rows
/// come first, then a file's. The six answers of a row take about 4,000
/// bytes (the embedded catalog's average), so this bounds them near 8 MB;
/// the rows of a larger catalog past it are answered as they are asked
/// for, byte for byte the same.
pub const MAX_PREPARED_ROWS: usize = 2048;

/// The prepared answers of one catalog.
#[derive(Debug)]
pub struct Prepared {
    catalog: Arc<Catalog>,
    /// By row: `[profile][locale]`, profiles Google and GrpcProxy, full view.
    gateway: Vec<[PerLocale; 2]>,
    /// By row: `[locale]`, basic view (which no profile changes).
    gateway_basic: Vec<PerLocale>,
    /// By gRPC code: `[view][locale]`, views full and basic.
    grpc: Vec<[PerLocale; 2]>,
}

/// The two profiles a prepared gateway answer is made for.
const PROFILES: [pb::Profile; 2] = [pb::Profile::Google, pb::Profile::GrpcProxy];

impl Prepared {
    /// Answers every plain query against `catalog`, as `options` say. The
    /// work grows with the catalog: build where a catalog is loaded or on a
    /// thread of its own, never on a request's path.
    pub fn build(catalog: Arc<Catalog>, options: &Options) -> Self {
        let context = |view| Context {
            view,
            ..options.context(&catalog, None, None)
        };
        let (full, basic) = (context(View::Full), context(View::Basic));
        let gateway_answer = |ctx: &Context<'_>, row: usize, profile, locale: Locale| {
            let entry = catalog.entry(row);
            let request = pb::ResolveGatewayErrorRequest {
                code: entry.code.clone(),
                http_status: Some(entry.http_status),
                locale: locale.tag().to_owned(),
                profile: profile as i32,
                ..Default::default()
            };
            answer(engine::resolve_gateway(ctx, &request))
        };
        let grpc_answer = |ctx: &Context<'_>, code: Code, locale: Locale| {
            let request = pb::ResolveGrpcStatusRequest {
                code: code as i32,
                locale: locale.tag().to_owned(),
                ..Default::default()
            };
            answer(engine::resolve_grpc(ctx, &request))
        };
        let rows = 0..catalog.entries().len().min(MAX_PREPARED_ROWS);
        let gateway = rows
            .clone()
            .map(|row| PROFILES.map(|p| Locale::ALL.map(|l| gateway_answer(&full, row, p, l))))
            .collect();
        let gateway_basic = rows
            .map(|row| Locale::ALL.map(|l| gateway_answer(&basic, row, pb::Profile::Google, l)))
            .collect();
        let grpc = (0..=16)
            .map(|c| {
                let code = Code::try_from(c).unwrap_or(Code::Unknown);
                [&full, &basic].map(|ctx| Locale::ALL.map(|l| grpc_answer(ctx, code, l)))
            })
            .collect();
        Self {
            catalog,
            gateway,
            gateway_basic,
            grpc,
        }
    }

    /// The catalog these answers were made from.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }
}

/// A resolution, encoded once; a failed one (which a valid catalog never
/// gives for its own rows) as an empty resolution.
fn answer(outcome: Result<pb::Resolution, engine::EngineError>) -> Answer {
    let resolution = outcome.unwrap_or_default();
    Answer {
        match_kind: pb::MatchKind::try_from(resolution.match_kind)
            .unwrap_or(pb::MatchKind::Unspecified),
        encoded: wire::field_one(&resolution),
    }
}

impl<'a> AnswerCache for &'a Prepared {
    type Answer = &'a Answer;

    fn gateway(&self, key: GatewayKey) -> Option<&'a Answer> {
        let per_locale = match key.view {
            View::Full => {
                let profile = usize::from(key.profile == pb::Profile::GrpcProxy);
                &self.gateway.get(key.row)?[profile]
            }
            View::Basic => self.gateway_basic.get(key.row)?,
            // Not prepared: asked for on the ext_proc face only, which
            // keeps its own cache of what it adds (`ext_proc/bare.rs`).
            View::Status => return None,
        };
        Some(&per_locale[key.locale.index()])
    }

    fn grpc(&self, key: GrpcKey) -> Option<&'a Answer> {
        let view = match key.view {
            View::Full => 0,
            View::Basic => 1,
            View::Status => return None,
        };
        Some(&self.grpc.get(key.code as usize)?[view][key.locale.index()])
    }
}
