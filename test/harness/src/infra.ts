import { randomBytes } from "node:crypto";
import { dockerAnswers, startMongoContainer, startNatsContainer } from "./docker";
import {
  findMongoBinary,
  findNatsBinary,
  mongoMissingMessage,
  natsMissingMessage,
  startLocalMongo,
  startLocalNats,
} from "./local";

/** Where the real MongoDB-compatible server and NATS server of a test run are. */
export interface Infra {
  readonly mongoUrl: string;
  readonly natsUrl: string;
  /**
   * A name no other test file uses: a database name and a subject/stream
   * prefix (letters, digits and underscores, at most 40 characters).
   */
  freshName(label: string): string;
}

export function freshName(label: string): string {
  const clean = label.replace(/[^A-Za-z0-9]/g, "_").slice(0, 24);
  return `t_${clean}_${randomBytes(5).toString("hex")}`;
}

/** The servers of a whole test run, and how to stop the ones this process started. */
export interface SharedInfra {
  readonly mongoUrl: string;
  readonly natsUrl: string;
  /** Where each server comes from, for the run's log. */
  readonly description: string;
  stop(): Promise<void>;
}

export interface SharedInfraOptions {
  /** Build the FerretDB program when no MongoDB-compatible binary is found (slow on a cold cache). */
  build?: boolean;
}

/**
 * Finds or starts one MongoDB-compatible server and one JetStream-enabled
 * nats-server, in this order: PMX_TEST_MONGO_URL / PMX_TEST_NATS_URL; a Docker
 * engine (testcontainers: mongo:7, nats:2 -js); local binaries (`nats-server`;
 * `mongod` or FerretDB). Throws, saying how to provide them, when none is there.
 */
export async function startSharedInfra(opts: SharedInfraOptions = {}): Promise<SharedInfra> {
  let mongoUrl = process.env.PMX_TEST_MONGO_URL || undefined;
  let natsUrl = process.env.PMX_TEST_NATS_URL || undefined;
  const from: string[] = [];
  if (mongoUrl) from.push("MongoDB from PMX_TEST_MONGO_URL");
  if (natsUrl) from.push("NATS from PMX_TEST_NATS_URL");
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => {});
  };
  const notes: string[] = [];

  try {
    if ((!mongoUrl || !natsUrl) && (await dockerAnswers())) {
      try {
        if (!natsUrl) {
          const c = await startNatsContainer();
          stops.push(c.stop);
          natsUrl = c.url;
          from.push("NATS from the nats:2 container");
        }
        if (!mongoUrl) {
          const c = await startMongoContainer();
          stops.push(c.stop);
          mongoUrl = c.url;
          from.push("MongoDB from the mongo:7 container");
        }
      } catch (err) {
        notes.push(`the Docker engine answers, but starting containers failed: ${(err as Error).message}`);
      }
    }

    const missing: string[] = [];
    if (!natsUrl) {
      const bin = findNatsBinary({ build: opts.build });
      if (bin) {
        const s = await startLocalNats({ bin });
        stops.push(s.dispose);
        natsUrl = s.url;
        from.push(`NATS from local nats-server (${bin}) on port ${s.port}`);
      } else {
        missing.push(natsMissingMessage());
      }
    }
    if (!mongoUrl) {
      const found = findMongoBinary({ build: opts.build });
      if (found) {
        const s = await startLocalMongo({ bin: found.bin });
        stops.push(s.dispose);
        mongoUrl = s.url;
        from.push(`MongoDB from local ${s.kind} (${found.bin}) on port ${s.port}`);
      } else {
        missing.push(mongoMissingMessage());
      }
    }
    if (!mongoUrl || !natsUrl) {
      throw new Error(["cannot run the integration tests:", ...missing, ...notes].join("\n  - "));
    }
    return { mongoUrl, natsUrl, description: from.join("; "), stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

let pending: Promise<Infra> | undefined;

/**
 * The run's MongoDB and NATS, found or started once per process (see
 * startSharedInfra; this one never builds FerretDB). Servers it starts stop
 * when the process exits.
 */
export function getInfra(): Promise<Infra> {
  pending ??= startSharedInfra().then(({ mongoUrl, natsUrl }) => ({ mongoUrl, natsUrl, freshName }));
  return pending;
}
