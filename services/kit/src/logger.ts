import { pino } from "pino";

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

/** Structured JSON logs, one line per event. */
export function createLogger(opts: LoggerOptions): Logger {
  return pino(
    {
      name: opts.name,
      level: opts.level ?? "info",
      redact: { paths: REDACT, censor: "[redacted]" },
      base: { service: opts.name },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    opts.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
