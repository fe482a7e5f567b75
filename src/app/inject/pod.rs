//! Finding the pod templates of Kubernetes objects, and adding the sidecar
//! to one or taking it out again.
//!
//! What an injection added is recorded in an annotation of the pod template
//! ([`STATUS_ANNOTATION`]): the container, the volume, and the lists and
//! maps it had to create. `--uninject` removes exactly those, so that
//! uninjecting an injected object gives the object back.

use super::sidecar::{Sidecar, CONTAINER};
use serde::{Deserialize, Serialize};
use serde_norway::{Mapping, Value};

/// The pod template annotation that marks an injected template.
pub const STATUS_ANNOTATION: &str = "errmap/inject-status";

/// What happened to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The sidecar was added.
    Injected,
    /// The sidecar inject added was taken out.
    Uninjected,
    /// Injecting: it already has the sidecar (the annotation says so).
    AlreadyInjected,
    /// Injecting: it has an `errmap` container that inject did not add.
    HasErrmap,
    /// Uninjecting: nothing inject added is there.
    NotInjected,
    /// Not an object with a pod template: passed through.
    NoPodTemplate,
}

/// The annotation's value: what inject added, as JSON.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
struct Status {
    /// The container's name.
    container: String,
    /// The pod spec list holding it: `initContainers` or `containers`.
    list: String,
    /// The volume's name, when one was added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    volume: Option<String>,
    /// Keys that were not there before: `metadata` (of the template),
    /// `annotations`, `initContainers`, `volumes`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    created: Vec<String>,
}

/// Where the pod template of an object of `kind` in the API group of
/// `api_version` is, as a path of keys; an empty path is the object itself
/// (a Pod). None for kinds without one.
fn template_path(api_version: &str, kind: &str) -> Option<&'static [&'static str]> {
    let group = api_version.rsplit_once('/').map_or("", |(group, _)| group);
    match (group, kind) {
        ("", "Pod") => Some(&[]),
        ("apps" | "extensions", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet")
        | ("batch", "Job") => Some(&["spec", "template"]),
        ("batch", "CronJob") => Some(&["spec", "jobTemplate", "spec", "template"]),
        _ => None,
    }
}

/// Whether `object` is a list of objects (`kind: List`, or a kind such as
/// `DeploymentList` as the API returns): its items are handled one by one.
pub fn items_mut(object: &mut Value) -> Option<&mut Vec<Value>> {
    let kind = object.get("kind").and_then(Value::as_str)?;
    if !kind.ends_with("List") {
        return None;
    }
    object.get_mut("items").and_then(Value::as_sequence_mut)
}

/// A short name for messages: `Deployment app`.
pub fn describe(object: &Value) -> String {
    let kind = object
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("object");
    match object
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
    {
        Some(name) => format!("{kind} {name}"),
        None => kind.to_owned(),
    }
}

/// The pod template of `object`, if its kind has one. An object of such a
/// kind without one is an error.
fn template(object: &mut Value) -> Result<Option<&mut Mapping>, String> {
    let api_version = object.get("apiVersion").and_then(Value::as_str);
    let kind = object.get("kind").and_then(Value::as_str);
    let (Some(api_version), Some(kind)) = (api_version, kind) else {
        return Ok(None);
    };
    let Some(path) = template_path(api_version, kind) else {
        return Ok(None);
    };
    let mut node = object;
    for key in path {
        node = match node.get_mut(*key) {
            Some(next) => next,
            None => return Err(format!("it has no {}", path.join("."))),
        };
    }
    match node.as_mapping_mut() {
        Some(template) if template.get("spec").is_some_and(Value::is_mapping) => Ok(Some(template)),
        _ => Err(format!("it has no pod spec at {}", dotted(path, "spec"))),
    }
}

fn dotted(path: &[&str], last: &str) -> String {
    path.iter()
        .copied()
        .chain([last])
        .collect::<Vec<_>>()
        .join(".")
}

/// The pod spec's list `key` (`containers`, ...), if there; an error if it
/// is something else than a list.
fn list<'a>(spec: &'a Mapping, key: &str) -> Result<&'a [Value], String> {
    match spec.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Sequence(items)) => Ok(items),
        Some(_) => Err(format!("its pod spec's {key} is not a list")),
    }
}

fn name_of(item: &Value) -> Option<&str> {
    item.get("name").and_then(Value::as_str)
}

/// Adds the sidecar to `object`'s pod template.
pub fn inject(object: &mut Value, sidecar: &Sidecar) -> Result<Outcome, String> {
    let Some(template) = template(object)? else {
        return Ok(Outcome::NoPodTemplate);
    };
    if annotations(template).is_some_and(|a| a.contains_key(STATUS_ANNOTATION)) {
        return Ok(Outcome::AlreadyInjected);
    }
    let Some(spec) = template.get_mut("spec").and_then(Value::as_mapping_mut) else {
        return Err("it has no pod spec".to_owned());
    };
    let containers = list(spec, "containers")?;
    let init = list(spec, "initContainers")?;
    if containers
        .iter()
        .chain(init)
        .any(|c| name_of(c) == Some(CONTAINER))
    {
        return Ok(Outcome::HasErrmap);
    }
    for container in containers.iter().chain(init) {
        let ports = container.get("ports").and_then(Value::as_sequence);
        for port in ports.into_iter().flatten() {
            let number = port.get("containerPort").and_then(Value::as_u64);
            if let Some(taken) =
                number.filter(|n| sidecar.ports.iter().any(|p| u64::from(*p) == *n))
            {
                return Err(format!(
                    "its container {} uses port {taken}, which errmap listens on; move errmap \
                     with --set (such as --set ADMIN_LISTEN=0.0.0.0:9191)",
                    name_of(container).unwrap_or("?")
                ));
            }
        }
    }
    let volumes = list(spec, "volumes")?;
    if let Some(volume) = sidecar.volume_name() {
        if volumes.iter().any(|v| name_of(v) == Some(volume)) {
            return Err(format!(
                "it already has a volume named {volume}; rename it or leave out \
                 --catalog-configmap"
            ));
        }
    }

    let list_key = sidecar.mode.list();
    let mut created = Vec::new();
    if !matches!(spec.get(list_key), Some(Value::Sequence(_))) {
        created.push(list_key.to_owned());
        // An absent (or null) initContainers goes before containers, where
        // people write it.
        insert_before(spec, list_key, Value::Sequence(Vec::new()), "containers");
    }
    if let Some(Value::Sequence(items)) = spec.get_mut(list_key) {
        match sidecar.mode {
            // First: it serves the other init containers too.
            super::sidecar::Mode::Native => items.insert(0, sidecar.container()),
            // Last: the first container stays kubectl's default one.
            super::sidecar::Mode::Plain => items.push(sidecar.container()),
        }
    }
    let volume = sidecar.volume();
    if let Some(volume) = volume.clone() {
        if !matches!(spec.get("volumes"), Some(Value::Sequence(_))) {
            created.push("volumes".to_owned());
            spec.insert(key("volumes"), Value::Sequence(Vec::new()));
        }
        if let Some(Value::Sequence(items)) = spec.get_mut("volumes") {
            items.push(volume);
        }
    }

    if !matches!(template.get("metadata"), Some(Value::Mapping(_))) {
        created.push("metadata".to_owned());
        insert_before(template, "metadata", Value::Mapping(Mapping::new()), "spec");
    }
    let Some(metadata) = template.get_mut("metadata").and_then(Value::as_mapping_mut) else {
        return Err("its pod template's metadata is not a map".to_owned());
    };
    if !matches!(metadata.get("annotations"), Some(Value::Mapping(_))) {
        created.push("annotations".to_owned());
        metadata.insert(key("annotations"), Value::Mapping(Mapping::new()));
    }
    let status = Status {
        container: CONTAINER.to_owned(),
        list: list_key.to_owned(),
        volume: sidecar.volume_name().map(str::to_owned),
        created,
    };
    let status = serde_json::to_string(&status).map_err(|e| e.to_string())?;
    if let Some(Value::Mapping(annotations)) = metadata.get_mut("annotations") {
        annotations.insert(key(STATUS_ANNOTATION), Value::String(status));
    }
    Ok(Outcome::Injected)
}

/// What an operator should know about `object` once injected: a plain
/// sidecar in a Job's pods keeps them from completing, and on the host's
/// network errmap's listeners bind on the node.
pub fn warnings(object: &Value, sidecar: &Sidecar) -> Vec<String> {
    let mut out = Vec::new();
    let kind = object
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if sidecar.mode == super::sidecar::Mode::Plain && matches!(kind, "Job" | "CronJob") {
        out.push(
            "a plain sidecar keeps running after the job's own containers finish, so its pods \
             never complete; use the native sidecar (without --plain, Kubernetes 1.29 and later)"
                .to_owned(),
        );
    }
    let api_version = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut node = object;
    for key in template_path(api_version, kind).unwrap_or_default() {
        match node.get(*key) {
            Some(next) => node = next,
            None => return out,
        }
    }
    let host_network = node
        .get("spec")
        .and_then(|spec| spec.get("hostNetwork"))
        .and_then(Value::as_bool);
    if host_network == Some(true) {
        out.push(format!(
            "its pods use hostNetwork, so errmap's listeners (ports {}) bind on the node, \
             where another pod on the node may hold them",
            sidecar
                .ports
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    out
}

/// Takes out of `object`'s pod template what inject added, as its
/// annotation records.
pub fn uninject(object: &mut Value) -> Result<Outcome, String> {
    let Some(template) = template(object)? else {
        return Ok(Outcome::NoPodTemplate);
    };
    let Some(recorded) = annotations(template).and_then(|a| a.get(STATUS_ANNOTATION)) else {
        return Ok(Outcome::NotInjected);
    };
    let status: Status = recorded
        .as_str()
        .and_then(|text| serde_json::from_str(text).ok())
        .filter(|s: &Status| matches!(s.list.as_str(), "initContainers" | "containers"))
        .ok_or_else(|| {
            format!("its annotation {STATUS_ANNOTATION} is not one errmap inject writes")
        })?;
    let Some(spec) = template.get_mut("spec").and_then(Value::as_mapping_mut) else {
        return Err("it has no pod spec".to_owned());
    };
    remove_named(spec, &status.list, &status.container);
    if let Some(volume) = &status.volume {
        remove_named(spec, "volumes", volume);
    }
    for created in ["initContainers", "containers", "volumes"] {
        if status.created.iter().any(|c| c == created) {
            remove_if_empty(spec, created);
        }
    }
    if let Some(Value::Mapping(metadata)) = template.get_mut("metadata") {
        if let Some(Value::Mapping(annotations)) = metadata.get_mut("annotations") {
            annotations.shift_remove(STATUS_ANNOTATION);
        }
        if status.created.iter().any(|c| c == "annotations") {
            remove_if_empty(metadata, "annotations");
        }
    }
    if status.created.iter().any(|c| c == "metadata") {
        remove_if_empty(template, "metadata");
    }
    Ok(Outcome::Uninjected)
}

fn annotations(template: &Mapping) -> Option<&Mapping> {
    template.get("metadata")?.get("annotations")?.as_mapping()
}

fn key(name: &str) -> Value {
    Value::String(name.to_owned())
}

/// Removes the first item named `name` from the list `list` of `map`.
fn remove_named(map: &mut Mapping, list: &str, name: &str) {
    if let Some(Value::Sequence(items)) = map.get_mut(list) {
        if let Some(at) = items.iter().position(|item| name_of(item) == Some(name)) {
            items.remove(at);
        }
    }
}

fn remove_if_empty(map: &mut Mapping, name: &str) {
    let empty = match map.get(name) {
        Some(Value::Sequence(items)) => items.is_empty(),
        Some(Value::Mapping(entries)) => entries.is_empty(),
        _ => false,
    };
    if empty {
        map.shift_remove(name);
    }
}

/// Sets `name` in `map` to `value`: where it is if there, else just before
/// the key `before`, else at the end.
fn insert_before(map: &mut Mapping, name: &str, value: Value, before: &str) {
    if map.contains_key(name) || !map.contains_key(before) {
        map.insert(key(name), value);
        return;
    }
    let old = std::mem::take(map);
    let mut value = Some(value);
    for (k, v) in old {
        if k.as_str() == Some(before) {
            if let Some(value) = value.take() {
                map.insert(key(name), value);
            }
        }
        map.insert(k, v);
    }
}

#[cfg(test)]
mod tests {
    use super::super::sidecar::{Mode, DEFAULT_IMAGE};
    use super::*;

    fn yaml(text: &str) -> Value {
        serde_norway::from_str(text).unwrap()
    }

    const DEPLOYMENT: &str = "
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  template:
    metadata:
      labels: {a: b}
    spec:
      containers:
        - name: app
          image: app
          ports: [{containerPort: 8080}]
";

    #[test]
    fn native_goes_first_in_init_containers_and_uninject_restores() {
        let sidecar = Sidecar::new(Mode::Native, DEFAULT_IMAGE, Some("cat"), &[]).unwrap();
        let original = yaml(DEPLOYMENT);
        let mut object = original.clone();
        assert_eq!(inject(&mut object, &sidecar), Ok(Outcome::Injected));
        let spec = &object["spec"]["template"]["spec"];
        let keys: Vec<_> = spec.as_mapping().unwrap().keys().collect();
        assert_eq!(
            keys,
            [&key("initContainers"), &key("containers"), &key("volumes")]
        );
        assert_eq!(spec["initContainers"][0]["name"], key("errmap"));
        assert_eq!(spec["initContainers"][0]["restartPolicy"], key("Always"));
        assert_eq!(spec["volumes"][0]["configMap"]["name"], key("cat"));
        let again = object.clone();
        assert_eq!(inject(&mut object, &sidecar), Ok(Outcome::AlreadyInjected));
        assert_eq!(object, again);
        assert_eq!(uninject(&mut object), Ok(Outcome::Uninjected));
        assert_eq!(object, original);
        assert_eq!(uninject(&mut object), Ok(Outcome::NotInjected));
    }

    #[test]
    fn plain_goes_last_in_containers() {
        let sidecar = Sidecar::new(Mode::Plain, DEFAULT_IMAGE, None, &[]).unwrap();
        let original = yaml(DEPLOYMENT);
        let mut object = original.clone();
        assert_eq!(inject(&mut object, &sidecar), Ok(Outcome::Injected));
        let spec = &object["spec"]["template"]["spec"];
        assert_eq!(spec["containers"][1]["name"], key("errmap"));
        assert!(spec.get("initContainers").is_none() && spec.get("volumes").is_none());
        assert_eq!(uninject(&mut object), Ok(Outcome::Uninjected));
        assert_eq!(object, original);
    }

    #[test]
    fn clashes_and_broken_objects_are_errors() {
        let sidecar = Sidecar::new(
            Mode::Native,
            DEFAULT_IMAGE,
            None,
            &[("HTTP_LISTEN".to_owned(), "127.0.0.1:8080".to_owned())],
        )
        .unwrap();
        let err = inject(&mut yaml(DEPLOYMENT), &sidecar).unwrap_err();
        assert!(err.contains("port 8080"), "{err}");
        let mut broken = yaml("apiVersion: batch/v1\nkind: CronJob\nspec: {schedule: x}\n");
        let err = inject(&mut broken, &sidecar).unwrap_err();
        assert!(err.contains("spec.jobTemplate.spec.template"), "{err}");
        let mut foreign = yaml("apiVersion: example.com/v1\nkind: Deployment\nspec: {}\n");
        assert_eq!(inject(&mut foreign, &sidecar), Ok(Outcome::NoPodTemplate));
    }

    #[test]
    fn hand_written_sidecars_are_left_alone() {
        let sidecar = Sidecar::new(Mode::Native, DEFAULT_IMAGE, None, &[]).unwrap();
        let mut pod = yaml(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: errmap, image: x}]\n",
        );
        let before = pod.clone();
        assert_eq!(inject(&mut pod, &sidecar), Ok(Outcome::HasErrmap));
        assert_eq!(uninject(&mut pod), Ok(Outcome::NotInjected));
        assert_eq!(pod, before);
    }
}
