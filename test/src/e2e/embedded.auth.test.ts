import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { authSuite, describeOnForm, usedSecrets } from "./auth.suite";

describeOnForm("embedded form: auth and API keys", "embedded", (ctx) => {
  authSuite(ctx);

  describe("logs", () => {
    it("never contain a secret or token used in this run", () => {
      assert.ok(ctx().sys.logs.length > 10, "the run produced log lines to check");
      assert.ok(usedSecrets.size > 10, "the run used secrets to look for");
      for (const secret of usedSecrets) {
        const line = ctx().sys.logs.find((l) => l.includes(secret));
        assert.equal(line, undefined, "a log line contains a secret");
      }
    });
  });
});
