import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startForm } from "../support/forms";
import { authSuite, type Ctx, prepare, usedSecrets } from "./auth.suite";

describe("embedded form: auth and API keys", () => {
  let ctx: Ctx;
  before(async () => {
    ctx = await prepare(await startForm("embedded"));
  });
  after(() => ctx.sys.stop());
  authSuite(() => ctx);

  describe("logs", () => {
    it("never contain a secret or token used in this run", () => {
      assert.ok(ctx.sys.logs.length > 10, "the run produced log lines to check");
      assert.ok(usedSecrets.size > 10, "the run used secrets to look for");
      for (const secret of usedSecrets) {
        const line = ctx.sys.logs.find((l) => l.includes(secret));
        assert.equal(line, undefined, "a log line contains a secret");
      }
    });
  });
});
