#!/usr/bin/env python3
"""Checks the chart's monitoring objects as rendered with every metrics option
on: kubernetes-validate knows no custom resources (it skips the
ServiceMonitor and the PrometheusRule), so this checks what the templates can
get wrong. The PrometheusRule carries files/alerts.yaml's groups unchanged;
the dashboard ConfigMap carries files/dashboard.json unchanged with the
Grafana sidecar's label; the ServiceMonitor selects every component's Service
and scrapes ports those Services name.

    python3 monitoring.py <chart dir> <chart rendered with deploy/test/values/all-options.yaml>
    exit 1 and one line per problem
"""

import json
import os
import sys

import yaml

errors = []


def main():
    chart, rendered = sys.argv[1:]
    with open(rendered) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)

    rules = by_kind.get("PrometheusRule", [])
    if len(rules) != 1:
        errors.append(f"{len(rules)} PrometheusRule objects, expected 1")
    else:
        with open(os.path.join(chart, "files", "alerts.yaml")) as f:
            expected = yaml.safe_load(f)["groups"]
        if rules[0]["spec"].get("groups") != expected:
            errors.append("the PrometheusRule's groups differ from files/alerts.yaml")

    dashboards = [c for c in by_kind.get("ConfigMap", []) if "pkiserver.json" in (c.get("data") or {})]
    if len(dashboards) != 1:
        errors.append(f"{len(dashboards)} dashboard ConfigMaps, expected 1")
    else:
        with open(os.path.join(chart, "files", "dashboard.json")) as f:
            expected = json.load(f)
        if json.loads(dashboards[0]["data"]["pkiserver.json"]) != expected:
            errors.append("the dashboard ConfigMap's JSON differs from files/dashboard.json")
        if dashboards[0]["metadata"].get("labels", {}).get("grafana_dashboard") != "1":
            errors.append("the dashboard ConfigMap lacks the Grafana sidecar's label grafana_dashboard: \"1\"")

    monitors = by_kind.get("ServiceMonitor", [])
    if len(monitors) != 1:
        errors.append(f"{len(monitors)} ServiceMonitor objects, expected 1")
    else:
        spec = monitors[0]["spec"]
        selector = spec["selector"]["matchLabels"]
        services = by_kind.get("Service", [])
        selected = [s for s in services if selector.items() <= s["metadata"]["labels"].items()]
        if len(selected) != len(services):
            errors.append(f"the ServiceMonitor selects {len(selected)} of {len(services)} Services")
        named = {p.get("name") for s in selected for p in s["spec"]["ports"]}
        scraped = {e["port"] for e in spec["endpoints"]}
        if scraped != {"http", "metrics"}:
            errors.append(f"the ServiceMonitor scrapes ports {sorted(scraped)}, expected http and metrics")
        for port in sorted(scraped - named):
            errors.append(f"the ServiceMonitor scrapes port {port}, which no Service names")
        for s in selected:
            names = {p.get("name") for p in s["spec"]["ports"]}
            if not names & scraped:
                errors.append(f"Service {s['metadata']['name']} has no port the ServiceMonitor scrapes")

    for e in errors:
        print(f"monitoring: {e}", file=sys.stderr)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
