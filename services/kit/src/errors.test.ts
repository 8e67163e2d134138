import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ErrorCatalogue, type ErrorCode, HttpErrors, NOT_SENT } from "./errors";

/**
 * The error tables of the method reference (its "Errors" section, kept in
 * testdata/ so the test needs nothing outside the repository).
 */
function findSeed(): string {
  return readFileSync(join(__dirname, "..", "testdata", "seed-errors.txt"), "utf8");
}

/** Rows `<code> <message> ...` of every table after the "Errors" heading. */
function seedErrorRows(): { code: number; rest: string; table: string }[] {
  const text = findSeed();
  const start = text.indexOf("Errors\n");
  assert.ok(start >= 0, "the seed has an Errors section");
  const rows: { code: number; rest: string; table: string }[] = [];
  let table = "";
  for (const line of text.slice(start).split("\n")) {
    const t = line.trim();
    if (/^(HTTP error codes|Common Errors|Other JSON-RPC error codes)$/.test(t)) table = t;
    const m = /^(-?\d+) (.+)$/.exec(t);
    if (m && table) rows.push({ code: Number(m[1]), rest: m[2] as string, table });
  }
  return rows;
}

// API.md section 4 quotes 73 as "Insufficient scope"; API.md wins over the seed.
const MESSAGE_OVERRIDES = new Map<number, string>([[73, "Insufficient scope"]]);

describe("error catalogue", () => {
  const entries = Object.values(ErrorCatalogue);
  const rows = seedErrorRows();

  it("has every JSON-RPC code of the seed's error tables with the seed's message", () => {
    const rpcRows = rows.filter((r) => r.table !== "HTTP error codes");
    assert.ok(rpcRows.length >= 80, `expected the seed's full tables, parsed ${rpcRows.length} rows`);
    for (const row of rpcRows) {
      const expected = MESSAGE_OVERRIDES.get(row.code);
      const matches = entries.filter((e) => e.rpc === row.code);
      assert.ok(matches.length > 0, `code ${row.code} is missing from the catalogue`);
      const ok = matches.some((e) => (expected ? e.message === expected : row.rest.startsWith(e.message)));
      assert.ok(ok, `code ${row.code}: no entry's message starts the seed row "${row.rest}"`);
    }
  });

  it("has every HTTP status of the seed's HTTP table", () => {
    const httpRows = rows.filter((r) => r.table === "HTTP error codes");
    assert.ok(httpRows.length >= 4);
    for (const row of httpRows) {
      const msg = (HttpErrors as Record<number, string>)[row.code];
      assert.ok(msg && row.rest.startsWith(msg), `HTTP ${row.code} missing or different`);
    }
  });

  it("has the code API.md adds for rate limiting", () => {
    assert.ok(entries.some((e) => e.rpc === -32029 && e.message === "Too many requests"));
  });

  it("has the code API.md adds for a backend that is not ready", () => {
    assert.ok(entries.some((e) => e.rpc === -32000 && e.message === "Service unavailable"));
  });

  it("gives each domain code a single meaning (code+message pairs are unique)", () => {
    const pairs = entries.map((e) => `${e.rpc}|${e.message}`);
    assert.equal(new Set(pairs).size, pairs.length);
  });
});

/** The repository's TypeScript sources, split into tests and production code. */
function repositorySources(): { tests: string; production: Map<string, string> } {
  const root = join(__dirname, "..", "..", "..");
  const tests: string[] = [];
  const production = new Map<string, string>();
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (["node_modules", "dist", ".git", "gen"].includes(e.name)) continue;
      const path = join(dir, e.name);
      if (e.isDirectory()) walk(path);
      else if (e.name.endsWith(".ts") && !e.name.endsWith(".d.ts")) {
        const text = readFileSync(path, "utf8");
        const isTest = /\.test\.ts$|\.suite\.ts$/.test(e.name) || /[/\\](test|testing)[/\\]/.test(path);
        if (isTest) tests.push(text);
        else production.set(path, text);
      }
    }
  };
  for (const top of ["services", "gateway", "test"]) walk(join(root, top));
  return { tests: tests.join("\n"), production };
}

describe("error catalogue coverage", () => {
  const { tests, production } = repositorySources();
  const asserted = (code: ErrorCode) => {
    const rpc = String(ErrorCatalogue[code].rpc).replace("-", "\\-");
    return tests.includes(`"${code}"`) || new RegExp(`code\\W{0,4}\\s*[,:=]\\s*${rpc}\\b`).test(tests);
  };

  it("has every code this server sends asserted by some test", () => {
    const missing = (Object.keys(ErrorCatalogue) as ErrorCode[]).filter((c) => !NOT_SENT.has(c) && !asserted(c));
    assert.deepEqual(missing, [], "codes sent but asserted by no test (add a test, or list them in NOT_SENT)");
  });

  it("never sends a code it lists as not sent", () => {
    for (const code of NOT_SENT) {
      for (const [path, text] of production) {
        if (path.endsWith(join("kit", "src", "errors.ts"))) continue;
        assert.ok(!text.includes(`"${code}"`), `${code} is listed as never sent but ${path} uses it`);
      }
    }
  });
});
