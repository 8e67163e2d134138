import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { startDistributed, startSystem } from "@pkiserver/server";
import { getInfra } from "@pkiserver/test-harness";
import { distributedEnv, SERVER_TEST_ENV } from "./server-env";

export type Form = "embedded" | "distributed";

export interface TestSystem {
  readonly form: Form;
  readonly url: string;
  /** Where the services' gRPC ports listen (the embedded form). */
  readonly grpc?: { readonly apikey: string; readonly auth: string; readonly pki: string; readonly audit: string };
  /** Every log line every process of the system wrote so far. */
  readonly logs: string[];
  readonly initToken: string;
  /** Where the distributed form keeps its state, for tests that read the stored documents. */
  readonly mongo?: { url: string; db: string };
  /** Stops and starts every process again on the same stores (distributed form). */
  restart(): Promise<void>;
  /** One more gateway replica in front of the same services (distributed form). */
  startExtraGateway(): Promise<{ url: string; stop(): Promise<void> }>;
  stop(): Promise<void>;
}

/** Configuration every test system gets; callers may add to it. */
function baseEnv(initToken: string): Record<string, string> {
  return { ...SERVER_TEST_ENV, PMX_INITIALIZATION_TOKEN: initToken, PMX_LOG_LEVEL: "info" };
}

export async function startForm(form: Form, extraEnv: Record<string, string> = {}): Promise<TestSystem> {
  const initToken = `init-${randomBytes(16).toString("hex")}`;
  const logs: string[] = [];
  if (form === "embedded") {
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const line of chunk.toString("utf8").split("\n")) if (line) logs.push(line);
        cb();
      },
    });
    const system = await startSystem({
      env: { ...baseEnv(initToken), PMX_PORT: "0", ...extraEnv },
      logDestination: sink,
    });
    return {
      form,
      url: system.url,
      grpc: system.grpc,
      logs,
      initToken,
      restart: () =>
        Promise.reject(new Error("the embedded form with in-memory stores cannot keep state across restarts")),
      startExtraGateway: () => Promise.reject(new Error("the embedded form has one gateway")),
      stop: () => system.stop(),
    };
  }
  const infra = await getInfra();
  const name = infra.freshName("e2e");
  const system = await startDistributed({
    env: { ...baseEnv(initToken), ...(await distributedEnv(infra, name)), ...extraEnv },
    onOutput: (_name, line) => logs.push(line),
  });
  return {
    form,
    url: system.url,
    logs,
    initToken,
    mongo: { url: infra.mongoUrl, db: name },
    restart: () => system.restart(),
    startExtraGateway: () => system.startExtraGateway(),
    stop: () => system.stop(),
  };
}
