import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { getInfra } from "@pkiserver/test-harness";
import { bearer, errCode, ok } from "../support/client";
import { startForm } from "../support/forms";
import { randomPubKey } from "../support/keys";

/** ARCHITECTURE "Two ways to run": the one-process form switches to MongoDB and NATS when given their URLs. */
describe("embedded form on MongoDB and NATS", () => {
  it("keeps hosts, keys and API keys across a restart of the process", async () => {
    const infra = await getInfra();
    const name = infra.freshName("embedded_mongo");
    const env = {
      PMX_MONGO_URL: infra.mongoUrl,
      PMX_MONGO_DB: name,
      PMX_NATS_URL: infra.natsUrl,
      PMX_NATS_PREFIX: name,
      PMX_SECRET_KEY: `k1:${randomBytes(32).toString("base64")}`,
    };
    const first = await startForm("embedded", env);
    const key = await ok<{ apiKeyId: string; apiKeySecret: string }>(first.url, "auth/createFirstApiKey", {
      initializationToken: first.initToken,
      name: "persisted",
    });
    const token = await ok<{ accessToken: string; refreshToken: string }>(first.url, "auth/token", {
      grantType: "client_credentials",
      clientId: key.apiKeyId,
      clientSecret: key.apiKeySecret,
      scope: [],
    });
    const host = randomPubKey();
    await ok(
      first.url,
      "pkiAdmin/setHost",
      { hostPubKey: host, hostUrl: `${name}.example` },
      bearer(token.accessToken),
    );
    const ref = { userId: "persisted", instanceId: host, contextId: "ctx-persisted" };
    await ok(first.url, "pkiAdmin/setKey", { ...ref, userPubKey: randomPubKey() }, bearer(token.accessToken));
    const history = await ok(first.url, "pki/getKeyHistory", ref, bearer(token.accessToken));
    await first.stop();

    const second = await startForm("embedded", env);
    try {
      // The key, its session and its signing keys came back from MongoDB.
      const h = bearer(token.accessToken);
      assert.deepEqual(await ok(second.url, "pki/getKeyHistory", ref, h), history);
      assert.equal(
        (await ok<{ instanceId: string }>(second.url, "pki/getHost", { instanceId: host }, h)).instanceId,
        host,
      );
      await ok(second.url, "auth/token", { grantType: "refresh_token", refreshToken: token.refreshToken });
      assert.equal(
        (await errCode(second.url, "auth/createFirstApiKey", { initializationToken: second.initToken, name: "x" }))
          .code,
        96,
        "the stored key is still there",
      );
    } finally {
      await second.stop();
    }
  });
});
