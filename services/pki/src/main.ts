// Telemetry first: it must hook grpc-js and the MongoDB driver before anything
// loads them, which rules out reading it through config.ts (that loads the kit).
import { ServiceNames, startTelemetry } from "@pkiserver/kit/telemetry";

const telemetry = startTelemetry({
  serviceName: ServiceNames.pki,
  otlpEndpoint: process.env.OTEL_EXPORTER_OTLP_ENDPOINT,
});

import { runServiceProcess } from "@pkiserver/kit";
import { buildApp, PKI_SERVICE_NAME } from "./app";
import { loadConfig } from "./config";

/** `node services/pki/dist/main.js`: the pki service as its own process. */
runServiceProcess({ name: "pki", grpcServiceName: PKI_SERVICE_NAME, telemetry, loadConfig, buildApp });
