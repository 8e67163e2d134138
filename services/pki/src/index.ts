export { isValidPubKey, randomPubKey } from "@pkiserver/contract";
export { buildApp, PKI_SERVICE_NAME, type PkiAppOptions } from "./app";
export { loadConfig, type PkiConfig } from "./config";
export { type ContractStores, pkiStoreContract } from "./storage/contract";
export { createMemoryStores, createMongoStores, type PkiStores } from "./storage/stores";
