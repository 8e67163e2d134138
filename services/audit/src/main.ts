// Configuration, then telemetry: telemetry must hook grpc-js and the MongoDB
// driver before anything loads them, and config.ts loads neither (only the
// kit's config entry), so every problem is printed before anything starts.
import { configOrExit } from "@pkiserver/kit/config";
import { ServiceNames, startTelemetry } from "@pkiserver/kit/telemetry";
import { loadConfig } from "./config";

const config = configOrExit("audit", () => loadConfig());
const telemetry = startTelemetry({ serviceName: ServiceNames.audit, otlpEndpoint: config.otlpEndpoint });

import { runServiceProcess } from "@pkiserver/kit";
import { buildApp } from "./app";
import { AUDIT_SERVICE_NAME } from "./transport/grpc/service";

/** `node services/audit/dist/main.js`: the audit service as its own process. */
runServiceProcess({ name: "audit", grpcServiceName: AUDIT_SERVICE_NAME, telemetry, config, buildApp });
