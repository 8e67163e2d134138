import { request } from "node:http";

/** Where the Docker engine API listens, as testcontainers would look for it. */
function dockerEndpoint(): { socketPath: string } | { host: string; port: number } {
  const host = process.env.DOCKER_HOST;
  if (host?.startsWith("tcp://")) {
    const u = new URL(host.replace(/^tcp:/, "http:"));
    return { host: u.hostname, port: Number(u.port || 2375) };
  }
  if (host?.startsWith("unix://")) return { socketPath: host.slice("unix://".length) };
  return { socketPath: "/var/run/docker.sock" };
}

/**
 * Whether a Docker engine answers its ping within `timeoutMs`. Checked before
 * loading testcontainers, whose own discovery takes many seconds to give up.
 */
export function dockerAnswers(timeoutMs = 1000): Promise<boolean> {
  return new Promise((res) => {
    const req = request({ ...dockerEndpoint(), path: "/_ping", method: "GET", timeout: timeoutMs }, (resp) => {
      resp.resume();
      res(resp.statusCode === 200);
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => res(false));
    req.end();
  });
}

export interface ContainerServer {
  readonly url: string;
  stop(): Promise<void>;
}

export async function startNatsContainer(): Promise<ContainerServer> {
  const { GenericContainer, Wait } = await import("testcontainers");
  const c = await new GenericContainer("nats:2")
    .withCommand(["-js"])
    .withExposedPorts(4222)
    .withWaitStrategy(Wait.forLogMessage(/Server is ready/))
    .start();
  return {
    url: `nats://${c.getHost()}:${c.getMappedPort(4222)}`,
    stop: async () => {
      await c.stop();
    },
  };
}

export async function startMongoContainer(): Promise<ContainerServer> {
  const { GenericContainer, Wait } = await import("testcontainers");
  const c = await new GenericContainer("mongo:7")
    .withExposedPorts(27017)
    .withWaitStrategy(Wait.forLogMessage(/Waiting for connections/))
    .start();
  return {
    url: `mongodb://${c.getHost()}:${c.getMappedPort(27017)}/`,
    stop: async () => {
      await c.stop();
    },
  };
}

export async function startRedisContainer(): Promise<ContainerServer & { restart(): Promise<void> }> {
  const { GenericContainer, Wait } = await import("testcontainers");
  const c = await new GenericContainer("redis:7")
    .withExposedPorts(6379)
    .withWaitStrategy(Wait.forLogMessage(/Ready to accept connections/))
    .start();
  return {
    url: `redis://${c.getHost()}:${c.getMappedPort(6379)}`,
    stop: async () => {
      await c.stop();
    },
    restart: async () => {
      await c.restart();
    },
  };
}
