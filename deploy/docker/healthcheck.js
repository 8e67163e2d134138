// The image's HEALTHCHECK (Docker, Podman, Compose; Kubernetes ignores it and
// uses the probes of the manifests). One image runs four different processes,
// so it finds which one runs in the container and asks it as its probe would:
// the gateway on GET /health, a service with grpc.health.v1 Check. Exit 0:
// healthy.

const { readdirSync, readFileSync } = require("node:fs");
const net = require("node:net");

const TIMEOUT_MS = 3000;
const SERVICES = {
  apikey: { listenEnv: "PMX_APIKEY_LISTEN", port: 8111 },
  auth: { listenEnv: "PMX_AUTH_LISTEN", port: 8112 },
  pki: { listenEnv: "PMX_PKI_LISTEN", port: 8113 },
  audit: { listenEnv: "PMX_AUDIT_LISTEN", port: 8114 },
};

/** The component whose main file a process of this container runs (PID 1, or a child of an init). */
function runningComponent() {
  for (const pid of readdirSync("/proc").filter((e) => /^\d+$/.test(e))) {
    let argv;
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    } catch {
      continue;
    }
    for (const arg of argv) {
      const m = /(?:^|\/)(gateway|services\/(apikey|auth|pki|audit))\/dist\/main\.js$/.exec(arg);
      if (m) return m[2] ?? "gateway";
    }
  }
  return undefined;
}

/** The port of a listen address such as 0.0.0.0:8111 or [::]:8111. */
function portOf(listen, fallback) {
  const m = /:(\d+)$/.exec(listen ?? "");
  return m ? Number(m[1]) : fallback;
}

async function checkGateway() {
  const port = Number(process.env.PMX_PORT || 8101);
  const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  return res.ok;
}

function checkTcp(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port, timeout: TIMEOUT_MS });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("timeout", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", () => resolve(false));
  });
}

function checkGrpc(port) {
  // With TLS on the gRPC port the client would need the deployment's
  // certificates and names; an accepted connection is the best check then.
  if (process.env.PMX_GRPC_TLS_CERT) return checkTcp(port);
  const grpc = require("@grpc/grpc-js");
  const { service } = require("grpc-health-check");
  const Health = grpc.makeClientConstructor(service, "Health");
  const client = new Health(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  return new Promise((resolve) => {
    client.Check({ service: "" }, { deadline: Date.now() + TIMEOUT_MS }, (err, res) => {
      client.close();
      resolve(!err && res?.status === "SERVING");
    });
  });
}

async function main() {
  const component = runningComponent();
  if (component === undefined) return false;
  if (component === "gateway") return checkGateway();
  const svc = SERVICES[component];
  return checkGrpc(portOf(process.env[svc.listenEnv], svc.port));
}

main().then(
  (ok) => process.exit(ok ? 0 : 1),
  () => process.exit(1),
);
