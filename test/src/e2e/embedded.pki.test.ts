import { after, before, describe } from "node:test";
import { startForm } from "../support/forms";
import { type Ctx, prepare } from "./auth.suite";
import { pkiSuite } from "./pki.suite";

describe("embedded form: PKI", () => {
  let ctx: Ctx;
  before(async () => {
    ctx = await prepare(await startForm("embedded"));
  });
  after(() => ctx.sys.stop());
  pkiSuite(() => ctx);
});
