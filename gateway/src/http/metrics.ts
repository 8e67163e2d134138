import { counterReadAtScrape, type HistogramSeries, LabelledHistogram } from "@pkiserver/kit";
import { Counter, Gauge, Registry } from "prom-client";

/**
 * The gateway's Prometheus metrics, in a registry of its own (one per app);
 * `/metrics` serves them with the process's (the kit's registry: Node and
 * process metrics, gRPC server metrics of services in the same process).
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly duration: LabelledHistogram;
  /**
   * Each label set's histogram series and request count, made once: a
   * request then costs a map read, an addition and a bucket search (the
   * counter reads the counts at scrape time).
   */
  private readonly series = new Map<
    string,
    { labels: Record<string, string>; count: number; seconds: HistogramSeries }
  >();
  private readonly wsConnections: Gauge;
  private readonly rateLimited: Counter;
  private readonly connectionsRefused: Counter;
  private readonly rateLimitStoreErrors: Counter;

  constructor() {
    const series = this.series;
    counterReadAtScrape(
      {
        name: "pmx_gateway_rpc_requests_total",
        help: "JSON-RPC requests handled, by method and result code (0: success)",
        labelNames: ["method", "code", "transport"],
        registers: [this.registry],
      },
      (add) => {
        for (const s of series.values()) add(s.labels, s.count);
      },
    );
    this.duration = new LabelledHistogram(
      "pmx_gateway_rpc_request_duration_seconds",
      "Time to handle one JSON-RPC request",
      [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      [this.registry],
    );
    const registers = [this.registry];
    this.wsConnections = new Gauge({
      name: "pmx_gateway_ws_connections",
      help: "Open WebSocket connections",
      registers,
    });
    const counter = (name: string, help: string) => new Counter({ name, help, registers });
    this.rateLimited = counter("pmx_gateway_rate_limited_total", "Requests refused by the rate limit");
    this.rateLimitStoreErrors = counter(
      "pmx_gateway_rate_limit_store_errors_total",
      "Requests accepted uncounted because the shared rate-limit counters (Redis) did not answer",
    );
    this.connectionsRefused = counter(
      "pmx_gateway_connections_refused_total",
      "Connections (or proxied requests) refused because their client had too many open connections",
    );
  }

  /** `method` must already be a known method name or a fixed placeholder, to bound label values. */
  observe(method: string, code: number, transport: "http" | "ws", seconds: number): void {
    const key = `${method} ${code} ${transport}`;
    let s = this.series.get(key);
    if (s === undefined) {
      const labels = { method, code: String(code), transport };
      s = { labels, count: 0, seconds: this.duration.series(labels) };
      this.series.set(key, s);
    }
    s.count++;
    s.seconds.observe(seconds);
  }

  wsOpened(): void {
    this.wsConnections.inc();
  }

  wsClosed(): void {
    this.wsConnections.dec();
  }

  limited(): void {
    this.rateLimited.inc();
  }

  rateLimitStoreFailed(): void {
    this.rateLimitStoreErrors.inc();
  }

  /** Exposes each backend limiter's bound, calls in flight, waiting calls and refusals. */
  trackBackends(limiters: Record<string, { limit: number; active: number; waiting: number; refused: number }>): void {
    const gauge = (name: string, help: string, read: (l: (typeof limiters)[string]) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ["backend"],
        registers: [this.registry],
        collect() {
          for (const [backend, l] of Object.entries(limiters)) this.set({ backend }, read(l));
        },
      });
    gauge("pmx_gateway_backend_limit", "Calls allowed in flight to each backend (adaptive)", (l) => l.limit);
    gauge("pmx_gateway_backend_in_flight", "Calls in flight to each backend", (l) => l.active);
    gauge("pmx_gateway_backend_waiting", "Calls waiting for a slot to each backend", (l) => l.waiting);
    counterReadAtScrape(
      {
        name: "pmx_gateway_backend_shed_total",
        help: "Calls refused with -32000 because their backend was saturated",
        labelNames: ["backend"],
        registers: [this.registry],
      },
      (add) => {
        for (const [backend, l] of Object.entries(limiters)) add({ backend }, l.refused);
      },
    );
  }

  connectionRefused(): void {
    this.connectionsRefused.inc();
  }
}
