// parse-prometheus-text-format (no types of its own) checks the syntax and
// reads the families and their types; it folds a histogram's series into one
// without their labels, so the samples are read here line by line as well.
const parseText: (text: string) => { name: string; type: string }[] = require("parse-prometheus-text-format");

export interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

export interface Family {
  readonly type: string;
  readonly samples: Sample[];
}

const SAMPLE_RE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL_RE = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/gy;

function parseLabels(text: string | undefined): Record<string, string> {
  const labels: Record<string, string> = {};
  if (!text) return labels;
  LABEL_RE.lastIndex = 0;
  let consumed = 0;
  for (let m = LABEL_RE.exec(text); m !== null; m = LABEL_RE.exec(text)) {
    labels[m[1] as string] = (m[2] as string).replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
    consumed = LABEL_RE.lastIndex;
  }
  if (consumed !== text.length) throw new Error(`unparsable labels: {${text}}`);
  return labels;
}

/**
 * The families of a Prometheus text exposition, by name, each with its
 * samples (a histogram's `_bucket`, `_sum` and `_count` lines under its own
 * name). Throws on a line that is not valid exposition format.
 */
export function parseMetrics(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  for (const f of parseText(text)) families.set(f.name, { type: f.type, samples: [] });
  const familyOf = (sample: string) =>
    families.get(sample) ?? families.get(sample.replace(/_(bucket|sum|count|total|created)$/, ""));
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = SAMPLE_RE.exec(line);
    if (m === null) throw new Error(`unparsable sample line: ${line}`);
    const family = familyOf(m[1] as string);
    if (family === undefined) throw new Error(`sample of no declared family: ${line}`);
    family.samples.push({ name: m[1] as string, labels: parseLabels(m[2]), value: Number(m[3]) });
  }
  return families;
}
