import assert from "node:assert/strict";

/**
 * Polls `probe` every `intervalMs` until it returns something other than
 * `false` or `undefined`, and returns that; fails the test, naming `what`,
 * once `ms` have passed. For effects that travel between processes or over
 * the event bus. A probe that throws ends the wait with its error.
 */
export async function pollUntil<T>(
  what: string,
  probe: () => Promise<T>,
  ms: number,
  intervalMs: number,
): Promise<Exclude<T, false | undefined>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = await probe();
    if (found !== false && found !== undefined) return found as Exclude<T, false | undefined>;
    if (Date.now() >= deadline) assert.fail(`${what} did not happen within ${ms} ms`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
