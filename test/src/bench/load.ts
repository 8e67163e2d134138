import { readFileSync } from "node:fs";
import autocannon from "autocannon";

/** One request of a load's cycle: a fixed body, or one made for each send. */
export interface LoadRequest {
  readonly body?: string;
  readonly headers?: Record<string, string>;
  /** Called before each send of this request; its body (and headers) replace the fixed ones. */
  readonly make?: () => { body: string; headers?: Record<string, string> };
}

export interface LoadSpec {
  /** The server's base URL; requests go to POST /main. */
  readonly url: string;
  /** Each connection sends these in turn, over and over. */
  readonly requests: readonly LoadRequest[];
  readonly connections: number;
  /** Seconds; or */
  readonly duration?: number;
  /**
   * With `duration`: the first seconds of it warm up. Their replies are checked (an error counts)
   * but not measured: results per second, latencies and CPU are over the rest. A closed loop of
   * many connections to a slow method gets its first replies only after a whole round of them,
   * which a short run would count as throughput lost.
   */
  readonly warmUpSeconds?: number;
  /** a number of requests. */
  readonly amount?: number;
  /** Requests per second over all connections (an open-loop load); unlimited by default. */
  readonly overallRate?: number;
  /** Called after every reply with the number of replies, and of those not results, so far. */
  readonly onReply?: (replies: number, failures: number) => void;
  /** The server's processes: their CPU time over the load gives `cpuUsPerResult`. */
  readonly pids?: () => readonly number[];
}

/** What a load measured. Latencies are in milliseconds. */
export interface Figures {
  readonly seconds: number;
  /** Requests sent per second (with overallRate: what the load offered). */
  readonly sentRps: number;
  /** Replies that are a JSON-RPC result. */
  readonly ok: number;
  /** Results per second. */
  readonly rps: number;
  /** Latency of the results. */
  readonly p50: number;
  readonly p99: number;
  /** Refusals: HTTP 503 or JSON-RPC -32000 "Service unavailable". */
  readonly refused: number;
  readonly refusedP99: number | undefined;
  /** Everything else: JSON-RPC errors, other HTTP statuses, timeouts and connection errors. */
  readonly errors: number;
  readonly timeouts: number;
  /** The first error reply seen, for the report. */
  readonly firstError: string | undefined;
  /**
   * CPU time the server's processes spent per result, in microseconds (user +
   * system, from /proc): unlike req/s, it hardly depends on what else the
   * machine runs meanwhile. Undefined without `pids` or off Linux.
   */
  readonly cpuUsPerResult: number | undefined;
}

enum Outcome {
  Ok = 0,
  Refused = 1,
  Error = 2,
}

// A JSON-RPC result never holds this key at its top level; an error reply always does.
const ERROR_KEY = '"error":';
const SERVICE_UNAVAILABLE = '"code":-32000';

/** Sends `spec.requests` with autocannon and sorts every reply into results, refusals and errors. */
export async function runLoad(spec: LoadSpec): Promise<Figures> {
  const okTimes: number[] = [];
  const refusedTimes: number[] = [];
  let errorReplies = 0;
  let firstError: string | undefined;
  let replies = 0;
  // autocannon calls a request's onResponse and then, synchronously, emits the
  // instance's "response" event with the latency: this carries the verdict across.
  let last = Outcome.Ok;
  const classifier = (method: string) => (status: number, body: string) => {
    if (status === 200 && !body.includes(ERROR_KEY)) {
      last = Outcome.Ok;
    } else if (status === 503 || body.includes(SERVICE_UNAVAILABLE)) {
      last = Outcome.Refused;
    } else {
      last = Outcome.Error;
      errorReplies++;
      firstError ??= `${method}: HTTP ${status} ${body.slice(0, 300)}`;
    }
  };
  const requests: autocannon.Request[] = spec.requests.map((r) => {
    const make = r.make;
    return {
      method: "POST",
      path: "/main",
      headers: { "content-type": "application/json", ...r.headers },
      body: r.body ?? "",
      onResponse: classifier(methodOf(r.body ?? make?.().body)),
      ...(make
        ? {
            setupRequest: (req: autocannon.Request) => {
              const next = make();
              req.body = next.body;
              if (next.headers) req.headers = { ...req.headers, ...next.headers };
              return req;
            },
          }
        : {}),
    };
  });

  // autocannon reports a run's duration in whole sample intervals (1 s): a run
  // of a fixed number of requests is timed here instead, to its last reply.
  const warmUpMs = spec.amount === undefined ? (spec.warmUpSeconds ?? 0) * 1000 : 0;
  let cpuBefore = cpuMicros(spec.pids?.());
  const startedAt = performance.now();
  let measuredFrom = startedAt;
  let lastReplyAt = 0;
  let stoppedAt = 0;
  const warm =
    warmUpMs > 0
      ? setTimeout(() => {
          cpuBefore = cpuMicros(spec.pids?.());
          measuredFrom = performance.now();
          okTimes.length = 0;
          refusedTimes.length = 0;
        }, warmUpMs)
      : undefined;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: `${spec.url}/main`,
        method: "POST",
        connections: spec.connections,
        ...(spec.amount !== undefined ? { amount: spec.amount } : { duration: spec.duration ?? 5 }),
        ...(spec.overallRate !== undefined ? { overallRate: spec.overallRate } : {}),
        // Past the gateway's 10 s deadline to the services, so that its error reply is seen rather than a timeout.
        timeout: 15,
        requests,
      },
      (err, res) => {
        clearTimeout(warm);
        stoppedAt = performance.now();
        if (err) reject(err);
        else resolve(res);
      },
    );
    instance.on("response", (_client, _status, _bytes, ms) => {
      lastReplyAt = performance.now();
      if (last === Outcome.Ok) okTimes.push(ms);
      else if (last === Outcome.Refused) refusedTimes.push(ms);
      replies++;
      spec.onReply?.(replies, replies - okTimes.length);
    });
  });

  // A timed run ends with requests still in flight; the server works through
  // them after autocannon has hung up. One more request, answered after
  // them, keeps that backlog out of the next measurement.
  if (spec.amount === undefined && requests[0] !== undefined) await settle(spec.url, spec.requests[0]);
  const cpuAfter = cpuMicros(spec.pids?.());
  const seconds =
    spec.amount !== undefined && lastReplyAt > startedAt
      ? (lastReplyAt - startedAt) / 1000
      : warmUpMs > 0
        ? Math.max(0, (stoppedAt - measuredFrom) / 1000)
        : result.duration;
  // What was sent counts over the whole run, warm-up included.
  const sentOver = warmUpMs > 0 ? (stoppedAt - startedAt) / 1000 : seconds;
  const ok = Float64Array.from(okTimes).sort();
  const refused = Float64Array.from(refusedTimes).sort();
  return {
    seconds,
    sentRps: sentOver > 0 ? result.requests.sent / sentOver : 0,
    ok: ok.length,
    rps: seconds > 0 ? ok.length / seconds : 0,
    p50: quantile(ok, 0.5) ?? Number.NaN,
    p99: quantile(ok, 0.99) ?? Number.NaN,
    refused: refused.length,
    refusedP99: quantile(refused, 0.99),
    errors: errorReplies + result.errors,
    timeouts: result.timeouts,
    firstError: firstError ?? (result.errors > 0 ? `${result.errors} connection errors or timeouts` : undefined),
    cpuUsPerResult:
      cpuBefore !== undefined && cpuAfter !== undefined && ok.length > 0
        ? (cpuAfter - cpuBefore) / ok.length
        : undefined,
  };
}

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ, 100 on Linux). */
const USER_HZ = 100;

/** The user + system CPU time of these processes so far, in microseconds; undefined if any cannot be read. */
export function cpuMicros(pids: readonly number[] | undefined): number | undefined {
  if (pids === undefined || pids.length === 0) return undefined;
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      // Fields resume after the command name's last ')': state is field 3, utime 14, stime 15.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      return undefined;
    }
  }
  return (ticks * 1_000_000) / USER_HZ;
}

function methodOf(body: string | undefined): string {
  try {
    return String((JSON.parse(body ?? "") as { method?: unknown }).method ?? "?");
  } catch {
    return "?";
  }
}

async function settle(url: string, req: LoadRequest | undefined): Promise<void> {
  if (req === undefined) return;
  const made = req.make?.();
  await fetch(`${url}/main`, {
    method: "POST",
    headers: { "content-type": "application/json", ...req.headers, ...made?.headers },
    body: made?.body ?? req.body ?? "",
    signal: AbortSignal.timeout(30_000),
  })
    .then((res) => res.arrayBuffer())
    .catch(() => undefined);
}

function quantile(sorted: Float64Array, q: number): number | undefined {
  if (sorted.length === 0) return undefined;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}
