import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createLogger } from "./logger";

function logged(obj: Record<string, unknown>): string {
  const lines: string[] = [];
  const log = createLogger({ name: "t", destination: { write: (s: string) => lines.push(s) } });
  log.info(obj, "m");
  return lines.join("");
}

describe("logger redaction", () => {
  it("redacts each named secret at the top level and one level down", () => {
    const names = [
      "secret",
      "clientSecret",
      "apiKeySecret",
      "accessToken",
      "refreshToken",
      "authorization",
      "password",
      "initializationToken",
    ];
    for (const name of names) {
      const line = logged({ [name]: "TOP-VALUE", params: { [name]: "NESTED-VALUE" } });
      assert.doesNotMatch(line, /TOP-VALUE/, `top-level ${name}`);
      assert.doesNotMatch(line, /NESTED-VALUE/, `nested ${name}`);
    }
  });

  it("redacts the user-token header in request headers", () => {
    const line = logged({
      req: { headers: { "x-user-token": "TOKEN-ONE" } },
      headers: { "x-user-token": "TOKEN-TWO" },
    });
    assert.doesNotMatch(line, /TOKEN-ONE|TOKEN-TWO/);
  });
});
