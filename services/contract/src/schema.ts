import { invalidParams } from "@pkiserver/kit/core";
import { isValidPubKey } from "./pubkey";

/*
 * A small declarative validator for JSON-RPC params. Failures are `-32602`
 * with `data` naming the path joined by ` -> ` (API.md section 2), e.g.
 * `userId -> Invalid length! Expected min 3, get 1`.
 */

export type Path = readonly (string | number)[];

/** A JSON Schema (draft 7) object, as OpenRPC documents carry them. */
export type JsonSchema = Record<string, unknown>;

export interface Schema<T> {
  readonly optional: boolean;
  parse(value: unknown, path: Path): T;
  /** The same rules as JSON Schema, for the OpenRPC document. */
  jsonSchema(): JsonSchema;
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

function fail(path: Path, message: string): never {
  throw invalidParams(path.length > 0 ? `${path.join(" -> ")} -> ${message}` : message);
}

const schema = <T>(parse: (value: unknown, path: Path) => T, json: JsonSchema): Schema<T> => ({
  optional: false,
  parse,
  jsonSchema: () => json,
});

/** A lone UTF-16 surrogate: JSON can carry one, UTF-8 (gRPC, storage) cannot, so it would become U+FFFD. */
const LONE_SURROGATE = /\p{Cs}/u;

export function string(min: number, max: number): Schema<string> {
  return schema(
    (value, path) => {
      if (typeof value !== "string") return fail(path, "Expected string");
      if (LONE_SURROGATE.test(value)) return fail(path, "Expected well-formed Unicode string");
      if (value.length < min) return fail(path, `Invalid length! Expected min ${min}, get ${value.length}`);
      if (value.length > max) return fail(path, `Invalid length! Expected max ${max}, get ${value.length}`);
      return value;
    },
    { type: "string", minLength: min, maxLength: max },
  );
}

/** A non-negative integer such as a timestamp in ms; bounded so it survives int64 and JSON. */
export function integer(min = 0, max = Number.MAX_SAFE_INTEGER): Schema<number> {
  return schema(
    (value, path) => {
      if (typeof value !== "number" || !Number.isFinite(value)) return fail(path, "Expected number");
      if (!Number.isInteger(value)) return fail(path, "Expected integer");
      if (value < min) return fail(path, `Invalid value! Expected min ${min}, get ${value}`);
      if (value > max) return fail(path, `Invalid value! Expected max ${max}, get ${value}`);
      return value;
    },
    { type: "integer", minimum: min, maximum: max },
  );
}

export function boolean(): Schema<boolean> {
  return schema(
    (value, path) => {
      if (typeof value !== "boolean") return fail(path, "Expected boolean");
      return value;
    },
    { type: "boolean" },
  );
}

export function array<T>(item: Schema<T>, min: number, max: number): Schema<T[]> {
  return schema(
    (value, path) => {
      if (!Array.isArray(value)) return fail(path, "Expected array");
      if (value.length < min) return fail(path, `Invalid length! Expected min ${min}, get ${value.length}`);
      if (value.length > max) return fail(path, `Invalid length! Expected max ${max}, get ${value.length}`);
      return value.map((v, i) => item.parse(v, [...path, i]));
    },
    { type: "array", items: item.jsonSchema(), minItems: min, maxItems: max },
  );
}

export function literal<const V extends string>(...values: V[]): Schema<V> {
  const allowed = new Set<string>(values);
  return schema(
    (value, path) => {
      if (typeof value !== "string") return fail(path, "Expected string");
      if (!allowed.has(value)) return fail(path, `Expected one of ${values.map((v) => `'${v}'`).join(", ")}`);
      return value as V;
    },
    { type: "string", enum: values },
  );
}

export function pubKey(): Schema<string> {
  return schema(
    (value, path) => {
      if (typeof value !== "string") return fail(path, "Expected string");
      if (!isValidPubKey(value)) return fail(path, "Invalid public key");
      return value;
    },
    {
      type: "string",
      pattern: "^[1-9A-HJ-NP-Za-km-z]{1,64}$",
      description: "base58check of a compressed secp256k1 public key (33 bytes, prefix 02 or 03, a point on the curve)",
    },
  );
}

/** Any JSON value whose serialised form is at most `maxBytes` bytes; returns that serialised form. */
export function json(maxBytes: number): Schema<string> {
  return schema(
    (value, path) => {
      if (value === undefined) return fail(path, "Expected JSON value");
      let text: string;
      try {
        text = JSON.stringify(value);
      } catch {
        // Only nesting too deep for the stack fails here, and such a value is far beyond any byte limit.
        return fail(path, `Serialised value too long! Expected max ${maxBytes} bytes`);
      }
      const size = Buffer.byteLength(text, "utf8");
      if (size > maxBytes) return fail(path, `Serialised value too long! Expected max ${maxBytes} bytes, get ${size}`);
      return text;
    },
    { description: `any JSON value, at most ${maxBytes} bytes serialised` },
  );
}

export function optional<T>(inner: Schema<T>): Schema<T | undefined> {
  return {
    optional: true,
    parse: (value, path) => (value === undefined ? undefined : inner.parse(value, path)),
    jsonSchema: () => inner.jsonSchema(),
  };
}

export type Shape = Record<string, Schema<unknown>>;

type OptionalKeys<S extends Shape> = { [K in keyof S]: undefined extends Infer<S[K]> ? K : never }[keyof S];
type RequiredKeys<S extends Shape> = Exclude<keyof S, OptionalKeys<S>>;
export type ObjectOf<S extends Shape> = { [K in RequiredKeys<S>]: Infer<S[K]> } & {
  [K in OptionalKeys<S>]?: Infer<S[K]>;
};

export interface ObjectSchema<S extends Shape> extends Schema<ObjectOf<S>> {
  readonly shape: S;
  readonly hasRequired: boolean;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** An object with exactly these keys: unknown keys are refused, missing required ones named. */
export function object<S extends Shape>(shape: S): ObjectSchema<S> {
  const keys = Object.keys(shape);
  return {
    optional: false,
    shape,
    hasRequired: keys.some((k) => !shape[k]?.optional),
    jsonSchema: () => ({
      type: "object",
      properties: Object.fromEntries(keys.map((k) => [k, (shape[k] as Schema<unknown>).jsonSchema()])),
      required: keys.filter((k) => !shape[k]?.optional),
      additionalProperties: false,
    }),
    parse(value, path) {
      if (!isPlainObject(value)) return fail(path, "Expected object");
      for (const k of Object.keys(value)) {
        if (!Object.hasOwn(shape, k)) return fail(path, `Unexpected key '${k.length > 64 ? `${k.slice(0, 64)}…` : k}'`);
      }
      const out: Record<string, unknown> = {};
      for (const k of keys) {
        const field = shape[k] as Schema<unknown>;
        const v = Object.hasOwn(value, k) ? value[k] : undefined;
        if (v === undefined && !field.optional) return fail(path, `Key '${k}' is required`);
        const parsed = field.parse(v, [...path, k]);
        if (parsed !== undefined) out[k] = parsed;
      }
      return out as ObjectOf<S>;
    },
  };
}

/** One of several object shapes, chosen by the string value of `key`. */
export function oneOf<const K extends string, V extends Record<string, ObjectSchema<Shape>>>(
  key: K,
  variants: V,
): Schema<{ [T in keyof V]: Infer<V[T]> }[keyof V]> {
  const names = Object.keys(variants);
  const tag = literal(...names);
  return schema(
    (value, path) => {
      if (!isPlainObject(value)) return fail(path, "Expected object");
      if (value[key] === undefined) return fail(path, `Key '${key}' is required`);
      const which = tag.parse(value[key], [...path, key]);
      return (variants[which] as ObjectSchema<Shape>).parse(value, path) as { [T in keyof V]: Infer<V[T]> }[keyof V];
    },
    { oneOf: names.map((n) => (variants[n] as ObjectSchema<Shape>).jsonSchema()) },
  );
}

/** Adds a whole-object check after the shape has been validated. */
export function refine<T>(inner: Schema<T>, check: (value: T) => string | undefined): Schema<T> {
  return {
    optional: inner.optional,
    jsonSchema: () => inner.jsonSchema(),
    parse(value, path) {
      const parsed = inner.parse(value, path);
      const problem = check(parsed);
      if (problem !== undefined) fail(path, problem);
      return parsed;
    },
  };
}

/**
 * Validates `params` of a request: absent means `{}`; methods take named
 * params, so an array is refused unless it is empty and nothing is required.
 */
export function parseParams<T>(s: Schema<T> & { hasRequired?: boolean }, params: unknown): T {
  if (params === undefined) return s.parse({}, []);
  if (Array.isArray(params)) {
    if (params.length === 0 && s.hasRequired === false) return s.parse({}, []);
    return fail([], "Expected object");
  }
  return s.parse(params, []);
}
