//! `errmap catalog diff` as an operator runs it: exit codes 0, 1 and 2,
//! both formats, and the summary line on standard error.

// A test fails loudly, and its helpers are its own.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use std::io::Write;
use std::process::{Command, Output};

/// A file laid over the embedded catalog: RATE_LIMIT_EXCEEDED/429 with a
/// 5 s retry delay, and a code of its own.
const CHANGE: &str = r#"
entries {
  code: "RATE_LIMIT_EXCEEDED"
  http_status: 429
  table: TABLE_COMMON
  grpc_code: RESOURCE_EXHAUSTED
  message: "请求过频繁"
  solution: "请稍后重试"
  message_en: "Requests are too frequent"
  solution_en: "Try again later."
  retry_delay { seconds: 5 }
}
entries {
  code: "ORDER_LOCKED"
  http_status: 423
  table: TABLE_COMMON
  grpc_code: FAILED_PRECONDITION
  message: "订单已锁定"
  solution: "请稍后重试"
  message_en: "The order is locked"
  solution_en: "Try again later."
}
"#;

fn write_temp(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new()
        .suffix(".textproto")
        .tempfile()
        .expect("temp file");
    file.write_all(text.as_bytes()).expect("write");
    file
}

fn diff(args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_errmap"));
    for (key, _) in std::env::vars() {
        if key.starts_with("ERRMAP_") {
            command.env_remove(key);
        }
    }
    command
        .args(["catalog", "diff"])
        .args(args)
        .output()
        .expect("run errmap")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("UTF-8")
}

#[test]
fn the_same_catalog_exits_0() {
    let file = write_temp(CHANGE);
    let path = file.path().to_str().unwrap();
    for args in [["embedded", "embedded"], [path, path]] {
        let out = diff(&args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {out:?}");
        assert!(text(&out.stdout).contains("No change"), "{out:?}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.starts_with("catalog diff: no change (sha256:"),
            "{stderr}"
        );
        assert!(
            !stderr.contains('\x1b'),
            "no colour off a terminal: {stderr:?}"
        );
    }
}

#[test]
fn a_change_exits_1_with_a_report_for_reviewers() {
    let file = write_temp(CHANGE);
    let out = diff(&["embedded", file.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let report = text(&out.stdout);
    for expected in [
        "## Added entries (1)",
        "| `ORDER_LOCKED` | 423 | FAILED_PRECONDITION | COMMON | 订单已锁定 | The order is locked |",
        "## Changed entries (1)",
        "### `RATE_LIMIT_EXCEEDED` (HTTP 429)",
        "| `retry_delay` |",
        "| 5s |",
        "## Answers that move",
        "| HTTP 423 alone | FAILED_PRECONDITION, HTTP 423, no entry (by status only) | \
         FAILED_PRECONDITION, HTTP 423, `ORDER_LOCKED` (by status only) |",
    ] {
        assert!(report.contains(expected), "{expected:?} missing from:\n{report}");
    }
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("catalog diff: 1 added, 0 removed, 1 changed, 1 answers moved (sha256:"),
        "{stderr}"
    );
}

#[test]
fn json_lists_the_same_changes() {
    let file = write_temp(CHANGE);
    let path = file.path().to_str().unwrap();
    let out = diff(&["--format", "json", "--quiet", "embedded", path]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stderr.is_empty(), "--quiet: {:?}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["old_catalog"], "embedded");
    assert_eq!(json["new_catalog"], path);
    assert_ne!(json["old_version"], json["new_version"]);
    assert_eq!(json["added"][0]["code"], "ORDER_LOCKED");
    assert_eq!(json["added"][0]["grpc_code"], "FAILED_PRECONDITION");
    assert_eq!(json["removed"].as_array().map(Vec::len), Some(0));
    let changed = &json["changed"][0];
    assert_eq!(changed["code"], "RATE_LIMIT_EXCEEDED");
    assert_eq!(changed["changes"].as_array().map(Vec::len), Some(1));
    assert_eq!(changed["changes"][0]["field"], "retry_delay");
    assert_eq!(changed["changes"][0]["new"], "5s");
    let moved = &json["moved"][0];
    assert_eq!(moved["query"]["kind"], "http_status");
    assert_eq!(moved["query"]["http_status"], 423);
    assert_eq!(moved["old"]["entry"], serde_json::Value::Null);
    assert_eq!(moved["new"]["entry"], "ORDER_LOCKED");
    assert_eq!(json["reordered"], false);

    // Reversed: the code is removed, and the answer moves back.
    let back = diff(&["--format", "json", "-q", path, "embedded"]);
    assert_eq!(back.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&back.stdout).expect("JSON");
    assert_eq!(json["removed"][0]["code"], "ORDER_LOCKED");
    assert_eq!(json["added"].as_array().map(Vec::len), Some(0));
    assert_eq!(json["moved"][0]["old"]["entry"], "ORDER_LOCKED");
}

#[test]
fn invalid_input_exits_2_naming_the_problem() {
    let bad = write_temp("entries { code: \"X\" http_status: 700 }\n");
    let bad_path = bad.path().to_str().unwrap();
    let syntax = write_temp("entries { code: \n");
    let cases: [(&[&str], &str); 4] = [
        (&["embedded", bad_path], "[status-out-of-range]"),
        (&[bad_path, "embedded"], "[status-out-of-range]"),
        (
            &["embedded", syntax.path().to_str().unwrap()],
            "not valid protobuf text format",
        ),
        (
            &["embedded", "/nonexistent/catalog.textproto"],
            "cannot read /nonexistent/catalog.textproto",
        ),
    ];
    let both = diff(&[bad_path, "/nonexistent/catalog.textproto"]);
    assert_eq!(both.status.code(), Some(2));
    let stderr = text(&both.stderr);
    assert!(
        stderr.contains("[status-out-of-range]") && stderr.contains("cannot read /nonexistent"),
        "both problems named: {stderr}"
    );
    for (args, expected) in cases {
        let out = diff(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert!(out.stdout.is_empty(), "{args:?}: nothing on stdout");
        let stderr = text(&out.stderr);
        assert!(stderr.starts_with("errmap: catalog diff: "), "{stderr}");
        assert!(
            stderr.contains(expected),
            "{expected:?} missing from {stderr}"
        );
    }
}
