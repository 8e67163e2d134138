import assert from "node:assert/strict";
import { generateKeyPairSync, sign } from "node:crypto";
import { describe, it } from "node:test";
import { ALL_SCOPES, grantSigningPayload, hmacSignature } from "@pkiserver/kit/core";
import type { TestDeps } from "../testing/fixtures";
import { addSecretKey, codeOf, ED25519_PUBLIC_PEM, errorData, makeDeps, SECRET } from "../testing/fixtures";
import { addApiKey } from "./add-api-key";
import { getApiKey } from "./get-api-key";
import { listApiKeys } from "./list-api-keys";
import { DEFAULT_GRACE_PERIOD_MS, MAX_GRACE_PERIOD_MS, rotateApiKey } from "./rotate-api-key";
import { verifySecret } from "./verify-secret";
import { verifySignature } from "./verify-signature";

const ALL = [...ALL_SCOPES];
const NEW_SECRET = "another-client-secret-of-more-than-32-chars";

async function secretKey(deps: TestDeps, maxScope: string[] = ["pki:read"]): Promise<string> {
  return addSecretKey(deps, { name: "k", maxScope });
}

async function pubKeyKey(deps: TestDeps): Promise<string> {
  return (
    await addApiKey(deps, {
      name: "k",
      type: "pubKey",
      clientPublicKey: ED25519_PUBLIC_PEM,
      maxScope: ["pki:read"],
      callerScope: ALL,
    })
  ).apiKeyId;
}

/** The generation the secret verifies as, or the error code it is refused with. */
async function secretWorks(deps: TestDeps, apiKeyId: string, secret: string): Promise<number | string> {
  try {
    return (await verifySecret(deps, { apiKeyId, secret })).matchedGeneration;
  } catch (err) {
    return codeOf(Promise.reject(err));
  }
}

let nonceCounter = 0;

/** A client_signature-style signature made with `sign`; the generation it verifies as, or the error code. */
async function signatureWorks(
  deps: TestDeps,
  apiKeyId: string,
  signWith: (payload: Buffer) => string,
): Promise<number | string> {
  const timestamp = deps.clock.now();
  const nonce = `n${++nonceCounter}`;
  const payload = grantSigningPayload(timestamp, nonce, undefined);
  try {
    return (
      await verifySignature(deps, {
        apiKeyId,
        timestamp,
        nonce,
        payload,
        signature: signWith(Buffer.from(payload)),
      })
    ).matchedGeneration;
  } catch (err) {
    return codeOf(Promise.reject(err));
  }
}

function ed25519Pair() {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  return {
    pem: publicKey.export({ type: "spki", format: "pem" }).toString(),
    sign: (payload: Buffer) => sign(null, payload, privateKey).toString("base64"),
  };
}

describe("rotateApiKey (API.md section 10)", () => {
  it("gives a secret key a generated 256-bit secret, shown once; both secrets work until the grace period ends", async () => {
    const deps = makeDeps();
    const apiKeyId = await secretKey(deps);
    const start = deps.clock.now();
    const res = await rotateApiKey(deps, { apiKeyId, gracePeriod: 1500, callerScope: ALL });
    assert.equal(res.apiKeyId, apiKeyId);
    assert.equal(res.previousCredentialExpiresAt, start + 1500);
    assert.match(res.clientSecret ?? "", /^[A-Za-z0-9_-]{43}$/);
    const generated = res.clientSecret as string;
    assert.equal(await secretWorks(deps, apiKeyId, generated), 1);
    assert.equal(await secretWorks(deps, apiKeyId, SECRET), 0);
    assert.equal((await getApiKey(deps, apiKeyId)).previousCredentialExpiresAt, start + 1500);

    deps.clock.set(start + 1499);
    assert.equal(await secretWorks(deps, apiKeyId, SECRET), 0);
    deps.clock.set(start + 1500);
    assert.equal(await secretWorks(deps, apiKeyId, SECRET), "auth.invalid_credentials");
    assert.equal(await secretWorks(deps, apiKeyId, generated), 1);
    assert.equal((await getApiKey(deps, apiKeyId)).previousCredentialExpiresAt, undefined);
    assert.equal((await listApiKeys(deps))[0]?.previousCredentialExpiresAt, undefined);
  });

  it("seals the new secret at rest and never returns a secret it did not generate", async () => {
    const deps = makeDeps();
    const apiKeyId = await secretKey(deps);
    const res = await rotateApiKey(deps, { apiKeyId, clientSecret: NEW_SECRET, callerScope: ALL });
    assert.deepEqual(Object.keys(res).sort(), ["apiKeyId", "previousCredentialExpiresAt"]);
    const stored = JSON.stringify(await deps.store.get(apiKeyId));
    assert.ok(!stored.includes(NEW_SECRET) && !stored.includes(SECRET), "no plain secret at rest");
    assert.ok(!JSON.stringify(await getApiKey(deps, apiKeyId)).includes("ealed"));
    assert.equal(await secretWorks(deps, apiKeyId, NEW_SECRET), 1);
    assert.equal(await secretWorks(deps, apiKeyId, SECRET), 0);
  });

  it("defaults the grace period to 24 h and announces the rotation", async () => {
    const deps = makeDeps();
    const apiKeyId = await secretKey(deps);
    const res = await rotateApiKey(deps, { apiKeyId, clientSecret: NEW_SECRET, callerScope: ALL });
    assert.equal(res.previousCredentialExpiresAt, deps.clock.now() + DEFAULT_GRACE_PERIOD_MS);
    const event = deps.events.events.at(-1);
    assert.equal(event?.type, "rotated");
    assert.equal(event?.type === "rotated" && event.after.credentialGeneration, 1);
    assert.equal(event?.type === "rotated" && event.after.previousCredentialExpiresAt, res.previousCredentialExpiresAt);
  });

  it("with a grace period of 0 refuses the previous secret at once", async () => {
    const deps = makeDeps();
    const apiKeyId = await secretKey(deps);
    await rotateApiKey(deps, { apiKeyId, clientSecret: NEW_SECRET, gracePeriod: 0, callerScope: ALL });
    assert.equal(await secretWorks(deps, apiKeyId, SECRET), "auth.invalid_credentials");
    assert.equal(await secretWorks(deps, apiKeyId, NEW_SECRET), 1);
    assert.equal((await getApiKey(deps, apiKeyId)).previousCredentialExpiresAt, undefined);
  });

  it("keeps at most two credentials: a second rotation drops the older previous one at once", async () => {
    const deps = makeDeps();
    const apiKeyId = await secretKey(deps);
    await rotateApiKey(deps, { apiKeyId, clientSecret: NEW_SECRET, callerScope: ALL });
    const third = "a-third-client-secret-of-more-than-32-chars";
    await rotateApiKey(deps, { apiKeyId, clientSecret: third, callerScope: ALL });
    assert.equal(await secretWorks(deps, apiKeyId, SECRET), "auth.invalid_credentials");
    assert.equal(await secretWorks(deps, apiKeyId, NEW_SECRET), 1);
    assert.equal(await secretWorks(deps, apiKeyId, third), 2);
  });

  it("secret keys sign with either secret during the grace period, and only the new one after", async () => {
    const deps = makeDeps();
    const apiKeyId = await secretKey(deps);
    await rotateApiKey(deps, { apiKeyId, clientSecret: NEW_SECRET, gracePeriod: 1000, callerScope: ALL });
    assert.equal(await signatureWorks(deps, apiKeyId, (p) => hmacSignature(SECRET, p)), 0);
    assert.equal(await signatureWorks(deps, apiKeyId, (p) => hmacSignature(NEW_SECRET, p)), 1);
    deps.clock.set(deps.clock.now() + 1000);
    assert.equal(await signatureWorks(deps, apiKeyId, (p) => hmacSignature(SECRET, p)), "auth.invalid_credentials");
    assert.equal(await signatureWorks(deps, apiKeyId, (p) => hmacSignature(NEW_SECRET, p)), 1);
  });

  it("gives a public-key key a new Ed25519 key; both keys sign until the grace period ends", async () => {
    const deps = makeDeps();
    const oldPair = ed25519Pair();
    const apiKeyId = (
      await addApiKey(deps, {
        name: "k",
        type: "pubKey",
        clientPublicKey: oldPair.pem,
        maxScope: [],
        callerScope: ALL,
      })
    ).apiKeyId;
    const newPair = ed25519Pair();
    const res = await rotateApiKey(deps, {
      apiKeyId,
      clientPublicKey: newPair.pem,
      gracePeriod: 2000,
      callerScope: ALL,
    });
    assert.equal(res.clientSecret, undefined);
    assert.equal((await getApiKey(deps, apiKeyId)).clientPublicKey, newPair.pem);
    assert.equal(await signatureWorks(deps, apiKeyId, oldPair.sign), 0);
    assert.equal(await signatureWorks(deps, apiKeyId, newPair.sign), 1);
    deps.clock.set(deps.clock.now() + 2000);
    assert.equal(await signatureWorks(deps, apiKeyId, oldPair.sign), "auth.invalid_credentials");
    assert.equal(await signatureWorks(deps, apiKeyId, newPair.sign), 1);
  });

  it("refuses the other type's field, a missing or invalid public key and bad lengths with -32602", async () => {
    const deps = makeDeps();
    const secretId = await secretKey(deps);
    const pubId = await pubKeyKey(deps);
    const cases = [
      { apiKeyId: secretId, clientPublicKey: ED25519_PUBLIC_PEM },
      { apiKeyId: secretId, clientSecret: NEW_SECRET, clientPublicKey: ED25519_PUBLIC_PEM },
      { apiKeyId: secretId, clientSecret: "too-short" },
      { apiKeyId: pubId, clientSecret: NEW_SECRET },
      { apiKeyId: pubId },
      { apiKeyId: pubId, clientPublicKey: "-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n" },
      { apiKeyId: secretId, gracePeriod: -1 },
      { apiKeyId: secretId, gracePeriod: MAX_GRACE_PERIOD_MS + 1 },
      { apiKeyId: secretId, gracePeriod: 1.5 },
    ];
    for (const c of cases) {
      assert.equal(
        await codeOf(rotateApiKey(deps, { ...c, callerScope: ALL })),
        "rpc.invalid_params",
        JSON.stringify(c),
      );
    }
    assert.equal(await secretWorks(deps, secretId, SECRET), 0, "nothing changed");
    assert.equal(deps.events.events.filter((e) => e.type === "rotated").length, 0);
    assert.equal(
      await codeOf(rotateApiKey(deps, { apiKeyId: secretId, gracePeriod: MAX_GRACE_PERIOD_MS, callerScope: ALL })),
      "ok",
    );
    assert.match(String(await errorData(rotateApiKey(deps, { apiKeyId: pubId, callerScope: ALL }))), /clientPubKey/);
  });

  it("refuses an unknown key with 71 and a caller lacking the key's scopes with 73, changing nothing", async () => {
    const deps = makeDeps();
    const apiKeyId = await secretKey(deps, ["pki:read", "pkiadmin:write"]);
    assert.equal(
      await codeOf(rotateApiKey(deps, { apiKeyId: "0123456789abcdef01234567", callerScope: ALL })),
      "apikey.not_found",
    );
    assert.equal(
      await codeOf(rotateApiKey(deps, { apiKeyId, callerScope: ["user:read_write", "pki:read"] })),
      "auth.insufficient_scope",
    );
    assert.equal(await secretWorks(deps, apiKeyId, SECRET), 0);
    assert.equal((await getApiKey(deps, apiKeyId)).previousCredentialExpiresAt, undefined);
    assert.equal(
      await codeOf(rotateApiKey(deps, { apiKeyId, callerScope: ["user:write", "pki:read", "pkiadmin:write"] })),
      "ok",
    );
  });
});
