import { banner } from "./banner";
import { launcherEnv } from "./config";
import { startDistributed } from "./distributed-launcher";

/**
 * `npm run start:distributed`: the four processes of the distributed form on
 * this machine, against the MongoDB and NATS given by PMX_MONGO_URL and
 * PMX_NATS_URL. Their log lines are relayed with the process name. With
 * PMX_REDIS_URL the gateway (and every replica startExtraGateway adds) shares
 * its rate-limit counters there.
 */
async function main(): Promise<void> {
  const system = await startDistributed({
    env: launcherEnv(),
    onOutput: (name, line) => process.stdout.write(`[${name}] ${line}\n`),
  });
  process.stdout.write(banner(system.url, system.firstKey, "distributed: MongoDB + NATS"));
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    system.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
