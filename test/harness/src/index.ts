import { randomBytes } from "node:crypto";

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

let pending: Promise<Infra> | undefined;

/** The run's MongoDB and NATS: from PMX_TEST_MONGO_URL / PMX_TEST_NATS_URL. */
export function getInfra(): Promise<Infra> {
  pending ??= (async () => {
    const mongoUrl = process.env.PMX_TEST_MONGO_URL;
    const natsUrl = process.env.PMX_TEST_NATS_URL;
    if (!mongoUrl || !natsUrl) {
      throw new Error(
        "integration tests need MongoDB and NATS: set PMX_TEST_MONGO_URL and PMX_TEST_NATS_URL, " +
          "or run them through `npm test`, which starts them",
      );
    }
    return { mongoUrl, natsUrl, freshName };
  })();
  return pending;
}
