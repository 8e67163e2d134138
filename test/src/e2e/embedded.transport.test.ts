import { after, before, describe } from "node:test";
import { startForm, type TestSystem } from "../support/forms";
import { transportSuite } from "./transport.suite";

describe("embedded form: transport", () => {
  let sys: TestSystem;
  before(async () => {
    sys = await startForm("embedded");
  });
  after(() => sys.stop());
  transportSuite(() => sys);
});
