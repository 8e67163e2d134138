import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { it } from "node:test";

it("loading the server, and with it every service and the gateway, loads no test runner", () => {
  // In a fresh process: this one runs under node:test.
  const script = [
    'require("@pkiserver/server");',
    "const loaded = process.moduleLoadList.filter((m) => /^NativeModule (test|internal\\/test_runner\\/)/.test(m));",
    "process.stdout.write(JSON.stringify(loaded));",
  ].join("\n");
  const out = spawnSync(process.execPath, ["-e", script], { cwd: __dirname, encoding: "utf8" });
  assert.equal(out.status, 0, out.stderr);
  assert.deepEqual(JSON.parse(out.stdout), []);
});
