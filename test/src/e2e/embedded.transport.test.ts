import { after, before, describe } from "node:test";
import { startForm } from "../support/forms";
import { type Ctx, prepare } from "./auth.suite";
import { transportSuite } from "./transport.suite";

describe("embedded form: transport", () => {
  let ctx: Ctx;
  before(async () => {
    ctx = await prepare(await startForm("embedded"));
  });
  after(() => ctx.sys.stop());
  transportSuite(() => ctx);
});
