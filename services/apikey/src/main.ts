// Telemetry first: it must hook grpc-js and the MongoDB driver before anything
// loads them, which rules out reading it through config.ts (that loads the kit).
import { ServiceNames, startTelemetry } from "@pkiserver/kit/telemetry";

const telemetry = startTelemetry({
  serviceName: ServiceNames.apikey,
  otlpEndpoint: process.env.OTEL_EXPORTER_OTLP_ENDPOINT,
});

import { runServiceProcess } from "@pkiserver/kit";
import { buildApp } from "./app";
import { loadConfig } from "./config";
import { API_KEY_SERVICE_NAME } from "./transport/grpc/service";

/** `node services/apikey/dist/main.js`: the apikey service as its own process. */
runServiceProcess({ name: "apikey", grpcServiceName: API_KEY_SERVICE_NAME, telemetry, loadConfig, buildApp });
