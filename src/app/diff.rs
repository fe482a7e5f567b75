//! `errmap catalog diff OLD NEW`: the difference [`crate::diff`] finds
//! between two catalogs, as a Markdown report for a reviewer or JSON for a
//! script, with a one-line summary on standard error. Exits like `diff`:
//! 0 when the catalogs give the same answers, 1 when they differ, 2 when
//! either cannot be loaded or the report cannot be written.

use crate::app::config::DiffFormat;
use crate::catalog::Catalog;
use crate::diff::{Answer, CatalogDiff, EntrySummary, Query, Value};
use serde::Serialize;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

/// The name OLD or NEW takes for the catalog built into the binary. A file
/// of that name is given as `./embedded`.
const EMBEDDED_ARG: &str = "embedded";

const SAME: u8 = 0;
const DIFFERENT: u8 = 1;
const TROUBLE: u8 = 2;

pub(super) fn run(old: &str, new: &str, format: DiffFormat, quiet: bool) -> ExitCode {
    let (old_catalog, new_catalog) = match (load(old), load(new)) {
        (Ok(o), Ok(n)) => (o, n),
        (Err(o), Err(n)) => return trouble(&format!("{o}\nerrmap: catalog diff: {n}")),
        (Err(err), _) | (_, Err(err)) => return trouble(&err),
    };
    let diff = crate::diff::diff(&old_catalog, &new_catalog);
    let report = match format {
        DiffFormat::Markdown => markdown(old, new, &old_catalog, &new_catalog, &diff),
        DiffFormat::Json => {
            let report = Report {
                old_catalog: old,
                new_catalog: new,
                diff: &diff,
            };
            match serde_json::to_string_pretty(&report) {
                Ok(json) => json + "\n",
                Err(err) => return trouble(&format!("cannot render the diff as JSON: {err}")),
            }
        }
    };
    let mut out = std::io::stdout().lock();
    match out.write_all(report.as_bytes()).and_then(|()| out.flush()) {
        // A reader that has gone away (`| head`) still gets the exit code.
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(err) => return trouble(&format!("cannot write the diff: {err}")),
    }
    if !quiet {
        let stderr = std::io::stderr();
        let colour = stderr.is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            && std::env::var_os("TERM").is_none_or(|t| t != "dumb");
        // Nowhere to say it if standard error is closed.
        let _ = writeln!(stderr.lock(), "{}", summary(&diff, colour));
    }
    ExitCode::from(if diff.is_empty() { SAME } else { DIFFERENT })
}

fn load(name: &str) -> Result<Catalog, String> {
    if name == EMBEDDED_ARG {
        return Catalog::embedded().map_err(|e| format!("the embedded catalog: {e}"));
    }
    Catalog::load_file(Path::new(name)).map_err(|e| e.to_string())
}

fn trouble(message: &str) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "errmap: catalog diff: {message}");
    ExitCode::from(TROUBLE)
}

/// The JSON report: the arguments, then the diff's own fields.
#[derive(Serialize)]
struct Report<'a> {
    old_catalog: &'a str,
    new_catalog: &'a str,
    #[serde(flatten)]
    diff: &'a CatalogDiff,
}

/// One line: counts, and the versions compared. Colour (ANSI) only when
/// asked, for a terminal.
fn summary(diff: &CatalogDiff, colour: bool) -> String {
    let paint = |code: &str, text: String| {
        if colour {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text
        }
    };
    if diff.is_empty() {
        return format!(
            "catalog diff: {} ({})",
            paint("32", "no change".to_owned()),
            diff.new_version
        );
    }
    let mut parts = vec![
        paint("32", format!("{} added", diff.added.len())),
        paint("31", format!("{} removed", diff.removed.len())),
        paint("33", format!("{} changed", diff.changed.len())),
        paint("36", format!("{} answers moved", diff.moved.len())),
    ];
    if diff.reordered {
        parts.push(paint("33", "entries reordered".to_owned()));
    }
    format!(
        "catalog diff: {} ({} -> {})",
        parts.join(", "),
        diff.old_version,
        diff.new_version
    )
}

/// The report for a reviewer.
fn markdown(
    old: &str,
    new: &str,
    old_catalog: &Catalog,
    new_catalog: &Catalog,
    diff: &CatalogDiff,
) -> String {
    let mut out = String::from("# Catalog diff\n\n");
    for (label, name, catalog) in [("Old", old, old_catalog), ("New", new, new_catalog)] {
        out.push_str(&format!(
            "- {label}: `{}` ({}, {} entries)\n",
            name.replace('`', "'"),
            catalog.version(),
            catalog.entries().len()
        ));
    }
    out.push('\n');
    if diff.is_empty() {
        out.push_str("No change: both catalogs give the same answers, in the same order.\n");
        return out;
    }
    entry_table(&mut out, "Added entries", &diff.added);
    entry_table(&mut out, "Removed entries", &diff.removed);
    if !diff.changed.is_empty() {
        out.push_str(&format!("## Changed entries ({})\n\n", diff.changed.len()));
        for changed in &diff.changed {
            out.push_str(&format!(
                "### `{}` (HTTP {})\n\n| Field | Old | New |\n|---|---|---|\n",
                changed.code, changed.http_status
            ));
            for change in &changed.changes {
                out.push_str(&format!(
                    "| `{}` | {} | {} |\n",
                    change.field.as_str(),
                    value_cell(&change.old),
                    value_cell(&change.new)
                ));
            }
            out.push('\n');
        }
    }
    if !diff.moved.is_empty() {
        out.push_str(&format!(
            "## Answers that move ({})\n\n\
             Queries other than by an entry's own code whose answer differs: by alias, by HTTP \
             status alone (default profile), by gRPC code with no reason.\n\n\
             | Query | Old answer | New answer |\n|---|---|---|\n",
            diff.moved.len()
        ));
        for moved in &diff.moved {
            out.push_str(&format!(
                "| {} | {} | {} |\n",
                query_cell(&moved.query),
                answer_cell(&moved.old),
                answer_cell(&moved.new)
            ));
        }
        out.push('\n');
    }
    if diff.reordered {
        out.push_str(
            "Entries common to both catalogs are in another order: listings \
             (`ListErrors`, `catalog export`) change.\n",
        );
    }
    out
}

fn entry_table(out: &mut String, title: &str, entries: &[EntrySummary]) {
    if entries.is_empty() {
        return;
    }
    out.push_str(&format!(
        "## {title} ({})\n\n\
         | Code | HTTP | gRPC | Table | Message (zh-CN) | Message (en-US) | Aliases |\n\
         |---|---|---|---|---|---|---|\n",
        entries.len()
    ));
    for e in entries {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} | {} |\n",
            e.code,
            e.http_status,
            e.grpc_code,
            e.table.trim_start_matches("TABLE_"),
            cell(&e.message),
            cell(&e.message_en),
            codes(&e.aliases)
        ));
    }
    out.push('\n');
}

/// Text for a table cell: `|` escaped, line breaks as `<br>`; the text is
/// kept otherwise.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
        .replace("\r\n", "<br>")
        .replace('\n', "<br>")
}

fn codes(list: &[String]) -> String {
    list.iter()
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn value_cell(value: &Value) -> String {
    match value {
        Value::Text(text) if text.is_empty() => "(empty)".to_owned(),
        Value::Text(text) => cell(text),
        Value::Number(n) => n.to_string(),
        Value::List(list) if list.is_empty() => "(none)".to_owned(),
        Value::List(list) => codes(list),
        Value::None => "(none)".to_owned(),
    }
}

fn query_cell(query: &Query) -> String {
    match query {
        Query::Alias { alias } => format!("alias `{alias}`"),
        Query::HttpStatus { http_status } => format!("HTTP {http_status} alone"),
        Query::GrpcCode { grpc_code } => format!("gRPC {grpc_code}"),
    }
}

fn answer_cell(answer: &Answer) -> String {
    match answer {
        Answer::UnknownCode => "NOT_FOUND: unknown code".to_owned(),
        Answer::Resolved {
            match_kind,
            grpc_code,
            http_status,
            entry,
        } => {
            let entry = entry
                .as_ref()
                .map_or_else(|| "no entry".to_owned(), |code| format!("`{code}`"));
            let kind = match_kind
                .trim_start_matches("MATCH_KIND_")
                .to_ascii_lowercase()
                .replace('_', " ");
            format!("{grpc_code}, HTTP {http_status}, {entry} (by {kind})")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_counts_and_colours_only_when_asked() {
        let catalog = Catalog::embedded().expect("the embedded catalog loads");
        let same = crate::diff::diff(&catalog, &catalog);
        let plain = summary(&same, false);
        assert_eq!(
            plain,
            format!("catalog diff: no change ({})", catalog.version())
        );
        assert!(!plain.contains('\x1b'));
        assert!(summary(&same, true).contains("\x1b[32mno change\x1b[0m"));
    }

    #[test]
    fn cells_keep_text_but_not_table_syntax() {
        assert_eq!(cell("a|b\nc"), "a\\|b<br>c");
        assert_eq!(value_cell(&Value::List(vec![])), "(none)");
        assert_eq!(value_cell(&Value::Text(String::new())), "(empty)");
    }
}
