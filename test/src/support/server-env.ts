import { randomBytes } from "node:crypto";
import { freePort } from "@pkiserver/server";

/**
 * Configuration every server under test gets: loopback; the per-client rate
 * limits off (today's single limit and the per-tier ones: tests and
 * benchmarks send bursts from one address, and the limits have tests of
 * their own); the services' gRPC ports on free ports, so that parallel runs do
 * not collide (the distributed launcher picks its own).
 */
export const SERVER_TEST_ENV: Readonly<Record<string, string>> = {
  PMX_HOST: "127.0.0.1",
  PMX_RATE_LIMIT_PER_MINUTE: "0",
  PMX_RATE_LIMITS: "pki=0,pkiadmin=0,user=0,audit=0,auth=0",
  PMX_APIKEY_LISTEN: "127.0.0.1:0",
  PMX_AUTH_LISTEN: "127.0.0.1:0",
  PMX_PKI_LISTEN: "127.0.0.1:0",
  PMX_AUDIT_LISTEN: "127.0.0.1:0",
};

/**
 * The distributed form's own settings on a MongoDB and NATS it shares: a
 * database and subject prefix of its own (`name`), a sealing key, a free
 * gateway port, and the PATH its processes need.
 */
export async function distributedEnv(
  infra: { readonly mongoUrl: string; readonly natsUrl: string },
  name: string,
): Promise<Record<string, string>> {
  return {
    PATH: process.env.PATH ?? "",
    PMX_PORT: String(await freePort()),
    PMX_MONGO_URL: infra.mongoUrl,
    PMX_MONGO_DB: name,
    PMX_NATS_URL: infra.natsUrl,
    PMX_NATS_PREFIX: name,
    PMX_SECRET_KEY: `k1:${randomBytes(32).toString("base64")}`,
  };
}
