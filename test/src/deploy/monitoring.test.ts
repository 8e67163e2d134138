import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { GatewayMetrics } from "@pkiserver/gateway";
import { countOutboxPending, MethodMetrics, processMetricsRegistry } from "@pkiserver/kit";
import { parser } from "@prometheus-io/lezer-promql";
import { parse as parseYaml } from "yaml";

const CHART = join(__dirname, "..", "..", "..", "deploy", "helm", "pkiserver");

/** Every series name the project's /metrics endpoints can expose (a histogram's as its _bucket, _sum, _count). */
async function exportedNames(): Promise<Set<string>> {
  const gateway = new GatewayMetrics();
  gateway.trackBackends({ pki: { limit: 1, active: 0, waiting: 0, refused: 0 } });
  // The gRPC and outbox metrics exist once a call or an outbox has been seen.
  new MethodMetrics("pkiserver.pki.v1.PkiService", "GetHost").observe(0, 0.001);
  const uncount = countOutboxPending(() => 0);
  const names = new Set<string>();
  try {
    for (const registry of [gateway.registry, processMetricsRegistry()]) {
      for (const m of await registry.getMetricsAsJSON()) {
        if (String(m.type) === "histogram")
          for (const suffix of ["_bucket", "_sum", "_count"]) names.add(`${m.name}${suffix}`);
        else names.add(m.name);
      }
    }
  } finally {
    uncount();
  }
  return names;
}

/** Grafana's variables as values PromQL accepts, so a dashboard query parses as Prometheus gets it. */
function withoutGrafanaVariables(expr: string): string {
  return expr.replace(/\$__rate_interval|\$__interval|\$__range/g, "5m").replace(/\$\{?(\w+)\}?/g, "$1");
}

/** The metric names a PromQL expression selects; throws where it does not parse. */
function selectedMetrics(expr: string): string[] {
  const tree = parser.parse(expr);
  const names: string[] = [];
  tree.iterate({
    enter(node) {
      if (node.type.isError) throw new Error(`PromQL does not parse at ${node.from}: ${expr}`);
      if (node.name === "VectorSelector") {
        const id = node.node.getChild("Identifier");
        if (id !== null) names.push(expr.slice(id.from, id.to));
      }
    },
  });
  assert.ok(names.length > 0, `selects a metric: ${expr}`);
  return names;
}

interface Panel {
  title?: string;
  panels?: Panel[];
  targets?: { expr?: string }[];
}

function dashboardExprs(panels: Panel[]): { title: string; expr: string }[] {
  return panels.flatMap((p) => [
    ...(p.targets ?? []).flatMap((t) => (t.expr ? [{ title: p.title ?? "", expr: t.expr }] : [])),
    ...dashboardExprs(p.panels ?? []),
  ]);
}

describe("the chart's Grafana dashboard and alerting rules", () => {
  it("the dashboard parses and every query selects only metrics the project exports", async () => {
    const names = await exportedNames();
    const dashboard = JSON.parse(readFileSync(join(CHART, "files", "dashboard.json"), "utf8")) as {
      uid: string;
      panels: Panel[];
      templating: { list: { name: string; query?: unknown }[] };
    };
    assert.ok(dashboard.uid, "a fixed uid, so links and provisioning keep pointing at it");
    const exprs = dashboardExprs(dashboard.panels);
    assert.ok(exprs.length >= 10, "panels with queries");
    for (const { title, expr } of exprs) {
      for (const metric of selectedMetrics(withoutGrafanaVariables(expr))) {
        assert.ok(names.has(metric), `panel "${title}" queries ${metric}, which nothing exports`);
      }
    }
    for (const v of dashboard.templating.list) {
      const query = typeof v.query === "object" && v.query !== null ? (v.query as { query: string }).query : v.query;
      const m = typeof query === "string" ? /^label_values\((\w+),/.exec(query) : null;
      if (m) assert.ok(names.has(m[1] as string), `variable ${v.name} reads ${m[1]}, which nothing exports`);
    }
    // What an operator looks for first: traffic, errors, latency, refusals, the outbox, the processes.
    const queried = new Set(exprs.flatMap(({ expr }) => selectedMetrics(withoutGrafanaVariables(expr))));
    for (const metric of [
      "pmx_gateway_rpc_requests_total",
      "pmx_gateway_rpc_request_duration_seconds_bucket",
      "pmx_gateway_rate_limited_total",
      "grpc_server_handled_total",
      "grpc_server_handling_seconds_bucket",
      "pmx_outbox_pending_events",
      "process_cpu_seconds_total",
    ]) {
      assert.ok(queried.has(metric), `the dashboard shows ${metric}`);
    }
  });

  it("the alerting rules parse and alert on error rate, latency, rate-limit refusals and the outbox backlog", async () => {
    const names = await exportedNames();
    const file = parseYaml(readFileSync(join(CHART, "files", "alerts.yaml"), "utf8")) as {
      groups: {
        name: string;
        rules: { alert: string; expr: string; for?: string; labels?: { severity?: string } }[];
      }[];
    };
    const rules = file.groups.flatMap((g) => g.rules);
    const byMetric = new Map<string, string[]>();
    for (const rule of rules) {
      assert.match(rule.alert, /^Pkiserver[A-Z]\w+$/);
      assert.ok(rule.labels?.severity, `${rule.alert} has a severity`);
      assert.match(rule.for ?? "", /^\d+m$/, `${rule.alert} waits before it fires`);
      for (const metric of selectedMetrics(rule.expr)) {
        assert.ok(names.has(metric), `${rule.alert} queries ${metric}, which nothing exports`);
        byMetric.set(metric, [...(byMetric.get(metric) ?? []), rule.alert]);
      }
    }
    assert.ok(byMetric.has("pmx_gateway_rpc_requests_total"), "an error-rate alert");
    assert.ok(byMetric.has("pmx_gateway_rpc_request_duration_seconds_bucket"), "a latency alert");
    assert.ok(byMetric.has("pmx_gateway_rate_limited_total"), "a rate-limit refusal alert");
    assert.ok(byMetric.has("pmx_outbox_pending_events"), "an outbox backlog alert");
  });

  it("the templates ship both files behind their values flags", () => {
    const rule = readFileSync(join(CHART, "templates", "prometheusrule.yaml"), "utf8");
    assert.match(rule, /if \.Values\.metrics\.prometheusRule\.enabled/);
    assert.match(rule, /\.Files\.Get "files\/alerts\.yaml"/);
    const dashboard = readFileSync(join(CHART, "templates", "dashboard.yaml"), "utf8");
    assert.match(dashboard, /if \.Values\.metrics\.dashboard\.enabled/);
    assert.match(dashboard, /\.Files\.Get "files\/dashboard\.json"/);
  });
});
