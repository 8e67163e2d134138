import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { setKeyMaker } from "./fixtures";
import { type Figures, runLoad } from "./load";
import { parseOptions } from "./options";
import { measureCell, medianPair } from "./rows";
import { heapUsedMiB } from "./soak";

// A server that answers in turn with a result, a JSON-RPC error (HTTP 200) and a refusal (HTTP 503).
const REPLIES: [number, string][] = [
  [200, '{"jsonrpc":"2.0","id":1,"result":true}'],
  [200, '{"jsonrpc":"2.0","id":1,"error":{"code":79,"message":"The key does not exist","data":null}}'],
  [503, '{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"Service unavailable","data":null}}'],
];
let server: Server;
let url: string;
const bodies: string[] = [];

before(async () => {
  let n = 0;
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => {
      body += c.toString();
    });
    req.on("end", () => {
      bodies.push(body);
      const [status, text] = REPLIES[n++ % REPLIES.length] as [number, string];
      res.writeHead(status, { "content-type": "application/json" });
      res.end(text);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => new Promise<void>((r) => server.close(() => r())));

test("a JSON-RPC error reply counts as an error and a 503 as a refusal, neither as a result", async () => {
  const f = await runLoad({ url, requests: [{ body: "{}" }], connections: 1, amount: 300 });
  assert.equal(f.ok, 100);
  assert.equal(f.errors, 100);
  assert.equal(f.refused, 100);
  assert.equal(f.timeouts, 0);
  assert.match(f.firstError ?? "", /"code":79/);
  assert.ok(f.refusedP99 !== undefined && f.refusedP99 >= 0);
  assert.ok(f.p99 >= f.p50);
});

test("a request with make() sends a new body each time", async () => {
  bodies.length = 0;
  let i = 0;
  await runLoad({ url, requests: [{ make: () => ({ body: `{"n":${i++}}` }) }], connections: 1, amount: 20 });
  assert.equal(new Set(bodies).size, bodies.length);
  assert.ok(bodies.length >= 20);
});

test("setKey bodies never repeat a history's current key, also when neighbouring rounds overtake each other", () => {
  const make = setKeyMaker("instance", "ctx", ["k0", "k1", "k2", "k3"]);
  const writes = Array.from({ length: 256 * 12 }, () => JSON.parse(make().body).params as Record<string, string>);
  // Swap every pair of neighbouring rounds' writes to each history: the commit order is then r+1, r.
  const byHistory = new Map<string, string[]>();
  for (const w of writes)
    byHistory.set(w.userId as string, [...(byHistory.get(w.userId as string) ?? []), w.userPubKey as string]);
  assert.equal(byHistory.size, 256);
  for (const keys of byHistory.values()) {
    const swapped = keys.flatMap((_, r) => (r % 2 === 0 ? [keys[r + 1], keys[r]] : [])).filter(Boolean);
    for (const order of [keys, swapped]) {
      for (let r = 1; r < order.length; r++) assert.notEqual(order[r], order[r - 1]);
    }
  }
});

test("a warm-up's replies are checked but not measured", async () => {
  // The first reply is an error, the rest results, each after 5 ms.
  let served = 0;
  const slow = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const text = served++ === 0 ? (REPLIES[1] as [number, string])[1] : (REPLIES[0] as [number, string])[1];
      setTimeout(() => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(text);
      }, 5);
    });
  });
  await new Promise<void>((r) => slow.listen(0, "127.0.0.1", r));
  try {
    const at = `http://127.0.0.1:${(slow.address() as AddressInfo).port}`;
    const f = await runLoad({ url: at, requests: [{ body: "{}" }], connections: 1, duration: 2, warmUpSeconds: 1 });
    // The error came in the warm-up and still counts.
    assert.equal(f.errors, 1);
    assert.match(f.firstError ?? "", /"code":79/);
    // Results over the measured second only: fewer than all served, at the rate of that second.
    assert.ok(f.ok > 0 && f.ok < served - 1, `${f.ok} results of ${served - 1}`);
    assert.ok(f.seconds > 0.8 && f.seconds < 1.5, `measured ${f.seconds} s`);
    assert.ok(Math.abs(f.rps - f.ok / f.seconds) < 1e-9);
  } finally {
    await new Promise<void>((r) => slow.close(() => r()));
  }
});

test("--quick shortens rows and sizes; --only and --distributed are checked", () => {
  const quick = parseOptions(["--quick"], {});
  assert.ok(quick !== "help");
  assert.equal(quick.duration, 2);
  assert.equal(quick.historyRecords, 10_000);
  assert.equal(quick.proofLogEntries, 100_000);
  const full = parseOptions(["--duration", "4", "--only=history,table"], {
    PMX_BENCH_NODE_ARGS: "--max-old-space-size=512",
  });
  assert.ok(full !== "help");
  assert.equal(full.duration, 4);
  assert.equal(full.historyRecords, 100_000);
  assert.equal(full.proofLogEntries, 1_000_000);
  assert.deepEqual([...full.sections], ["history", "table"]);
  assert.deepEqual(full.nodeArgs, ["--max-old-space-size=512"]);
  assert.throws(() => parseOptions(["--only=nothing"], {}), /unknown section/);
  assert.throws(() => parseOptions(["--distributed"], {}), /goes with --soak/);
  assert.throws(() => parseOptions(["--durations=3"], {}), /unknown option/);
  const soak = parseOptions(["--soak", "--distributed", "--cpu-prof=/tmp/p"], {});
  assert.ok(soak !== "help" && soak.soak !== false);
  assert.equal(soak.soak.distributed, true);
  assert.equal(soak.cpuProfDir, "/tmp/p");
  assert.equal(soak.soak.grants, 100_000);
  assert.equal(soak.soak.reads, 1_000_000);
  const small = parseOptions(["--soak=5000"], {});
  assert.ok(small !== "help" && small.soak !== false);
  assert.deepEqual(small.soak, { grants: 5000, reads: 50_000, distributed: false });
  assert.throws(() => parseOptions(["--soak=lots"], {}), /--soak=GRANTS/);
  assert.throws(() => parseOptions(["--soak=10"], {}), /--soak=GRANTS/);
});

test("the soak reads the heap used from a Prometheus exposition", () => {
  const text = [
    "# HELP nodejs_heap_size_used_bytes Process heap size used from Node.js in bytes.",
    "# TYPE nodejs_heap_size_used_bytes gauge",
    "nodejs_heap_size_total_bytes 419430400",
    "nodejs_heap_size_used_bytes 104857600",
    "nodejs_heap_size_used_bytes_other 1",
  ].join("\n");
  assert.equal(heapUsedMiB(text), 100);
  assert.equal(heapUsedMiB('nodejs_heap_size_used_bytes{instance="a"} 52428800\n'), 50);
  assert.equal(heapUsedMiB("nodejs_heap_size_total_bytes 419430400\n"), undefined);
  assert.equal(heapUsedMiB("nodejs_heap_size_used_bytes NaN\n"), undefined);
});

test("a table cell that falls is measured again and keeps its best window; errors of every window count", async () => {
  const windows = (...f: { rps: number; errors: number; firstError?: string }[]) => {
    let i = 0;
    return async () => {
      const w = f[i++];
      assert.ok(w, "measured more often than expected");
      return { firstError: undefined, ...w };
    };
  };
  // No fall: one window.
  assert.deepEqual(await measureCell(windows({ rps: 95, errors: 0 }), 100), {
    rps: 95,
    errors: 0,
    firstError: undefined,
    attempts: 1,
  });
  // A dip measured again: the second window is back within 10 % of the best to the left.
  const dip = await measureCell(windows({ rps: 60, errors: 1, firstError: "HTTP 503" }, { rps: 98, errors: 0 }), 100);
  assert.deepEqual(dip, { rps: 98, errors: 1, firstError: "HTTP 503", attempts: 2 });
  // A fall in every window stays a fall after three.
  const fall = await measureCell(windows({ rps: 50, errors: 0 }, { rps: 70, errors: 0 }, { rps: 60, errors: 0 }), 100);
  assert.deepEqual(fall, { rps: 70, errors: 0, firstError: undefined, attempts: 3 });
  // The first cell of a row has nothing to its left.
  assert.equal((await measureCell(windows({ rps: 1, errors: 0 }), 0)).attempts, 1);
});

test("a goal's row keeps the pair whose ratio to the baseline is the median, and reports every ratio", async () => {
  const fig = (rps: number) => ({ rps }) as Figures;
  const pairs = (...p: [number, number][]) => {
    let i = 0;
    return async () => {
      const w = p[i++];
      assert.ok(w, "measured more often than expected");
      return { echo: fig(w[0]), row: fig(w[1]) };
    };
  };
  // Ratios 10 %, 20 %, 15 %: the third pair is the median, whatever the rows' own rates.
  const three = await medianPair(3, pairs([1000, 100], [500, 100], [800, 120]));
  assert.deepEqual(three.ratios, [0.1, 0.2, 0.15]);
  assert.equal(three.row.rps, 120);
  assert.equal(three.echo.rps, 800);
  // An even number keeps the lower middle one; one pair is that pair.
  assert.equal((await medianPair(2, pairs([100, 30], [100, 10]))).row.rps, 10);
  const one = await medianPair(1, pairs([100, 7]));
  assert.deepEqual([one.row.rps, one.ratios], [7, [0.07]]);
  // A baseline that served nothing gives a ratio of 0, not a division by zero.
  assert.deepEqual((await medianPair(1, pairs([0, 5]))).ratios, [0]);
});

test("--pairs sets the pairs of a goal's row: 3 by default, 1 with --quick, checked", () => {
  const full = parseOptions([], {});
  const quick = parseOptions(["--quick"], {});
  const five = parseOptions(["--pairs=5"], {});
  assert.ok(full !== "help" && quick !== "help" && five !== "help");
  assert.deepEqual([full.pairs, quick.pairs, five.pairs], [3, 1, 5]);
  assert.throws(() => parseOptions(["--pairs=0"], {}), /--pairs/);
  assert.throws(() => parseOptions(["--pairs=two"], {}), /--pairs/);
});
