// Telemetry first: it must hook grpc-js and the MongoDB driver before anything
// loads them, which rules out reading it through config.ts (that loads the kit).
import { ServiceNames, startTelemetry } from "@pkiserver/kit/telemetry";

const telemetry = startTelemetry({
  serviceName: ServiceNames.audit,
  otlpEndpoint: process.env.OTEL_EXPORTER_OTLP_ENDPOINT,
});

import { runServiceProcess } from "@pkiserver/kit";
import { buildApp } from "./app";
import { loadConfig } from "./config";
import { AUDIT_SERVICE_NAME } from "./transport/grpc/service";

/** `node services/audit/dist/main.js`: the audit service as its own process. */
runServiceProcess({ name: "audit", grpcServiceName: AUDIT_SERVICE_NAME, telemetry, loadConfig, buildApp });
