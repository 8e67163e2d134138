// Configuration, then telemetry: telemetry must hook http and grpc-js before
// anything loads them, and the config modules load neither. Every component's
// configuration is checked first; all problems are printed together.
import { configOrExit } from "@pkiserver/kit/config";
import { ServiceNames, startTelemetry } from "@pkiserver/kit/telemetry";
import { loadSystemConfig } from "./config";

const config = configOrExit("pkiserver", () => loadSystemConfig());
const telemetry = startTelemetry({ serviceName: ServiceNames.embedded, otlpEndpoint: config.settings.otlpEndpoint });

import { Closers, onShutdown } from "@pkiserver/kit";
import { banner } from "./banner";
import { startSystem } from "./system";

/** `npm start`: the gateway and the three services in one process. */
async function main(): Promise<void> {
  const system = await startSystem({ config });
  process.stdout.write(banner(system.url, system.firstKey, system.storage, system.logVerifierKey, system.grpc));
  onShutdown(
    system.logger,
    new Closers(
      () => telemetry.shutdown(),
      () => system.stop(),
    ),
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
