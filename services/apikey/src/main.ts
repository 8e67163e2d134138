// Configuration, then telemetry: telemetry must hook grpc-js and the MongoDB
// driver before anything loads them, and config.ts loads neither (only the
// kit's config entry), so every problem is printed before anything starts.
import { configOrExit } from "@pkiserver/kit/config";
import { ServiceNames, startTelemetry } from "@pkiserver/kit/telemetry";
import { loadConfig } from "./config";

const config = configOrExit("apikey", () => loadConfig());
const telemetry = startTelemetry({ serviceName: ServiceNames.apikey, otlpEndpoint: config.otlpEndpoint });

import { runServiceProcess } from "@pkiserver/kit";
import { buildApp } from "./app";
import { API_KEY_SERVICE_NAME } from "./transport/grpc/service";

/** `node services/apikey/dist/main.js`: the apikey service as its own process. */
runServiceProcess({ name: "apikey", grpcServiceName: API_KEY_SERVICE_NAME, telemetry, config, buildApp });
