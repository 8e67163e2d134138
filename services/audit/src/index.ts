export { buildApp } from "./app";
export { type AuditConfig, DEFAULT_AUDIT_RETENTION_MS, loadConfig } from "./config";
export type { AuditEvent } from "./domain/entities";
export type { AuditStore } from "./domain/ports";
export { MemoryAuditStore } from "./storage/memory-audit-store";
export { AUDIT_COLLECTION, ensureAuditIndexes, MongoAuditStore } from "./storage/mongo-audit-store";
export { toAuditEvents } from "./transport/events/to-audit-event";
export { AUDIT_SERVICE_NAME } from "./transport/grpc/service";
