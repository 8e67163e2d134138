// The transparency log end to end, in either form: changes through the API show up in a
// signed checkpoint, proofs from the API verify offline against the pinned key, and the tiles
// served over HTTP satisfy Go's reference tlog implementation.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { randomPubKey } from "@pkiserver/contract";
import {
  auditLog,
  encodeSignerKey,
  encodeVerifierKey,
  fromBase64,
  generateSigner,
  httpFetcher,
  type KeyProofAnswer,
  leafHash,
  openCheckpoint,
  parseVerifierKey,
  provesKey,
  tilePath,
  tilesOf,
  toBase64,
  verifyKeyProof,
} from "@pkiserver/log";
import { bearer, errCode, ok } from "../support/client";
import { type Form, startForm } from "../support/forms";
import { type Ctx, prepare, tokenFor } from "./auth.suite";

const repoRoot = join(__dirname, "..", "..", "..");
const signer = generateSigner("e2e.example/log");
const VERIFIER_KEY = encodeVerifierKey(signer);

interface CheckpointResult {
  checkpoint: string;
  origin: string;
  treeSize: number;
  rootHash: string;
  headMapRoot: string;
  verifierKey: string;
}

export function logSuite(form: Form): void {
  describe(`${form} form: transparency log`, () => {
    let ctx: Ctx;
    let auth: Record<string, string>;
    const url = () => ctx.sys.url;
    before(async () => {
      ctx = await prepare(
        await startForm(form, { PMX_LOG_SIGNING_KEY: encodeSignerKey(signer), PMX_LOG_CHECKPOINT_INTERVAL: "100" }),
      );
      auth = bearer(ctx.admin.accessToken);
    });
    after(() => ctx.sys.stop());

    /** Polls until a checkpoint covers `size` entries: sequencing runs on its own clock. */
    async function checkpointOf(size: number): Promise<CheckpointResult> {
      for (;;) {
        const cp = await ok<CheckpointResult>(url(), "pki/getCheckpoint", {}, auth);
        if (cp.treeSize >= size) return cp;
        await sleep(50);
      }
    }

    const hostKey = randomPubKey();
    const ref = { userId: "user-log", instanceId: hostKey, contextId: "ctx-log-1" };
    const [k1, k2] = [randomPubKey(), randomPubKey()];

    it("publishes changes in a checkpoint signed by the configured key", async () => {
      await ok(url(), "pkiAdmin/setHost", { hostPubKey: hostKey, hostUrl: "log.example:3000" }, auth);
      await ok(url(), "pkiAdmin/setKey", { ...ref, userPubKey: k1, customData: { n: 1 } }, auth);
      await sleep(5);
      await ok(url(), "pkiAdmin/setKey", { ...ref, userPubKey: k2 }, auth);
      const cp = await checkpointOf(3);
      assert.equal(cp.verifierKey, VERIFIER_KEY);
      assert.equal(cp.origin, "e2e.example/log");
      const c = openCheckpoint(cp.checkpoint, parseVerifierKey(VERIFIER_KEY));
      assert.equal(c.size, cp.treeSize);
      assert.equal(Buffer.from(c.root).toString("base64"), cp.rootHash);
    });

    it("answers key proofs that verify offline and agree with pki/getKeyAt", async () => {
      await checkpointOf(3);
      const history = await ok<{ createDate: number; userPubKey?: string }[]>(url(), "pki/getKeyHistory", ref, auth);
      const first = history.at(-1)!;
      for (const [date, key] of [
        [first.createDate, k1],
        [Date.now() + 60_000, k2],
      ] as const) {
        const answer = await ok<KeyProofAnswer>(url(), "pki/getKeyProof", { ...ref, date }, auth);
        const proven = verifyKeyProof(answer, VERIFIER_KEY, { ...ref, date });
        assert.ok(provesKey(proven, key));
        assert.deepEqual(answer.record, await ok(url(), "pki/getKeyAt", { ...ref, date }, auth));
      }
      assert.equal((await errCode(url(), "pki/getKeyProof", { ...ref, date: first.createDate - 1 }, auth)).code, 80);
    });

    it("passes the auditor's replay of the served tiles, run after run", async () => {
      const first = await auditLog(httpFetcher(url(), auth.authorization), VERIFIER_KEY);
      await ok(url(), "pkiAdmin/deleteKey", ref, auth);
      await checkpointOf(first.checkpoint.size + 1);
      const state = {
        origin: first.checkpoint.origin,
        size: first.checkpoint.size,
        root: toBase64(first.checkpoint.root),
      };
      const second = await auditLog(httpFetcher(url(), auth.authorization), VERIFIER_KEY, state);
      assert.ok(second.checkpoint.size > first.checkpoint.size);
    });

    it("refuses sizes beyond the newest checkpoint with -32602", async () => {
      const cp = await checkpointOf(3);
      const beyond = cp.treeSize + 1000;
      assert.equal(
        (await errCode(url(), "pki/getInclusionProof", { leafIndex: 0, treeSize: beyond }, auth)).code,
        -32602,
      );
      assert.equal(
        (await errCode(url(), "pki/getConsistencyProof", { fromSize: 1, toSize: beyond }, auth)).code,
        -32602,
      );
    });

    it("needs pki:read over HTTP: 401 without credentials, 403 without the scope", async () => {
      assert.equal((await fetch(`${url()}/log/checkpoint`)).status, 401);
      const k = await ok<{ apiKeyId: string }>(
        url(),
        "user/addApiKey",
        {
          type: "secret",
          name: "no-pki",
          clientSecret: "no-pki-secret-no-pki-secret-no-pki-secret",
          maxScope: ["user:read"],
        },
        auth,
      );
      const t = await tokenFor(url(), k.apiKeyId, "no-pki-secret-no-pki-secret-no-pki-secret");
      assert.equal((await fetch(`${url()}/log/checkpoint`, { headers: bearer(t.accessToken) })).status, 403);
      assert.equal((await fetch(`${url()}/log/tile/0/000`, { headers: bearer(t.accessToken) })).status, 403);
    });

    it("serves tiles that Go's sumdb/tlog verifies against the served checkpoint", {
      skip: spawnSync("go", ["version"]).status === 0 ? false : "go is not installed",
    }, async () => {
      const cp = await checkpointOf(3);
      const dir = mkdtempSync(join(tmpdir(), "e2e-tlog-"));
      try {
        const served = await fetch(`${url()}/log/checkpoint`, { headers: auth });
        const text = await served.text();
        writeFileSync(join(dir, "checkpoint"), text);
        writeFileSync(join(dir, "verifier-key"), VERIFIER_KEY);
        const size = openCheckpoint(text, parseVerifierKey(VERIFIER_KEY)).size;
        assert.ok(size >= cp.treeSize);
        for (const t of tilesOf(size)) {
          const res = await fetch(`${url()}/log/${tilePath(t)}`, { headers: auth });
          assert.equal(res.status, 200, tilePath(t));
          const file = join(dir, ...tilePath(t).split("/"));
          mkdirSync(dirname(file), { recursive: true });
          writeFileSync(file, new Uint8Array(await res.arrayBuffer()));
        }
        const inclusion = [];
        for (let i = 0; i < size; i++) {
          const p = await ok<{ leafIndex: number; treeSize: number; entry: string; hashes: string[] }>(
            url(),
            "pki/getInclusionProof",
            { leafIndex: i, treeSize: size },
            auth,
          );
          inclusion.push({ index: p.leafIndex, size: p.treeSize, entry: p.entry, hashes: p.hashes });
        }
        const c1 = await ok<{ hashes: string[] }>(
          url(),
          "pki/getConsistencyProof",
          { fromSize: 1, toSize: size },
          auth,
        );
        const one = await ok<{ entry: string }>(url(), "pki/getInclusionProof", { leafIndex: 0, treeSize: 1 }, auth);
        const consistency = [
          { from: 1, to: size, fromRoot: toBase64(leafHash(fromBase64(one.entry))), hashes: c1.hashes },
        ];
        writeFileSync(join(dir, "proofs.json"), JSON.stringify({ inclusion, consistency }));
        const bin = execFileSync(join(repoRoot, "test", "infra", "build-tlog-check.sh"), {
          encoding: "utf8",
          stdio: ["ignore", "pipe", "inherit"],
        }).trim();
        const r = spawnSync(bin, [dir], { encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
