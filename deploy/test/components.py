#!/usr/bin/env python3
"""Checks that every process is deployed, and deployed alike, by the chart and
the plain manifests: each entry point (gateway/src/main.ts,
services/*/src/main.ts, but for workspaces the image leaves out) is a component of the chart's values.yaml; each
component renders a Deployment (its command, port, listen address and probes),
a Service and a NetworkPolicy admitting exactly its allowFrom (each gRPC
service also serves /metrics on the chart's metrics.port, admitted from any
source unless metrics.from narrows it); the ConfigMap
announces every gRPC component at its Service; deploy/k8s has the same
components with the same command, port, secret env, peers and addresses.

    python3 components.py <chart values.yaml> <chart rendered as release "pkiserver"> <deploy/k8s manifest>...
    exit 1 and one line per difference
"""

import glob
import os
import sys

import yaml

NAME = "pkiserver"
errors = []


def err(msg):
    errors.append(msg)


def load(paths):
    docs = []
    for p in paths:
        with open(p) as f:
            docs.extend(d for d in yaml.safe_load_all(f) if d)
    return docs


def index(docs):
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def container(deploy, name):
    for c in deploy["spec"]["template"]["spec"]["containers"]:
        if c["name"] == name:
            return c
    return None


def env_value(c, key):
    for e in c.get("env") or []:
        if e["name"] == key:
            return e.get("value")
    return None


def secret_env(c):
    return {e["name"] for e in c.get("env") or [] if "secretKeyRef" in (e.get("valueFrom") or {})}


def allowed_components(policy):
    peers = set()
    for rule in policy["spec"].get("ingress") or []:
        for peer in rule.get("from") or []:
            labels = (peer.get("podSelector") or {}).get("matchLabels") or {}
            if "app.kubernetes.io/component" in labels:
                peers.add(labels["app.kubernetes.io/component"])
    return peers


def policy_ports(policy):
    return {p["port"] for rule in policy["spec"].get("ingress") or [] for p in rule.get("ports") or []}


def check(where, objects, config, name, c, check_secret_env, metrics_port):
    full = f"{NAME}-{name}"
    deploy = objects.get(("Deployment", full))
    if deploy is None:
        err(f"{where}: no Deployment {full}")
        return
    ctr = container(deploy, name)
    if ctr is None:
        err(f"{where}: Deployment {full} has no container {name}")
        return
    if ctr.get("command") != c["command"]:
        err(f"{where}: {full} runs {ctr.get('command')}, values say {c['command']}")
    grpc_metrics = c["protocol"] == "grpc" and metrics_port > 0
    expected_ports = [c["port"], metrics_port] if grpc_metrics else [c["port"]]
    ports = {p["containerPort"] for p in ctr.get("ports") or []}
    if ports != set(expected_ports):
        err(f"{where}: {full} exposes {sorted(ports)}, values say {expected_ports}")
    if grpc_metrics and env_value(ctr, "PMX_METRICS_LISTEN") != f"0.0.0.0:{metrics_port}":
        err(f"{where}: {full} PMX_METRICS_LISTEN={env_value(ctr, 'PMX_METRICS_LISTEN')}, expected 0.0.0.0:{metrics_port}")
    if check_secret_env and secret_env(ctr) != set(c["secretEnv"]):
        err(f"{where}: {full} gets secrets {sorted(secret_env(ctr))}, values say {sorted(c['secretEnv'])}")
    if c["protocol"] == "grpc":
        listen = env_value(ctr, c["listenEnv"])
        if listen != f"0.0.0.0:{c['port']}":
            err(f"{where}: {full} {c['listenEnv']}={listen}, expected 0.0.0.0:{c['port']}")
        for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
            probe = ctr.get(kind) or {}
            port = (probe.get("grpc") or probe.get("tcpSocket") or {}).get("port")
            if port != c["port"]:
                err(f"{where}: {full} {kind} does not check gRPC port {c['port']}")
        addr = config.get(c["addrEnv"])
        if addr != f"{full}:{c['port']}":
            err(f"{where}: ConfigMap {c['addrEnv']}={addr}, expected {full}:{c['port']}")
    service = objects.get(("Service", full))
    if service is None:
        err(f"{where}: no Service {full}")
    elif [p["port"] for p in service["spec"]["ports"]] != expected_ports:
        err(f"{where}: Service {full} does not serve ports {expected_ports}")
    policy = objects.get(("NetworkPolicy", full))
    if policy is None:
        err(f"{where}: no NetworkPolicy {full}")
        return
    if policy_ports(policy) != set(expected_ports):
        err(f"{where}: NetworkPolicy {full} admits ports {sorted(policy_ports(policy))}, expected {expected_ports}")
    if c["protocol"] == "grpc" and allowed_components(policy) != set(c["allowFrom"]):
        err(f"{where}: NetworkPolicy {full} admits {sorted(allowed_components(policy))}, values say {sorted(c['allowFrom'])}")


def not_shipped():
    """Workspaces the image leaves out (the operator's command line, the launcher, tests), as
    deploy/docker/install-prod-deps.sh lists them: their entry points are no deployed process."""
    with open("deploy/docker/install-prod-deps.sh") as f:
        for line in f:
            if line.startswith("for ws in ") and "; do" in line:
                return set(line[len("for ws in ") : line.index("; do")].split())
    raise SystemExit("components: no list of dropped workspaces in deploy/docker/install-prod-deps.sh")


def main():
    values_path, rendered_path, *k8s_paths = sys.argv[1:]
    with open(values_path) as f:
        values = yaml.safe_load(f)
    components = {n: c for n, c in values["components"].items() if c.get("enabled")}
    metrics_port = int(values["metrics"]["port"])

    commands = {" ".join(c["command"]) for c in components.values()}
    for main_ts in ["gateway/src/main.ts", *sorted(glob.glob("services/*/src/main.ts"))]:
        if os.path.dirname(os.path.dirname(main_ts)) in not_shipped():
            continue
        entry = "node " + os.path.dirname(os.path.dirname(main_ts)) + "/dist/main.js"
        if entry not in commands:
            err(f"chart: no component runs {entry}")

    for where, paths, secrets in (("chart", [rendered_path], False), ("deploy/k8s", k8s_paths, True)):
        objects = index(load(paths))
        config = (objects.get(("ConfigMap", f"{NAME}-config")) or {}).get("data") or {}
        for name, c in components.items():
            check(where, objects, config, name, c, secrets, metrics_port)
        deployed = {n[len(NAME) + 1 :] for k, n in objects if k == "Deployment"}
        for extra in sorted(deployed - set(components)):
            err(f"{where}: Deployment {NAME}-{extra} is no component of the chart")

    for e in errors:
        print(f"components: {e}", file=sys.stderr)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
