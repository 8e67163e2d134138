import { cpus, loadavg } from "node:os";
import type { Figures } from "./load";

/** One line of the final summary. */
export interface Goal {
  readonly goal: string;
  readonly what: string;
  readonly figure: string;
  readonly target: string;
  /** Undefined when the figure could not be taken (e.g. nothing to measure). */
  readonly holds: boolean | undefined;
}

export const int = (x: number): string => Math.round(x).toLocaleString("en-US");
export const ms = (x: number | undefined): string => (x === undefined || Number.isNaN(x) ? "-" : x.toFixed(2));
export const pct = (x: number): string => `${(x * 100).toFixed(1)} %`;
export const times = (x: number): string => `${x.toFixed(2)}x`;
export const seconds = (x: number): string => `${x.toFixed(1)} s`;

/** Writes the bench's lines as it goes and keeps the goals for the summary. */
export class Report {
  private readonly goals: Goal[] = [];

  constructor(private readonly write: (text: string) => void = (t) => process.stdout.write(t)) {}

  line(text = ""): void {
    this.write(`${text}\n`);
  }

  header(title: string, settings: string[]): void {
    const cpu = cpus();
    this.line(title);
    this.line(
      `machine: ${cpu.length} cores (${cpu[0]?.model.trim() ?? "?"}), Node ${process.version}, ${process.platform} ${process.arch}, ` +
        `load average ${loadavg()
          .map((l) => l.toFixed(2))
          .join(" ")}`,
    );
    for (const s of settings) this.line(s);
  }

  section(title: string): void {
    this.line();
    this.line(`== ${title}`);
  }

  rowHeader(): void {
    this.line(
      `  ${"row".padEnd(52)} ${"conns".padStart(5)} ${"req/s".padStart(8)} ${"p50 ms".padStart(8)} ${"p99 ms".padStart(8)} ${"errors".padStart(7)} ${"vs echo".padStart(8)} ${"echo req/s".padStart(10)} ${"cpu µs".padStart(7)} ${"cpu vs echo".padStart(11)}`,
    );
  }

  /**
   * A measured row; `echo`, the baseline measured with it, adds the ratios:
   * of req/s, and of the servers' CPU time per request (echo's over this
   * row's), the figure a busy machine disturbs least.
   */
  row(label: string, connections: number, f: Figures, echo?: Figures): void {
    const ratio = echo === undefined || echo.rps === 0 ? "" : pct(f.rps / echo.rps);
    const echoRps = echo === undefined ? "" : int(echo.rps);
    const cpu = f.cpuUsPerResult === undefined ? "" : f.cpuUsPerResult.toFixed(0);
    const cpuRatio =
      echo?.cpuUsPerResult === undefined || !f.cpuUsPerResult ? "" : pct(echo.cpuUsPerResult / f.cpuUsPerResult);
    this.line(
      `  ${label.padEnd(52)} ${String(connections).padStart(5)} ${int(f.rps).padStart(8)} ${ms(f.p50).padStart(8)} ${ms(f.p99).padStart(8)} ${int(f.errors).padStart(7)} ${ratio.padStart(8)} ${echoRps.padStart(10)} ${cpu.padStart(7)} ${cpuRatio.padStart(11)}`,
    );
    this.errorDetail(f);
  }

  errorDetail(f: Figures): void {
    if (f.errors > 0 && f.firstError) this.line(`      first error: ${f.firstError.replace(/\s+/g, " ")}`);
    if (f.timeouts > 0) this.line(`      timeouts (15 s): ${int(f.timeouts)}`);
  }

  /** A table: one row per label, one cell per column. */
  table(corner: string, columns: readonly string[], rows: readonly { label: string; cells: readonly string[] }[]) {
    const width = Math.max(14, ...rows.flatMap((r) => r.cells.map((c) => c.length + 2)));
    const first = Math.max(corner.length, ...rows.map((r) => r.label.length)) + 2;
    this.line(`  ${corner.padEnd(first)}${columns.map((c) => c.padStart(width)).join("")}`);
    for (const r of rows) this.line(`  ${r.label.padEnd(first)}${r.cells.map((c) => c.padStart(width)).join("")}`);
  }

  goal(g: Goal): void {
    this.goals.push(g);
  }

  summary(): void {
    if (this.goals.length === 0) return;
    this.section("summary (figures from this run on this machine; nothing is asserted)");
    const goals = [...this.goals].sort((a, b) => a.goal.localeCompare(b.goal));
    const w = Math.max(...goals.map((g) => g.what.length));
    const f = Math.max(6, ...goals.map((g) => g.figure.length));
    const t = Math.max(6, ...goals.map((g) => g.target.length));
    this.line(`  ${"goal".padEnd(5)} ${"what".padEnd(w)}  ${"figure".padStart(f)}  ${"target".padEnd(t)}  holds`);
    for (const g of goals) {
      const holds = g.holds === undefined ? "n/a" : g.holds ? "yes" : "NO";
      this.line(`  ${g.goal.padEnd(5)} ${g.what.padEnd(w)}  ${g.figure.padStart(f)}  ${g.target.padEnd(t)}  ${holds}`);
    }
  }
}
