import assert from "node:assert/strict";
import { createServer } from "node:http";
import { describe, it } from "node:test";
import { metrics, trace } from "@opentelemetry/api";
import { logs } from "@opentelemetry/api-logs";
import { startTelemetry } from "./telemetry";

describe("startTelemetry without an OTLP endpoint", () => {
  it("traces, and exports no metrics or logs (which would fail and hold up shutdown)", async () => {
    const received: string[] = [];
    const receiver = createServer((req, res) => {
      received.push(req.url ?? "");
      req.resume();
      req.on("end", () => res.end("{}"));
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    const address = receiver.address();
    const base = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
    // Where the SDK would send them if it set up its default exporters.
    process.env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT = `${base}/v1/metrics`;
    process.env.OTEL_EXPORTER_OTLP_LOGS_ENDPOINT = `${base}/v1/logs`;
    const handle = startTelemetry({ serviceName: "telemetry-test" });
    try {
      assert.notEqual(trace.getTracerProvider().constructor.name, "NoopTracerProvider");
      metrics.getMeter("test").createCounter("test_events").add(1);
      logs.getLogger("test").emit({ body: "an event" });
    } finally {
      await handle.shutdown();
      await new Promise((resolve) => receiver.close(resolve));
    }
    assert.deepEqual(received, []);
  });
});
