// Loaded with `node --require` (through NODE_OPTIONS, which does not take --cpu-prof): profiles the
// process from its start and writes the profile where PMX_BENCH_CPU_PROF_DIR says when it exits,
// named like node's own `--cpu-prof` files, so the bench can profile processes another program starts.
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import { join } from "node:path";

const dir = process.env.PMX_BENCH_CPU_PROF_DIR;
if (dir !== undefined) {
  const session = new Session();
  session.connect();
  session.post("Profiler.enable");
  session.post("Profiler.start");
  const started = new Date();
  process.once("exit", () => {
    // The session of the process's own thread answers synchronously, so the profile is written before exit.
    session.post("Profiler.stop", (err, result) => {
      if (err !== null) return;
      const stamp = started.toISOString().replace(/[-:]/g, "").replace("T", ".").slice(0, 15);
      writeFileSync(join(dir, `CPU.${stamp}.${process.pid}.0.001.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
