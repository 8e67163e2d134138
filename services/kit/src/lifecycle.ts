import { describe } from "./errors";
import type { Logger } from "./logger";

/**
 * What a process or an app has to stop, stopped in reverse order of
 * registration (last started, first stopped). Every closer runs once, even
 * when one before it fails; closing again waits for the same run.
 */
export class Closers {
  private readonly list: (() => unknown)[];
  private closing: Promise<unknown[]> | undefined;

  constructor(...closers: (() => unknown)[]) {
    this.list = closers;
  }

  add(close: () => unknown): void {
    this.list.push(close);
  }

  /** Runs the closers, last added first; resolves with what they threw (empty when nothing). */
  close(): Promise<unknown[]> {
    this.closing ??= (async () => {
      const errors: unknown[] = [];
      for (const close of [...this.list].reverse()) {
        try {
          await close();
        } catch (err) {
          errors.push(err);
        }
      }
      return errors;
    })();
    return this.closing;
  }
}

/**
 * Graceful shutdown: on SIGINT/SIGTERM run `closers` (see `Closers`), then
 * exit. A second signal, or a closer that hangs past `timeoutMs`, exits at once.
 */
export function onShutdown(logger: Logger, closers: Closers, timeoutMs = 10_000): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    logger.info({ signal }, "shutting down");
    const timer = setTimeout(() => {
      logger.error("shutdown timed out");
      process.exit(1);
    }, timeoutMs);
    timer.unref();
    void closers.close().then((errors) => {
      for (const err of errors) logger.error({ err: String(err) }, "error while shutting down");
      logger.flush?.();
      process.exit(errors.length === 0 ? 0 : 1);
    });
  };
  process.once("SIGINT", () => stop("SIGINT"));
  process.once("SIGTERM", () => stop("SIGTERM"));
}

/**
 * Runs `task` every `intervalMs`, without holding the process open; a round
 * that fails is logged (`failure`, at `level`) and the next one runs as
 * planned. With `exclusive`, a round is skipped while the one before it
 * still runs. Returns the function that stops it.
 */
export function runEvery(
  intervalMs: number,
  task: () => Promise<unknown>,
  logger: Logger,
  failure: string,
  opts: { level?: "warn" | "error"; exclusive?: boolean } = {},
): () => void {
  const level = opts.level ?? "error";
  let running = false;
  const timer = setInterval(() => {
    if (opts.exclusive && running) return;
    running = true;
    task()
      .catch((err: unknown) => logger[level]({ err: describe(err) }, failure))
      .finally(() => {
        running = false;
      });
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
