import { dockerAnswers, startRedisContainer } from "./docker";
import { findRedisBinary, redisMissingMessage, startLocalRedis } from "./local";

/** A Redis (or Valkey) server for a test. */
export interface TestRedis {
  readonly url: string;
  /** Where it comes from, for the test's log. */
  readonly description: string;
  /** Stops the server (undefined when it is not this process's to stop). */
  readonly stop: (() => Promise<void>) | undefined;
  /** Starts it again on the same address; undefined like stop. */
  readonly restart: (() => Promise<void>) | undefined;
  dispose(): Promise<void>;
}

/**
 * A Redis server for a test: PMX_TEST_REDIS_URL (unless `controllable`: a
 * shared server is not the test's to stop), else a private `redis-server`
 * on a free port, else the redis:7 container when a Docker engine answers.
 */
export async function startRedis(opts: { controllable?: boolean } = {}): Promise<TestRedis> {
  const given = process.env.PMX_TEST_REDIS_URL || undefined;
  if (given && !opts.controllable) {
    return {
      url: given,
      description: "PMX_TEST_REDIS_URL",
      stop: undefined,
      restart: undefined,
      dispose: async () => {},
    };
  }
  const bin = findRedisBinary();
  if (bin) {
    const s = await startLocalRedis({ bin });
    return {
      url: s.url,
      description: `local ${bin} on port ${s.port}`,
      stop: s.stop,
      restart: s.restart,
      dispose: s.dispose,
    };
  }
  if (await dockerAnswers()) {
    const c = await startRedisContainer();
    return { url: c.url, description: "the redis:7 container", stop: undefined, restart: c.restart, dispose: c.stop };
  }
  throw new Error(redisMissingMessage());
}
