export { buildApp } from "./app";
export { type ApiKeyConfig, loadConfig } from "./config";
export { type ApiKeyView, MAX_API_KEYS } from "./domain/api-key";
export { apiKeyStoreContract, type ContractStores } from "./storage/contract";
export { API_KEY_SERVICE_NAME } from "./transport/grpc/service";
