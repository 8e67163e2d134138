import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { admitCaller, bearerToken, INTERNAL_CALLER, statedCaller } from "./call-auth";
import { AppError } from "./errors";

const codeOf = (fn: () => void): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (err) {
    assert.ok(err instanceof AppError);
    return err.code;
  }
};

describe("call authentication rules", () => {
  it("admits anyone to an open RPC, and refuses a scoped one without a caller (14) or its scope (73)", () => {
    assert.equal(
      codeOf(() => admitCaller("open", undefined)),
      undefined,
    );
    assert.equal(
      codeOf(() => admitCaller("user:write", undefined)),
      "auth.unauthorized",
    );
    const reader = { apiKeyId: "k", scopes: ["user:read", "pki:read"] };
    assert.equal(
      codeOf(() => admitCaller("user:write", reader)),
      "auth.insufficient_scope",
    );
    assert.equal(
      codeOf(() => admitCaller("pki:read", reader)),
      undefined,
    );
  });

  it("requires an API key, not the internal component itself, for RPCs that act for the caller", () => {
    assert.equal(
      codeOf(() => admitCaller("caller", INTERNAL_CALLER)),
      "auth.unauthorized",
    );
    assert.equal(
      codeOf(() => admitCaller("caller", { apiKeyId: "k", scopes: [] })),
      undefined,
    );
    assert.equal(
      codeOf(() => admitCaller("pkiadmin:write", INTERNAL_CALLER)),
      undefined,
    );
  });

  it("reads the caller an mTLS peer states, expanding its scopes and bounding what it may state", () => {
    assert.equal(statedCaller(undefined, undefined), INTERNAL_CALLER);
    assert.deepEqual(statedCaller("k", "user:read_write pki:read"), {
      apiKeyId: "k",
      scopes: ["user:read", "user:write", "pki:read"],
    });
    assert.deepEqual(statedCaller("k", undefined), { apiKeyId: "k", scopes: [] });
    assert.equal(
      codeOf(() => statedCaller("k".repeat(200), "")),
      "auth.unauthorized",
    );
    assert.equal(
      codeOf(() => statedCaller("k", "x".repeat(600))),
      "auth.unauthorized",
    );
  });

  it("takes a Bearer token from the authorization metadata and nothing else", () => {
    assert.equal(bearerToken("Bearer abc.def.ghi"), "abc.def.ghi");
    assert.equal(bearerToken("bearer abc"), "abc");
    assert.equal(bearerToken("Basic YTpi"), undefined);
    assert.equal(bearerToken("Bearer "), undefined);
    assert.equal(bearerToken(undefined), undefined);
  });
});
