import { auditStoreContract } from "./contract";
import { MemoryAuditStore } from "./memory-audit-store";

auditStoreContract("memory", async () => ({ store: new MemoryAuditStore() }));
