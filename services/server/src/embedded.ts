// Telemetry first: it must hook http and grpc-js before anything loads them.
import { ServiceNames, startTelemetry } from "@pkiserver/kit/telemetry";

const telemetry = startTelemetry({
  serviceName: ServiceNames.embedded,
  otlpEndpoint: process.env.OTEL_EXPORTER_OTLP_ENDPOINT,
});

import { Closers, onShutdown } from "@pkiserver/kit";
import { banner } from "./banner";
import { startSystem } from "./system";

/** `npm start`: the gateway and the three services in one process. */
async function main(): Promise<void> {
  const system = await startSystem({ env: process.env });
  process.stdout.write(banner(system.url, system.firstKey, system.storage, system.logVerifierKey));
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
