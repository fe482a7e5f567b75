//! `errmap inject`: adds the errmap sidecar to the pod templates of
//! Kubernetes objects read as YAML, or takes it out again (`--uninject`).
//!
//! The stream is split into documents by their markers ([`split`]); only a
//! document with an object that changes is parsed into a tree and written
//! anew, every other one is copied byte for byte. All output is held back
//! until every input has been read and understood, so that bad YAML
//! anywhere writes nothing.

pub mod emit;
pub mod pod;
pub mod sidecar;
pub mod split;

use pod::Outcome;
use serde_norway::Value;
use sidecar::{Mode, Sidecar};
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The file name endings read from a directory.
const MANIFEST_EXTENSIONS: &[&str] = &["yaml", "yml", "json"];

/// `errmap inject`'s arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct InjectArgs {
    /// Files, directories (their .yaml, .yml and .json files, in name
    /// order) or "-" for standard input; standard input when none.
    #[arg(value_name = "FILE|DIR|-")]
    pub inputs: Vec<PathBuf>,
    /// Add errmap as an ordinary container, for clusters before Kubernetes
    /// 1.29, instead of a native sidecar (an init container with
    /// restartPolicy: Always).
    #[arg(long)]
    pub plain: bool,
    /// Take out what errmap inject added, instead of adding it.
    #[arg(long, conflicts_with_all = ["plain", "image", "catalog_configmap", "settings"])]
    pub uninject: bool,
    /// The errmap image.
    #[arg(long, value_name = "IMAGE", default_value = sidecar::DEFAULT_IMAGE)]
    pub image: String,
    /// A ConfigMap holding a catalog file under the key catalog.textproto,
    /// mounted at /etc/errmap and read with ERRMAP_CATALOG.
    #[arg(long, value_name = "NAME")]
    pub catalog_configmap: Option<String>,
    /// An errmap setting for the sidecar, by its environment name with or
    /// without the ERRMAP_ prefix, such as SHUTDOWN_GRACE=20s; repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_set)]
    pub settings: Vec<(String, String)>,
    /// No summary on standard error.
    #[arg(long, short)]
    pub quiet: bool,
}

fn parse_set(value: &str) -> Result<(String, String), String> {
    value
        .split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("must be KEY=VALUE, got {value:?}"))
}

/// What to do with each object.
#[derive(Debug, Clone)]
pub enum Action {
    Inject(Sidecar),
    Uninject,
}

/// Counts for the summary line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Objects seen, each item of a list counted.
    pub objects: usize,
    /// Objects changed: injected, or uninjected.
    pub changed: usize,
    /// Objects that already had the sidecar (injecting) or never had it
    /// (uninjecting).
    pub unchanged: usize,
    /// Objects with an errmap container inject did not add.
    pub hand_written: usize,
    /// Objects without a pod template.
    pub other: usize,
    /// Warnings about injected objects, each naming its source, document
    /// and object.
    pub warnings: Vec<String>,
}

impl Tally {
    fn count(&mut self, outcome: Outcome) {
        self.objects += 1;
        match outcome {
            Outcome::Injected | Outcome::Uninjected => self.changed += 1,
            Outcome::AlreadyInjected | Outcome::NotInjected => self.unchanged += 1,
            Outcome::HasErrmap => self.hand_written += 1,
            Outcome::NoPodTemplate => self.other += 1,
        }
    }
}

/// Why a stream was refused: where, and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}: document {document} (from line {line}): {message}")]
pub struct StreamError {
    pub source_name: String,
    /// The document's number in its stream, from 1.
    pub document: usize,
    /// The stream's line the document starts on.
    pub line: usize,
    pub message: String,
}

/// Applies `action` to every object of `stream` (named `source_name` in
/// errors) and returns the stream written back.
pub fn transform(
    stream: &str,
    source_name: &str,
    action: &Action,
    tally: &mut Tally,
) -> Result<String, StreamError> {
    let mut out = String::with_capacity(stream.len() + 2048);
    let mut number = 0;
    for document in split::split(stream) {
        if !document.has_content {
            out.push_str(document.text);
            continue;
        }
        number += 1;
        let error = |message: String| StreamError {
            source_name: source_name.to_owned(),
            document: number,
            line: document.line,
            message,
        };
        let mut value: Value = serde_norway::from_str(document.text)
            .map_err(|e| error(shift_lines(&e.to_string(), document.line - 1)))?;
        // An empty document (`~`, `null`) describes no object.
        let warned = tally.warnings.len();
        let changed = !value.is_null() && apply(&mut value, action, tally).map_err(error)?;
        for warning in &mut tally.warnings[warned..] {
            *warning = format!(
                "{source_name}: document {number} (from line {}): {warning}",
                document.line
            );
        }
        if !changed {
            out.push_str(document.text);
            continue;
        }
        refuse_ambiguous_scalars(document.text, document.line).map_err(error)?;
        let body = emit::document(&value).map_err(|e| error(e.to_string()))?;
        let (head, tail) = split::frame(document.text);
        out.push_str(&head);
        out.push_str(&body);
        out.push_str(&tail);
    }
    Ok(out)
}

/// Applies `action` to the object `value` (or to each item of a list);
/// whether anything changed.
fn apply(value: &mut Value, action: &Action, tally: &mut Tally) -> Result<bool, String> {
    if let Some(items) = pod::items_mut(value) {
        let mut changed = false;
        for (index, item) in items.iter_mut().enumerate() {
            changed |= apply_one(item, action, tally)
                .map_err(|message| format!("items[{index}]: {message}"))?;
        }
        return Ok(changed);
    }
    apply_one(value, action, tally)
}

fn apply_one(object: &mut Value, action: &Action, tally: &mut Tally) -> Result<bool, String> {
    let outcome = match action {
        Action::Inject(sidecar) => pod::inject(object, sidecar),
        Action::Uninject => pod::uninject(object),
    }
    .map_err(|message| format!("{}: {message}", pod::describe(object)))?;
    tally.count(outcome);
    if let (Action::Inject(sidecar), Outcome::Injected) = (action, outcome) {
        for warning in pod::warnings(object, sidecar) {
            let object = pod::describe(object);
            tally.warnings.push(format!("{object}: {warning}"));
        }
    }
    Ok(matches!(outcome, Outcome::Injected | Outcome::Uninjected))
}

/// Adds `offset` to every "line N" of a parser message, whose lines count
/// from the start of the document, so that they count from the stream's.
fn shift_lines(message: &str, offset: usize) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find("line ") {
        let (before, after) = rest.split_at(at + "line ".len());
        out.push_str(before);
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        match after[..digits].parse::<usize>() {
            Ok(line) => out.push_str(&(line + offset).to_string()),
            Err(_) => out.push_str(&after[..digits]),
        }
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

/// Refuses a document about to be written anew that holds a plain scalar
/// Kubernetes' YAML 1.1 reader and the YAML 1.2 parser here read
/// differently: `0644` (octal to one, a string to the other), `1_000`, or
/// `on` and `yes` (booleans to one). Written back, it would be quoted as
/// the string it was read as, and mean something else to Kubernetes.
fn refuse_ambiguous_scalars(text: &str, first_line: usize) -> Result<(), String> {
    for event in saphyr_parser::Parser::new_from_str(text) {
        let (event, span) = match event {
            Ok(event) => event,
            // serde_norway has read the document; where the other parser
            // does not, the text decides.
            Err(_) => return refuse_ambiguous_text(text, first_line),
        };
        if let saphyr_parser::Event::Scalar(value, saphyr_parser::ScalarStyle::Plain, _, None) =
            event
        {
            if is_ambiguous(&value) {
                return Err(ambiguity(&value, first_line + span.start.line() - 1));
            }
        }
    }
    Ok(())
}

/// The same check on the text alone: any standing-alone occurrence, even
/// in a quoted or block scalar, counts, on the safe side.
fn refuse_ambiguous_text(text: &str, first_line: usize) -> Result<(), String> {
    let mut words: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || "[]{},:'\"#".contains(c))
        .filter(|word| is_ambiguous(word))
        .collect();
    words.dedup();
    for (index, line) in text.lines().enumerate() {
        for word in &words {
            let found = line.match_indices(word).any(|(at, _)| {
                let before = line[..at].chars().next_back();
                let after = line[at + word.len()..].chars().next();
                matches!(before, None | Some(' ' | '\t' | '[' | '{' | ','))
                    && matches!(
                        after,
                        None | Some(' ' | '\t' | ',' | ']' | '}' | ':' | '\r')
                    )
            });
            if found {
                return Err(ambiguity(word, first_line + index));
            }
        }
    }
    Ok(())
}

fn ambiguity(scalar: &str, line: usize) -> String {
    let hint = if scalar
        .trim_start_matches(['-', '+'])
        .bytes()
        .all(|b| b.is_ascii_digit())
    {
        let decimal =
            i64::from_str_radix(scalar, 8).map_or_else(|_| "decimal".to_owned(), |n| n.to_string());
        format!("an octal number to Kubernetes; write it in decimal ({decimal})")
    } else if scalar.contains('_') {
        "a number to Kubernetes; write it without '_'".to_owned()
    } else {
        "a boolean to Kubernetes; write true or false".to_owned()
    };
    format!(
        "line {line}: the plain {scalar} is a string to errmap's YAML 1.2 parser but {hint}, or \
         quote it if it is a string"
    )
}

/// YAML 1.1 booleans that YAML 1.2 reads as strings.
const YAML11_BOOLEANS: &[&str] = &[
    "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off",
    "OFF",
];

/// Whether the string `text` would have been something else to YAML 1.1,
/// written plain.
fn is_ambiguous(text: &str) -> bool {
    let digits = text.trim_start_matches(['-', '+']);
    let leading_zero =
        digits.len() > 1 && digits.starts_with('0') && digits.bytes().all(|b| b.is_ascii_digit());
    let underscored = digits.contains('_')
        && digits.starts_with(|c: char| c.is_ascii_digit())
        && digits
            .chars()
            .all(|c| c.is_ascii_hexdigit() || "_.xXoObB".contains(c));
    leading_zero || underscored || YAML11_BOOLEANS.contains(&text)
}

/// Runs `errmap inject`. `catalog` is the global `--catalog`, which is
/// about the catalog of this process, not the sidecar's: named so that
/// nobody takes it for that.
pub fn run(args: &InjectArgs, catalog: Option<&Path>) -> ExitCode {
    if let Some(path) = catalog {
        if !args.quiet {
            say(&format!(
                "errmap inject: warning: --catalog / ERRMAP_CATALOG ({}) is ignored; the \
                 sidecar reads its catalog from --catalog-configmap",
                path.display()
            ));
        }
    }
    let action = if args.uninject {
        Action::Uninject
    } else {
        let mode = if args.plain {
            Mode::Plain
        } else {
            Mode::Native
        };
        match Sidecar::new(
            mode,
            &args.image,
            args.catalog_configmap.as_deref(),
            &args.settings,
        ) {
            Ok(sidecar) => Action::Inject(sidecar),
            Err(message) => {
                say(&format!("errmap inject: {message}"));
                return ExitCode::from(crate::app::config::EXIT_USAGE as u8);
            }
        }
    };
    let inputs = if args.inputs.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        args.inputs.clone()
    };
    let mut tally = Tally::default();
    let mut out = String::new();
    for (name, text) in match read_inputs(&inputs) {
        Ok(streams) => streams,
        Err(message) => return fail(&message),
    } {
        let written = match transform(&text, &name, &action, &mut tally) {
            Ok(written) => written,
            Err(err) => return fail(&err.to_string()),
        };
        join(&mut out, &written);
    }
    if let Err(err) = write_out(&out) {
        return fail(&format!("cannot write the output: {err}"));
    }
    if !args.quiet {
        let colour = colour();
        for warning in &tally.warnings {
            let label = if colour {
                "\x1b[33mwarning\x1b[0m"
            } else {
                "warning"
            };
            say(&format!("errmap inject: {label}: {warning}"));
        }
        say(&summary(&tally, args.uninject, colour));
    }
    ExitCode::SUCCESS
}

/// Appends a stream to the output, with a document marker between two
/// streams when the next one does not start with its own, and an end
/// marker before one that starts with directives.
fn join(out: &mut String, next: &str) {
    if next.is_empty() {
        return;
    }
    if !out.is_empty() {
        if !out.ends_with('\n') {
            out.push('\n');
        }
        let head = split::split(next)
            .first()
            .map(|d| split::frame(d.text).0)
            .unwrap_or_default();
        // Directives may follow only a document that has ended.
        let ended = out.ends_with("\n...\n") || out == "...\n";
        if head.lines().any(|line| line.starts_with('%')) && !ended {
            out.push_str("...\n");
        }
        if !head.lines().any(|line| line.starts_with("---")) {
            out.push_str("---\n");
        }
    }
    out.push_str(next);
}

/// Every input's text with the name errors give it.
fn read_inputs(inputs: &[PathBuf]) -> Result<Vec<(String, String)>, String> {
    let mut streams = Vec::new();
    for input in inputs {
        if input.as_os_str() == "-" {
            let mut bytes = Vec::new();
            std::io::stdin()
                .lock()
                .read_to_end(&mut bytes)
                .map_err(|e| format!("cannot read standard input: {e}"))?;
            streams.push(("<stdin>".to_owned(), text("<stdin>", bytes)?));
        } else if input.is_dir() {
            let mut files = Vec::new();
            let entries = std::fs::read_dir(input)
                .map_err(|e| format!("cannot read {}: {e}", input.display()))?;
            for entry in entries {
                let path = entry
                    .map_err(|e| format!("cannot read {}: {e}", input.display()))?
                    .path();
                let wanted = path
                    .extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| MANIFEST_EXTENSIONS.contains(&e));
                if wanted && path.is_file() {
                    files.push(path);
                }
            }
            files.sort();
            for file in files {
                streams.push(read_file(&file)?);
            }
        } else {
            streams.push(read_file(input)?);
        }
    }
    Ok(streams)
}

fn read_file(path: &Path) -> Result<(String, String), String> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {name}: {e}"))?;
    let text = text(&name, bytes)?;
    Ok((name, text))
}

fn text(name: &str, bytes: Vec<u8>) -> Result<String, String> {
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "{name}: not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })
}

/// The one-line summary, coloured when `colour`.
pub fn summary(tally: &Tally, uninject: bool, colour: bool) -> String {
    let paint = |code: &str, text: String| {
        if colour {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text
        }
    };
    let (verb, unchanged) = if uninject {
        ("uninjected", "not injected")
    } else {
        ("injected", "already injected")
    };
    let mut reasons = Vec::new();
    if tally.unchanged > 0 {
        reasons.push(format!("{} {unchanged}", tally.unchanged));
    }
    if tally.hand_written > 0 {
        reasons.push(format!(
            "{} with an errmap container of their own",
            tally.hand_written
        ));
    }
    if tally.other > 0 {
        reasons.push(format!("{} without a pod template", tally.other));
    }
    let skipped = tally.unchanged + tally.hand_written + tally.other;
    let mut line = format!(
        "errmap inject: {} object{}, {}, {}",
        tally.objects,
        if tally.objects == 1 { "" } else { "s" },
        paint("32", format!("{} {verb}", tally.changed)),
        paint(
            if skipped > 0 { "33" } else { "0" },
            format!("{skipped} skipped")
        ),
    );
    if !reasons.is_empty() {
        line.push_str(&format!(" ({})", reasons.join(", ")));
    }
    line
}

/// Colour only for a person at a terminal who has not asked for none.
fn colour() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

fn write_out(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        // A reader gone away (`errmap inject x | head`) is no failure.
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

fn say(message: &str) {
    // Nowhere to say it if standard error is closed.
    let _ = writeln!(std::io::stderr(), "{message}");
}

fn fail(message: &str) -> ExitCode {
    say(&format!("errmap inject: {message}"));
    ExitCode::FAILURE
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inject(stream: &str) -> Result<String, StreamError> {
        let sidecar = Sidecar::new(Mode::Native, sidecar::DEFAULT_IMAGE, None, &[]).unwrap();
        transform(
            stream,
            "in",
            &Action::Inject(sidecar),
            &mut Tally::default(),
        )
    }

    #[test]
    fn bad_yaml_names_document_and_stream_line() {
        let err = inject("# c\nkind: A\n---\nkind: B\n---\nkind: [C\n").unwrap_err();
        assert_eq!((err.document, err.line), (3, 5));
        assert!(err.message.contains("line 6"), "{err}");
    }

    #[test]
    fn untouched_documents_are_copied_byte_for_byte() {
        let stream = "# a service\napiVersion: v1\nkind: Service\nmetadata: {name: s}  # x\n\
                      ---\n\n---\n~\n";
        assert_eq!(inject(stream).unwrap(), stream);
        let mut tally = Tally::default();
        let sidecar = Sidecar::new(Mode::Native, sidecar::DEFAULT_IMAGE, None, &[]).unwrap();
        transform(stream, "in", &Action::Inject(sidecar), &mut tally).unwrap();
        assert_eq!(
            (tally.objects, tally.other),
            (1, 1),
            "null documents are no objects"
        );
    }

    #[test]
    fn octal_looking_plain_scalars_stop_a_rewrite() {
        let flow = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: a}]\n  volumes:\n  - name: v\n    configMap: {name: c, defaultMode: 0644}\n";
        let block = flow.replace(
            "{name: c, defaultMode: 0644}",
            "\n      name: c\n      defaultMode: 0644",
        );
        for pod in [flow, &block] {
            let err = inject(pod).unwrap_err();
            assert!(err.message.contains("0644"), "{err}");
            assert!(inject(&pod.replace("0644", "'0644'")).is_ok());
            assert!(err.message.contains("(420)"), "{err}");
            assert!(inject(&pod.replace("0644", "420")).is_ok());
        }
        let pod = flow.replace("defaultMode: 0644", "optional: yes");
        let err = inject(&pod).unwrap_err();
        assert!(
            err.message.contains("boolean") && err.message.contains("line 8"),
            "{err}"
        );
        let pod = flow.replace("name: c, defaultMode: 0644", "1_000: c");
        assert!(inject(&pod).unwrap_err().message.contains("'_'"));
        assert!(inject(&pod.replace("1_000", "'1_000'")).is_ok());
        // Inside a block scalar or a tagged one, they are text.
        let literal = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n    \
                       note: |\n      yes\n      0644\n    tagged: !!str on\nspec:\n  containers: [{name: a}]\n";
        assert!(inject(literal).is_ok());
        // The text alone, when the second parser cannot read it, errs on
        // the safe side.
        assert!(refuse_ambiguous_text("a: |\n  yes\n", 1).is_err());
        assert!(refuse_ambiguous_text("a: \"yes\"\n", 1).is_ok());
    }

    #[test]
    fn summaries_say_what_happened() {
        let tally = Tally {
            objects: 4,
            changed: 2,
            unchanged: 1,
            hand_written: 0,
            other: 1,
            warnings: Vec::new(),
        };
        assert_eq!(
            summary(&tally, false, false),
            "errmap inject: 4 objects, 2 injected, 2 skipped (1 already injected, 1 without a pod template)"
        );
        assert!(summary(&tally, true, true).contains("\x1b[32m2 uninjected\x1b[0m"));
    }

    /// Lines that make streams of pods, lists, markers, directives,
    /// comments, block scalars and bad YAML when put together at random.
    const LINES: &[&str] = &[
        "---",
        "--- # c",
        "...",
        "# c",
        "%YAML 1.2",
        "",
        "apiVersion: v1",
        "kind: Pod",
        "kind: List",
        "items:",
        "- apiVersion: v1",
        "  kind: Pod",
        "  metadata: {name: p}",
        "  spec: {containers: [{name: a}]}",
        "metadata: {name: p}",
        "spec:",
        "  containers: [{name: a}]",
        "  containers:",
        "  - name: x",
        "note: |",
        "  ---x",
        "  yes",
        "x: on",
        "y: 'on'",
        "z: [",
        "errmap/inject-status: x",
        "\u{feff}a: 1",
        "a: 1\r",
        "---\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: a}]",
        "---\napiVersion: batch/v1\nkind: CronJob\nspec:\n  jobTemplate:\n    spec:\n      \
         template:\n        spec:\n          containers: [{name: a}]",
        "---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: apps/v1\n  kind: Deployment\n  \
         spec:\n    template:\n      spec:\n        containers: [{name: a, args: [\"0644\", yes]}]",
    ];

    proptest::proptest! {
        #[test]
        fn streams_split_exactly_and_inject_once(
            // Whole objects more often than single lines.
            picks in proptest::collection::vec(
                proptest::prop_oneof![3 => LINES.len() - 3..LINES.len(), 2 => 0..LINES.len()],
                0..12,
            )
        ) {
            let stream: String = picks.iter().map(|&i| format!("{}\n", LINES[i])).collect();
            let documents = split::split(&stream);
            proptest::prop_assert_eq!(documents.iter().map(|d| d.text).collect::<String>(), stream.clone());
            let sidecar = Sidecar::new(Mode::Native, sidecar::DEFAULT_IMAGE, None, &[]).unwrap();
            let action = Action::Inject(sidecar);
            let mut tally = Tally::default();
            if let Ok(once) = transform(&stream, "in", &action, &mut tally) {
                let mut again = Tally::default();
                let twice = transform(&once, "in", &action, &mut again);
                proptest::prop_assert_eq!(twice.as_deref(), Ok(once.as_str()), "{}", stream);
                proptest::prop_assert_eq!(again.changed, 0);
                let mut undone = Tally::default();
                let back = transform(&once, "in", &Action::Uninject, &mut undone);
                proptest::prop_assert!(back.is_ok(), "{:?}", back);
                proptest::prop_assert!(undone.changed >= tally.changed);
            }
        }
    }

    #[test]
    fn lines_shift_to_the_stream() {
        assert_eq!(
            shift_lines("x at line 2 column 3, y at line 1 column 1", 10),
            "x at line 12 column 3, y at line 11 column 1"
        );
    }
}
