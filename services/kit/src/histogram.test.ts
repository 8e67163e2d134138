import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Histogram, Registry } from "prom-client";
import { LabelledHistogram } from "./histogram";

describe("LabelledHistogram", () => {
  it("exposes exactly what prom-client's Histogram exposes for the same observations", async () => {
    const bounds = [0.001, 0.01, 0.1, 1];
    const theirs = new Registry();
    const reference = new Histogram({
      name: "x_seconds",
      help: "h",
      labelNames: ["method", "code"],
      buckets: bounds,
      registers: [theirs],
    });
    const ours = new Registry();
    const fast = new LabelledHistogram("x_seconds", "h", bounds, [ours]);
    const a = fast.series({ method: "a", code: "0" });
    const b = fast.series({ method: "b", code: "-32602" });
    const values = [0, 0.001, 0.0011, 0.01, 0.05, 0.1, 0.5, 1, 1.5, 20];
    values.forEach((v, i) => {
      reference.observe({ method: "a", code: "0" }, v);
      a.observe(v);
      if (i % 3 === 0) {
        reference.observe({ method: "b", code: "-32602" }, v * 2);
        b.observe(v * 2);
      }
    });
    const lines = async (r: Registry) => (await r.metrics()).split("\n").filter(Boolean).sort();
    assert.deepEqual(await lines(ours), await lines(theirs));
    fast.reset();
    reference.reset();
    // After a reset prom-client shows no series; ours shows its series at zero, which Prometheus reads as a restart.
    assert.ok((await lines(ours)).some((l) => l === 'x_seconds_count{method="a",code="0"} 0'));
  });
});
