import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Events } from "@pkiserver/kit";
import { startTestGateway } from "./testing/fakes";

const SECRET = "audit-export-secret-audit-export-secret";
const basic = (id: string) => ({ authorization: `Basic ${Buffer.from(`${id}:${SECRET}`).toString("base64")}` });
const exportCalls = (calls: { service: string; rpc: string }[]) =>
  calls.filter((c) => c.service === "audit" && c.rpc === "exportEvents").length;

describe("GET /audit/export and rate limits (API.md section 9)", () => {
  it("counts in the audit tier under the key's own limit, by credential or token, and its refusals reach the audit log", async () => {
    const gw = await startTestGateway({ env: { PMX_RATE_LIMITS: "pki=0,pkiadmin=0,user=0,audit=10,auth=0" } });
    const refused: { client: string; tier: string; count: number }[] = [];
    await gw.bus.subscribe({
      subjects: [Events.rateLimitRefused.subject],
      deliver: "all",
      handler: async (msg) => {
        const e = Events.rateLimitRefused.type.decode(msg.data);
        refused.push({ client: e.client, tier: e.tier, count: e.count });
      },
    });
    try {
      gw.fakes.addKey({ apiKeyId: "k-one", secret: SECRET, maxScope: ["audit:read"], rateLimits: { audit: 1 } });
      gw.fakes.addKey({ apiKeyId: "k-two", secret: SECRET, maxScope: ["audit:read"], rateLimits: { audit: 2 } });
      gw.fakes.addKey({ apiKeyId: "k-ten", secret: SECRET, maxScope: ["audit:read"] });
      const get = async (headers: Record<string, string>) => {
        const res = await fetch(`${gw.url}/audit/export`, { headers });
        await res.arrayBuffer();
        return { status: res.status, limit: res.headers.get("ratelimit-limit"), retry: res.headers.get("retry-after") };
      };
      const first = await get(basic("k-one"));
      assert.deepEqual(first, { status: 200, limit: "1", retry: null });
      const second = await get(basic("k-one"));
      assert.equal(second.status, 429);
      assert.equal(second.limit, "1");
      assert.ok(Number(second.retry) >= 1);

      const token = await gw.fakes.signer.mint({
        apiKeyId: "k-two",
        sessionId: "s-two",
        generation: 1,
        scope: ["audit:read"],
      });
      const bearer = { authorization: `Bearer ${token}` };
      assert.deepEqual(
        [(await get(bearer)).status, (await get(bearer)).status, (await get(bearer)).status],
        [200, 200, 429],
      );
      assert.equal((await get(bearer)).limit, "2");
      // A key without limits of its own follows the tier's.
      assert.equal((await get(basic("k-ten"))).limit, "10");
    } finally {
      // Closing flushes the minute that is still open.
      await gw.app.close();
    }
    assert.deepEqual(
      refused.sort((a, b) => a.client.localeCompare(b.client)),
      [
        { client: "key:k-one", tier: "audit", count: 1 },
        { client: "key:k-two", tier: "audit", count: 2 },
      ],
    );
    await gw.close().catch(() => undefined);
  });
});

describe("GET /audit/export streams (API.md section 12)", () => {
  it("sends the first events before the store is read to the end, and reads no further than the reader takes", async () => {
    const gw = await startTestGateway({ env: { PMX_RATE_LIMITS: "pki=0,pkiadmin=0,user=0,audit=0,auth=0" } });
    try {
      gw.fakes.addKey({ apiKeyId: "k-reader", secret: SECRET, maxScope: ["audit:read"] });
      const pages = 30;
      // About 700 bytes a line, 700 kB a page: 20 MB in all, far beyond what the sockets between buffer.
      gw.fakes.auditExport = { pages, perPage: 1000, detailBytes: 600 };
      const res = await fetch(`${gw.url}/audit/export`, { headers: basic("k-reader") });
      assert.equal(res.status, 200);
      assert.ok(res.body);
      const reader = res.body.getReader();
      const first = await reader.read();
      assert.ok(first.value && first.value.length > 0);
      assert.ok(exportCalls(gw.fakes.calls) < pages, "the first bytes came before the last page was read");
      // The reader stops taking: the pages read settle well short of the end.
      let settled = exportCalls(gw.fakes.calls);
      for (let still = 0; still < 3; ) {
        await new Promise((r) => setTimeout(r, 150));
        const now = exportCalls(gw.fakes.calls);
        still = now === settled ? still + 1 : 0;
        settled = now;
      }
      assert.ok(settled < pages / 2, `${settled} of ${pages} pages read while the reader waited`);

      // Then the whole export, in order, one event per line.
      const decoder = new TextDecoder();
      let text = decoder.decode(first.value, { stream: true });
      let lines = 0;
      let last = "";
      let inOrder = true;
      let expected = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (value) text += decoder.decode(value, { stream: true });
        const end = text.lastIndexOf("\n");
        if (end >= 0) {
          for (const line of text.slice(0, end).split("\n")) {
            const e = JSON.parse(line) as { id: string; time: number };
            if (e.time !== expected) inOrder = false;
            expected++;
            lines++;
            last = e.id;
          }
          text = text.slice(end + 1);
        }
        if (done) break;
      }
      assert.equal(text, "");
      assert.equal(lines, pages * 1000);
      assert.ok(inOrder, "oldest first, nothing lost or repeated");
      assert.equal(last, `ev-${pages * 1000 - 1}`);
      assert.equal(exportCalls(gw.fakes.calls), pages);
    } finally {
      await gw.close();
    }
  });
});
