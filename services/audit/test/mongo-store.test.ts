import { after } from "node:test";
import { ensureAuditIndexes, MongoAuditStore } from "@pkiserver/audit";
import { auditStoreContract } from "@pkiserver/audit/store-contract";
import { connectMongo, type MongoHandle } from "@pkiserver/kit";
import { getInfra } from "@pkiserver/test-harness";

const RETENTION_MS = 24 * 3600_000;
let primary: MongoHandle | undefined;
let replica: MongoHandle | undefined;

after(async () => {
  await primary?.db.dropDatabase().catch(() => undefined);
  await primary?.close();
  await replica?.close();
});

auditStoreContract("mongodb", async () => {
  if (!primary || !replica) {
    const infra = await getInfra();
    const dbName = infra.freshName("audit_store");
    primary = await connectMongo(infra.mongoUrl, dbName);
    // A second client stands for another replica of the service.
    replica = await connectMongo(infra.mongoUrl, dbName);
  }
  await primary.db.dropDatabase();
  await ensureAuditIndexes(primary.db);
  return {
    store: new MongoAuditStore(primary.db, RETENTION_MS),
    replica: new MongoAuditStore(replica.db, RETENTION_MS),
  };
});
