//! The shipped `deploy/envoy/envoy.yaml` as an operator runs it, but for
//! its addresses: its listeners on free loopback ports, its clusters
//! pointed at the test upstreams and at errmap, and the gateway reached
//! over plain HTTP/1.1 instead of TLS to its host name. Every filter, route
//! and matcher stays as shipped.

use serde_norway::Value;
use std::net::SocketAddr;
use std::path::Path;

/// Where the shipped Envoy's parts listen and call.
pub struct Addresses {
    pub ingress: u16,
    pub egress: u16,
    pub admin: u16,
    pub errmap: SocketAddr,
    pub app: SocketAddr,
    pub gateway: SocketAddr,
}

/// The shipped bootstrap, with `addresses`.
pub fn bootstrap(addresses: &Addresses) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/envoy/envoy.yaml");
    let text = std::fs::read_to_string(&path).expect("deploy/envoy/envoy.yaml");
    let mut config: Value = serde_norway::from_str(&text).expect("YAML");
    config["admin"]["address"]["socket_address"] = socket(addresses.admin);
    let listeners = config["static_resources"]["listeners"]
        .as_sequence_mut()
        .expect("listeners");
    for listener in listeners {
        let port = match listener["name"].as_str() {
            Some("ingress") => addresses.ingress,
            Some("egress") => addresses.egress,
            other => panic!("a listener errmap's wiring does not have: {other:?}"),
        };
        listener["address"]["socket_address"] = socket(port);
    }
    let clusters = config["static_resources"]["clusters"]
        .as_sequence_mut()
        .expect("clusters");
    for cluster in clusters {
        let name = cluster["name"].as_str().expect("a name").to_owned();
        match name.as_str() {
            "errmap" => point(cluster, addresses.errmap),
            "app" => point(cluster, addresses.app),
            "gateway" => {
                // The test's gateway speaks plain HTTP/1.1 on loopback.
                let mapping = cluster.as_mapping_mut().expect("a cluster");
                for key in [
                    "transport_socket",
                    "dns_lookup_family",
                    "typed_extension_protocol_options",
                ] {
                    mapping.remove(key);
                }
                mapping.insert("type".into(), "STATIC".into());
                point(cluster, addresses.gateway);
            }
            other => panic!("a cluster errmap's wiring does not have: {other}"),
        }
    }
    serde_norway::to_string(&config).expect("YAML")
}

fn socket(port: u16) -> Value {
    serde_norway::from_str(&format!("{{ address: 127.0.0.1, port_value: {port} }}")).expect("YAML")
}

/// Points a cluster's one endpoint at `addr`.
fn point(cluster: &mut Value, addr: SocketAddr) {
    let endpoints = &mut cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0];
    endpoints["endpoint"]["address"]["socket_address"] = socket(addr.port());
}
