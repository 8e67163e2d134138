import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { bearer, call, errCode, ok } from "../support/client";
import { randomPubKey } from "../support/keys";
import { pollUntil } from "../support/wait";
import { auditSuite } from "./audit.suite";
import { authSuite, describeOnForm, tokenFor, usedSecrets } from "./auth.suite";
import { oauthSuite } from "./oauth.suite";
import { pkiSuite } from "./pki.suite";
import { transportSuite } from "./transport.suite";

/** Polls until `probe` holds; events between processes take a moment. */
const eventually = (what: string, probe: () => Promise<boolean>, ms = 10_000) => pollUntil(what, probe, ms, 100);

/**
 * The whole end-to-end suite against the distributed form: five processes,
 * a real MongoDB-compatible server and a real NATS server.
 */
describeOnForm("distributed form", "distributed", (ctx) => {
  describe("transport", () => transportSuite(ctx));
  describe("auth and API keys", () => authSuite(ctx));
  describe("PKI", () => pkiSuite(ctx));
  describe("audit log", () => auditSuite(ctx));
  describe("OAuth 2.0", () => oauthSuite(ctx));

  describe("several gateway replicas", () => {
    it("carries rotations, key changes and deletions to the other gateways as events", async () => {
      const a = ctx().sys.url;
      const b = await ctx().sys.startExtraGateway();
      const admin = bearer(ctx().admin.accessToken);
      const secret = randomBytes(24).toString("base64url");
      usedSecrets.add(secret);
      const { apiKeyId } = await ok<{ apiKeyId: string }>(
        a,
        "user/addApiKey",
        { type: "secret", name: "replicas", clientSecret: secret, maxScope: ["user:read", "pki:read"] },
        admin,
      );
      // Rotation served by A: B refuses the old access token once the event arrives.
      const t1 = await tokenFor(a, apiKeyId, secret, ["user:read"]);
      await ok(b.url, "user/listApiKeys", {}, bearer(t1.accessToken));
      const t1b = await ok<{ accessToken: string; refreshToken: string }>(a, "auth/token", {
        grantType: "refresh_token",
        refreshToken: t1.refreshToken,
      });
      usedSecrets.add(t1b.accessToken);
      usedSecrets.add(t1b.refreshToken);
      await eventually(
        "B refusing the rotated token",
        async () => (await call(b.url, "user/listApiKeys", {}, bearer(t1.accessToken))).error?.code === 75,
      );
      await ok(b.url, "user/listApiKeys", {}, bearer(t1b.accessToken));

      // Narrowing served by A: B refuses the token whose scope is outside it, keeps the other.
      const wide = await tokenFor(a, apiKeyId, secret, ["user:read", "pki:read"]);
      await ok(a, "user/updateApiKey", { apiKeyId, maxScope: ["user:read"] }, admin);
      await eventually(
        "B refusing the token outside the narrowed scope",
        async () => (await call(b.url, "user/listApiKeys", {}, bearer(wide.accessToken))).error?.code === 75,
      );
      await ok(b.url, "user/listApiKeys", {}, bearer(t1b.accessToken));

      // Disabling served by A: B refuses every token of the key.
      await ok(a, "user/updateApiKey", { apiKeyId, enabled: false }, admin);
      await eventually(
        "B refusing the disabled key's token",
        async () => (await call(b.url, "user/listApiKeys", {}, bearer(t1b.accessToken))).error?.code === 75,
      );

      // A gateway started after the change knows it from the start.
      const c = await ctx().sys.startExtraGateway();
      assert.equal((await errCode(c.url, "user/listApiKeys", {}, bearer(t1b.accessToken))).code, 75);
      assert.equal((await errCode(c.url, "user/listApiKeys", {}, bearer(t1.accessToken))).code, 75);
      await ok(c.url, "user/listApiKeys", {}, admin);
      await b.stop();
      await c.stop();
      await ok(a, "user/deleteApiKey", { apiKeyId }, admin);
    });
  });

  describe("restart of every process", () => {
    it("keeps hosts, key histories, API keys and live sessions, and a revoked token stays refused", async () => {
      const url = ctx().sys.url;
      const admin = bearer(ctx().admin.accessToken);
      const secret = randomBytes(24).toString("base64url");
      usedSecrets.add(secret);
      const { apiKeyId } = await ok<{ apiKeyId: string }>(
        url,
        "user/addApiKey",
        { type: "secret", name: "survivor", clientSecret: secret, maxScope: ["pki:read", "pkiadmin:read_write"] },
        admin,
      );
      const live = await tokenFor(url, apiKeyId, secret);
      const revoked = await tokenFor(url, apiKeyId, secret);
      const rotated = await ok<{ accessToken: string; refreshToken: string }>(url, "auth/token", {
        grantType: "refresh_token",
        refreshToken: revoked.refreshToken,
      });
      usedSecrets.add(rotated.accessToken);
      usedSecrets.add(rotated.refreshToken);
      const host = randomPubKey();
      const hostUrl = `survivor-${randomBytes(4).toString("hex")}.example`;
      await ok(url, "pkiAdmin/setHost", { hostPubKey: host, hostUrl }, bearer(live.accessToken));
      const ref = { userId: "survivor", instanceId: host, contextId: "ctx-survivor" };
      const k1 = randomPubKey();
      await ok(url, "pkiAdmin/setKey", { ...ref, userPubKey: k1 }, bearer(live.accessToken));
      await ok(url, "pkiAdmin/deleteKey", ref, bearer(live.accessToken));
      const historyBefore = await ok(url, "pki/getKeyHistory", ref, bearer(live.accessToken));

      await ctx().sys.restart();

      assert.deepEqual(await ok(url, "pki/getHost", { instanceId: host }, bearer(live.accessToken)), {
        instanceId: host,
        hostPubKey: host,
        addresses: [hostUrl],
      });
      assert.deepEqual(await ok(url, "pki/getKeyHistory", ref, bearer(live.accessToken)), historyBefore);
      const key = await ok<{ apiKey: { name: string } }>(url, "user/getApiKey", { apiKeyId }, admin);
      assert.equal(key.apiKey.name, "survivor");
      // The live session still refreshes, and the key's secret still works.
      await ok(url, "auth/token", { grantType: "refresh_token", refreshToken: live.refreshToken });
      await tokenFor(url, apiKeyId, secret);
      // The access token made stale by rotation before the restart is still refused.
      assert.equal((await errCode(url, "pki/getHost", { instanceId: host }, bearer(revoked.accessToken))).code, 75);
      assert.equal(
        (await errCode(url, "auth/token", { grantType: "refresh_token", refreshToken: revoked.refreshToken })).code,
        75,
      );
    });
  });

  describe("logs", () => {
    it("never contain a secret or token used in this run", () => {
      assert.ok(ctx().sys.logs.length > 10);
      for (const secret of usedSecrets) {
        assert.equal(
          ctx().sys.logs.find((l) => l.includes(secret)),
          undefined,
          "a log line contains a secret",
        );
      }
    });
  });
});
