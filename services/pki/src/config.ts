import { env, processEnv, type ServiceConfig, serviceConfigLoader, z } from "@pkiserver/kit/config";
import { parseSignerKey } from "@pkiserver/log";

export interface LogConfig {
  /** The checkpoints' origin line and the signing key's name. */
  readonly origin: string;
  /** PRIVATE+KEY+<origin>+<hash>+<base64(0x01 || seed)>; without it the embedded form makes a key. */
  readonly signingKey: string | undefined;
  /** Test only (PMX_TEST_LOG_OFF): changes are not logged; never set outside the bench. */
  readonly testOff?: boolean;
  /**
   * Test only (PMX_TEST_LOG_FILL): key records appended and sequenced before the service is
   * ready, for the bench's proofs in a large log (storage/log-fill.ts); never set outside the bench.
   */
  readonly testFill?: number;
  /** A checkpoint is signed at least this often (ms) while the log grows. */
  readonly checkpointIntervalMs: number;
}

export interface PkiConfig extends ServiceConfig {
  readonly log: LogConfig;
  /** PMX_PKI_PUBLIC_READ: the pki:read RPCs answer callers without credentials too. */
  readonly publicRead: boolean;
}

export const DEFAULT_LOG_ORIGIN = "pkiserver.local/log";
/** PMX_TEST_LOG_FILL's bound: the process holds every record and entry in memory. */
export const MAX_TEST_FILL = 2_000_000;

function signerName(key: string): string | undefined {
  try {
    return parseSignerKey(key).name;
  } catch {
    return undefined;
  }
}

const load = serviceConfigLoader(
  { name: "PMX_PKI_LISTEN", default: "127.0.0.1:8113" },
  {
    PMX_LOG_ORIGIN: env.optionalString().pipe(
      z
        .string()
        .regex(/^[^\s+]+$/, "must be non-empty, without spaces or '+'")
        .optional(),
    ),
    PMX_LOG_SIGNING_KEY: env.optionalString().superRefine((key, ctx) => {
      if (key !== undefined && signerName(key) === undefined) {
        // Never the key itself in the message.
        ctx.addIssue({ code: "custom", message: "is not a signed-note Ed25519 private key (PRIVATE+KEY+...)" });
      }
    }),
    PMX_LOG_CHECKPOINT_INTERVAL: env.positiveInt(1000),
    PMX_PKI_PUBLIC_READ: env.bool(false),
    // Test only (the bench's setKey without the log, in the same run): changes are not logged.
    PMX_TEST_LOG_OFF: env.bool(false),
    // Test only (the bench's proofs in a large log): records appended before the service is ready.
    PMX_TEST_LOG_FILL: z.coerce.number().int().min(0).max(MAX_TEST_FILL).default(0),
  },
  (v, ctx) => {
    if (v.PMX_TEST_LOG_FILL > 0 && v.PMX_TEST_LOG_OFF) {
      ctx.addIssue({
        code: "custom",
        path: ["PMX_TEST_LOG_FILL"],
        message: "fills the log: not with PMX_TEST_LOG_OFF",
      });
    }
    const name = v.PMX_LOG_SIGNING_KEY === undefined ? undefined : signerName(v.PMX_LOG_SIGNING_KEY);
    if (name !== undefined && v.PMX_LOG_ORIGIN !== undefined && v.PMX_LOG_ORIGIN !== name) {
      ctx.addIssue({ code: "custom", path: ["PMX_LOG_ORIGIN"], message: "must be the name of PMX_LOG_SIGNING_KEY" });
    }
  },
);

/** The pki service's settings from the environment; throws ConfigError listing every problem. */
export function loadConfig(source: Record<string, string | undefined> = processEnv()): PkiConfig {
  const { service, values: c } = load(source);
  const origin =
    c.PMX_LOG_ORIGIN ?? (c.PMX_LOG_SIGNING_KEY === undefined ? DEFAULT_LOG_ORIGIN : signerName(c.PMX_LOG_SIGNING_KEY)!);
  return {
    ...service,
    publicRead: c.PMX_PKI_PUBLIC_READ,
    log: {
      origin,
      signingKey: c.PMX_LOG_SIGNING_KEY,
      checkpointIntervalMs: c.PMX_LOG_CHECKPOINT_INTERVAL,
      ...(c.PMX_TEST_LOG_OFF ? { testOff: true } : {}),
      ...(c.PMX_TEST_LOG_FILL > 0 ? { testFill: c.PMX_TEST_LOG_FILL } : {}),
    },
  };
}
