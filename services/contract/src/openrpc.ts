import { ErrorCatalogue, type ErrorCode } from "@pkiserver/kit/core";
import { METHOD_NAMES, METHOD_SPECS, type MethodSpec } from "./methods";
import type { JsonSchema } from "./schema";

/** Errors any method may answer, besides its own. */
const EVERY_METHOD: readonly ErrorCode[] = [
  "rpc.invalid_params",
  "rpc.internal",
  "rpc.unavailable",
  "rpc.too_many_requests",
];
/** Errors of a method that needs credentials. */
const AUTHENTICATED: readonly ErrorCode[] = [
  "auth.unauthorized",
  "auth.insufficient_scope",
  "auth.token_expired",
  "auth.token_invalid",
];

interface ContentDescriptor {
  name: string;
  schema: JsonSchema;
  required?: boolean;
  description?: string;
}

/**
 * The params of a method as OpenRPC content descriptors (by name). A method
 * whose params are one of several shapes (chosen by a tag such as
 * `grantType`) lists every key once; a key is required when every shape
 * requires it, and the whole params schema is given under `x-params-schema`.
 */
function paramsOf(spec: MethodSpec): ContentDescriptor[] {
  const whole = spec.params.jsonSchema();
  const shapes = (Array.isArray(whole.oneOf) ? whole.oneOf : [whole]) as JsonSchema[];
  const names: string[] = [];
  const schemas = new Map<string, JsonSchema[]>();
  for (const shape of shapes) {
    for (const [name, schema] of Object.entries((shape.properties ?? {}) as Record<string, JsonSchema>)) {
      if (!schemas.has(name)) {
        names.push(name);
        schemas.set(name, []);
      }
      schemas.get(name)?.push(schema);
    }
  }
  return names.map((name) => {
    const all = schemas.get(name) ?? [];
    const distinct = [...new Map(all.map((s) => [JSON.stringify(s), s])).values()];
    const enums = distinct.every((s) => Array.isArray(s.enum))
      ? { type: "string", enum: distinct.flatMap((s) => s.enum as string[]) }
      : undefined;
    const schema = enums ?? (distinct.length === 1 ? (distinct[0] as JsonSchema) : { oneOf: distinct });
    const required = shapes.every((shape) => ((shape.required ?? []) as string[]).includes(name));
    return { name, schema, required };
  });
}

export interface OpenRpcOptions {
  version: string;
  /** Where the server answers (`http://host:port/main`), when known. */
  url?: string;
}

/**
 * The OpenRPC 1.3 document of the public API, made from the same method
 * table and schemas the gateway validates with: it cannot disagree with them.
 * Each method carries the scope it needs in `x-scope` (null: no credentials).
 */
export function openRpcDocument(opts: OpenRpcOptions): Record<string, unknown> {
  const errorObject = (code: ErrorCode) => ({
    code: ErrorCatalogue[code].rpc,
    message: ErrorCatalogue[code].message,
  });
  const methods = METHOD_NAMES.map((name) => {
    const spec: MethodSpec = METHOD_SPECS[name];
    const errors = [
      ...new Set([...(spec.errors ?? []), ...EVERY_METHOD, ...(spec.scope === null ? [] : AUTHENTICATED)]),
    ];
    return {
      name,
      summary: spec.summary,
      paramStructure: "by-name",
      params: paramsOf(spec),
      result: { name: "result", schema: spec.result ?? {} },
      errors: errors.map(errorObject),
      "x-scope": spec.scope,
      "x-params-schema": spec.params.jsonSchema(),
      ...(spec.websocketOnly ? { "x-websocket-only": true } : {}),
    };
  });
  return {
    openrpc: "1.3.2",
    info: {
      title: "pkiserver",
      version: opts.version,
      description:
        "A PKI directory for PrivMX Bridge deployments: hosts, user-key histories, API keys and tokens. " +
        "JSON-RPC 2.0 over HTTP POST and WebSocket at /main. The admin namespace is also accepted as pkiadmin/.",
    },
    ...(opts.url === undefined ? {} : { servers: [{ name: "pkiserver", url: opts.url }] }),
    methods,
  };
}
