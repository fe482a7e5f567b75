//! `errmap inject` as operators run it: the binary on the manifests of
//! `tests/fixtures/inject`, through files, directories and standard input.

// A test fails loudly, and its helpers are its own.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use serde_norway::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What one run gave: exit code, standard output and standard error.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/inject")
}

fn fixture(name: &str) -> PathBuf {
    fixtures().join(name)
}

fn read(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).unwrap()
}

/// Runs `errmap inject ARGS` with `stdin` on its standard input.
fn errmap_inject(args: &[&str], stdin: &str) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_errmap"));
    for (key, _) in std::env::vars() {
        if key.starts_with("ERRMAP_") || key == "NO_COLOR" {
            command.env_remove(key);
        }
    }
    let mut child = command
        .arg("inject")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn errmap");
    let mut input = child.stdin.take().unwrap();
    // errmap may refuse its arguments and exit before reading any input.
    let _ = input.write_all(stdin.as_bytes());
    drop(input);
    let output = child.wait_with_output().unwrap();
    Run {
        code: output.status.code().expect("an exit code"),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// Runs `errmap inject ARGS` and expects success.
fn ok(args: &[&str], stdin: &str) -> String {
    let run = errmap_inject(args, stdin);
    assert_eq!(run.code, 0, "errmap inject {args:?}: {}", run.stderr);
    run.stdout
}

/// The objects of a stream, each item of a list on its own, with no
/// empty documents.
fn objects(stream: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for document in serde_norway::Deserializer::from_str(stream) {
        let value = <Value as serde::Deserialize>::deserialize(document).unwrap();
        match value.get("items").and_then(Value::as_sequence) {
            Some(items) => out.extend(items.iter().cloned()),
            None if value.is_null() => {}
            None => out.push(value),
        }
    }
    out
}

fn str_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut node = value;
    for key in path {
        node = node.get(*key)?;
    }
    node.as_str()
}

/// The pod spec of an object, wherever its kind keeps it.
fn pod_spec(object: &Value) -> Option<&Value> {
    let kind = str_at(object, &["kind"])?;
    let spec = object.get("spec")?;
    match kind {
        "Pod" => Some(spec),
        "CronJob" => spec
            .get("jobTemplate")?
            .get("spec")?
            .get("template")?
            .get("spec"),
        _ => spec.get("template")?.get("spec"),
    }
}

fn names(list: Option<&Value>) -> Vec<&str> {
    list.and_then(Value::as_sequence)
        .map(|items| {
            items
                .iter()
                .filter_map(|c| c.get("name").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default()
}

const KINDS: &[(&str, &str)] = &[
    ("pod.yaml", "Pod"),
    ("deployment.yaml", "Deployment"),
    ("statefulset.yaml", "StatefulSet"),
    ("daemonset.yaml", "DaemonSet"),
    ("replicaset.yaml", "ReplicaSet"),
    ("job.yaml", "Job"),
    ("cronjob.yaml", "CronJob"),
    ("list.yaml", "Deployment"),
    ("mixed.yaml", "Deployment"),
];

#[test]
fn every_kind_gets_a_native_sidecar_first_among_its_init_containers() {
    for (file, kind) in KINDS {
        let input = read(file);
        let out = ok(&[fixture(file).to_str().unwrap()], "");
        let before = objects(&input);
        let after = objects(&out);
        assert_eq!(before.len(), after.len(), "{file}");
        let mut injected = 0;
        for (old, new) in before.iter().zip(&after) {
            let Some(spec) = pod_spec(new) else {
                assert_eq!(
                    old, new,
                    "{file}: an object without a pod template is unchanged"
                );
                continue;
            };
            assert_eq!(str_at(new, &["kind"]), Some(*kind), "{file}");
            injected += 1;
            let old_init = names(pod_spec(old).and_then(|s| s.get("initContainers")));
            let init = names(spec.get("initContainers"));
            assert_eq!(init[0], "errmap", "{file}");
            assert_eq!(
                init[1..],
                old_init[..],
                "{file}: the others keep their order"
            );
            let sidecar = &spec["initContainers"][0];
            assert_eq!(str_at(sidecar, &["restartPolicy"]), Some("Always"));
            assert_eq!(
                str_at(sidecar, &["image"]),
                Some(concat!(
                    "registry.example.com/errmap:",
                    env!("CARGO_PKG_VERSION")
                ))
            );
            assert_eq!(
                sidecar["readinessProbe"]["grpc"]["port"].as_u64(),
                Some(9090)
            );
            assert_eq!(
                sidecar["securityContext"]["capabilities"]["drop"][0].as_str(),
                Some("ALL")
            );
            assert_eq!(
                names(spec.get("containers")),
                names(pod_spec(old).and_then(|s| s.get("containers"))),
                "{file}: the application's containers are untouched"
            );
        }
        assert_eq!(injected, 1, "{file}: one object has a pod template");
    }
}

#[test]
fn plain_sidecars_go_last_among_the_containers() {
    let out = ok(
        &["--plain", fixture("deployment.yaml").to_str().unwrap()],
        "",
    );
    let spec = pod_spec(&objects(&out)[0]).unwrap().clone();
    assert_eq!(names(spec.get("containers")), ["payments", "errmap"]);
    assert_eq!(names(spec.get("initContainers")), ["migrate"]);
    let errmap = &spec["containers"][1];
    assert!(errmap.get("restartPolicy").is_none());
    let env: Vec<_> = names(errmap.get("env"));
    assert!(env.contains(&"ERRMAP_SHUTDOWN_DELAY"), "{env:?}");
}

#[test]
fn options_shape_the_sidecar() {
    let out = ok(
        &[
            "--image",
            "mirror.example.com/errmap:9",
            "--catalog-configmap",
            "shop-errors",
            "--set",
            "shutdown-grace=20s",
            "--set",
            "ERRMAP_MAX_BATCH=50",
            fixture("replicaset.yaml").to_str().unwrap(),
        ],
        "",
    );
    let spec = pod_spec(&objects(&out)[0]).unwrap().clone();
    let errmap = &spec["initContainers"][0];
    assert_eq!(
        errmap["image"].as_str(),
        Some("mirror.example.com/errmap:9")
    );
    let env: Vec<(String, String)> = errmap["env"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_owned(),
                e["value"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let get = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    assert_eq!(get("ERRMAP_SHUTDOWN_GRACE"), Some("20s"));
    assert_eq!(get("ERRMAP_MAX_BATCH"), Some("50"));
    assert_eq!(get("ERRMAP_CATALOG"), Some("/etc/errmap/catalog.textproto"));
    assert_eq!(
        spec["volumes"][0]["configMap"]["name"].as_str(),
        Some("shop-errors")
    );
    assert_eq!(
        errmap["volumeMounts"][0]["mountPath"].as_str(),
        Some("/etc/errmap")
    );
}

#[test]
fn injecting_twice_equals_injecting_once() {
    for (file, _) in KINDS {
        let once = ok(&[fixture(file).to_str().unwrap()], "");
        let run = errmap_inject(&["-"], &once);
        assert_eq!(run.code, 0);
        assert_eq!(run.stdout, once, "{file}");
        assert!(run.stderr.contains("0 injected"), "{}", run.stderr);
        assert!(run.stderr.contains("already injected"), "{}", run.stderr);
        let plain_on_top = ok(&["--plain", "-"], &once);
        assert_eq!(
            plain_on_top, once,
            "{file}: an injected object is left as it is"
        );
    }
}

#[test]
fn uninject_undoes_inject() {
    for plain in [false, true] {
        for (file, _) in KINDS {
            let input = read(file);
            let mut args = vec!["--catalog-configmap", "errmap-catalog"];
            if plain {
                args.push("--plain");
            }
            let injected = ok(&[&args[..], &["-"]].concat(), &input);
            let uninjected = ok(&["--uninject"], &injected);
            assert_eq!(objects(&uninjected), objects(&input), "{file}");
            // Written anew, a document is in the serializer's form; from
            // there on the round trip is exact to the byte.
            assert_eq!(
                ok(&[&args[..], &["-"]].concat(), &uninjected),
                injected,
                "{file}"
            );
            let again = ok(&["--uninject"], &injected);
            assert_eq!(again, uninjected);
            let run = errmap_inject(&["--uninject"], &uninjected);
            assert!(run.stderr.contains("0 uninjected"), "{}", run.stderr);
            assert_eq!(run.stdout, uninjected, "{file}: nothing left to take out");
        }
    }
}

#[test]
fn documents_without_a_pod_template_pass_through_byte_for_byte() {
    let input = read("mixed.yaml");
    let out = ok(&["-"], &input);
    // The directive, the ConfigMap with its comments and layout, the empty
    // document, and the end marker with the comment after it.
    let config_map_end = input.find("---\n---\n").unwrap() + "---\n---\n".len();
    assert!(out.starts_with(&input[..config_map_end]), "{out}");
    assert!(out.ends_with("...\n# The end.\n"), "{out}");
    // The pod template's own fields survive the rewrite.
    let deployment = &objects(&out)[1];
    assert_eq!(
        pod_spec(deployment).unwrap()["volumes"][0]["configMap"]["defaultMode"].as_u64(),
        Some(420)
    );
}

#[test]
fn unknown_fields_are_kept() {
    let input = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  x-team: search\n\
                 spec:\n  containers:\n  - name: a\n    image: a\n    x-custom: {keep: [1, 2]}\n\
                 x-extra: true\n";
    let out = ok(&[], input);
    let pod = &objects(&out)[0];
    assert_eq!(pod["x-extra"].as_bool(), Some(true));
    assert_eq!(pod["metadata"]["x-team"].as_str(), Some("search"));
    assert_eq!(
        pod["spec"]["containers"][0]["x-custom"]["keep"][1].as_u64(),
        Some(2)
    );
}

#[test]
fn directories_and_several_inputs_make_one_stream() {
    let out = ok(&[fixtures().to_str().unwrap()], "");
    let expected: usize = KINDS
        .iter()
        .map(|(file, _)| objects(&read(file)).len())
        .sum();
    assert_eq!(objects(&out).len(), expected);
    let run = errmap_inject(&[fixtures().to_str().unwrap()], "");
    assert!(
        run.stderr
            .contains(&format!("{expected} objects, 9 injected")),
        "{}",
        run.stderr
    );
    // A file and standard input, with a marker between them.
    let out = ok(
        &[fixture("job.yaml").to_str().unwrap(), "-"],
        "kind: Note\nx: 1",
    );
    assert!(out.ends_with("\n---\nkind: Note\nx: 1"), "{out}");
}

#[test]
fn bad_yaml_names_the_document_and_line_and_writes_nothing() {
    let stream = format!(
        "{}---\napiVersion: v1\nkind: Pod\nmetadata: {{name: [p}}\n",
        read("job.yaml")
    );
    let run = errmap_inject(&["-"], &stream);
    assert_eq!(run.code, 1);
    assert_eq!(run.stdout, "", "nothing is written");
    let line = read("job.yaml").lines().count() + 4;
    assert!(
        run.stderr.contains("<stdin>: document 2") && run.stderr.contains(&format!("line {line}")),
        "{}",
        run.stderr
    );

    // In the second of two files: the first one's output is held back too.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "a: 1\n---\nkey: \"unterminated\n").unwrap();
    let run = errmap_inject(
        &[fixture("pod.yaml").to_str().unwrap(), bad.to_str().unwrap()],
        "",
    );
    assert_eq!((run.code, run.stdout.as_str()), (1, ""));
    assert!(
        run.stderr.contains("bad.yaml: document 2"),
        "{}",
        run.stderr
    );

    std::fs::write(&bad, b"kind: Pod\nname: \xff\n").unwrap();
    let run = errmap_inject(&[bad.to_str().unwrap()], "");
    assert_eq!((run.code, run.stdout.as_str()), (1, ""));
    assert!(run.stderr.contains("not UTF-8"), "{}", run.stderr);

    let run = errmap_inject(&["no/such/file.yaml"], "");
    assert_eq!((run.code, run.stdout.as_str()), (1, ""));
    assert!(run.stderr.contains("no/such/file.yaml"), "{}", run.stderr);
}

#[test]
fn objects_that_cannot_take_the_sidecar_are_errors() {
    let clash = read("pod.yaml").replace("containerPort: 8080", "containerPort: 9090");
    let run = errmap_inject(&[], &clash);
    assert_eq!((run.code, run.stdout.as_str()), (1, ""));
    assert!(
        run.stderr.contains("Pod orders") && run.stderr.contains("port 9090"),
        "{}",
        run.stderr
    );
    let run = errmap_inject(&["--set", "ADMIN_LISTEN=0.0.0.0:9191"], &clash);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn bad_settings_are_usage_errors() {
    for args in [
        &["--set", "NO_SUCH_SETTING=1"][..],
        &["--set", "MAX_BATCH=0"],
        &["--set", "ADMIN_LISTEN=127.0.0.1:9090"],
        &["--catalog-configmap", "Not_A_Name"],
        &["--set", "novalue"],
        &["--uninject", "--plain"],
    ] {
        let run = errmap_inject(args, &read("pod.yaml"));
        assert_eq!(run.code, 64, "{args:?}: {}", run.stderr);
        assert_eq!(run.stdout, "");
        assert!(!run.stderr.is_empty());
    }
}

#[test]
fn the_summary_is_one_plain_line_unless_quiet() {
    let run = errmap_inject(&["-"], &read("list.yaml"));
    assert_eq!(
        run.stderr,
        "errmap inject: 2 objects, 1 injected, 1 skipped (1 without a pod template)\n"
    );
    let run = errmap_inject(&["--quiet", "-"], &read("list.yaml"));
    assert_eq!((run.code, run.stderr.as_str()), (0, ""));
    let run = errmap_inject(&["-q", "--uninject"], &read("list.yaml"));
    assert_eq!((run.code, run.stderr.as_str()), (0, ""));
}

#[test]
fn strings_stay_strings_to_kubernetes_yaml_1_1_reader() {
    let input = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels:\n    a: \"on\"\n    b: \"0644\"\n    c: \"1_000\"\n    d: \"2026-01-02\"\n    \"y\": x\nspec:\n  containers: [{name: a, image: a}]\n";
    let out = ok(&[], input);
    for line in [
        "a: \"on\"\n",
        "b: \"0644\"\n",
        "c: \"1_000\"\n",
        "d: \"2026-01-02\"\n",
        "\"y\": x\n",
    ] {
        assert!(out.contains(line), "{line:?} in {out}");
    }
    // Written plain, the same values are refused rather than changed.
    let run = errmap_inject(&[], &input.replace("\"on\"", "on"));
    assert_eq!((run.code, run.stdout.as_str()), (1, ""));
    assert!(
        run.stderr.contains("line 6") && run.stderr.contains("boolean"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_global_catalog_flag_is_named_as_ignored() {
    let run = errmap_inject(&["--catalog", "x.textproto", "-"], &read("job.yaml"));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.starts_with("errmap inject: warning: --catalog")
            && run.stderr.contains("--catalog-configmap"),
        "{}",
        run.stderr
    );
    assert!(!run.stdout.contains("x.textproto"));
}

#[test]
fn traps_are_named_in_warnings() {
    let run = errmap_inject(&["--plain", "-"], &read("cronjob.yaml"));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.starts_with(
            "errmap inject: warning: <stdin>: document 1 (from line 1): CronJob nightly-report: \
             a plain sidecar keeps running"
        ),
        "{}",
        run.stderr
    );
    let host = read("daemonset.yaml").replace(
        "      tolerations:",
        "      hostNetwork: true\n      tolerations:",
    );
    let run = errmap_inject(&[], &host);
    assert!(
        run.stderr
            .contains("DaemonSet node-agent: its pods use hostNetwork"),
        "{}",
        run.stderr
    );
    let run = errmap_inject(&["--quiet"], &host);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""));
    // The native sidecar in a Job is no trap.
    let run = errmap_inject(&[], &read("job.yaml"));
    assert!(!run.stderr.contains("warning"), "{}", run.stderr);
}
