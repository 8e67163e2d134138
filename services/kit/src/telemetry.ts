import { metrics } from "@opentelemetry/api";
import { OTLPMetricExporter } from "@opentelemetry/exporter-metrics-otlp-http";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { registerInstrumentations } from "@opentelemetry/instrumentation";
import { GrpcInstrumentation } from "@opentelemetry/instrumentation-grpc";
import { HttpInstrumentation } from "@opentelemetry/instrumentation-http";
import { MongoDBInstrumentation } from "@opentelemetry/instrumentation-mongodb";
import {
  detectResources,
  envDetector,
  hostDetector,
  processDetector,
  resourceFromAttributes,
} from "@opentelemetry/resources";
import { MeterProvider, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics";
import type { SpanProcessor } from "@opentelemetry/sdk-trace-base";
import { BatchSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { ATTR_SERVICE_NAME } from "@opentelemetry/semantic-conventions";
import { markTracingStarted } from "./tracing-state";

/**
 * The `service.name` of each process: one per process, so the embedded form
 * (gateway and services in one process) is one service and each process of
 * the distributed form is its own. OTEL_SERVICE_NAME overrides it.
 */
export const ServiceNames = {
  embedded: "pkiserver",
  gateway: "pkiserver-gateway",
  apikey: "pkiserver-apikey",
  auth: "pkiserver-auth",
  pki: "pkiserver-pki",
  audit: "pkiserver-audit",
} as const;

export interface TelemetryHandle {
  shutdown(): Promise<void>;
}

let started: TelemetryHandle | undefined;

/**
 * Starts OpenTelemetry tracing (also a separate entry, `@pkiserver/kit/telemetry`,
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
  const endpoint = opts.otlpEndpoint?.replace(/\/$/, "");
  if (endpoint) processors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url: `${endpoint}/v1/traces` })));
  // The tracer and meter providers and the instrumentations alone, not the
  // all-in-one NodeSDK: that one depends on every exporter OpenTelemetry ships
  // (gRPC, protobuf, Zipkin, Prometheus, logs), about 100 MB of packages in the
  // image for processes that export over OTLP/HTTP only.
  // The process's own name unless OTEL_SERVICE_NAME (read by envDetector) names it otherwise.
  const resource = resourceFromAttributes({ [ATTR_SERVICE_NAME]: opts.serviceName }).merge(
    detectResources({ detectors: [envDetector, processDetector, hostDetector] }),
  );
  const provider = new NodeTracerProvider({ resource, spanProcessors: processors });
  // Metrics (the instrumentations' request durations) go to the collector
  // beside the traces; without one they have nowhere to go.
  const meterProvider = endpoint
    ? new MeterProvider({
        resource,
        readers: [
          new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter({ url: `${endpoint}/v1/metrics` }) }),
        ],
      })
    : undefined;
  if (meterProvider) metrics.setGlobalMeterProvider(meterProvider);
  // Registers the provider globally with the AsyncLocalStorage context manager
  // and the W3C trace-context and baggage propagators.
  provider.register();
  markTracingStarted();
  const unregister = registerInstrumentations({
    tracerProvider: provider,
    ...(meterProvider ? { meterProvider } : {}),
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
  const handle: TelemetryHandle = {
    shutdown: async () => {
      unregister();
      await Promise.all([provider.shutdown(), meterProvider?.shutdown()]);
    },
  };
  started = handle;
  return handle;
}
