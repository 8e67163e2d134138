import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { GrpcInstrumentation } from "@opentelemetry/instrumentation-grpc";
import { HttpInstrumentation } from "@opentelemetry/instrumentation-http";
import { MongoDBInstrumentation } from "@opentelemetry/instrumentation-mongodb";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { NodeSDK } from "@opentelemetry/sdk-node";
import type { SpanProcessor } from "@opentelemetry/sdk-trace-base";
import { BatchSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { ATTR_SERVICE_NAME } from "@opentelemetry/semantic-conventions";

export interface TelemetryHandle {
  shutdown(): Promise<void>;
}

let started: TelemetryHandle | undefined;

/**
 * Starts the OpenTelemetry Node SDK (also a separate entry, `@pkiserver/kit/telemetry`,
 * so a main file can start it before anything loads grpc-js or http): traces through HTTP, gRPC (client and
 * server) and MongoDB. Must run before those modules are loaded, so main
 * files call it first. Spans go to OTLP when `otlpEndpoint` is set, and to any
 * extra processors given (tests use an in-memory exporter); with neither,
 * nothing is started.
 */
export function startTelemetry(opts: {
  serviceName: string;
  otlpEndpoint?: string | undefined;
  spanProcessors?: SpanProcessor[];
}): TelemetryHandle {
  if (started) return started;
  const processors: SpanProcessor[] = [...(opts.spanProcessors ?? [])];
  // Spans that no processor receives are pure cost on every request (context
  // propagation, span objects for HTTP, gRPC and MongoDB): with nowhere to send
  // them the SDK is not started and the API stays the no-op one.
  if (!opts.otlpEndpoint && processors.length === 0) {
    started = { shutdown: async () => undefined };
    return started;
  }
  if (opts.otlpEndpoint) {
    processors.push(
      new BatchSpanProcessor(new OTLPTraceExporter({ url: `${opts.otlpEndpoint.replace(/\/$/, "")}/v1/traces` })),
    );
  }
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: opts.serviceName }),
    spanProcessors: processors,
    // Without an endpoint the SDK would still export metrics and logs over
    // OTLP to its default local address, failing every minute and holding
    // shutdown for seconds; with one, it configures them from the same env.
    ...(opts.otlpEndpoint ? {} : { metricReaders: [], logRecordProcessors: [] }),
    instrumentations: [
      new HttpInstrumentation({
        // Probes and scrapes would drown the traces that matter.
        ignoreIncomingRequestHook: (req) =>
          ["/health", "/ready", "/metrics"].includes((req.url ?? "").split("?")[0] ?? ""),
      }),
      new GrpcInstrumentation({ ignoreGrpcMethods: ["Check", "Watch"] }),
      new MongoDBInstrumentation(),
    ],
  });
  sdk.start();
  const handle: TelemetryHandle = { shutdown: () => sdk.shutdown() };
  started = handle;
  return handle;
}
