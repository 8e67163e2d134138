export { isValidPubKey, randomPubKey } from "@pkiserver/contract";
export { buildApp, PKI_SERVICE_NAME, type PkiAppOptions } from "./app";
export { loadConfig, type PkiConfig } from "./config";
export { FILL_CONTEXT_ID, FILL_HOST_URL, FILL_RECORDS_PER_HISTORY, fillUserId } from "./storage/log-fill";
export { withTransparencyLog } from "./storage/logged-stores";
export { MemoryTransparencyLog } from "./storage/memory-transparency-log";
export {
  LOG_COLLECTIONS,
  type LogCrashPoint,
  type MongoLogOptions,
  MongoTransparencyLog,
} from "./storage/mongo-transparency-log";
export { createMemoryStores, createMongoStores, type PkiStores } from "./storage/stores";
