// Other languages generate from proto/ with no flag: Go's protoc-gen-go
// (google.golang.org/protobuf, the version pinned in test/infra/grpc-tools;
// PMX_PROTOC_GEN_GO_BIN names a built one), run by buf over every file with a
// template that sets nothing, refuses any file that does not name its Go
// package, and writes each where its go_package says.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";

const repoRoot = join(__dirname, "..", "..", "..");
const given = process.env.PMX_PROTOC_GEN_GO_BIN;
const hasGo = spawnSync("go", ["version"]).status === 0;
if (process.env.CI && !given && !hasGo) {
  throw new Error("CI: PMX_PROTOC_GEN_GO_BIN is unset and Go is missing to build protoc-gen-go");
}

describe("Go code generated from proto/", { skip: given || hasGo ? false : "Go is not installed" }, () => {
  it("needs no flag: every file names its Go package, and the code lands there", () => {
    const plugin =
      given ??
      execFileSync(join(repoRoot, "test", "infra", "build-protoc-gen-go.sh"), {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "inherit"],
      }).trim();
    const out = mkdtempSync(join(tmpdir(), "pkiserver-go-"));
    try {
      const template = JSON.stringify({ version: "v2", plugins: [{ local: plugin, out }] });
      execFileSync(require.resolve("@bufbuild/buf/bin/buf"), ["generate", "--template", template], {
        cwd: join(repoRoot, "proto"),
        stdio: ["ignore", "inherit", "inherit"],
      });
      const expected: [string, string][] = [
        ["pkiserver.local/gen/go/pkiserver/apikey/v1/apikey.pb.go", "apikeyv1"],
        ["pkiserver.local/gen/go/pkiserver/audit/v1/audit.pb.go", "auditv1"],
        ["pkiserver.local/gen/go/pkiserver/auth/v1/auth.pb.go", "authv1"],
        ["pkiserver.local/gen/go/pkiserver/events/v1/events.pb.go", "eventsv1"],
        ["pkiserver.local/gen/go/pkiserver/pki/v1/pki.pb.go", "pkiv1"],
        // The standard protos keep their published packages, so Go code can use grpc-go's and genproto's instead.
        ["google.golang.org/grpc/health/grpc_health_v1/health.pb.go", "grpc_health_v1"],
        ["google.golang.org/genproto/googleapis/rpc/status/status.pb.go", "status"],
        ["google.golang.org/genproto/googleapis/rpc/errdetails/error_details.pb.go", "errdetails"],
      ];
      for (const [file, pkg] of expected) {
        const code = readFileSync(join(out, file), "utf8");
        assert.match(code, new RegExp(`^package ${pkg}$`, "m"), file);
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
