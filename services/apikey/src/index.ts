export { buildApp } from "./app";
export { type ApiKeyConfig, loadConfig } from "./config";
export { type ApiKeyView, MAX_API_KEYS } from "./domain/entities";
export type { ApiKeyStore, NonceStore } from "./domain/ports";
export { MemoryApiKeyStore } from "./storage/memory-api-key-store";
export { MemoryNonceStore } from "./storage/memory-nonce-store";
export { ensureApiKeyIndexes, MongoApiKeyStore } from "./storage/mongo-api-key-store";
export { ensureNonceIndexes, MongoNonceStore } from "./storage/mongo-nonce-store";
export { API_KEY_SERVICE_NAME } from "./transport/grpc/service";
