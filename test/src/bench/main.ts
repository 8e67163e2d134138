import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { bearer, ok } from "../support/client";
import { startForm } from "../support/forms";
import { randomPubKey } from "../support/keys";

/**
 * `npm run bench`: figures for the embedded form on this machine. Prints
 * latency percentiles and throughput; it asserts nothing (the machine is
 * shared and noisy), it reports.
 */

interface Figures {
  name: string;
  n: number;
  p50: number;
  p95: number;
  p99: number;
  perSecond: number;
}

async function measure(
  name: string,
  n: number,
  concurrency: number,
  op: (i: number) => Promise<unknown>,
): Promise<Figures> {
  const times: number[] = [];
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        const t0 = performance.now();
        await op(i);
        times.push(performance.now() - t0);
      }
    }),
  );
  const total = performance.now() - start;
  times.sort((a, b) => a - b);
  const q = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))] ?? 0;
  return { name, n, p50: q(0.5), p95: q(0.95), p99: q(0.99), perSecond: (n / total) * 1000 };
}

function print(f: Figures): void {
  const ms = (x: number) => `${x.toFixed(2)} ms`.padStart(10);
  process.stdout.write(
    `${f.name.padEnd(44)} n=${String(f.n).padStart(5)}  p50${ms(f.p50)}  p95${ms(f.p95)}  p99${ms(f.p99)}  ${f.perSecond.toFixed(0).padStart(6)}/s\n`,
  );
}

async function main(): Promise<void> {
  const sys = await startForm("embedded", { PMX_LOG_LEVEL: "warn" });
  try {
    const first = await ok<{ apiKeyId: string; apiKeySecret: string }>(sys.url, "auth/createFirstApiKey", {
      initializationToken: sys.initToken,
      name: "bench",
    });
    const token = await ok<{ accessToken: string }>(sys.url, "auth/token", {
      grantType: "client_credentials",
      clientId: first.apiKeyId,
      clientSecret: first.apiKeySecret,
      scope: [],
    });
    const h = bearer(token.accessToken);
    const instanceId = randomPubKey();

    // Two histories, one short and one long, to compare lookups by time.
    const histories: { label: string; ref: object; dates: number[] }[] = [];
    for (const length of [10, 2000]) {
      const ref = { userId: `bench-${length}`, instanceId, contextId: `ctx-${randomBytes(3).toString("hex")}` };
      for (let i = 0; i < length; i++) await ok(sys.url, "pkiAdmin/setKey", { ...ref, userPubKey: randomPubKey() }, h);
      const history = await ok<{ createDate: number }[]>(sys.url, "pki/getKeyHistory", ref, h);
      histories.push({ label: `history of ${length}`, ref, dates: history.map((r) => r.createDate) });
    }

    process.stdout.write(`\npkiserver benchmark (embedded form, in-memory stores, ${new Date().toISOString()})\n\n`);
    for (const { label, ref, dates } of histories) {
      print(
        await measure(`pki/getKeyAt, ${label}`, 2000, 16, (i) =>
          ok(sys.url, "pki/getKeyAt", { ...ref, date: dates[i % dates.length] }, h),
        ),
      );
      print(
        await measure(`pki/verifyKey, ${label}`, 2000, 16, (i) =>
          ok(sys.url, "pki/verifyKey", { ...ref, userPubKey: randomPubKey(), date: dates[i % dates.length] }, h),
        ),
      );
    }
    print(
      await measure("pkiAdmin/setKey (one history, 8 concurrent)", 500, 8, () =>
        ok(
          sys.url,
          "pkiAdmin/setKey",
          { userId: "bench-writes", instanceId, contextId: "ctx-w", userPubKey: randomPubKey() },
          h,
        ),
      ),
    );
    print(await measure("pkiAdmin/listHosts (bearer token)", 2000, 16, () => ok(sys.url, "pkiAdmin/listHosts", {}, h)));
    // Last: every grant opens a session, and the 17th closes the one `h` belongs to.
    print(
      await measure("auth/token client_credentials", 300, 8, () =>
        ok(sys.url, "auth/token", {
          grantType: "client_credentials",
          clientId: first.apiKeyId,
          clientSecret: first.apiKeySecret,
          scope: ["pki:read"],
        }),
      ),
    );
    process.stdout.write("\n");
  } finally {
    await sys.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
