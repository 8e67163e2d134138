import { context, isSpanContextValid, trace } from "@opentelemetry/api";
import { pino } from "pino";
import { tracingStarted } from "./tracing-state";

export type Logger = pino.Logger;

/**
 * Paths that may hold a secret anywhere in a log object; pino replaces their
 * values. Code should not log secrets at all: this is the second line.
 */
const REDACT = [
  "secret",
  "clientSecret",
  "apiKeySecret",
  "accessToken",
  "refreshToken",
  "authorization",
  "password",
  "initializationToken",
  "*.secret",
  "*.clientSecret",
  "*.apiKeySecret",
  "*.accessToken",
  "*.refreshToken",
  "*.authorization",
  "*.initializationToken",
  "*.password",
  "headers.authorization",
  'headers["x-user-token"]',
  "req.headers.authorization",
  'req.headers["x-user-token"]',
];

export interface LoggerOptions {
  name: string;
  level?: string;
  /** Where lines go; stdout by default (tests capture them). */
  destination?: pino.DestinationStream;
}

/** The active span's ids, as OpenTelemetry's log correlation names them. */
function traceFields(): Record<string, unknown> {
  const span = trace.getSpan(context.active());
  if (span === undefined) return {};
  const ctx = span.spanContext();
  if (!isSpanContextValid(ctx)) return {};
  // pino merges the line's own fields into this object: a new one every time.
  return { trace_id: ctx.traceId, span_id: ctx.spanId, trace_flags: ctx.traceFlags.toString(16).padStart(2, "0") };
}

/** Structured JSON logs, one line per event. */
export function createLogger(opts: LoggerOptions): Logger {
  return pino(
    {
      name: opts.name,
      // Once tracing has started (`startTelemetry`), loggers made from then on stamp each line
      // written while a span is active with its ids; without tracing they carry no mixin at all.
      ...(tracingStarted() ? { mixin: traceFields } : {}),
      level: opts.level ?? "info",
      redact: { paths: REDACT, censor: "[redacted]" },
      base: { service: opts.name },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    opts.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
