// Telemetry must be started before anything loads http or grpc-js, so this
// file starts it first and loads the system lazily.
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { startTelemetry } from "@pkiserver/kit/telemetry";

const exporter = new InMemorySpanExporter();
const telemetry = startTelemetry({
  serviceName: "pkiserver-trace-test",
  spanProcessors: [new SimpleSpanProcessor(exporter)],
});

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { TestSystem } from "../support/forms";

function parentId(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId;
}

describe("tracing", () => {
  let sys: TestSystem;
  before(async () => {
    const { startForm } = await import("../support/forms.js");
    sys = await startForm("embedded", { PMX_PKI_PUBLIC_READ: "true" });
  });
  after(async () => {
    await sys.stop();
    await telemetry.shutdown();
  });

  it("follows one request from the gateway through the gRPC client into the service handler", async () => {
    const { call } = await import("../support/client.js");
    exporter.reset();
    const reply = await call(sys.url, "pki/getHost", { hostUrl: "traced.example" });
    assert.equal(reply.error?.code, 87);
    // Spans end asynchronously after the reply; give the processor a moment.
    let spans: ReadableSpan[] = [];
    for (let i = 0; i < 50; i++) {
      spans = exporter.getFinishedSpans();
      if (spans.some((s) => s.name.includes("GetHost") && s.kind === 1)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const httpServer = spans.find((s) => s.kind === 1 && /POST/.test(s.name));
    const grpcClient = spans.find((s) => s.kind === 2 && s.name.includes("pkiserver.pki.v1.PkiService/GetHost"));
    const grpcServer = spans.find((s) => s.kind === 1 && s.name.includes("pkiserver.pki.v1.PkiService/GetHost"));
    assert.ok(httpServer, `an HTTP server span: ${spans.map((s) => `${s.kind}:${s.name}`).join(", ")}`);
    assert.ok(grpcClient, "a gRPC client span");
    assert.ok(grpcServer, "a gRPC server span");
    const traceId = httpServer.spanContext().traceId;
    assert.equal(grpcClient.spanContext().traceId, traceId, "the gRPC call is in the request's trace");
    assert.equal(grpcServer.spanContext().traceId, traceId, "the handler is in the request's trace");
    assert.equal(
      parentId(grpcServer),
      grpcClient.spanContext().spanId,
      "the handler's span is the client call's child",
    );
    assert.equal(httpServer.name, "POST /main pki/getHost", "the HTTP server span is named by the JSON-RPC method");
    assert.equal(httpServer.attributes["rpc.method"], "pki/getHost");
    assert.equal(httpServer.attributes["rpc.system.name"], "jsonrpc");
    assert.equal(httpServer.attributes["rpc.response.status_code"], "87");
    for (const span of [httpServer, grpcClient, grpcServer]) {
      assert.equal(span.resource.attributes["service.name"], "pkiserver-trace-test", "one service.name in the process");
    }
    // The request's log line is written inside the HTTP server span and carries its ids.
    const line = sys.logs
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.msg === "rpc request" && l.method === "pki/getHost");
    assert.ok(line, "the request's log line");
    assert.equal(line.trace_id, traceId);
    assert.equal(line.span_id, httpServer.spanContext().spanId);
    // The client span descends from the HTTP server span.
    const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
    let cursor: ReadableSpan | undefined = grpcClient;
    while (cursor && cursor !== httpServer) cursor = byId.get(parentId(cursor) ?? "");
    assert.equal(cursor, httpServer, "the gRPC client span descends from the HTTP request span");
  });

  it("names a batch's span after the batch, and logs each of its requests with the span's ids", async () => {
    exporter.reset();
    const res = await fetch(`${sys.url}/main`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify([
        { jsonrpc: "2.0", id: 1, method: "pki/getHost", params: { hostUrl: "batch-one.example" } },
        { jsonrpc: "2.0", id: 2, method: "pki/getHost", params: { hostUrl: "batch-two.example" } },
      ]),
    });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    let httpServer: ReadableSpan | undefined;
    for (let i = 0; i < 50 && httpServer === undefined; i++) {
      httpServer = exporter.getFinishedSpans().find((s) => s.kind === 1 && /^POST/.test(s.name));
      if (httpServer === undefined) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(httpServer?.name, "POST /main (batch)");
    const ids = sys.logs
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.msg === "rpc request" && l.trace_id === httpServer?.spanContext().traceId)
      .map((l) => l.span_id);
    assert.deepEqual(ids, [httpServer?.spanContext().spanId, httpServer?.spanContext().spanId]);
  });
});
