import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Events, publishEvent } from "@pkiserver/kit";
import { recordEvents, startTestSystem, type TestSystem, withTestSystem } from "@pkiserver/testing";

const SECRET = "audit-export-secret-audit-export-secret";
const exportCalls = (gw: TestSystem) =>
  gw.calls.filter((c) => c.service === "audit" && c.rpc === "exportEvents").length;

describe("GET /audit/export and rate limits (API.md section 9)", () => {
  it("counts in the audit tier under the key's own limit, by credential or token, and its refusals reach the audit log", async () => {
    const gw = await startTestSystem({ env: { PMX_RATE_LIMITS: "pki=0,pkiadmin=0,user=0,audit=10,auth=0" } });
    const refused = await recordEvents(gw.bus, Events.rateLimitRefused, (e) => ({
      client: e.client,
      tier: e.tier,
      count: e.count,
    }));
    let one = "";
    let two = "";
    try {
      const kOne = await gw.addKey({ secret: SECRET, maxScope: ["audit:read"], rateLimits: { audit: 1 } });
      const kTwo = await gw.addKey({ secret: SECRET, maxScope: ["audit:read"], rateLimits: { audit: 2 } });
      const kTen = await gw.addKey({ secret: SECRET, maxScope: ["audit:read"] });
      one = kOne.apiKeyId;
      two = kTwo.apiKeyId;
      const get = async (headers: Record<string, string>) => {
        const res = await fetch(`${gw.url}/audit/export`, { headers });
        await res.arrayBuffer();
        return { status: res.status, limit: res.headers.get("ratelimit-limit"), retry: res.headers.get("retry-after") };
      };
      assert.deepEqual(await get({ authorization: kOne.basic }), { status: 200, limit: "1", retry: null });
      const second = await get({ authorization: kOne.basic });
      assert.equal(second.status, 429);
      assert.equal(second.limit, "1");
      assert.ok(Number(second.retry) >= 1);

      const { accessToken } = await gw.token({ apiKeyId: kTwo.apiKeyId, secret: SECRET });
      const bearer = { authorization: `Bearer ${accessToken}` };
      assert.deepEqual(
        [(await get(bearer)).status, (await get(bearer)).status, (await get(bearer)).status],
        [200, 200, 429],
      );
      assert.equal((await get(bearer)).limit, "2");
      // A key without limits of its own follows the tier's.
      assert.equal((await get({ authorization: kTen.basic })).limit, "10");
    } finally {
      // Closing flushes the minute that is still open.
      await gw.app.close();
    }
    assert.deepEqual(
      refused.filter((r) => r.client === `key:${one}` || r.client === `key:${two}`).sort((a, b) => a.count - b.count),
      [
        { client: `key:${one}`, tier: "audit", count: 1 },
        { client: `key:${two}`, tier: "audit", count: 2 },
      ],
    );
    await gw.close().catch(() => undefined);
  });
});

describe("GET /audit/export streams (API.md section 12)", () => {
  it("sends the first events before the store is read to the end, and reads no further than the reader takes", async () => {
    // The memory audit store keeps 20,000 events by default: room here for the 30,000 this test writes.
    const env = { PMX_RATE_LIMITS: "pki=0,pkiadmin=0,user=0,audit=0,auth=0", PMX_AUDIT_MEMORY_EVENTS: "40000" };
    await withTestSystem({ env }, async (gw) => {
      const reader = await gw.addKey({ secret: SECRET, maxScope: ["audit:read"] });
      // 30 pages of about 600 kB (a long client name makes each event large): far beyond what the sockets buffer.
      const pages = 30;
      const total = pages * 1000;
      const client = `ip:${"x".repeat(250)}`;
      const minute = Math.floor(Date.now() / 60_000) * 60_000;
      for (let i = 0; i < total; i++) {
        const id = `fill-${String(i).padStart(6, "0")}`;
        await publishEvent(gw.bus, Events.rateLimitRefused, { client, tier: "pki", minute, count: i + 1 }, id);
      }
      const deadline = Date.now() + 30_000;
      for (;;) {
        const page = await gw.services.audit.listEvents({ types: ["ratelimit.refused"], limit: 1 });
        if (page.events[0]?.id === `fill-${String(total - 1).padStart(6, "0")}`) break;
        assert.ok(Date.now() < deadline, "the events were recorded");
        await new Promise((r) => setTimeout(r, 50));
      }

      const res = await fetch(`${gw.url}/audit/export?types=ratelimit.refused`, {
        headers: { authorization: reader.basic },
      });
      assert.equal(res.status, 200);
      assert.ok(res.body);
      const body = res.body.getReader();
      const first = await body.read();
      assert.ok(first.value && first.value.length > 0);
      const pagesRead = exportCalls(gw);
      assert.ok(pagesRead < pages, "the first bytes came before the last page was read");
      // The reader stops taking: the pages read settle well short of the end.
      let settled = pagesRead;
      for (let still = 0; still < 3; ) {
        await new Promise((r) => setTimeout(r, 150));
        const now = exportCalls(gw);
        still = now === settled ? still + 1 : 0;
        settled = now;
      }
      assert.ok(settled < pages / 2, `${settled} of ${pages} pages read while the reader waited`);

      // Then the whole export, oldest first, one event per line.
      const decoder = new TextDecoder();
      let text = decoder.decode(first.value, { stream: true });
      let lines = 0;
      let inOrder = true;
      for (;;) {
        const { done, value } = await body.read();
        if (value) text += decoder.decode(value, { stream: true });
        const end = text.lastIndexOf("\n");
        if (end >= 0) {
          for (const line of text.slice(0, end).split("\n")) {
            const e = JSON.parse(line) as { id: string; details: { count: number } };
            if (e.details.count !== lines + 1) inOrder = false;
            lines++;
          }
          text = text.slice(end + 1);
        }
        if (done) break;
      }
      assert.equal(text, "");
      assert.equal(lines, total);
      assert.ok(inOrder, "oldest first, nothing lost or repeated");
      assert.equal(exportCalls(gw), pages, "each page read once");
    });
  });
});
