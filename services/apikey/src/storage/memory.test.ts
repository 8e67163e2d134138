import { apiKeyStoreContract } from "./contract";
import { MemoryApiKeyStore } from "./memory-api-key-store";
import { MemoryNonceStore } from "./memory-nonce-store";

apiKeyStoreContract("memory", async () => ({ keys: new MemoryApiKeyStore(), nonces: new MemoryNonceStore() }));
