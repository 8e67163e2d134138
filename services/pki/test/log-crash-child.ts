/**
 * A pki process that dies (SIGKILL) at one crash point of the transparency log: run by
 * mongo-log.test.ts as `node log-crash-child.js <mongoUrl> <dbName> <point> <action>`.
 * Actions: `host` registers a host (dies between the change and its entry's completion);
 * `key+sequence` registers a host and writes a key record, then sequences (dies between the
 * record and its queueing, or mid-round).
 */
import { connectMongo } from "@pkiserver/kit";
import { parseSignerKey } from "@pkiserver/log";
import {
  createMongoStores,
  type LogCrashPoint,
  MongoTransparencyLog,
  randomPubKey,
  withTransparencyLog,
} from "@pkiserver/pki";

/** Kept in step with mongo-log.test.ts, which waits this long before restarting. */
const CHILD_LEASE_MS = 300;

async function main(): Promise<void> {
  const [mongoUrl, dbName, point, action, signerKey, userId] = process.argv.slice(2) as [
    string,
    string,
    LogCrashPoint,
    string,
    string,
    string,
  ];
  const mongo = await connectMongo(mongoUrl, dbName);
  const crashPoint = (at: LogCrashPoint) => {
    if (at === point) process.kill(process.pid, "SIGKILL");
  };
  const raw = await createMongoStores(mongo.db, { logIntents: true, crashPoint });
  await MongoTransparencyLog.ensureIndexes(mongo.db);
  const log = new MongoTransparencyLog(mongo.db, parseSignerKey(signerKey), raw.hosts, {
    // Short: the restarted process takes over once it has run out.
    leaseMs: CHILD_LEASE_MS,
    crashPoint,
  });
  const stores = withTransparencyLog(raw, log, { now: () => Date.now() });
  const host = randomPubKey();
  await stores.hosts.create(host, `https://${host}.example`);
  if (action === "key+sequence") {
    await stores.keys.append({ userId, instanceId: host, contextId: "ctx" }, () => ({ userPubKey: randomPubKey() }), {
      now: () => Date.now(),
    });
    await log.sequence();
  }
  // Not reached when the crash point was passed.
  process.stdout.write("survived\n");
  await mongo.close();
}

main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exit(1);
});
