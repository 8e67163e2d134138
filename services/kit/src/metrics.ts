import { createServer, type Server } from "node:http";
import { status } from "@grpc/grpc-js";
import { Counter, type CounterConfiguration, collectDefaultMetrics, Gauge, Registry } from "prom-client";
import { type HistogramSeries, LabelledHistogram } from "./histogram";

/**
 * The process's Prometheus registry: the gRPC server metrics of every service
 * it runs and, once something exposes it, Node's and the process's default
 * metrics, unprefixed as stock dashboards expect them (`process_cpu_seconds_total`,
 * `nodejs_eventloop_lag_seconds`). One per process, as the process is one scrape target.
 */
const registry = new Registry();
let defaultsCollected = false;

/** The registry to expose; the first call starts collecting the default metrics. */
export function processMetricsRegistry(): Registry {
  if (!defaultsCollected) {
    defaultsCollected = true;
    collectDefaultMetrics({ register: registry });
  }
  return registry;
}

/**
 * A counter whose values are read when it is scraped: `read` calls `add` with
 * each label set's total, kept by its owner as a plain number, so what it
 * counts costs an addition instead of a prom-client `inc` (which validates
 * and hashes the labels on every call).
 */
export function counterReadAtScrape<T extends string>(
  config: Omit<CounterConfiguration<T>, "collect">,
  read: (add: (labels: Partial<Record<T, string | number>>, total: number) => void) => void,
): Counter<T> {
  return new Counter<T>({
    ...config,
    collect() {
      this.reset();
      read((labels, total) => this.inc(labels, total));
    },
  });
}

/** gRPC status names as grpc-go writes them in `grpc_code` (go-grpc-prometheus), for stock dashboards. */
const CODE_NAMES: Record<number, string> = {
  [status.OK]: "OK",
  [status.CANCELLED]: "Canceled",
  [status.UNKNOWN]: "Unknown",
  [status.INVALID_ARGUMENT]: "InvalidArgument",
  [status.DEADLINE_EXCEEDED]: "DeadlineExceeded",
  [status.NOT_FOUND]: "NotFound",
  [status.ALREADY_EXISTS]: "AlreadyExists",
  [status.PERMISSION_DENIED]: "PermissionDenied",
  [status.RESOURCE_EXHAUSTED]: "ResourceExhausted",
  [status.FAILED_PRECONDITION]: "FailedPrecondition",
  [status.ABORTED]: "Aborted",
  [status.OUT_OF_RANGE]: "OutOfRange",
  [status.UNIMPLEMENTED]: "Unimplemented",
  [status.INTERNAL]: "Internal",
  [status.UNAVAILABLE]: "Unavailable",
  [status.DATA_LOSS]: "DataLoss",
  [status.UNAUTHENTICATED]: "Unauthenticated",
};

type Labels = "grpc_type" | "grpc_service" | "grpc_method" | "grpc_code";

type GrpcLabels = Record<Labels, string>;

interface Series {
  readonly labels: GrpcLabels;
  /** Calls completed; the counter reads it at scrape time, so a call costs one addition. */
  count: number;
  readonly seconds: HistogramSeries;
}

/** Every series any method has recorded, for the counter to read at scrape time. */
const allSeries: Series[] = [];
let grpcSeconds: LabelledHistogram | undefined;

/** Made on first use, so a process that serves no gRPC has none. */
function grpcHistogram(): LabelledHistogram {
  if (grpcSeconds === undefined) {
    counterReadAtScrape(
      {
        name: "grpc_server_handled_total",
        help: "RPCs completed on the server, by service, method and status code",
        labelNames: ["grpc_type", "grpc_service", "grpc_method", "grpc_code"],
        registers: [registry],
      },
      (add) => {
        for (const s of allSeries) add(s.labels, s.count);
      },
    );
    grpcSeconds = new LabelledHistogram(
      "grpc_server_handling_seconds",
      "Time the server took to handle an RPC, by service, method and status code",
      [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      [registry],
    );
  }
  return grpcSeconds;
}

/**
 * The metrics of one RPC method. The series of each status code is made once
 * and kept, so a call costs an array read, an addition and one histogram
 * observation.
 */
export class MethodMetrics {
  private readonly byCode: (Series | undefined)[] = [];

  constructor(
    private readonly service: string,
    private readonly method: string,
  ) {}

  /** One finished call with its gRPC status code, after `seconds`. */
  observe(code: number, seconds: number): void {
    let series = this.byCode[code];
    if (series === undefined) {
      const labels = {
        grpc_type: "unary",
        grpc_service: this.service,
        grpc_method: this.method,
        grpc_code: CODE_NAMES[code] ?? "Unknown",
      };
      series = { labels, count: 0, seconds: grpcHistogram().series(labels) };
      allSeries.push(series);
      this.byCode[code] = series;
    }
    series.count++;
    series.seconds.observe(seconds);
  }
}

/** What each running outbox relay holds, summed at scrape time. */
const outboxes = new Set<() => number>();
let outboxGaugeMade = false;

/**
 * Counts the events a relay holds (accepted and stored, not yet acknowledged
 * by NATS) in `pmx_outbox_pending_events`, read at scrape time so publishing
 * costs nothing more. Returns the function that stops counting them.
 */
export function countOutboxPending(read: () => number): () => void {
  if (!outboxGaugeMade) {
    outboxGaugeMade = true;
    new Gauge({
      name: "pmx_outbox_pending_events",
      help: "Events accepted into the MongoDB outbox and not yet acknowledged by the event bus (NATS), in this process",
      registers: [registry],
      collect() {
        let total = 0;
        for (const r of outboxes) total += r();
        this.set(total);
      },
    });
  }
  outboxes.add(read);
  return () => {
    outboxes.delete(read);
  };
}

export interface MetricsServerHandle {
  /** host:port it listens on (the port chosen when 0 was asked). */
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * A small HTTP listener that answers `GET /metrics` with the process's
 * registry (and 404 to anything else), for a service process to be scraped
 * beside its gRPC port.
 */
export async function startMetricsServer(listen: { host: string; port: number }): Promise<MetricsServerHandle> {
  const reg = processMetricsRegistry();
  const server: Server = createServer((req, res) => {
    // Nothing is read from a request: its body, if any, is dropped.
    req.resume();
    if (req.method !== "GET" || (req.url ?? "").split("?")[0] !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain" }).end("Not Found\n");
      return;
    }
    reg.metrics().then(
      (text) => res.writeHead(200, { "content-type": reg.contentType }).end(text),
      () => res.writeHead(500, { "content-type": "text/plain" }).end("metrics unavailable\n"),
    );
  });
  // A scraper sends a small GET and waits; nothing else needs to hold a connection long.
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(listen.port, listen.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : listen.port;
  const host = listen.host.includes(":") ? `[${listen.host}]` : listen.host;
  return {
    address: `${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
