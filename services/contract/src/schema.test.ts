import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AppError } from "@pkiserver/kit/core";
import { array, integer, json, literal, object, oneOf, optional, parseParams, pubKey, refine, string } from "./schema";

function dataOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof AppError);
    assert.equal(err.code, "rpc.invalid_params");
    return err.data;
  }
  assert.fail("expected -32602");
}

const VALID_1 = "8UV7xqdcyqYDcZomeZbv4YNXLhikz1gt5teR9Qgot8xknL6nhH";
const VALID_2 = "51WPnnGwztNPWUDEbhncYDxZCZWAFS4M9Yqv94N2335nL92fEn";

describe("params schema", () => {
  const s = object({ userId: string(3, 128), scope: array(string(0, 10), 0, 2), note: optional(string(0, 5)) });

  it("names the field and both lengths when a string is too short", () => {
    assert.equal(
      dataOf(() => parseParams(s, { userId: "a", scope: [] })),
      "userId -> Invalid length! Expected min 3, get 1",
    );
  });

  it("refuses strings that are not well-formed Unicode (a lone surrogate), which no service could store as given", () => {
    assert.equal(
      dataOf(() => parseParams(s, { userId: "\ud800abc", scope: [] })),
      "userId -> Expected well-formed Unicode string",
    );
    assert.equal(
      dataOf(() => parseParams(s, { userId: "abc", scope: ["ok", "x\udc00"] })),
      "scope -> 1 -> Expected well-formed Unicode string",
    );
    assert.deepEqual(parseParams(s, { userId: "żółw😀", scope: [] }), { userId: "żółw😀", scope: [] });
  });

  it("names the array index of a wrongly typed element", () => {
    assert.equal(
      dataOf(() => parseParams(s, { userId: "abc", scope: [1] })),
      "scope -> 0 -> Expected string",
    );
  });

  it("names a missing required key", () => {
    assert.equal(
      dataOf(() => parseParams(s, { scope: [] })),
      "Key 'userId' is required",
    );
  });

  it("refuses unknown keys", () => {
    assert.equal(
      dataOf(() => parseParams(s, { userId: "abc", scope: [], foo: 1 })),
      "Unexpected key 'foo'",
    );
  });

  it("enforces array length ranges", () => {
    assert.equal(
      dataOf(() => parseParams(s, { userId: "abc", scope: ["a", "b", "c"] })),
      "scope -> Invalid length! Expected max 2, get 3",
    );
  });

  it("accepts optional keys absent and returns only known keys", () => {
    assert.deepEqual(parseParams(s, { userId: "abc", scope: ["x"] }), { userId: "abc", scope: ["x"] });
  });

  it("treats absent params as an empty object", () => {
    assert.deepEqual(parseParams(object({}), undefined), {});
    assert.equal(
      dataOf(() => parseParams(s, undefined)),
      "Key 'userId' is required",
    );
  });

  it("refuses positional params unless empty for a method with nothing required", () => {
    assert.deepEqual(parseParams(object({}), []), {});
    assert.equal(
      dataOf(() => parseParams(s, [])),
      "Expected object",
    );
    assert.equal(
      dataOf(() => parseParams(object({}), [1])),
      "Expected object",
    );
  });

  it("accepts only non-negative integers for timestamps", () => {
    const t = object({ date: integer() });
    assert.deepEqual(parseParams(t, { date: 0 }), { date: 0 });
    assert.equal(
      dataOf(() => parseParams(t, { date: -1 })),
      "date -> Invalid value! Expected min 0, get -1",
    );
    assert.equal(
      dataOf(() => parseParams(t, { date: 1.5 })),
      "date -> Expected integer",
    );
    assert.equal(
      dataOf(() => parseParams(t, { date: "1" })),
      "date -> Expected number",
    );
  });

  it("checks public keys with pki's validator and names the field", () => {
    // The validator itself is tested where it lives (services/pki, domain/pubkey).
    const p = object({ hostPubKey: pubKey() });
    assert.deepEqual(parseParams(p, { hostPubKey: VALID_1 }), { hostPubKey: VALID_1 });
    assert.deepEqual(parseParams(p, { hostPubKey: VALID_2 }), { hostPubKey: VALID_2 });
    for (const bad of ["abc", `${VALID_1.slice(0, -1)}J`, "not-base58-0OIl"]) {
      assert.equal(
        dataOf(() => parseParams(p, { hostPubKey: bad })),
        "hostPubKey -> Invalid public key",
      );
    }
    assert.equal(
      dataOf(() => parseParams(p, { hostPubKey: 5 })),
      "hostPubKey -> Expected string",
    );
  });

  it("serialises any JSON and refuses more than the byte limit", () => {
    const c = object({ customData: optional(json(16)) });
    assert.deepEqual(parseParams(c, { customData: { a: [1, true] } }), { customData: '{"a":[1,true]}' });
    assert.deepEqual(parseParams(c, { customData: null }), { customData: "null" });
    assert.match(String(dataOf(() => parseParams(c, { customData: "x".repeat(20) }))), /^customData -> /);
  });

  it("refuses a value nested too deeply to serialise as too long, not as a failure", () => {
    const c = object({ customData: optional(json(4096)) });
    const depth = 100_000;
    const deep: unknown = JSON.parse(`${"[".repeat(depth)}${"]".repeat(depth)}`);
    assert.equal(
      dataOf(() => parseParams(c, { customData: deep })),
      "customData -> Serialised value too long! Expected max 4096 bytes",
    );
  });

  it("chooses the variant by its discriminator and names a bad one", () => {
    const u = oneOf("type", {
      a: object({ type: literal("a"), x: string(1, 2) }),
      b: object({ type: literal("b"), y: string(1, 2) }),
    });
    assert.deepEqual(parseParams(u, { type: "b", y: "1" }), { type: "b", y: "1" });
    assert.equal(
      dataOf(() => parseParams(u, { type: "a", y: "1" })),
      "Unexpected key 'y'",
    );
    assert.equal(
      dataOf(() => parseParams(u, { type: "c" })),
      "type -> Expected one of 'a', 'b'",
    );
    assert.equal(
      dataOf(() => parseParams(u, {})),
      "Key 'type' is required",
    );
  });

  it("runs whole-object checks after the shape", () => {
    const r = refine(object({ a: optional(string(0, 1)) }), (v) => (v.a === undefined ? "Need a" : undefined));
    assert.equal(
      dataOf(() => parseParams(r, {})),
      "Need a",
    );
  });
});
