import assert from "node:assert/strict";
import { createServer } from "node:http";
import { describe, it } from "node:test";
import { metrics, trace } from "@opentelemetry/api";
import { logs } from "@opentelemetry/api-logs";
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { createLogger, type Logger } from "./logger";
import { startTelemetry } from "./telemetry";

// startTelemetry starts the SDK once per process, so each case runs in a child
// process of its own; this file is the child when TELEMETRY_CASE is set.
const CASE = process.env.TELEMETRY_CASE;

/** A logger whose lines are kept, parsed. */
function capturingLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ name: "t", destination: { write: (s: string) => lines.push(JSON.parse(s)) } });
  return { logger, lines };
}

async function receiver(): Promise<{ base: string; received: string[]; close(): Promise<void> }> {
  const received: string[] = [];
  const server = createServer((req, res) => {
    received.push(req.url ?? "");
    req.resume();
    req.on("end", () => res.end("{}"));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const base = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  return { base, received, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/**
 * Starts telemetry with the options `start` makes for a receiver at `base`,
 * the SDK's endpoint variables of the `defaults` signals pointing at the
 * receiver too (where its default exporters would send them); runs `body`,
 * emits a metric and a log record, shuts telemetry down and returns the paths
 * the receiver was sent.
 */
async function sentTo(
  defaults: readonly ("metrics" | "logs" | "traces")[],
  start: (base: string) => Parameters<typeof startTelemetry>[0],
  body: () => void,
): Promise<string[]> {
  const sink = await receiver();
  for (const signal of defaults) {
    process.env[`OTEL_EXPORTER_OTLP_${signal.toUpperCase()}_ENDPOINT`] = `${sink.base}/v1/${signal}`;
  }
  const handle = startTelemetry(start(sink.base));
  try {
    body();
    metrics.getMeter("test").createCounter("test_events").add(1);
    logs.getLogger("test").emit({ body: "an event" });
  } finally {
    // Flushes the batch span processor and the metric reader.
    await handle.shutdown();
    await sink.close();
  }
  return sink.received;
}

if (CASE === undefined) {
  describe("startTelemetry", () => {
    for (const name of ["no-destination", "span-processor", "otlp-endpoint", "service-name-env"]) {
      it(`case ${name}`, async () => {
        const { spawnSync } = await import("node:child_process");
        const child = spawnSync(process.execPath, ["--test", __filename], {
          env: { ...process.env, TELEMETRY_CASE: name },
          encoding: "utf8",
        });
        assert.equal(child.status, 0, `${child.stdout}\n${child.stderr}`);
      });
    }
  });
} else if (CASE === "no-destination") {
  describe("startTelemetry without an OTLP endpoint or a span processor", () => {
    it("starts nothing: spans are not recorded and no metrics or logs are sent anywhere", async () => {
      // The defaults' variables say where the SDK would send them if it set up its default exporters.
      const sent = await sentTo(
        ["metrics", "logs", "traces"],
        () => ({ serviceName: "telemetry-test" }),
        () => {
          const span = trace.getTracer("test").startSpan("work");
          assert.equal(span.isRecording(), false, "no span is recorded when nothing would receive it");
          span.end();
          const { logger, lines } = capturingLogger();
          trace.getTracer("test").startActiveSpan("work", (active) => {
            logger.info("inside");
            active.end();
          });
          assert.equal(lines.length, 1);
          assert.equal("trace_id" in (lines[0] ?? {}), false, "no trace fields without tracing");
        },
      );
      assert.deepEqual(sent, []);
    });
  });
} else if (CASE === "span-processor") {
  describe("startTelemetry with a span processor and no OTLP endpoint", () => {
    it("records spans for that processor and sends no metrics or logs over OTLP", async () => {
      const exporter = new InMemorySpanExporter();
      const sent = await sentTo(
        ["metrics", "logs"],
        () => ({ serviceName: "telemetry-test", spanProcessors: [new SimpleSpanProcessor(exporter)] }),
        () => {
          const span = trace.getTracer("test").startSpan("work");
          assert.equal(span.isRecording(), true);
          span.end();
          assert.deepEqual(
            exporter.getFinishedSpans().map((s) => s.name),
            ["work"],
          );
          assert.equal(exporter.getFinishedSpans()[0]?.resource.attributes["service.name"], "telemetry-test");
          // Log lines written while a span is active carry its ids; others carry none.
          const { logger, lines } = capturingLogger();
          logger.info("before");
          const ids = trace.getTracer("test").startActiveSpan("logged", (active) => {
            logger.child({ component: "c" }).info("inside");
            active.end();
            return active.spanContext();
          });
          logger.info("after");
          assert.deepEqual(
            lines.map((l) => [l.msg, l.trace_id, l.span_id, l.trace_flags]),
            [
              ["before", undefined, undefined, undefined],
              ["inside", ids.traceId, ids.spanId, "01"],
              ["after", undefined, undefined, undefined],
            ],
          );
        },
      );
      assert.deepEqual(sent, []);
    });
  });
} else if (CASE === "otlp-endpoint") {
  describe("startTelemetry with an OTLP endpoint", () => {
    it("sends spans to <endpoint>/v1/traces and metrics to <endpoint>/v1/metrics, nothing else", async () => {
      const sent = await sentTo(
        [],
        (base) => ({ serviceName: "telemetry-test", otlpEndpoint: `${base}/` }),
        () => {
          const span = trace.getTracer("test").startSpan("work");
          assert.equal(span.isRecording(), true);
          span.end();
        },
      );
      assert.deepEqual([...new Set(sent)].sort(), ["/v1/metrics", "/v1/traces"]);
    });
  });
} else if (CASE === "service-name-env") {
  describe("startTelemetry with OTEL_SERVICE_NAME set", () => {
    it("names the service as OTEL_SERVICE_NAME says, as OpenTelemetry's configuration prescribes", async () => {
      process.env.OTEL_SERVICE_NAME = "renamed-by-operator";
      const exporter = new InMemorySpanExporter();
      const handle = startTelemetry({
        serviceName: "telemetry-test",
        spanProcessors: [new SimpleSpanProcessor(exporter)],
      });
      try {
        trace.getTracer("test").startSpan("work").end();
        assert.equal(exporter.getFinishedSpans()[0]?.resource.attributes["service.name"], "renamed-by-operator");
      } finally {
        await handle.shutdown();
      }
    });
  });
}
