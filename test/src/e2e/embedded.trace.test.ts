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
    // The client span descends from the HTTP server span.
    const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
    let cursor: ReadableSpan | undefined = grpcClient;
    while (cursor && cursor !== httpServer) cursor = byId.get(parentId(cursor) ?? "");
    assert.equal(cursor, httpServer, "the gRPC client span descends from the HTTP request span");
  });
});
