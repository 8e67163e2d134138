import assert from "node:assert/strict";
import { describe, it } from "node:test";
import jsonSchemaMeta from "@json-schema-tools/meta-schema";
import metaSchema from "@open-rpc/meta-schema";
import Ajv from "ajv";
import { METHOD_NAMES, METHOD_SPECS } from "./methods";
import { openRpcDocument } from "./openrpc";

type Method = {
  name: string;
  params: { name: string; required?: boolean; schema: Record<string, unknown> }[];
  result: { schema: Record<string, unknown> };
  errors: { code: number }[];
  "x-scope": string | null;
  "x-params-schema": Record<string, unknown>;
};

describe("OpenRPC document", () => {
  const doc = openRpcDocument({ version: "1.2.3", url: "http://localhost:8101/main" });
  const methods = doc.methods as Method[];

  it("is valid against the OpenRPC meta-schema", () => {
    const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
    // The OpenRPC meta-schema refers to the JSON Schema meta-schema it is written in, by its id.
    const { $schema: _a, ...jsonMeta } = jsonSchemaMeta as unknown as Record<string, unknown>;
    ajv.addSchema(jsonMeta, "https://meta.json-schema.tools");
    const { $schema: _b, ...schema } = metaSchema as unknown as Record<string, unknown>;
    const validate = ajv.compile(schema);
    const ok = validate(doc);
    assert.ok(ok, JSON.stringify(validate.errors?.slice(0, 5), null, 2));
  });

  it("lists every method of the table, each with its scope, a result schema and its errors", () => {
    assert.deepEqual(
      methods.map((m) => m.name),
      METHOD_NAMES,
    );
    for (const m of methods) {
      const spec = METHOD_SPECS[m.name as keyof typeof METHOD_SPECS];
      assert.equal(m["x-scope"], spec.scope, m.name);
      assert.ok(Object.keys(m.result.schema).length > 0, `${m.name} documents its result`);
      assert.ok(
        m.errors.some((e) => e.code === -32602),
        `${m.name} lists -32602`,
      );
      if (spec.scope !== null)
        assert.ok(
          m.errors.some((e) => e.code === 73),
          `${m.name} lists 73`,
        );
    }
  });

  it("describes params with the gateway's own bounds", () => {
    const verifyKey = methods.find((m) => m.name === "pki/verifyKey") as Method;
    assert.deepEqual(
      verifyKey.params.map((p) => [p.name, p.required]),
      [
        ["userId", true],
        ["instanceId", true],
        ["contextId", true],
        ["userPubKey", true],
        ["date", true],
      ],
    );
    assert.deepEqual(verifyKey.params[0]?.schema, { type: "string", minLength: 3, maxLength: 128 });
    const token = methods.find((m) => m.name === "auth/token") as Method;
    const grantType = token.params.find((p) => p.name === "grantType");
    assert.deepEqual(grantType?.schema.enum, ["client_credentials", "refresh_token", "client_signature"]);
    assert.equal(grantType?.required, true);
    assert.equal(token.params.find((p) => p.name === "clientSecret")?.required, false);
  });

  it("agrees with the validator: a params schema accepts what the gateway accepts and refuses unknown keys", () => {
    const ajv = new Ajv({ strict: false });
    const params = (methods.find((m) => m.name === "pki/getKeyAt") as Method)["x-params-schema"];
    const validate = ajv.compile(params);
    const good = {
      userId: "user1",
      instanceId: "8UV7xqdcyqYDcZomeZbv4YNXLhikz1gt5teR9Qgot8xknL6nhH",
      contextId: "ctx-1",
      date: 1,
    };
    METHOD_SPECS["pki/getKeyAt"].params.parse(good, []);
    assert.equal(validate(good), true);
    assert.equal(validate({ ...good, extra: 1 }), false);
    assert.equal(validate({ ...good, userId: "ab" }), false);
  });
});
