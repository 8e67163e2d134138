import { authStoreContract } from "./contract";
import { MemorySessionStore } from "./memory-sessions";
import { MemorySigningKeyStore } from "./memory-signing-keys";

authStoreContract("memory", async () => ({
  sessions: new MemorySessionStore(),
  signingKeys: new MemorySigningKeyStore(),
}));
