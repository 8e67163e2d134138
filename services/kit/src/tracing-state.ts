/**
 * Whether a tracing SDK was started in this process (`startTelemetry` with
 * somewhere to send spans). Without one every span is a no-op, and code on
 * the request path skips making them.
 */
let on = false;

export function tracingStarted(): boolean {
  return on;
}

/** Called by `startTelemetry` once its tracer provider is registered. */
export function markTracingStarted(): void {
  on = true;
}
