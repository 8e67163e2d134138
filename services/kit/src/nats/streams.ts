import { DiscardPolicy, type JetStreamManager, nanos, RetentionPolicy, StorageType, type StreamConfig } from "nats";
import { streamName } from "./subjects";
import { isNotFound } from "./util";

export interface StreamSettings {
  prefix: string;
  /** Stream key → relative subject filter. */
  streams: Readonly<Record<string, string>>;
  /** Retention of the streams configured explicitly; others get the default and are otherwise left alone. */
  streamMaxAgeMs: Readonly<Record<string, number>>;
  defaultStreamMaxAgeMs: number;
  duplicateWindowMs: number;
  replicas: number;
}

/**
 * Creates each stream when missing; updates retention where it was
 * configured explicitly, so a process that only reads a stream never
 * shortens its retention.
 */
export async function ensureStreams(jsm: JetStreamManager, opts: StreamSettings): Promise<void> {
  const { prefix, streams, streamMaxAgeMs, defaultStreamMaxAgeMs, duplicateWindowMs, replicas } = opts;
  for (const [key, subject] of Object.entries(streams)) {
    const name = streamName(prefix, key);
    const explicitAge = streamMaxAgeMs[key];
    const maxAgeMs = explicitAge ?? defaultStreamMaxAgeMs;
    const config: Partial<StreamConfig> & { name: string } = {
      name,
      subjects: [`${prefix}.${subject}`],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      max_age: nanos(maxAgeMs),
      // JetStream refuses a de-duplication window longer than the max age.
      duplicate_window: nanos(Math.min(duplicateWindowMs, maxAgeMs)),
      num_replicas: replicas,
    };
    let existing = await jsm.streams.info(name).catch((err: unknown) => {
      if (isNotFound(err)) return undefined;
      throw err;
    });
    if (!existing) {
      try {
        await jsm.streams.add(config);
        continue;
      } catch (err) {
        // Another process created it between our look and our add, perhaps
        // with another retention: fall through to set ours.
        existing = await jsm.streams.info(name).catch(() => undefined);
        if (!existing) throw err;
      }
    }
    if (explicitAge !== undefined && existing.config.max_age !== config.max_age) {
      await jsm.streams.update(name, {
        ...existing.config,
        max_age: config.max_age,
        duplicate_window: config.duplicate_window,
      });
    }
  }
}
