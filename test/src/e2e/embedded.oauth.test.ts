import assert from "node:assert/strict";
import { it } from "node:test";
import { describeOnForm, usedSecrets } from "./auth.suite";
import { oauthSuite } from "./oauth.suite";

const ISSUER = "https://pki.example.test/directory";

// An issuer of the operator's choice reaches both auth (signing) and the gateway (verifying).
describeOnForm(
  "embedded form: OAuth 2.0 and discovery",
  "embedded",
  (ctx) => {
    oauthSuite(ctx);

    it("the metadata's issuer is PMX_ISSUER, and the endpoints sit under it", async () => {
      const meta = (await (await fetch(`${ctx().sys.url}/.well-known/oauth-authorization-server`)).json()) as Record<
        string,
        string
      >;
      assert.equal(meta.issuer, ISSUER);
      assert.equal(meta.token_endpoint, `${ISSUER}/oauth2/token`);
    });

    it("logs never contain a secret or token used in this run", () => {
      assert.ok(usedSecrets.size > 10, "the run used secrets to look for");
      for (const secret of usedSecrets) {
        assert.equal(
          ctx().sys.logs.find((l) => l.includes(secret)),
          undefined,
          "a log line contains a secret",
        );
      }
    });
  },
  { PMX_ISSUER: ISSUER },
);
