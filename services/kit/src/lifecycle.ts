import type { Logger } from "./logger";

/**
 * Graceful shutdown: on SIGINT/SIGTERM run the registered closers in reverse
 * order of registration (last started, first stopped), then exit. A second
 * signal, or a closer that hangs past `timeoutMs`, exits at once.
 */
export function onShutdown(logger: Logger, closers: (() => Promise<void>)[], timeoutMs = 10_000): void {
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
    void (async () => {
      let code = 0;
      for (const close of [...closers].reverse()) {
        try {
          await close();
        } catch (err) {
          code = 1;
          logger.error({ err: String(err) }, "error while shutting down");
        }
      }
      logger.flush?.();
      process.exit(code);
    })();
  };
  process.once("SIGINT", () => stop("SIGINT"));
  process.once("SIGTERM", () => stop("SIGTERM"));
}
