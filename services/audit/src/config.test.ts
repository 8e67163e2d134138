import assert from "node:assert/strict";
import { test } from "node:test";
import { loadConfig } from "./config";
import { DEFAULT_MAX_MEMORY_EVENTS } from "./storage/memory-audit-store";

test("PMX_AUDIT_MEMORY_EVENTS bounds the in-memory store: 20,000 by default, at least 100", () => {
  assert.equal(DEFAULT_MAX_MEMORY_EVENTS, 20_000);
  assert.equal(loadConfig({}).memoryEvents, 20_000);
  assert.equal(loadConfig({ PMX_AUDIT_MEMORY_EVENTS: "5000" }).memoryEvents, 5000);
  assert.throws(() => loadConfig({ PMX_AUDIT_MEMORY_EVENTS: "10" }), /PMX_AUDIT_MEMORY_EVENTS/);
  assert.throws(() => loadConfig({ PMX_AUDIT_MEMORY_EVENTS: "lots" }), /PMX_AUDIT_MEMORY_EVENTS/);
});
