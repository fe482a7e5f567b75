//! The errmap container, and the catalog volume, that `errmap inject` adds
//! to a pod template. The manifests in `deploy/kubernetes` are its output.

use crate::app::config::Config;
use clap::{CommandFactory, Parser};
use serde_norway::{Mapping, Value};
use std::net::SocketAddr;

/// The name of the container added.
pub const CONTAINER: &str = "errmap";
/// The name of the catalog volume added with `--catalog-configmap`.
pub const VOLUME: &str = "errmap-catalog";
/// Where the catalog ConfigMap is mounted: a directory, not a `subPath`
/// file, so that the kubelet swaps in a new version atomically and errmap
/// reloads it.
pub const CATALOG_DIR: &str = "/etc/errmap";
/// The key of the catalog file in the ConfigMap.
pub const CATALOG_KEY: &str = "catalog.textproto";
/// The image unless `--image` names another: this version's.
pub const DEFAULT_IMAGE: &str = concat!("registry.example.com/errmap:", env!("CARGO_PKG_VERSION"));
/// The name of the admin port; unique within the pod, as Kubernetes
/// requires of port names.
pub const ADMIN_PORT_NAME: &str = "errmap-admin";
/// The Restricted Pod Security Standard's user: a fixed non-root UID (the
/// image's "nonroot" user).
const USER: u64 = 65532;

/// The settings the sidecar gets unless `--set` changes them. The API and
/// the HTTP/JSON face stay on loopback, reachable by the pod's containers
/// only; the HTTP face moves to 8081, away from applications' usual 8080.
/// The admin listener binds every address, because the kubelet's probes
/// dial the pod IP. Ten seconds of grace leave the application two thirds
/// of the default 30-second termination grace period.
pub const DEFAULT_SETTINGS: &[(&str, &str)] = &[
    ("ERRMAP_LISTEN", "127.0.0.1:50051"),
    ("ERRMAP_ADMIN_LISTEN", "0.0.0.0:9090"),
    ("ERRMAP_HTTP_LISTEN", "127.0.0.1:8081"),
    ("ERRMAP_SHUTDOWN_GRACE", "10s"),
    ("ERRMAP_LOG_FORMAT", "json"),
];
/// Added for a plain sidecar, which gets SIGTERM together with the
/// application: errmap keeps answering, unready, while the application
/// drains.
pub const PLAIN_SHUTDOWN_DELAY: (&str, &str) = ("ERRMAP_SHUTDOWN_DELAY", "10s");

/// Where the sidecar goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// An init container with `restartPolicy: Always` (Kubernetes 1.29 and
    /// later): started before the application, stopped after it, and no
    /// obstacle to a Job's completion.
    Native,
    /// An ordinary container, for older clusters.
    Plain,
}

impl Mode {
    /// The pod spec list the container goes in.
    pub fn list(self) -> &'static str {
        match self {
            Mode::Native => "initContainers",
            Mode::Plain => "containers",
        }
    }
}

/// What to add, checked once before any input is read.
#[derive(Debug, Clone)]
pub struct Sidecar {
    pub mode: Mode,
    image: String,
    configmap: Option<String>,
    env: Vec<(String, String)>,
    /// The admin listener's port, which the probes use.
    pub admin_port: u16,
    /// Every port errmap listens on, to find clashes with the pod's own.
    pub ports: Vec<u16>,
}

impl Sidecar {
    /// Checks the options: `image` is non-empty, `configmap` a valid
    /// ConfigMap name, each of `settings` (`KEY=VALUE`, KEY with or without
    /// the `ERRMAP_` prefix) a real setting with a value it accepts, and the
    /// admin listener reachable by the kubelet.
    pub fn new(
        mode: Mode,
        image: &str,
        configmap: Option<&str>,
        settings: &[(String, String)],
    ) -> Result<Self, String> {
        if image.trim().is_empty() || image.chars().any(char::is_whitespace) {
            return Err(format!("--image must name an image, got {image:?}"));
        }
        if let Some(name) = configmap {
            if !is_dns_subdomain(name) {
                return Err(format!(
                    "--catalog-configmap must be a ConfigMap name (lower-case letters, digits, \
                     '-' and '.', at most 253 characters), got {name:?}"
                ));
            }
        }
        let mut env: Vec<(String, String)> = DEFAULT_SETTINGS
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        if mode == Mode::Plain {
            // Before the grace, as the two happen.
            let grace = env
                .iter()
                .position(|(k, _)| k == "ERRMAP_SHUTDOWN_GRACE")
                .unwrap_or(env.len());
            env.insert(
                grace,
                (
                    PLAIN_SHUTDOWN_DELAY.0.to_owned(),
                    PLAIN_SHUTDOWN_DELAY.1.to_owned(),
                ),
            );
        }
        if configmap.is_some() {
            env.insert(
                env.len() - 1,
                (
                    "ERRMAP_CATALOG".to_owned(),
                    format!("{CATALOG_DIR}/{CATALOG_KEY}"),
                ),
            );
        }
        for (key, value) in settings {
            let name = check_setting(key, value)?;
            match env.iter_mut().find(|(k, _)| *k == name) {
                Some(slot) => slot.1.clone_from(value),
                None => env.push((name, value.clone())),
            }
        }
        let address = |name: &str| -> Option<SocketAddr> {
            env.iter()
                .find(|(k, _)| k == name)
                .and_then(|(_, v)| v.trim().parse().ok())
        };
        let Some(admin) = address("ERRMAP_ADMIN_LISTEN") else {
            return Err(
                "ERRMAP_ADMIN_LISTEN must be an address: the sidecar's probes use the admin \
                 listener"
                    .to_owned(),
            );
        };
        if admin.ip().is_loopback() {
            return Err(format!(
                "ERRMAP_ADMIN_LISTEN={admin} is out of the kubelet's reach: its probes dial the \
                 pod IP; bind 0.0.0.0 or [::]"
            ));
        }
        let mut ports = vec![admin.port()];
        for name in ["ERRMAP_LISTEN", "ERRMAP_HTTP_LISTEN"] {
            if let Some(addr) = address(name) {
                ports.push(addr.port());
            }
        }
        if ports.contains(&0) {
            return Err("the sidecar's listeners need fixed ports, not 0".to_owned());
        }
        Ok(Self {
            mode,
            image: image.to_owned(),
            configmap: configmap.map(str::to_owned),
            env,
            admin_port: admin.port(),
            ports,
        })
    }

    /// The name of the catalog volume, when one is added.
    pub fn volume_name(&self) -> Option<&'static str> {
        self.configmap.as_ref().map(|_| VOLUME)
    }

    /// The catalog volume, when `--catalog-configmap` was given.
    pub fn volume(&self) -> Option<Value> {
        let name = self.configmap.as_ref()?;
        Some(map([
            ("name", s(VOLUME)),
            ("configMap", map([("name", s(name))])),
        ]))
    }

    /// The container.
    pub fn container(&self) -> Value {
        let probe = |period: u64, failures: u64| {
            map([
                ("grpc", map([("port", n(self.admin_port.into()))])),
                ("periodSeconds", n(period)),
                ("failureThreshold", n(failures)),
            ])
        };
        let mut fields = vec![
            ("name", s(CONTAINER)),
            ("image", s(&self.image)),
            ("imagePullPolicy", s("IfNotPresent")),
        ];
        if self.mode == Mode::Native {
            fields.push(("restartPolicy", s("Always")));
        }
        fields.push((
            "env",
            Value::Sequence(
                self.env
                    .iter()
                    .map(|(k, v)| map([("name", s(k)), ("value", s(v))]))
                    .collect(),
            ),
        ));
        fields.push((
            "ports",
            Value::Sequence(vec![map([
                ("name", s(ADMIN_PORT_NAME)),
                ("containerPort", n(self.admin_port.into())),
                ("protocol", s("TCP")),
            ])]),
        ));
        // Up to 30 s to start; unready after two missed checks, restarted
        // after three.
        fields.push(("startupProbe", probe(1, 30)));
        fields.push(("readinessProbe", probe(5, 2)));
        fields.push(("livenessProbe", probe(10, 3)));
        fields.push((
            "resources",
            map([
                ("requests", map([("cpu", s("10m")), ("memory", s("16Mi"))])),
                ("limits", map([("cpu", s("200m")), ("memory", s("64Mi"))])),
            ]),
        ));
        fields.push((
            "securityContext",
            map([
                ("runAsNonRoot", Value::Bool(true)),
                ("runAsUser", n(USER)),
                ("runAsGroup", n(USER)),
                ("allowPrivilegeEscalation", Value::Bool(false)),
                ("readOnlyRootFilesystem", Value::Bool(true)),
                (
                    "capabilities",
                    map([("drop", Value::Sequence(vec![s("ALL")]))]),
                ),
                ("seccompProfile", map([("type", s("RuntimeDefault"))])),
            ]),
        ));
        if self.configmap.is_some() {
            fields.push((
                "volumeMounts",
                Value::Sequence(vec![map([
                    ("name", s(VOLUME)),
                    ("mountPath", s(CATALOG_DIR)),
                    ("readOnly", Value::Bool(true)),
                ])]),
            ));
        }
        map(fields)
    }
}

/// The environment name of the setting `key` names (`SHUTDOWN_GRACE`,
/// `ERRMAP_SHUTDOWN_GRACE` or `shutdown-grace`), once errmap's own parser
/// has accepted `value` for it.
pub fn check_setting(key: &str, value: &str) -> Result<String, String> {
    let upper = key.trim().to_ascii_uppercase().replace('-', "_");
    let name = if upper.starts_with("ERRMAP_") {
        upper
    } else {
        format!("ERRMAP_{upper}")
    };
    let command = Config::command();
    let arg = command.get_arguments().find(|arg| {
        !arg.is_hide_set() && arg.get_env().is_some_and(|env| env.to_str() == Some(&name))
    });
    let Some(long) = arg.and_then(|arg| arg.get_long()) else {
        let known: Vec<String> = command
            .get_arguments()
            .filter(|arg| !arg.is_hide_set())
            .filter_map(|arg| arg.get_env())
            .map(|env| env.to_string_lossy().into_owned())
            .collect();
        return Err(format!(
            "--set {key}: no such setting; the settings are {}",
            known.join(", ")
        ));
    };
    match Config::try_parse_from(["errmap".to_owned(), format!("--{long}={value}")]) {
        Ok(_) => Ok(name),
        Err(err) => {
            let text = err.to_string();
            let first = text.lines().next().unwrap_or_default();
            Err(format!(
                "--set {name}={value}: {}",
                first.trim_start_matches("error: ")
            ))
        }
    }
}

/// A DNS subdomain name (RFC 1123), as Kubernetes requires of object names.
fn is_dns_subdomain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

fn s(text: &str) -> Value {
    Value::String(text.to_owned())
}

fn n(number: u64) -> Value {
    Value::Number(number.into())
}

fn map(fields: impl IntoIterator<Item = (&'static str, Value)>) -> Value {
    let mut mapping = Mapping::new();
    for (key, value) in fields {
        mapping.insert(s(key), value);
    }
    Value::Mapping(mapping)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn default_settings_are_real_and_valid() {
        for (key, value) in DEFAULT_SETTINGS.iter().chain([&PLAIN_SHUTDOWN_DELAY]) {
            assert_eq!(check_setting(key, value).as_deref(), Ok(*key));
        }
    }

    #[test]
    fn settings_are_named_loosely_but_checked_strictly() {
        assert_eq!(
            check_setting("shutdown-grace", "5s").as_deref(),
            Ok("ERRMAP_SHUTDOWN_GRACE")
        );
        let err = check_setting("NO_SUCH", "1").unwrap_err();
        assert!(
            err.contains("no such setting") && err.contains("ERRMAP_MAX_BATCH"),
            "{err}"
        );
        let err = check_setting("MAX_BATCH", "5000").unwrap_err();
        assert!(err.contains("ERRMAP_MAX_BATCH=5000"), "{err}");
        // Hidden benchmark switches are not for pods.
        assert!(check_setting("NO_PREPARED_ANSWERS", "true").is_err());
    }

    #[test]
    fn the_admin_listener_sets_the_probes_and_must_be_reachable() {
        let sidecar = Sidecar::new(
            Mode::Native,
            DEFAULT_IMAGE,
            None,
            &set(&[("ADMIN_LISTEN", "0.0.0.0:9191")]),
        )
        .unwrap();
        assert_eq!(sidecar.admin_port, 9191);
        let container = sidecar.container();
        assert_eq!(container["readinessProbe"]["grpc"]["port"], n(9191));
        for bad in ["127.0.0.1:9090", "off", "0.0.0.0:0"] {
            assert!(
                Sidecar::new(Mode::Native, "i", None, &set(&[("ADMIN_LISTEN", bad)])).is_err(),
                "{bad}"
            );
        }
        assert!(Sidecar::new(Mode::Native, " ", None, &[]).is_err());
        assert!(Sidecar::new(Mode::Native, "i", Some("Bad_Name"), &[]).is_err());
    }
}
