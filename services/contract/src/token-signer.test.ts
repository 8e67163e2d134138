import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import {
  type AccessTokenClaims,
  createAccessTokenVerifier,
  SigningThread,
  signAccessToken,
  TOKEN_ISSUER,
} from "./index";
import { SIGNING_BATCH, SIGNING_THREAD_KEYS } from "./token-signer";

const T = Date.now();
const claims = (apiKeyId: string, scope: string[] = ["pki:read"]): AccessTokenClaims => ({
  apiKeyId,
  sessionId: `s-${apiKeyId}`,
  generation: 3,
  scope,
  issuedAt: T,
  expiresAt: T + 600_000,
  sessionCreatedAt: T - 1000,
});

function keyPair(kid: string) {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  return {
    material: { kid, privateKey },
    publicKey: { kid, publicJwk: JSON.stringify({ ...publicKey.export({ format: "jwk" }), kid, alg: "EdDSA" }) },
  };
}

const signers: SigningThread[] = [];
const signer = (opts?: ConstructorParameters<typeof SigningThread>[0]) => {
  const s = new SigningThread(opts);
  signers.push(s);
  return s;
};
after(() => Promise.all(signers.map((s) => s.close())));

test("tokens signed on the thread verify and carry their claims, many at once", async () => {
  const k = keyPair("k1");
  const verifier = createAccessTokenVerifier({ now: () => T + 1000 });
  verifier.setKeys([k.publicKey]);
  const s = signer();
  const tokens = await Promise.all(Array.from({ length: 200 }, (_, i) => s.sign(claims(`key${i}`), k.material)));
  const seen = new Set<string>();
  for (const [i, token] of tokens.entries()) {
    const c = await verifier.verify(token);
    assert.equal(c.apiKeyId, `key${i}`);
    assert.equal(c.generation, 3);
    assert.deepEqual(c.scope, ["pki:read"]);
    assert.equal(c.sessionCreatedAt, T - 1000);
    seen.add(token.split(".")[1] as string);
  }
  assert.equal(seen.size, 200, "every token has claims of its own (its jti)");
  // The same codec as on the calling thread: the protected headers are the same.
  const inline = await signAccessToken(claims("key0"), k.material);
  assert.equal(tokens[0]?.split(".")[0], inline.split(".")[0]);
  const other = await s.sign(claims("x"), k.material, { issuer: "https://pki.example", audience: "other" });
  const strict = createAccessTokenVerifier({
    now: () => T + 1000,
    identity: { issuer: "https://pki.example", audience: "other" },
  });
  strict.setKeys([k.publicKey]);
  assert.equal((await strict.verify(other)).apiKeyId, "x");
  await assert.rejects(verifier.verify(other), "the identity given is the one signed");
  assert.notEqual(TOKEN_ISSUER, "https://pki.example");
});

test("keys change: each token is signed by the key it was asked for, also one the thread let go of", async () => {
  const pairs = Array.from({ length: SIGNING_THREAD_KEYS + 2 }, (_, i) => keyPair(`kid${i}`));
  const verifier = createAccessTokenVerifier({ now: () => T + 1000 });
  verifier.setKeys(pairs.map((p) => p.publicKey));
  const s = signer();
  // Every key in turn, then the first again (no longer held by the thread: it is sent again).
  for (const p of [...pairs, pairs[0], pairs[SIGNING_THREAD_KEYS + 1]] as (typeof pairs)[number][]) {
    const token = await s.sign(claims(p.material.kid), p.material);
    const header = JSON.parse(Buffer.from(token.split(".")[0] as string, "base64url").toString()) as { kid: string };
    assert.equal(header.kid, p.material.kid);
    assert.equal((await verifier.verify(token)).apiKeyId, p.material.kid);
  }
  // In one turn of the loop (one message): a held key, enough new ones to evict it, then it again.
  const first = pairs[0] as (typeof pairs)[number];
  await s.sign(claims("warm"), first.material);
  const burst = [first, ...pairs.slice(1, SIGNING_THREAD_KEYS + 1), first];
  const tokens = await Promise.all(burst.map((p) => s.sign(claims(p.material.kid), p.material)));
  for (const [i, token] of tokens.entries()) {
    assert.equal((await verifier.verify(token)).apiKeyId, burst[i]?.material.kid);
  }
});

test("a signature the codec refuses is refused with its reason; the thread goes on", async () => {
  const k = keyPair("k1");
  const s = signer();
  const tooLong = claims(
    "k",
    Array.from({ length: 200 }, (_, i) => `scope${i}:read`),
  );
  await assert.rejects(s.sign(tooLong, k.material), /exceeds the limit/);
  assert.match(await s.sign(claims("k"), k.material), /^[\w-]+\.[\w-]+\.[\w-]+$/);
});

test("claims that cannot be sent to the thread are refused with their turn; the next turn is signed", async () => {
  const k = keyPair("k1");
  const failures: string[] = [];
  const s = signer({ onFailure: (d) => failures.push(d) });
  const bad = { ...claims("bad"), scope: [() => "x"] } as unknown as AccessTokenClaims;
  const turn = await Promise.allSettled([s.sign(claims("same turn"), k.material), s.sign(bad, k.material)]);
  assert.deepEqual(
    turn.map((r) => r.status),
    ["rejected", "rejected"],
  );
  assert.match(String((turn[1] as PromiseRejectedResult).reason), /signing request not sent/);
  assert.equal(failures.length, 1);
  const verifier = createAccessTokenVerifier({ now: () => T + 1000 });
  verifier.setKeys([k.publicKey]);
  assert.equal((await verifier.verify(await s.sign(claims("next"), k.material))).apiKeyId, "next");
});

test("a turn's requests go to the thread in messages of up to SIGNING_BATCH, the rest at the turn's end", async () => {
  // A thread script that notes how many requests each message brings, then signs as the real one.
  const log = join(tmpdir(), `signing-thread-messages-${process.pid}.log`);
  writeFileSync(log, "");
  const entry = join(tmpdir(), `signing-thread-counts-${process.pid}.js`);
  writeFileSync(
    entry,
    `const { appendFileSync } = require("node:fs");
const { parentPort } = require("node:worker_threads");
parentPort.on("message", (items) => appendFileSync(${JSON.stringify(log)}, items.filter((r) => r.kind === "sign").length + "\\n"));
require(${JSON.stringify(join(__dirname, "signing-thread.js"))});
`,
  );
  const s = signer({ entry });
  const k = keyPair("k1");
  const asked = 2 * SIGNING_BATCH + 3;
  const tokens = await Promise.all(Array.from({ length: asked }, (_, i) => s.sign(claims(`b${i}`), k.material)));
  assert.equal(new Set(tokens).size, asked);
  const counts = readFileSync(log, "utf8").trim().split("\n").map(Number);
  assert.deepEqual(counts, [SIGNING_BATCH, SIGNING_BATCH, 3]);
  // A lone request still goes at the end of its turn.
  await s.sign(claims("alone"), k.material);
  assert.deepEqual(readFileSync(log, "utf8").trim().split("\n").map(Number), [SIGNING_BATCH, SIGNING_BATCH, 3, 1]);
});

test("a thread that dies refuses what it was signing, is reported, and the next signature starts another", async () => {
  // A thread script that ends its thread when asked to sign for the key id "die" (with the requests sent with it), else signs.
  const entry = join(tmpdir(), `signing-thread-dies-${process.pid}.js`);
  writeFileSync(
    entry,
    `const { parentPort } = require("node:worker_threads");
parentPort.on("message", (items) => { if (items.some((r) => r.kind === "sign" && r.claims.apiKeyId === "die")) process.exit(7); });
require(${JSON.stringify(join(__dirname, "signing-thread.js"))});
`,
  );
  const failures: string[] = [];
  const s = signer({ entry, onFailure: (d) => failures.push(d) });
  const k = keyPair("k1");
  assert.match(await s.sign(claims("before"), k.material), /\./);
  const results = await Promise.allSettled([s.sign(claims("die"), k.material), s.sign(claims("other"), k.material)]);
  assert.equal(results[0].status, "rejected");
  assert.match(String((results[0] as PromiseRejectedResult).reason), /exited \(code 7\)/);
  // The one behind it was either signed before the exit or refused with it: never left waiting.
  if (results[1].status === "rejected") assert.match(String(results[1].reason), /exited/);
  assert.deepEqual(failures, ["token signing thread exited (code 7)"]);
  // A new thread, which is sent the key again.
  const verifier = createAccessTokenVerifier({ now: () => T + 1000 });
  verifier.setKeys([k.publicKey]);
  assert.equal((await verifier.verify(await s.sign(claims("after"), k.material))).apiKeyId, "after");
});

test("close refuses what is being signed and every later signature", async () => {
  const k = keyPair("k1");
  const failures: string[] = [];
  const s = signer({ onFailure: (d) => failures.push(d) });
  await s.sign(claims("warm"), k.material);
  const pending = Promise.allSettled(Array.from({ length: 50 }, () => s.sign(claims("p"), k.material)));
  await s.close();
  const settled = await pending;
  // Close refuses them at once, before the thread could answer any.
  for (const r of settled) {
    assert.equal(r.status, "rejected");
    assert.match(String(r.reason), /closed/);
  }
  await assert.rejects(s.sign(claims("late"), k.material), /closed/);
  assert.deepEqual(failures, [], "closing is not a failure");
});
