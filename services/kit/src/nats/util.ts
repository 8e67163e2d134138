import { NatsError } from "nats";

export function isNotFound(err: unknown): boolean {
  return err instanceof NatsError && (err.api_error?.code === 404 || err.code === "404");
}

export function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Waits for `p` (ignoring its failure) at most `ms`. */
export async function withinMs(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p.catch(() => {}), new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
