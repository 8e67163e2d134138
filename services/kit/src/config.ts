import { z } from "zod";

/**
 * Validates the environment against a schema once at start. Every problem is
 * listed, not just the first; the caller decides to exit.
 */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join("\n  ")}`);
    this.name = "ConfigError";
  }
}

export function parseConfig<T extends z.ZodType>(schema: T, env: Record<string, string | undefined>): z.infer<T> {
  const result = schema.safeParse(env);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((i) => `${i.path.length > 0 ? i.path.join(".") : "(env)"}: ${i.message}`),
    );
  }
  return result.data;
}

/** Loads config or prints every problem and exits 1. */
export function loadConfigOrExit<T extends z.ZodType>(schema: T, env: Record<string, string | undefined>): z.infer<T> {
  try {
    return parseConfig(schema, env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}

/** Reusable field parsers for env values. */
export const env = {
  port: (def: number) => z.coerce.number().int().min(0).max(65535).default(def),
  positiveInt: (def: number) => z.coerce.number().int().positive().default(def),
  bool: (def: boolean) =>
    z
      .enum(["true", "false", "1", "0", ""])
      .default(def ? "true" : "false")
      .transform((v) => v === "true" || v === "1"),
  optionalString: () =>
    z
      .string()
      .optional()
      .transform((v) => (v === undefined || v === "" ? undefined : v)),
  /** host:port of a peer service. */
  address: (def: string) =>
    z
      .string()
      .regex(/^[^\s:]+:\d+$|^\[[0-9a-fA-F:]+\]:\d+$/, "expected host:port")
      .default(def),
  url: () =>
    z
      .string()
      .url()
      .optional()
      .or(z.literal("").transform(() => undefined)),
};

export { z };
