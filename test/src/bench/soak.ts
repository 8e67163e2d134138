import type { Fixture } from "./fixtures";
import { type LoadRequest, runLoad } from "./load";
import { int, pct, type Report } from "./report";
import { rssMiB, type ServerProcess } from "./servers";

export interface SoakPlan {
  readonly grants: number;
  readonly reads: number;
}

const CONNECTIONS = 32;
/** The RSS from this point on is compared with the end: before it the heap is still growing into its working size. */
const WARM_FRACTION = 0.2;
/** How long access tokens live on the embedded form (PMX_ACCESS_TOKEN_LIFETIME is passed on to it). */
const ACCESS_LIFETIME_MS = Number(process.env.PMX_ACCESS_TOKEN_LIFETIME) || 900_000;
/** The soak may outlive an access token: the reads' Bearer is renewed at half its life (at most every 10 min). */
const RENEW_AFTER_MS = Math.min(10 * 60_000, ACCESS_LIFETIME_MS / 2);

interface Sample {
  readonly fraction: number;
  readonly rss: (number | undefined)[];
  /** The gateway's lowest heap used since the previous sample, MiB. */
  readonly heap: number | undefined;
}

const HEAP_POLL_MS = 250;
const HEAP_HEADER = "gateway heap MiB (lowest)";

/** `nodejs_heap_size_used_bytes` in a Prometheus exposition, in MiB; undefined when absent. */
export function heapUsedMiB(exposition: string): number | undefined {
  const m = /^nodejs_heap_size_used_bytes(?:\{[^}]*\})? (\S+)$/m.exec(exposition);
  const bytes = m ? Number(m[1]) : Number.NaN;
  return Number.isFinite(bytes) ? bytes / 1_048_576 : undefined;
}

/**
 * Polls the gateway's `/metrics` for its heap used. The lowest value between
 * two marks is about the live heap just after a collection: unlike the RSS,
 * it does not follow the heap limit V8 sets at several times the live size.
 * In the one-process form it is the whole server's heap.
 */
class HeapFloor {
  private lowest = Number.POSITIVE_INFINITY;
  private polling = false;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly url: string) {
    this.timer = setInterval(() => this.poll(), HEAP_POLL_MS);
  }

  private poll(): void {
    if (this.polling) return;
    this.polling = true;
    fetch(`${this.url}/metrics`)
      .then((r) => r.text())
      .then((text) => {
        const mib = heapUsedMiB(text);
        if (mib !== undefined && mib < this.lowest) this.lowest = mib;
      })
      .catch(() => {})
      .finally(() => {
        this.polling = false;
      });
  }

  /** The lowest value read since the last call (undefined when none was read), and starts over. */
  take(): number | undefined {
    const lowest = this.lowest;
    this.lowest = Number.POSITIVE_INFINITY;
    return Number.isFinite(lowest) ? lowest : undefined;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/**
 * Goal 6: a long mixed load (reads with a Bearer token, and client_credentials
 * grants on one key, so sessions keep opening and the oldest closing) while the
 * RSS of every server process is printed every 10 % of the way, to show
 * whether memory stays flat once warm.
 */
export async function soak(report: Report, fx: Fixture, plan: SoakPlan): Promise<void> {
  const { sys } = fx;
  const readsPerGrant = Math.max(1, Math.round(plan.reads / plan.grants));
  const total = plan.grants * (readsPerGrant + 1);
  let auth = fx.auth;
  let authAt = Date.now();
  let renewing = false;
  const renew = setInterval(
    () => {
      if (renewing || Date.now() - authAt < RENEW_AFTER_MS) return;
      renewing = true;
      fx.renewAuth().then(
        (a) => {
          auth = a;
          authAt = Date.now();
          renewing = false;
        },
        (err: unknown) => {
          report.line(`      renewing the reads' token failed: ${(err as Error).message}`);
          renewing = false;
        },
      );
    },
    Math.min(15_000, RENEW_AFTER_MS / 4),
  );

  const requests: LoadRequest[] = [];
  for (let i = 0; i < readsPerGrant; i++) {
    const body = i % 2 === 0 ? fx.verifyKeyBodies[i % 16] : fx.getKeyAtBodies[i % 16];
    requests.push({ make: () => ({ body: body as string, headers: auth }) });
  }
  requests.push({ body: fx.tokenBody(fx.grantKey) });

  const procs: ServerProcess[] = sys.processes();
  report.line(
    `  ${int(plan.grants)} grants and ${int(readsPerGrant * plan.grants)} reads (${readsPerGrant} reads per grant: ` +
      `verifyKey and getKeyAt with a Bearer token; auth/token client_credentials on one key) over ${CONNECTIONS} connections; ` +
      `access tokens live ${int(ACCESS_LIFETIME_MS / 1000)} s, and revoked sessions matter until theirs expire`,
  );
  const names = procs.map((p) => `${p.name} (${p.pid})`);
  report.line(
    `  ${"done".padStart(6)} ${"requests".padStart(10)} ${"elapsed".padStart(8)} ${"req/s".padStart(7)} ${"failed".padStart(7)}   RSS MiB: ${names.join("  ")}   ${HEAP_HEADER}`,
  );
  const heapFloor = new HeapFloor(sys.url);
  const samples: Sample[] = [];
  const started = performance.now();
  let lastAt = started;
  let lastCount = 0;
  const sample = (fraction: number, count: number, failed: number) => {
    const now = performance.now();
    const rate = now > lastAt ? ((count - lastCount) * 1000) / (now - lastAt) : 0;
    lastAt = now;
    lastCount = count;
    const rss = procs.map((p) => rssMiB(p.pid));
    const heap = heapFloor.take();
    samples.push({ fraction, rss, heap });
    const cols = rss.map((m, i) => (m === undefined ? "gone" : m.toFixed(1)).padStart((names[i] as string).length));
    report.line(
      `  ${`${Math.round(fraction * 100)} %`.padStart(6)} ${int(count).padStart(10)} ${`${((now - started) / 1000).toFixed(0)} s`.padStart(8)} ${int(rate).padStart(7)} ${int(failed).padStart(7)}            ${cols.join("  ")}   ${(heap === undefined ? "-" : heap.toFixed(1)).padStart(HEAP_HEADER.length)}`,
    );
  };

  sample(0, 0, 0);
  let nextMark = 1;
  let replied = 0;
  let f: Awaited<ReturnType<typeof runLoad>>;
  try {
    f = await runLoad({
      url: sys.url,
      requests,
      connections: CONNECTIONS,
      amount: total,
      onReply: (count, failed) => {
        replied = count;
        if (count >= (total * nextMark) / 10) {
          sample(nextMark / 10, count, failed);
          nextMark++;
        }
      },
    });
  } finally {
    clearInterval(renew);
    heapFloor.stop();
  }
  // Requests that timed out never reply: the last mark may not have been reached.
  if (nextMark <= 10) sample(1, replied, f.errors + f.refused);
  report.errorDetail(f);

  const warm = samples.find((s) => s.fraction >= WARM_FRACTION);
  const end = samples[samples.length - 1];
  procs.forEach((p, i) => {
    const from = warm?.rss[i];
    const to = end?.rss[i];
    const growth = from !== undefined && to !== undefined ? (to - from) / from : undefined;
    report.goal({
      goal: "6",
      what: `soak, ${sys.form}: RSS of ${p.name} from ${pct(WARM_FRACTION)} to the end`,
      figure:
        growth === undefined || from === undefined || to === undefined
          ? "-"
          : `${(to - from).toFixed(1)} MiB (${growth >= 0 ? "+" : ""}${pct(growth)})`,
      target: "flat (<= +10 %)",
      holds: growth === undefined ? undefined : growth <= 0.1,
    });
  });
  const heapFrom = warm?.heap;
  const heapTo = samples.findLast((s) => s.heap !== undefined)?.heap;
  report.goal({
    goal: "6",
    what: `soak, ${sys.form}: gateway's lowest heap used between marks, from ${pct(WARM_FRACTION)} to the end`,
    figure:
      heapFrom === undefined || heapTo === undefined
        ? "-"
        : `${(heapTo - heapFrom).toFixed(1)} MiB (${heapTo >= heapFrom ? "+" : ""}${pct((heapTo - heapFrom) / heapFrom)})`,
    target: "flat (<= +10 %)",
    holds: heapFrom === undefined || heapTo === undefined ? undefined : heapTo <= heapFrom * 1.1,
  });
  report.goal({
    goal: "6",
    what: `soak, ${sys.form}: failed requests`,
    figure: int(f.errors + f.refused),
    target: "0",
    holds: f.errors + f.refused === 0,
  });
}
