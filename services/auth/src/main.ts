// Telemetry first: it must hook grpc-js and the MongoDB driver before anything
// loads them, which rules out reading it through config.ts (that loads the kit).
import { ServiceNames, startTelemetry } from "@pkiserver/kit/telemetry";

const telemetry = startTelemetry({
  serviceName: ServiceNames.auth,
  otlpEndpoint: process.env.OTEL_EXPORTER_OTLP_ENDPOINT,
});

import { runServiceProcess } from "@pkiserver/kit";
import { authV1 } from "@pkiserver/proto";
import { authStreamMaxAgeMs, buildApp } from "./app";
import { loadConfig } from "./config";

/** `node services/auth/dist/main.js`: the auth service as its own process. */
runServiceProcess({
  name: "auth",
  grpcServiceName: authV1.AuthServiceClient.serviceName,
  telemetry,
  loadConfig,
  buildApp: (config, deps) => buildApp(config, { ...deps, apikey: config.apikeyAddress }),
  streamMaxAgeMs: (config) => ({ auth: authStreamMaxAgeMs(config) }),
});
