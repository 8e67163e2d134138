import { after, before, describe } from "node:test";
import { startForm } from "../support/forms";
import { auditSuite } from "./audit.suite";
import { type Ctx, prepare } from "./auth.suite";

describe("embedded form: audit log", () => {
  let ctx: Ctx;
  before(async () => {
    ctx = await prepare(await startForm("embedded"));
  });
  after(() => ctx.sys.stop());
  auditSuite(() => ctx);
});
