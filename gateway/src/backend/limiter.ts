import { AppError } from "@pkiserver/kit";

export interface LimiterOptions {
  /** Calls allowed at once to start with (default 64). */
  initial?: number;
  /** Never fewer than this many at once (default 4). */
  min?: number;
  /** Never more than this many at once (default 1024). */
  max?: number;
  /**
   * A call slower than this (ms) says the backend is saturated: the limit
   * shrinks. Faster calls let it grow again (default 1000).
   */
  latencyTargetMs?: number;
  /** How long a call may wait for a slot before it is refused (default 250 ms). */
  maxWaitMs?: number;
  /**
   * How many calls may wait for a slot (default: the current limit, and never
   * fewer than 64: a bound shrunk by a slow spell still lets a burst wait its
   * maxWaitMs instead of refusing it at once).
   */
  maxQueue?: number;
  now?: () => number;
}

/** The fewest calls the default queue bound lets wait. */
const MIN_DEFAULT_QUEUE = 64;

interface Waiter {
  grant(): void;
  timer: NodeJS.Timeout;
}

/**
 * Bounds the calls in flight to one backend, and adapts the bound to what
 * the backend sustains (additive increase while calls are fast,
 * multiplicative decrease when they are slow or refused). Calls beyond the
 * bound wait briefly in a bounded FIFO queue; a call that finds the queue full,
 * or waits too long, is refused at once with `rpc.unavailable` (-32000): a
 * saturated backend keeps working at its own pace on calls somebody still
 * waits for, instead of piling up work that will time out.
 */
export class AdaptiveLimiter {
  private limitValue: number;
  private inFlight = 0;
  private readonly queue: (Waiter | undefined)[] = [];
  private head = 0;
  private lastDecrease = Number.NEGATIVE_INFINITY;
  private readonly min: number;
  private readonly max: number;
  private readonly latencyTargetMs: number;
  private readonly maxWaitMs: number;
  private readonly maxQueue: number | undefined;
  private readonly now: () => number;
  /** Calls refused since start. */
  refused = 0;

  constructor(opts: LimiterOptions = {}) {
    this.min = opts.min ?? 4;
    this.max = opts.max ?? 1024;
    this.limitValue = Math.min(this.max, Math.max(this.min, opts.initial ?? 64));
    this.latencyTargetMs = opts.latencyTargetMs ?? 1000;
    this.maxWaitMs = opts.maxWaitMs ?? 250;
    this.maxQueue = opts.maxQueue;
    this.now = opts.now ?? performance.now.bind(performance);
  }

  /** The current bound on calls in flight. */
  get limit(): number {
    return Math.floor(this.limitValue);
  }

  get active(): number {
    return this.inFlight;
  }

  get waiting(): number {
    return this.queue.length - this.head;
  }

  /** Runs `call` when a slot is free; refuses with `rpc.unavailable` when none frees up in time. */
  async run<T>(call: () => Promise<T>): Promise<T> {
    if (this.inFlight >= this.limit) await this.wait();
    else this.inFlight++;
    const started = this.now();
    let saturated = false;
    try {
      return await call();
    } catch (err) {
      saturated = err instanceof AppError && err.code === "rpc.unavailable";
      throw err;
    } finally {
      this.settle(this.now() - started, saturated);
    }
  }

  private wait(): Promise<void> {
    const capacity = this.maxQueue ?? Math.max(this.limit, MIN_DEFAULT_QUEUE);
    if (this.waiting >= capacity) return Promise.reject(this.refuse());
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        grant: () => {
          clearTimeout(waiter.timer);
          resolve();
        },
        timer: setTimeout(() => {
          const i = this.queue.indexOf(waiter, this.head);
          if (i >= 0) this.queue[i] = undefined;
          reject(this.refuse());
        }, this.maxWaitMs),
      };
      this.queue.push(waiter);
    });
  }

  private refuse(): AppError {
    this.refused++;
    return new AppError("rpc.unavailable", { internal: "backend saturated: no call slot freed in time" });
  }

  private settle(latencyMs: number, saturated: boolean): void {
    if (saturated || latencyMs > this.latencyTargetMs) {
      // One decrease per target interval: a burst of slow replies is one signal.
      const t = this.now();
      if (t - this.lastDecrease >= this.latencyTargetMs) {
        this.lastDecrease = t;
        this.limitValue = Math.max(this.min, this.limitValue * 0.75);
      }
    } else if (this.inFlight >= this.limit) {
      // Grow only when the bound was what held calls back.
      this.limitValue = Math.min(this.max, this.limitValue + 1 / this.limitValue);
    }
    // The finished call's slot passes straight to the next waiter, if the bound allows.
    while (this.head < this.queue.length && this.queue[this.head] === undefined) this.head++;
    const next = this.head < this.queue.length ? this.queue[this.head] : undefined;
    if (next !== undefined && this.inFlight <= this.limit) {
      this.queue[this.head] = undefined;
      this.head++;
      this.compact();
      next.grant();
      return;
    }
    this.compact();
    this.inFlight--;
  }

  private compact(): void {
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
  }
}

/** `clients` with every call of each service passing through that service's limiter. */
export function limitClients<C extends { [K in keyof C]: object }>(
  clients: C,
  limiters: { [K in keyof C]: AdaptiveLimiter },
): C {
  const out: Record<string, object> = {};
  for (const [service, client] of Object.entries(clients) as [string, object][]) {
    const limiter = limiters[service as keyof C];
    const wrapped: Record<string, unknown> = {};
    for (const [name, fn] of Object.entries(client)) {
      wrapped[name] =
        typeof fn === "function"
          ? (...args: unknown[]) => limiter.run(() => (fn as (...a: unknown[]) => Promise<unknown>)(...args))
          : fn;
    }
    out[service] = wrapped;
  }
  return out as C;
}
