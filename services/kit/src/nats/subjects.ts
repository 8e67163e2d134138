import type { JsMsg, MsgHdrs } from "nats";
import { headers as natsHeaders } from "nats";
import type { BusMessage } from "../bus";

/*
 * Subjects, stream and consumer names, and the mapping between NATS messages
 * and the bus's messages.
 */

/** Headers NATS itself sets (`Nats-Msg-Id`, ...): not passed to handlers. */
const HEADER_PREFIX_INTERNAL = "nats-";

/** The stream name for a stream key: `PKISERVER_AUTH` for prefix `pkiserver`, key `auth`. */
export function streamName(prefix: string, key: string): string {
  return `${prefix}_${key}`.toUpperCase().replace(/[^A-Z0-9_-]/g, "_");
}

/**
 * The subjects matched by both NATS patterns, as one pattern, or undefined
 * when they share none. Exact for the shapes used here (literal tokens, `*`,
 * a trailing `>`).
 */
export function intersectSubjects(a: string, b: string): string | undefined {
  const x = a.split(".");
  const y = b.split(".");
  const out: string[] = [];
  for (let i = 0; ; i++) {
    const p = x[i];
    const q = y[i];
    if (p === undefined || q === undefined) return p === q ? out.join(".") : undefined;
    if (p === ">") return [...out, ...y.slice(i)].join(".");
    if (q === ">") return [...out, ...x.slice(i)].join(".");
    if (p === "*") out.push(q);
    else if (q === "*" || p === q) out.push(p);
    else return undefined;
  }
}

/** Whether a concrete subject is one of the subjects of a stream. */
export function subjectWithin(subject: string, streamSubject: string): boolean {
  return intersectSubjects(subject, streamSubject) === subject && !/[*>]/.test(subject);
}

/** A consumer name NATS accepts, made from any string. */
export function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 64);
}

/** NATS headers from a record; throws for a key or value NATS does not allow. */
export function toNatsHeaders(record: Record<string, string>): MsgHdrs {
  const h = natsHeaders();
  for (const [k, v] of Object.entries(record)) h.set(k, v);
  return h;
}

/** The bus message a JetStream delivery carries (subject without the prefix, the event id, the caller's headers). */
export function toBusMessage(m: JsMsg, prefix: string): BusMessage {
  const headers: Record<string, string> = {};
  let id = "";
  if (m.headers) {
    for (const [k, values] of m.headers) {
      if (k.toLowerCase() === "nats-msg-id") id = values[0] ?? "";
      else if (!k.toLowerCase().startsWith(HEADER_PREFIX_INTERNAL)) headers[k] = values[0] ?? "";
    }
  }
  const subject = m.subject.startsWith(`${prefix}.`) ? m.subject.slice(prefix.length + 1) : m.subject;
  return { subject, data: m.data, headers, id: id || `${m.info.stream}:${m.seq}` };
}
