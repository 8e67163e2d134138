import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { AppError, type Caller, createClient } from "@pkiserver/kit";
import { apikeyV1, pkiV1 } from "@pkiserver/proto";
import { basic, ok } from "../support/client";
import { startForm, type TestSystem } from "../support/forms";
import { HOST_KEYS } from "../support/keys";

const SECRET = "a-client-secret-of-more-than-32-characters";

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof AppError, String(err));
    return err.code;
  }
  return "no error";
}

/*
 * The embedded form's gRPC ports, as an internal consumer reaches them: every
 * call authenticated with an access token that auth issued, verified by the
 * service with auth's keys and revocations, its scope checked by the service.
 */
describe("embedded form: the services' gRPC ports authenticate every call", () => {
  let system: TestSystem;
  let apikey: ReturnType<typeof createClient<apikeyV1.ApiKeyServiceServer>>;
  let pki: ReturnType<typeof createClient<pkiV1.PkiServiceServer>>;
  let first: { apiKeyId: string; apiKeySecret: string };
  const tokenFor = async (scope: string[]): Promise<Caller> => {
    const t = await ok<{ accessToken: string }>(system.url, "auth/token", {
      grantType: "client_credentials",
      clientId: first.apiKeyId,
      clientSecret: first.apiKeySecret,
      scope,
    });
    return { apiKeyId: first.apiKeyId, scopes: [], token: t.accessToken };
  };
  const newKey = (maxScope: string[]) => ({
    name: "internal",
    type: apikeyV1.ApiKeyType.API_KEY_TYPE_SECRET,
    clientSecret: SECRET,
    maxScope,
  });

  before(async () => {
    system = await startForm("embedded");
    first = await ok(system.url, "auth/createFirstApiKey", { initializationToken: system.initToken, name: "first" });
    const grpc = system.grpc;
    assert.ok(grpc);
    apikey = createClient(apikeyV1.ApiKeyServiceService, apikeyV1.ApiKeyServiceClient.serviceName, grpc.apikey);
    pki = createClient(pkiV1.PkiServiceService, pkiV1.PkiServiceClient.serviceName, grpc.pki);
  });

  after(async () => {
    apikey?.close();
    pki?.close();
    await system?.stop();
  });

  it("listens on the ports PMX_*_LISTEN name (here free ones)", () => {
    for (const address of Object.values(system.grpc ?? {})) {
      assert.match(address, /^127\.0\.0\.1:\d+$/);
      assert.ok(Number(address.split(":")[1]) > 0);
    }
  });

  it("refuses AddApiKey without credentials (14), with a token lacking user:write (73); accepts a proper token", async () => {
    assert.equal(await codeOf(apikey.client.addApiKey(newKey(["pkiadmin:read_write"]))), "auth.unauthorized");
    const reader = await tokenFor(["pki:read"]);
    assert.equal(await codeOf(apikey.client.addApiKey(newKey([]), { caller: reader })), "auth.insufficient_scope");
    const admin = await tokenFor([]);
    const { apiKeyId } = await apikey.client.addApiKey(newKey(["pki:read"]), { caller: admin });
    assert.ok(apiKeyId.length > 0);
    // The new key is a real one: the gateway accepts its credentials.
    await ok(system.url, "pki/getCheckpoint", {}, basic(apiKeyId, SECRET));
  });

  it("answers pki reads for a pki:read token, and refuses writes to it", async () => {
    const reader = await tokenFor(["pki:read"]);
    assert.ok((await pki.client.getCheckpoint({}, { caller: reader })).treeSize >= 0);
    assert.equal(
      await codeOf(
        pki.client.setHost({ hostPubKey: HOST_KEYS[0] ?? "", hostUrl: "localhost:3000" }, { caller: reader }),
      ),
      "auth.insufficient_scope",
    );
  });

  it("refuses a token once its session is revoked", async () => {
    const caller = await tokenFor(["user:read"]);
    await apikey.client.listApiKeys({}, { caller });
    const res = await fetch(`${system.url}/oauth2/revoke`, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        authorization: `Basic ${Buffer.from(`${first.apiKeyId}:${first.apiKeySecret}`).toString("base64")}`,
      },
      body: new URLSearchParams({ token: caller.token ?? "" }).toString(),
    });
    assert.equal(res.status, 200);
    // The revocation reaches the services' verifier through the event bus.
    let code = "";
    for (let i = 0; i < 50 && code !== "auth.token_expired"; i++) {
      code = await codeOf(apikey.client.listApiKeys({}, { caller }));
      if (code !== "auth.token_expired") await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(code, "auth.token_expired");
  });
});
