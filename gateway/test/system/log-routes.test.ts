import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  fromBase64,
  HashLevels,
  leafHash,
  openCheckpoint,
  parseVerifierKey,
  verifyConsistency,
  verifyInclusion,
} from "@pkiserver/log";
import { post, rpc, startTestSystem, type TestSystem, VALID_KEY_1, VALID_KEY_2 } from "@pkiserver/testing";

const SECRET = "log-routes-secret-log-routes-secret-x";
const ORIGIN = "test.example/log";
let READER: { authorization: string };
let ADMIN: { authorization: string };

/** Waits until pki has signed a checkpoint of `size` entries; returns the entries, oldest first. */
async function sequencedEntries(gw: TestSystem, size: number): Promise<Uint8Array[]> {
  const deadline = Date.now() + 10_000;
  while ((await gw.services.pki.getCheckpoint({})).treeSize < size) {
    assert.ok(Date.now() < deadline, `a checkpoint of ${size} entries`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const entries: Uint8Array[] = [];
  for (let i = 0; i < size; i++) {
    const { proof } = await gw.services.pki.getInclusionProof({ leafIndex: i, treeSize: size });
    entries.push(new Uint8Array(proof?.entry ?? []));
  }
  return entries;
}

/**
 * Runs `body` against a system of its own (the log's checkpoint signed every 20 ms, with `env`)
 * whose log holds one entry (a host of key `hostPubKey`), and closes it.
 */
async function withOneEntryLog(
  env: Record<string, string>,
  hostPubKey: string,
  body: (gw: TestSystem) => Promise<void>,
): Promise<void> {
  const gw = await startTestSystem({ env: { ...env, PMX_LOG_CHECKPOINT_INTERVAL: "20" } });
  try {
    await gw.services.pki.setHost({ hostPubKey, hostUrl: "https://log.example" });
    await sequencedEntries(gw, 1);
    await body(gw);
  } finally {
    await gw.close();
  }
}

describe("transparency log over JSON-RPC and HTTP", () => {
  let gw: TestSystem;
  let logEntries: Uint8Array[];
  before(async () => {
    gw = await startTestSystem({
      env: { PMX_RATE_LIMIT_PER_MINUTE: "0", PMX_LOG_ORIGIN: ORIGIN, PMX_LOG_CHECKPOINT_INTERVAL: "20" },
    });
    READER = { authorization: (await gw.addKey({ secret: SECRET, maxScope: ["pki:read"] })).basic };
    ADMIN = { authorization: (await gw.addKey({ secret: SECRET, maxScope: ["pkiadmin:read_write"] })).basic };
    // Five changes to the directory: five entries in its log.
    await gw.services.pki.setHost({ hostPubKey: VALID_KEY_1, hostUrl: "https://log.example" });
    for (let i = 0; i < 4; i++) {
      await gw.services.pki.setKey({
        ref: { userId: `user${i}`, instanceId: VALID_KEY_1, contextId: "ctx" },
        userPubKey: VALID_KEY_2,
      });
    }
    logEntries = await sequencedEntries(gw, 5);
  });
  after(async () => gw.close());

  async function call(method: string, params: unknown, headers = READER) {
    return (await post(gw, rpc(method, params), headers)).json as { result?: never; error?: { code: number } };
  }

  it("pki/getCheckpoint returns the signed note and its decoded fields", async () => {
    const { result } = await call("pki/getCheckpoint", {});
    const r = result as unknown as Record<string, string | number>;
    const c = openCheckpoint(r.checkpoint as string, parseVerifierKey(r.verifierKey as string));
    assert.equal(r.origin, ORIGIN);
    assert.equal(r.treeSize, 5);
    assert.equal(c.size, 5);
    assert.deepEqual(fromBase64(r.rootHash as string), c.root);
    assert.deepEqual(fromBase64(r.headMapRoot as string), c.headMapRoot);
  });

  it("proofs come back as standard base64 and verify", async () => {
    const cp = (await call("pki/getCheckpoint", {})).result as unknown as { rootHash: string };
    const incl = (await call("pki/getInclusionProof", { leafIndex: 3, treeSize: 5 })).result as unknown as {
      leafIndex: number;
      treeSize: number;
      entry: string;
      hashes: string[];
    };
    assert.equal(incl.leafIndex, 3);
    assert.equal(incl.treeSize, 5);
    assert.deepEqual(fromBase64(incl.entry), logEntries[3]);
    assert.ok(
      verifyInclusion(leafHash(fromBase64(incl.entry)), 3, 5, incl.hashes.map(fromBase64), fromBase64(cp.rootHash)),
    );
    const cons = (await call("pki/getConsistencyProof", { fromSize: 2, toSize: 5 })).result as unknown as {
      fromSize: number;
      toSize: number;
      hashes: string[];
    };
    assert.equal(cons.fromSize, 2);
    const t = new HashLevels();
    for (const e of logEntries.slice(0, 2)) t.append(leafHash(e));
    assert.ok(verifyConsistency(2, 5, cons.hashes.map(fromBase64), await t.root(), fromBase64(cp.rootHash)));
    assert.deepEqual((await call("pki/getConsistencyProof", { fromSize: 5, toSize: 5 })).result, {
      fromSize: 5,
      toSize: 5,
      hashes: [],
    });
  });

  it("refuses impossible sizes and indexes with -32602, before the service is asked", async () => {
    const pkiCalls = () => gw.calls.filter((c) => c.service === "pki").length;
    const before = pkiCalls();
    for (const [method, params] of [
      ["pki/getInclusionProof", { leafIndex: 5, treeSize: 5 }],
      ["pki/getInclusionProof", { leafIndex: 0, treeSize: 0 }],
      ["pki/getInclusionProof", { leafIndex: -1, treeSize: 2 }],
      ["pki/getInclusionProof", { leafIndex: 0.5, treeSize: 2 }],
      ["pki/getInclusionProof", { treeSize: 2 }],
      ["pki/getConsistencyProof", { fromSize: 0, toSize: 2 }],
      ["pki/getConsistencyProof", { fromSize: 3, toSize: 2 }],
      ["pki/getConsistencyProof", { fromSize: "1", toSize: 2 }],
    ] as const) {
      assert.equal((await call(method, params)).error?.code, -32602, `${method} ${JSON.stringify(params)}`);
    }
    assert.equal(pkiCalls(), before);
  });

  it("needs pki:read for the log methods", async () => {
    assert.equal((await call("pki/getCheckpoint", {}, ADMIN)).error?.code, 73);
    assert.equal((await call("pki/getCheckpoint", {}, {} as typeof READER)).error?.code, 14);
  });

  it("serves the checkpoint and tiles: 401 without credentials, 403 without pki:read", async () => {
    const get = (path: string, headers: Record<string, string> = READER) => fetch(`${gw.url}${path}`, { headers });
    for (const path of ["/log/checkpoint", "/log/tile/0/000.p/5", "/log/tile/entries/000.p/5"]) {
      assert.equal((await get(path, {})).status, 401, path);
      assert.equal((await get(path, ADMIN)).status, 403, path);
    }
    const cp = await get("/log/checkpoint");
    assert.equal(cp.status, 200);
    assert.match(cp.headers.get("content-type") ?? "", /^text\/plain; charset=utf-8/);
    assert.match(await cp.text(), /^test\.example\/log\n5\n/);

    const tile = await get("/log/tile/0/000.p/5");
    assert.equal(tile.status, 200);
    assert.equal(tile.headers.get("content-type"), "application/octet-stream");
    assert.match(tile.headers.get("cache-control") ?? "", /max-age=31536000/);
    const bytes = new Uint8Array(await tile.arrayBuffer());
    assert.equal(bytes.length, 5 * 32);
    assert.deepEqual(bytes.subarray(32, 64), leafHash(logEntries[1]!));
    // An older tree's partial tile is still served, with the same bytes.
    assert.deepEqual(new Uint8Array(await (await get("/log/tile/0/000.p/2")).arrayBuffer()), bytes.subarray(0, 64));

    const bundle = new Uint8Array(await (await get("/log/tile/entries/000.p/5")).arrayBuffer());
    const first = logEntries[0]!;
    assert.deepEqual([...bundle.subarray(0, 2)], [first.length >> 8, first.length & 0xff]);
    assert.deepEqual(bundle.subarray(2, 2 + first.length), first);

    for (const path of [
      "/log/tile/0/000.p/6",
      "/log/tile/0/000",
      "/log/tile/1/000.p/1",
      "/log/tile/0/001.p/1",
      "/log/tile/0/0",
      "/log/tile/entries/000.p/256",
    ]) {
      assert.equal((await get(path)).status, 404, path);
    }
  });
});

describe("log endpoints and rate limits", () => {
  it("count in the pki tier: RateLimit headers on each reply, HTTP 429 with Retry-After over the limit", async () => {
    await withOneEntryLog(
      {
        PMX_PKI_PUBLIC_READ: "true",
        PMX_RATE_LIMITS: "pki=2,pkiadmin=0,user=0,audit=0,auth=0",
      },
      VALID_KEY_1,
      async (gw) => {
        const statuses: number[] = [];
        let last: Response | undefined;
        for (let i = 0; i < 3; i++) {
          last = await fetch(`${gw.url}/log/checkpoint`);
          statuses.push(last.status);
          if (i === 0) assert.equal(last.headers.get("ratelimit-limit"), "2");
        }
        assert.deepEqual(statuses, [200, 200, 429]);
        assert.ok(Number(last?.headers.get("retry-after")) >= 1);
      },
    );
  });

  it("apply a key's own pki limit, given with its credential or found for its token, as pki/* calls do", async () => {
    await withOneEntryLog({ PMX_RATE_LIMITS: "pki=5,pkiadmin=0,user=0,audit=0,auth=0" }, VALID_KEY_1, async (gw) => {
      const own = await gw.addKey({ secret: SECRET, maxScope: ["pki:read"], rateLimits: { pki: 2 } });
      const tok = await gw.addKey({ secret: SECRET, maxScope: ["pki:read"], rateLimits: { pki: 1 } });
      const plain = await gw.addKey({ secret: SECRET, maxScope: ["pki:read"] });
      const { accessToken } = await gw.token({ apiKeyId: tok.apiKeyId, secret: SECRET });
      const read = async (headers: Record<string, string>) => {
        const res = await fetch(`${gw.url}/log/checkpoint`, { headers });
        return [res.status, res.headers.get("ratelimit-limit")];
      };
      const ownAuth = { authorization: own.basic };
      assert.deepEqual(
        [await read(ownAuth), await read(ownAuth), await read(ownAuth)],
        [
          [200, "2"],
          [200, "2"],
          [429, "2"],
        ],
      );
      const bearer = { authorization: `Bearer ${accessToken}` };
      assert.deepEqual(
        [await read(bearer), await read(bearer)],
        [
          [200, "1"],
          [429, "1"],
        ],
      );
      // One count per key and tier: the log's files and pki/* calls draw on the same limit.
      const plainAuth = { authorization: plain.basic };
      const viaRpc = (await post(gw, rpc("pki/getCheckpoint", {}), plainAuth)).json as { error?: unknown };
      assert.equal(viaRpc.error, undefined);
      assert.deepEqual(await read(plainAuth), [200, "5"]);
      const res = await fetch(`${gw.url}/log/checkpoint`, { headers: plainAuth });
      assert.equal(res.headers.get("ratelimit-remaining"), "2");
    });
  });

  it("count anonymous readers per address, IPv6 per /64", async () => {
    await withOneEntryLog(
      {
        PMX_PKI_PUBLIC_READ: "true",
        PMX_TRUSTED_PROXIES: "127.0.0.1",
        PMX_RATE_LIMITS: "pki=2,pkiadmin=0,user=0,audit=0,auth=0",
      },
      VALID_KEY_2,
      async (gw) => {
        const from = async (addr: string) =>
          (await fetch(`${gw.url}/log/checkpoint`, { headers: { "x-forwarded-for": addr } })).status;
        assert.deepEqual(
          [await from("2001:db8:9:1::1"), await from("2001:db8:9:1::2"), await from("2001:db8:9:1:ffff::3")],
          [200, 200, 429],
        );
        assert.equal(await from("2001:db8:9:2::1"), 200);
      },
    );
  });
});
