import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { ServiceDefinition } from "@grpc/grpc-js";
import { AppError, createClient, ErrorCatalogue } from "@pkiserver/kit";
import { apikeyV1, auditV1, authV1, pkiV1 } from "@pkiserver/proto";
import { parseMetrics } from "../support/prometheus";

const ROOT = join(__dirname, "..", "..", "..");

interface Case {
  readonly name: string;
  readonly listenEnv: string;
  readonly definition: ServiceDefinition;
  readonly service: string;
  /** One call that needs nothing stored beforehand, and the gRPC code (grpc-go's name) it ends with. */
  readonly method: string;
  readonly request: unknown;
}

/**
 * A case: the service `name` (its process reads PMX_<NAME>_LISTEN), its generated definition, and
 * one call that needs nothing stored beforehand. Its full name (the metric's grpc_service) is the
 * one in the proto, as the definition's paths carry it (`/<service>/<Method>`).
 */
function serviceCase(name: string, definition: unknown, method: string, request: unknown): Case {
  const d = definition as ServiceDefinition;
  const path = Object.values(d)[0]?.path ?? "";
  const service = path.slice(1, path.lastIndexOf("/"));
  return { name, listenEnv: `PMX_${name.toUpperCase()}_LISTEN`, definition: d, service, method, request };
}

const CASES: Case[] = [
  serviceCase("apikey", apikeyV1.ApiKeyServiceService, "GetApiKey", { apiKeyId: "0000000000000000000000" }),
  serviceCase("auth", authV1.AuthServiceService, "GetSigningKeys", {}),
  serviceCase("pki", pkiV1.PkiServiceService, "GetHost", { hostUrl: "metrics.example" }),
  serviceCase("audit", auditV1.AuditServiceService, "ListEvents", auditV1.ListEventsRequest.fromPartial({ limit: 10 })),
];

/** grpc-go's names of the codes the catalogue uses, as the metric's label carries them. */
const GO_CODE_NAMES: Record<number, string> = {
  0: "OK",
  3: "InvalidArgument",
  5: "NotFound",
  6: "AlreadyExists",
  7: "PermissionDenied",
  8: "ResourceExhausted",
  9: "FailedPrecondition",
  13: "Internal",
  14: "Unavailable",
  16: "Unauthenticated",
};

/** Starts a service's own process (in-memory stores and events) and waits for its start line. */
async function startService(c: Case): Promise<{ child: ChildProcess; grpc: string; metrics: string }> {
  const child = spawn(process.execPath, [join(ROOT, "services", c.name, "dist", "main.js")], {
    env: {
      PATH: process.env.PATH ?? "",
      [c.listenEnv]: "127.0.0.1:0",
      PMX_METRICS_LISTEN: "127.0.0.1:0",
      // auth's peer; nothing here makes auth call it.
      PMX_APIKEY_ADDR: "127.0.0.1:1",
      PMX_LOG_LEVEL: "info",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${c.name} did not start:\n${output.join("\n")}`)), 30_000);
    let buf = "";
    child.stderr?.on("data", (d: Buffer) => output.push(d.toString("utf8")));
    child.stdout?.on("data", (d: Buffer) => {
      buf += d.toString("utf8");
      for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        output.push(line);
        let parsed: { msg?: string; address?: string; metrics?: string };
        try {
          parsed = JSON.parse(line);
        } catch {
          continue;
        }
        if (parsed.msg === `${c.name} started` && parsed.address && parsed.metrics) {
          clearTimeout(timer);
          resolve({ child, grpc: parsed.address, metrics: parsed.metrics });
        }
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${c.name} exited with ${code}:\n${output.join("\n")}`));
    });
  });
}

describe("each service's own process serves /metrics (PMX_METRICS_LISTEN)", () => {
  const children: ChildProcess[] = [];
  after(async () => {
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null) return resolve();
            child.once("exit", () => resolve());
            child.kill("SIGTERM");
          }),
      ),
    );
  });

  for (const c of CASES) {
    it(`${c.name}: gRPC server metrics by method and code, and unprefixed process metrics`, async () => {
      const started = await startService(c);
      children.push(started.child);
      const conn = createClient<Record<string, unknown>>(c.definition, c.service, started.grpc);
      let code = 0;
      try {
        // The client's methods are named as the generated definition keys them (`getHost`).
        const key = `${c.method.charAt(0).toLowerCase()}${c.method.slice(1)}`;
        const fn = (conn.client as unknown as Record<string, (req: unknown) => Promise<unknown>>)[key];
        assert.ok(fn, `${c.method} is a method of ${c.service}`);
        await fn(c.request).catch((err: unknown) => {
          if (!(err instanceof AppError)) throw err;
          code = ErrorCatalogue[err.code].grpc;
        });
      } finally {
        conn.close();
      }
      const res = await fetch(started.metrics);
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
      const families = parseMetrics(await res.text());

      const handled = families.get("grpc_server_handled_total");
      assert.equal(handled?.type, "COUNTER");
      const series = handled?.samples.find(
        (s) => s.labels.grpc_service === c.service && s.labels.grpc_method === c.method,
      );
      assert.ok(series, `a series for ${c.method}: ${JSON.stringify(handled?.samples)}`);
      assert.equal(series.labels.grpc_code, GO_CODE_NAMES[code], "the call's status code");
      assert.equal(series.labels.grpc_type, "unary");
      assert.equal(series.value, 1);

      const seconds = families.get("grpc_server_handling_seconds");
      assert.equal(seconds?.type, "HISTOGRAM");
      const count = seconds?.samples.find(
        (s) => s.name === "grpc_server_handling_seconds_count" && s.labels.grpc_method === c.method,
      );
      assert.equal(count?.value, 1, "one observed duration");
      assert.equal(count?.labels.grpc_code, GO_CODE_NAMES[code]);

      for (const name of [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "nodejs_eventloop_lag_seconds",
      ]) {
        assert.ok(families.has(name), `${name}, unprefixed`);
      }
      const notFound = await fetch(started.metrics.replace(/\/metrics$/, "/other"));
      assert.equal(notFound.status, 404, "only /metrics is served");
    });
  }
});

describe("the embedded form's /metrics (the gateway's port)", () => {
  it("serves the gateway's metrics, the services' gRPC server metrics and unprefixed process metrics together", async () => {
    const { startForm } = await import("../support/forms.js");
    const { call } = await import("../support/client.js");
    const sys = await startForm("embedded", { PMX_PKI_PUBLIC_READ: "true" });
    try {
      const reply = await call(sys.url, "pki/getHost", { hostUrl: "embedded-metrics.example" });
      assert.equal(reply.error?.code, 87);
      const families = parseMetrics(await (await fetch(`${sys.url}/metrics`)).text());
      const handled = families
        .get("grpc_server_handled_total")
        ?.samples.find(
          (s) => s.labels.grpc_service === "pkiserver.pki.v1.PkiService" && s.labels.grpc_method === "GetHost",
        );
      assert.equal(handled?.labels.grpc_code, "NotFound", "the in-process call is counted with its code");
      assert.ok((handled?.value ?? 0) >= 1);
      const rpc = families
        .get("pmx_gateway_rpc_requests_total")
        ?.samples.find((s) => s.labels.method === "pki/getHost" && s.labels.code === "87");
      assert.ok(rpc, "the gateway's own request counter");
      assert.ok(families.has("process_cpu_seconds_total"));
      assert.equal(
        [...families.keys()].some(
          (name) => name.startsWith("pmx_gateway_process_") || name.startsWith("pmx_gateway_nodejs_"),
        ),
        false,
        "the default metrics carry no prefix",
      );
    } finally {
      await sys.stop();
    }
  });
});
