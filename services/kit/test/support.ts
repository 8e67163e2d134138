import { context, propagation, TraceFlags, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { streamName } from "@pkiserver/kit";
import { connect } from "nats";

export const enc = (s: string) => new TextEncoder().encode(s);
export const dec = (b: Uint8Array) => new TextDecoder().decode(b);
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Removes a test prefix's streams so the shared server does not keep them. */
export async function deleteStreams(servers: string, prefix: string): Promise<void> {
  const nc = await connect({ servers });
  try {
    const jsm = await nc.jetstreamManager();
    for (const key of ["apikey", "auth", "pki"]) await jsm.streams.delete(streamName(prefix, key)).catch(() => {});
  } finally {
    await nc.close();
  }
}

/** The trace `withTracePropagation` publishes in. */
export const TRACE_ID = "0af7651916cd43dd8448eb211c80319c";

/**
 * Runs `body` with W3C trace context propagation on, as telemetry sets it up;
 * `inTrace` runs its function in a sampled span context of TRACE_ID. Turns
 * propagation off afterwards.
 */
export async function withTracePropagation(body: (inTrace: <T>(fn: () => T) => T) => Promise<void>): Promise<void> {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  try {
    const parent = trace.setSpanContext(context.active(), {
      traceId: TRACE_ID,
      spanId: "b7ad6b7169203331",
      traceFlags: TraceFlags.SAMPLED,
      isRemote: false,
    });
    await body((fn) => context.with(parent, fn));
  } finally {
    propagation.disable();
    context.disable();
  }
}
