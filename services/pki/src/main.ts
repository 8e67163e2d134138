// Configuration, then telemetry: telemetry must hook grpc-js and the MongoDB
// driver before anything loads them, and config.ts loads neither (only the
// kit's config entry), so every problem is printed before anything starts.
import { configOrExit } from "@pkiserver/kit/config";
import { ServiceNames, startTelemetry } from "@pkiserver/kit/telemetry";
import { loadConfig } from "./config";

const config = configOrExit("pki", () => loadConfig());
const telemetry = startTelemetry({ serviceName: ServiceNames.pki, otlpEndpoint: config.otlpEndpoint });

import { runServiceProcess } from "@pkiserver/kit";
import { buildApp, PKI_SERVICE_NAME } from "./app";

/** `node services/pki/dist/main.js`: the pki service as its own process. */
runServiceProcess({ name: "pki", grpcServiceName: PKI_SERVICE_NAME, telemetry, config, buildApp });
