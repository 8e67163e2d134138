import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AppError } from "./errors";
import { ALL_SCOPES, assertScopesWithin, expandScope, normaliseScopes, parseScopes, scopesWithin } from "./scope";

function invalid(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof AppError);
    assert.equal(err.code, "rpc.invalid_params");
    return String(err.data);
  }
  assert.fail("expected -32602");
}

describe("scope grammar", () => {
  it("expands read_write into read and write, in catalogue order", () => {
    assert.deepEqual(expandScope("user:read_write"), ["user:read", "user:write"]);
    assert.deepEqual(parseScopes(["pkiadmin:write", "user:read_write", "user:read"], "scope", true).scopes, [
      "user:read",
      "user:write",
      "pkiadmin:write",
    ]);
    assert.equal(expandScope("user:admin"), undefined);
    assert.equal(ALL_SCOPES.length, 8);
  });

  it("reads the session, ipAddr and expiresIn modifiers of token requests", () => {
    const r = parseScopes(["pki:read", "session:ci", "ipAddr:2001:db8::1", "expiresIn:60000"], "scope", true);
    assert.deepEqual(r, { scopes: ["pki:read"], sessionName: "ci", ipAddr: "2001:db8::1", expiresIn: 60000 });
    assert.equal(parseScopes(["ipAddr:10.0.0.1"], "scope", true).ipAddr, "10.0.0.1");
  });

  it("refuses modifiers where they are not allowed, naming field and index", () => {
    assert.equal(
      invalid(() => parseScopes(["user:read", "session:x"], "maxScope", false)),
      "maxScope -> 1 -> Modifier 'session' is not allowed here",
    );
  });

  it("refuses unknown scopes, bad modifier values and repeated modifiers", () => {
    assert.match(
      invalid(() => parseScopes(["solution:*"], "scope", true)),
      /^scope -> 0 -> Unknown scope/,
    );
    assert.match(
      invalid(() => parseScopes(["ipAddr:999.1.1.1"], "scope", true)),
      /Invalid IP address/,
    );
    assert.match(
      invalid(() => parseScopes(["expiresIn:0"], "scope", true)),
      /Invalid expiresIn/,
    );
    assert.match(
      invalid(() => parseScopes(["expiresIn:-5"], "scope", true)),
      /Invalid expiresIn/,
    );
    assert.match(
      invalid(() => parseScopes(["session:"], "scope", true)),
      /Invalid session name/,
    );
    assert.match(
      invalid(() => parseScopes(["session:a", "session:b"], "scope", true)),
      /^scope -> 1 -> Duplicated/,
    );
  });

  it("decides containment on expanded scopes and refuses escalation with 73", () => {
    assert.ok(scopesWithin(["user:read"], ["user:read_write"]));
    assert.ok(scopesWithin(["user:read_write"], ["user:read", "user:write"]));
    assert.ok(!scopesWithin(["user:write"], ["user:read"]));
    assert.ok(scopesWithin([], []));
    assert.deepEqual(normaliseScopes(["pki:read", "pki:read"]), ["pki:read"]);
    assert.throws(
      () => assertScopesWithin(["pkiadmin:write"], ["pki:read"]),
      (err: unknown) => err instanceof AppError && err.code === "auth.insufficient_scope",
    );
  });
});
