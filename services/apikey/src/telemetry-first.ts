import { startTelemetry } from "@pkiserver/kit/telemetry";

/*
 * Imported first by main.ts, for its side effect: the SDK's instrumentations
 * only patch grpc-js, http and mongodb if they load after it, and config.ts
 * already loads them (through the kit). So this is the one place besides
 * config.ts that reads the environment, for this single variable, which
 * config.ts validates as well.
 */
startTelemetry({
  serviceName: "pkiserver-apikey",
  otlpEndpoint: process.env.OTEL_EXPORTER_OTLP_ENDPOINT || undefined,
});
