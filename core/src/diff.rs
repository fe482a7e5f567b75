//! What a catalog change does: the difference between two catalogs in the
//! answers errmap gives, for review before a new catalog file is rolled
//! out (`errmap catalog diff OLD NEW`).
//!
//! Entries are matched by code (folded as lookups fold it) and HTTP status,
//! the key a catalog file uses to replace a built-in row. An entry whose
//! code keeps exactly one row on each side but changes its HTTP status is
//! one entry changed, not one removed and one added. For each changed entry
//! the diff names every answer field that differs.
//!
//! Answers can move without their own entry changing: an alias can move to
//! another code or disappear, and the answer to an HTTP status alone (or to
//! a gRPC code with no reason) picks its entry among the rows with that
//! status, so a row added, removed or changed elsewhere can change it. The
//! diff therefore also asks both catalogs, through [`crate::mapping`], every
//! alias either knows, every HTTP status either uses (and those the
//! status-only table names), under the default profile, and every gRPC
//! code, and lists the queries whose answers differ.

use crate::catalog::{normalize_code, Catalog};
use crate::mapping::{self, GatewayQuery, GrpcQuery, MatchKind, Profile, ReasonFrom, Resolution};
use crate::pb::errmap::v1::{CatalogEntry, Table};
use crate::pb::google::rpc::Code;
use rustc_hash::FxHashMap;
use serde::Serialize;
use std::collections::BTreeSet;

/// HTTP statuses the status-only table (docs/mapping.md) names, asked even
/// when neither catalog has a row with them: their answers' entries come
/// from the catalog.
const STATUS_TABLE: [i32; 13] = [
    200, 400, 401, 403, 404, 409, 429, 499, 500, 501, 502, 503, 504,
];

/// How two catalogs differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogDiff {
    /// The old catalog's version (content hash).
    pub old_version: String,
    /// The new catalog's version.
    pub new_version: String,
    /// Entries only the new catalog has, in its order.
    pub added: Vec<EntrySummary>,
    /// Entries only the old catalog has, in its order.
    pub removed: Vec<EntrySummary>,
    /// Entries in both whose answers differ, in the new catalog's order.
    pub changed: Vec<ChangedEntry>,
    /// Queries, other than by an entry's own code, whose answers differ.
    pub moved: Vec<MovedAnswer>,
    /// The same entries in another order: no answer differs, but listings
    /// (`ListErrors`, `catalog export`) and the version do.
    pub reordered: bool,
}

impl CatalogDiff {
    /// Whether the catalogs give the same answers in the same order.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.changed.is_empty()
            && self.moved.is_empty()
            && !self.reordered
    }
}

/// An entry added or removed, with what a reviewer needs to recognise it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntrySummary {
    /// The gateway code.
    pub code: String,
    /// The HTTP status.
    pub http_status: i32,
    /// The gRPC code it translates to, by name.
    pub grpc_code: &'static str,
    /// Its table, by name.
    pub table: &'static str,
    /// The zh-CN message.
    pub message: String,
    /// The en-US message.
    pub message_en: String,
    /// Its aliases.
    pub aliases: Vec<String>,
}

/// An entry both catalogs hold, and how its answers differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangedEntry {
    /// The gateway code, as the new catalog spells it.
    pub code: String,
    /// The HTTP status in the new catalog.
    pub http_status: i32,
    /// Every field that differs, in the catalog schema's order.
    pub changes: Vec<FieldChange>,
}

/// One answer field of an entry, before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    /// Which field.
    pub field: Field,
    /// Its old value.
    pub old: Value,
    /// Its new value.
    pub new: Value,
}

/// The fields of a catalog entry, as a diff names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// The code's spelling (its folded form is the same).
    Code,
    /// The HTTP status.
    HttpStatus,
    /// The table.
    Table,
    /// The gRPC code.
    GrpcCode,
    /// The zh-CN message.
    Message,
    /// The zh-CN solution.
    Solution,
    /// The aliases.
    Aliases,
    /// The message's placeholders.
    Placeholders,
    /// The en-US message.
    MessageEn,
    /// The en-US solution.
    SolutionEn,
    /// The retry delay.
    RetryDelay,
}

impl Field {
    /// The field's name in the catalog schema.
    pub const fn as_str(self) -> &'static str {
        match self {
            Field::Code => "code",
            Field::HttpStatus => "http_status",
            Field::Table => "table",
            Field::GrpcCode => "grpc_code",
            Field::Message => "message",
            Field::Solution => "solution",
            Field::Aliases => "aliases",
            Field::Placeholders => "placeholders",
            Field::MessageEn => "message_en",
            Field::SolutionEn => "solution_en",
            Field::RetryDelay => "retry_delay",
        }
    }
}

/// A field's value: text, a number, a list, or unset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Value {
    /// Text, or an enum value by name, or a duration such as `5s`.
    Text(String),
    /// A number.
    Number(i32),
    /// A list, in catalog order.
    List(Vec<String>),
    /// Unset (no retry delay).
    None,
}

/// A query whose answer differs between the catalogs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MovedAnswer {
    /// What was asked.
    pub query: Query,
    /// The old catalog's answer.
    pub old: Answer,
    /// The new catalog's answer.
    pub new: Answer,
}

/// A query asked of both catalogs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Query {
    /// `ResolveGatewayError` with this alias as the code and no status.
    Alias {
        /// The alias, as a catalog spells it.
        alias: String,
    },
    /// `ResolveGatewayError` with this HTTP status alone (default profile).
    HttpStatus {
        /// The status.
        http_status: i32,
    },
    /// `ResolveGrpcStatus` with this gRPC code and no reason.
    GrpcCode {
        /// The code, by name.
        grpc_code: &'static str,
    },
}

/// What a catalog answers to a query, as far as a caller acts on it: the
/// entry's own text is compared under [`ChangedEntry`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Answer {
    /// An answer.
    Resolved {
        /// How it was found, by `errmap.v1.MatchKind` name.
        match_kind: &'static str,
        /// The gRPC code, by name.
        grpc_code: &'static str,
        /// The HTTP status.
        http_status: i32,
        /// The code of the entry that answers, if one does.
        entry: Option<String>,
    },
    /// `NOT_FOUND`: the code is unknown.
    UnknownCode,
}

/// How `old` and `new` differ, entry by entry and answer by answer.
pub fn diff(old: &Catalog, new: &Catalog) -> CatalogDiff {
    let Pairing {
        pairs,
        removed,
        added,
    } = pair_entries(old.entries(), new.entries());
    let changed = pairs
        .iter()
        .filter_map(|&(o, n)| {
            let (before, after) = (&old.entries()[o], &new.entries()[n]);
            let changes = field_changes(before, after);
            (!changes.is_empty()).then(|| ChangedEntry {
                code: after.code.clone(),
                http_status: after.http_status,
                changes,
            })
        })
        .collect();
    let moved = moved_answers(old, new);
    // Pairs in new order: the old indices ascend unless rows moved.
    let reordered = pairs.windows(2).any(|w| w[0].0 > w[1].0);
    CatalogDiff {
        old_version: old.version().to_owned(),
        new_version: new.version().to_owned(),
        added: added.iter().map(|&i| summary(&new.entries()[i])).collect(),
        removed: removed
            .iter()
            .map(|&i| summary(&old.entries()[i]))
            .collect(),
        changed,
        moved,
        reordered,
    }
}

/// Rows of two catalogs matched up, by index.
struct Pairing {
    /// (old, new) rows holding one entry, in new order.
    pairs: Vec<(usize, usize)>,
    /// Old rows left over, in catalog order.
    removed: Vec<usize>,
    /// New rows left over, in catalog order.
    added: Vec<usize>,
}

/// Matches rows by folded code and status, then pairs a code's one
/// unmatched row on each side (a status change).
fn pair_entries(old: &[CatalogEntry], new: &[CatalogEntry]) -> Pairing {
    let key = |e: &CatalogEntry| (normalize_code(&e.code), e.http_status);
    let by_key: FxHashMap<(String, i32), usize> =
        old.iter().enumerate().map(|(i, e)| (key(e), i)).collect();
    let mut old_of_new: Vec<Option<usize>> =
        new.iter().map(|e| by_key.get(&key(e)).copied()).collect();
    let mut taken = vec![false; old.len()];
    for &o in old_of_new.iter().flatten() {
        taken[o] = true;
    }
    // A code with one unmatched row on each side changed its status.
    let mut unmatched_old: FxHashMap<String, Vec<usize>> = FxHashMap::default();
    for (i, e) in old.iter().enumerate().filter(|(i, _)| !taken[*i]) {
        unmatched_old
            .entry(normalize_code(&e.code))
            .or_default()
            .push(i);
    }
    let mut unmatched_new: FxHashMap<String, Vec<usize>> = FxHashMap::default();
    for (i, e) in new
        .iter()
        .enumerate()
        .filter(|(i, _)| old_of_new[*i].is_none())
    {
        unmatched_new
            .entry(normalize_code(&e.code))
            .or_default()
            .push(i);
    }
    for (code, news) in &unmatched_new {
        if let (Some([o]), [n]) = (unmatched_old.get(code).map(Vec::as_slice), news.as_slice()) {
            old_of_new[*n] = Some(*o);
            taken[*o] = true;
        }
    }
    let pairs = old_of_new
        .iter()
        .enumerate()
        .filter_map(|(n, o)| o.map(|o| (o, n)))
        .collect();
    let removed = (0..old.len()).filter(|&i| !taken[i]).collect();
    let added = (0..new.len())
        .filter(|&i| old_of_new[i].is_none())
        .collect();
    Pairing {
        pairs,
        removed,
        added,
    }
}

fn summary(entry: &CatalogEntry) -> EntrySummary {
    EntrySummary {
        code: entry.code.clone(),
        http_status: entry.http_status,
        grpc_code: mapping::grpc_code_of(entry).as_str_name(),
        table: table_name(entry.table),
        message: entry.message.clone(),
        message_en: entry.message_en.clone(),
        aliases: entry.aliases.clone(),
    }
}

fn table_name(table: i32) -> &'static str {
    Table::try_from(table).map_or("TABLE_UNSPECIFIED", |t| t.as_str_name())
}

/// A retry delay as a duration: `5s`, `1.5s`; unset is [`Value::None`].
fn delay_value(delay: Option<prost_types::Duration>) -> Value {
    let Some(delay) = delay else {
        return Value::None;
    };
    if delay.nanos == 0 {
        return Value::Text(format!("{}s", delay.seconds));
    }
    let fraction = format!("{:09}", delay.nanos.unsigned_abs());
    Value::Text(format!(
        "{}.{}s",
        delay.seconds,
        fraction.trim_end_matches('0')
    ))
}

/// Every field of an entry pair that differs, in schema order.
fn field_changes(old: &CatalogEntry, new: &CatalogEntry) -> Vec<FieldChange> {
    let text = |s: &str| Value::Text(s.to_owned());
    let fields = [
        (Field::Code, text(&old.code), text(&new.code)),
        (
            Field::HttpStatus,
            Value::Number(old.http_status),
            Value::Number(new.http_status),
        ),
        (
            Field::Table,
            text(table_name(old.table)),
            text(table_name(new.table)),
        ),
        (
            Field::GrpcCode,
            text(mapping::grpc_code_of(old).as_str_name()),
            text(mapping::grpc_code_of(new).as_str_name()),
        ),
        (Field::Message, text(&old.message), text(&new.message)),
        (Field::Solution, text(&old.solution), text(&new.solution)),
        (
            Field::Aliases,
            Value::List(old.aliases.clone()),
            Value::List(new.aliases.clone()),
        ),
        (
            Field::Placeholders,
            Value::List(old.placeholders.clone()),
            Value::List(new.placeholders.clone()),
        ),
        (
            Field::MessageEn,
            text(&old.message_en),
            text(&new.message_en),
        ),
        (
            Field::SolutionEn,
            text(&old.solution_en),
            text(&new.solution_en),
        ),
        (
            Field::RetryDelay,
            delay_value(old.retry_delay),
            delay_value(new.retry_delay),
        ),
    ];
    fields
        .into_iter()
        .filter(|(_, o, n)| o != n)
        .map(|(field, old, new)| FieldChange { field, old, new })
        .collect()
}

/// Every alias, status-only and gRPC-code query whose answer differs.
fn moved_answers(old: &Catalog, new: &Catalog) -> Vec<MovedAnswer> {
    let mut queries = Vec::new();
    // Aliases by folded form, spelled as the first catalog to have it does.
    let mut seen = BTreeSet::new();
    for entry in old.entries().iter().chain(new.entries()) {
        for alias in &entry.aliases {
            if seen.insert(normalize_code(alias)) {
                queries.push(Query::Alias {
                    alias: alias.clone(),
                });
            }
        }
    }
    let statuses: BTreeSet<i32> = old
        .entries()
        .iter()
        .chain(new.entries())
        .map(|e| e.http_status)
        .chain(STATUS_TABLE)
        .collect();
    queries.extend(
        statuses
            .into_iter()
            .map(|http_status| Query::HttpStatus { http_status }),
    );
    queries.extend(
        (0..=16)
            .filter_map(|n| Code::try_from(n).ok())
            .map(|code| Query::GrpcCode {
                grpc_code: code.as_str_name(),
            }),
    );
    queries
        .into_iter()
        .filter_map(|query| {
            let (before, after) = (answer(old, &query), answer(new, &query));
            (before != after).then_some(MovedAnswer {
                query,
                old: before,
                new: after,
            })
        })
        .collect()
}

/// What `catalog` answers to `query`.
fn answer(catalog: &Catalog, query: &Query) -> Answer {
    let resolved = match query {
        // Looked up first: an unknown code's answer would also rank every
        // name in the catalog for suggestions, which the diff does not show.
        Query::Alias { alias } => match catalog.lookup(alias) {
            None => return Answer::UnknownCode,
            found => mapping::resolve_gateway_found(
                catalog,
                GatewayQuery {
                    code: Some(alias),
                    http_status: None,
                    profile: Profile::Google,
                    explain: true,
                },
                found,
            ),
        },
        Query::HttpStatus { http_status } => mapping::resolve_gateway(
            catalog,
            GatewayQuery {
                code: None,
                http_status: Some(*http_status),
                profile: Profile::Google,
                explain: true,
            },
        ),
        Query::GrpcCode { grpc_code } => Ok(mapping::resolve_grpc(
            catalog,
            GrpcQuery {
                code: Code::from_str_name(grpc_code).unwrap_or(Code::Unknown),
                reason: None,
                reason_from: ReasonFrom::Request,
                http_status: None,
                explain: true,
            },
        )),
    };
    match resolved {
        Ok(resolution) => resolved_answer(&resolution),
        Err(_) => Answer::UnknownCode,
    }
}

fn resolved_answer(resolution: &Resolution<'_>) -> Answer {
    Answer::Resolved {
        match_kind: match_kind_name(resolution.match_kind),
        grpc_code: resolution.grpc_code.as_str_name(),
        http_status: resolution.http_status,
        entry: resolution.entry.map(|e| e.code.clone()),
    }
}

/// A match kind by its `errmap.v1.MatchKind` name.
const fn match_kind_name(kind: MatchKind) -> &'static str {
    match kind {
        MatchKind::Code => "MATCH_KIND_CODE",
        MatchKind::Alias => "MATCH_KIND_ALIAS",
        MatchKind::CodeStatusMismatch => "MATCH_KIND_CODE_STATUS_MISMATCH",
        MatchKind::StatusOnly => "MATCH_KIND_STATUS_ONLY",
        MatchKind::StatusFallback => "MATCH_KIND_STATUS_FALLBACK",
        MatchKind::GrpcCode => "MATCH_KIND_GRPC_CODE",
        MatchKind::GrpcReason => "MATCH_KIND_GRPC_REASON",
        MatchKind::ErrorInfo => "MATCH_KIND_ERROR_INFO",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Source;

    fn overlay(text: &str) -> Catalog {
        Catalog::load(Some(Source { name: "test", text })).expect("the test catalog loads")
    }

    fn embedded() -> Catalog {
        Catalog::embedded().expect("the embedded catalog loads")
    }

    /// The embedded entry with this code and status, as text format.
    fn entry_text(code: &str, status: i32, edit: impl Fn(&mut CatalogEntry)) -> String {
        let catalog = embedded();
        let mut entry = catalog
            .find(code, status)
            .cloned()
            .expect("the entry is built in");
        edit(&mut entry);
        text_of(&entry)
    }

    fn text_of(e: &CatalogEntry) -> String {
        let mut out = format!(
            "entries {{ code: {:?} http_status: {} table: {} grpc_code: {} message: {:?} solution: {:?} message_en: {:?} solution_en: {:?}",
            e.code,
            e.http_status,
            table_name(e.table),
            mapping::grpc_code_of(e).as_str_name(),
            e.message,
            e.solution,
            e.message_en,
            e.solution_en
        );
        for alias in &e.aliases {
            out.push_str(&format!(" aliases: {alias:?}"));
        }
        for p in &e.placeholders {
            out.push_str(&format!(" placeholders: {p:?}"));
        }
        if let Some(d) = e.retry_delay {
            out.push_str(&format!(
                " retry_delay {{ seconds: {} nanos: {} }}",
                d.seconds, d.nanos
            ));
        }
        out.push_str(" }\n");
        out
    }

    #[test]
    fn a_catalog_does_not_differ_from_itself() {
        let d = diff(&embedded(), &embedded());
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(d.old_version, d.new_version);
    }

    #[test]
    fn an_unchanged_overlay_is_no_change() {
        let text = entry_text("RATE_LIMIT_EXCEEDED", 429, |_| {});
        assert!(diff(&embedded(), &overlay(&text)).is_empty());
    }

    #[test]
    fn a_changed_row_names_each_field_that_differs() {
        let text = entry_text("RATE_LIMIT_EXCEEDED", 429, |e| {
            e.retry_delay = Some(prost_types::Duration {
                seconds: 5,
                nanos: 500_000_000,
            });
            e.message_en = "Slow down".into();
        });
        let old = embedded();
        let before = old
            .find("RATE_LIMIT_EXCEEDED", 429)
            .cloned()
            .expect("built in");
        let d = diff(&old, &overlay(&text));
        assert!(d.added.is_empty() && d.removed.is_empty(), "{d:?}");
        assert_eq!(d.changed.len(), 1, "{d:?}");
        let changed = &d.changed[0];
        assert_eq!(
            (changed.code.as_str(), changed.http_status),
            ("RATE_LIMIT_EXCEEDED", 429)
        );
        assert_eq!(
            changed.changes,
            vec![
                FieldChange {
                    field: Field::MessageEn,
                    old: Value::Text(before.message_en.clone()),
                    new: Value::Text("Slow down".into()),
                },
                FieldChange {
                    field: Field::RetryDelay,
                    old: delay_value(before.retry_delay),
                    new: Value::Text("5.5s".into()),
                },
            ]
        );
        assert_ne!(d.old_version, d.new_version);
    }

    #[test]
    fn a_new_grpc_code_moves_the_status_answer_that_chose_the_row() {
        // A bare 502 is UNAVAILABLE, answered by the first common 502 row
        // with that code; once that row is INTERNAL, another answers, or
        // none.
        let old = embedded();
        let Answer::Resolved {
            entry: Some(chosen),
            ..
        } = answer(&old, &Query::HttpStatus { http_status: 502 })
        else {
            panic!("a bare 502 has an entry");
        };
        let text = entry_text(&chosen, 502, |e| e.grpc_code = Code::Internal as i32);
        let d = diff(&old, &overlay(&text));
        assert_eq!(d.changed.len(), 1);
        assert_eq!(
            d.changed[0].changes,
            vec![FieldChange {
                field: Field::GrpcCode,
                old: Value::Text("UNAVAILABLE".into()),
                new: Value::Text("INTERNAL".into()),
            }]
        );
        let status_502 = d
            .moved
            .iter()
            .find(|m| m.query == Query::HttpStatus { http_status: 502 })
            .expect("the answer to a bare 502 moved");
        assert_eq!(
            status_502.old,
            Answer::Resolved {
                match_kind: "MATCH_KIND_STATUS_ONLY",
                grpc_code: "UNAVAILABLE",
                http_status: 502,
                entry: Some(chosen.clone()),
            }
        );
        match &status_502.new {
            Answer::Resolved {
                entry, grpc_code, ..
            } => {
                assert_eq!(
                    *grpc_code, "UNAVAILABLE",
                    "the status still decides the code"
                );
                assert_ne!(entry.as_ref(), Some(&chosen));
            }
            other => panic!("expected an answer, got {other:?}"),
        }
    }

    #[test]
    fn added_rows_and_a_moved_alias_are_reported() {
        let old = embedded();
        let (owner, alias) = old
            .entries()
            .iter()
            .find_map(|e| e.aliases.first().map(|a| (e.clone(), a.clone())))
            .expect("the embedded catalog has an alias");
        // The alias leaves its entry and names a new one instead.
        let mut without = owner.clone();
        without.aliases.retain(|a| *a != alias);
        let added = CatalogEntry {
            code: "ORDER_LOCKED".into(),
            http_status: 409,
            table: Table::Common as i32,
            grpc_code: Code::Aborted as i32,
            message: "订单已锁定".into(),
            solution: "请稍后重试".into(),
            aliases: vec![alias.clone()],
            message_en: "The order is locked".into(),
            solution_en: "Try again later.".into(),
            ..Default::default()
        };
        let new = overlay(&(text_of(&without) + &text_of(&added)));
        let d = diff(&old, &new);
        assert_eq!(d.added.len(), 1, "{d:?}");
        assert_eq!(d.added[0].code, "ORDER_LOCKED");
        assert_eq!(d.added[0].grpc_code, "ABORTED");
        assert!(d.removed.is_empty());
        assert_eq!(d.changed.len(), 1);
        assert_eq!(d.changed[0].code, owner.code);
        assert_eq!(d.changed[0].changes[0].field, Field::Aliases);
        let moved = d
            .moved
            .iter()
            .find(|m| {
                m.query
                    == Query::Alias {
                        alias: alias.clone(),
                    }
            })
            .expect("the alias moved");
        assert_eq!(
            moved.new,
            Answer::Resolved {
                match_kind: "MATCH_KIND_ALIAS",
                grpc_code: "ABORTED",
                http_status: 409,
                entry: Some("ORDER_LOCKED".into()),
            }
        );
        // Reversed, the row is removed and the alias answers as before.
        let back = diff(&new, &old);
        assert_eq!(back.removed.len(), 1);
        assert_eq!(back.removed[0].code, "ORDER_LOCKED");
        assert!(back.added.is_empty());
    }

    #[test]
    fn a_code_that_changes_its_status_is_one_changed_entry() {
        // Two catalogs of one added row each, differing in its status.
        let row = |status: i32| CatalogEntry {
            code: "ORDER_LOCKED".into(),
            http_status: status,
            table: Table::Common as i32,
            grpc_code: Code::FailedPrecondition as i32,
            message: "订单已锁定".into(),
            solution: "请稍后重试".into(),
            message_en: "The order is locked".into(),
            solution_en: "Try again later.".into(),
            ..Default::default()
        };
        let d = diff(&overlay(&text_of(&row(409))), &overlay(&text_of(&row(423))));
        assert!(d.added.is_empty() && d.removed.is_empty(), "{d:?}");
        assert_eq!(
            d.changed[0].changes,
            vec![FieldChange {
                field: Field::HttpStatus,
                old: Value::Number(409),
                new: Value::Number(423),
            }]
        );
        // A bare 423 (FAILED_PRECONDITION) now has a common row with
        // that code: its answer names it.
        let status_423 = d
            .moved
            .iter()
            .find(|m| m.query == Query::HttpStatus { http_status: 423 })
            .expect("the answer to a bare 423 moved");
        assert_eq!(
            status_423.new,
            Answer::Resolved {
                match_kind: "MATCH_KIND_STATUS_ONLY",
                grpc_code: "FAILED_PRECONDITION",
                http_status: 423,
                entry: Some("ORDER_LOCKED".into()),
            }
        );
    }

    #[test]
    fn entries_in_another_order_are_a_reordering_only() {
        let a = CatalogEntry {
            code: "FIRST_CODE".into(),
            http_status: 418,
            table: Table::Common as i32,
            grpc_code: Code::FailedPrecondition as i32,
            message: "一".into(),
            solution: "一".into(),
            message_en: "One".into(),
            solution_en: "One.".into(),
            ..Default::default()
        };
        let b = CatalogEntry {
            code: "SECOND_CODE".into(),
            http_status: 420,
            message_en: "Two".into(),
            ..a.clone()
        };
        let d = diff(
            &overlay(&(text_of(&a) + &text_of(&b))),
            &overlay(&(text_of(&b) + &text_of(&a))),
        );
        assert!(d.reordered, "{d:?}");
        assert!(d.added.is_empty() && d.removed.is_empty() && d.changed.is_empty());
        assert!(!d.is_empty());
    }
}
