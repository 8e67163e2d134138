// Configuration, then telemetry: telemetry must hook grpc-js and the MongoDB
// driver before anything loads them, and config.ts loads neither (only the
// kit's config entry), so every problem is printed before anything starts.
import { configOrExit } from "@pkiserver/kit/config";
import { ServiceNames, startTelemetry } from "@pkiserver/kit/telemetry";
import { loadConfig } from "./config";

const config = configOrExit("auth", () => loadConfig());
const telemetry = startTelemetry({ serviceName: ServiceNames.auth, otlpEndpoint: config.otlpEndpoint });

import { runServiceProcess } from "@pkiserver/kit";
import { authV1 } from "@pkiserver/proto";
import { authStreamMaxAgeMs, buildApp } from "./app";

/** `node services/auth/dist/main.js`: the auth service as its own process. */
runServiceProcess({
  name: "auth",
  grpcServiceName: authV1.AuthServiceClient.serviceName,
  telemetry,
  config,
  buildApp: (config, deps) => buildApp(config, { ...deps, apikey: config.apikeyAddress }),
  streamMaxAgeMs: (config) => ({ auth: authStreamMaxAgeMs(config) }),
});
