import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ErrorCatalogue, HttpErrors } from "./errors";

/** The method reference sits in ../shared beside the repository. */
function findSeed(): string {
  let dir = __dirname;
  for (let i = 0; i < 8; i++) {
    const candidate = join(dir, "..", "shared", "seeds", "001_efa035d0ca8f4d28.txt");
    if (existsSync(candidate)) return readFileSync(candidate, "utf8");
    dir = join(dir, "..");
  }
  throw new Error("the method reference (shared/seeds/001_…) was not found beside the repository");
}

/** Rows `<code> <message> ...` of every table after the "Errors" heading. */
function seedErrorRows(): { code: number; rest: string; table: string }[] {
  const text = findSeed();
  const start = text.lastIndexOf("\nErrors\n");
  assert.ok(start > 0, "the seed has an Errors section");
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
