import {
  type CallOptions,
  decodeEvent,
  type EventBus,
  Events,
  type Logger,
  retrying,
  type Subscription,
  type SyncHandle,
} from "@pkiserver/kit";
import { openCheckpoint, parseVerifierKey } from "@pkiserver/log";
import type { eventsV1, pkiV1 } from "@pkiserver/proto";

type Answer = pkiV1.GetCheckpointResponse;

/**
 * How long a checkpoint is served after it arrived before pki is asked again. The sequencer
 * announces each checkpoint it signs (at least every PMX_LOG_CHECKPOINT_INTERVAL ms, 1 s by
 * default, while the log grows); a late or lost announcement keeps an older one in service for
 * at most this long, so a change is still in a served checkpoint within 2 s of its reply.
 */
export const CHECKPOINT_FRESH_MS = 500;

/**
 * The log's newest checkpoint as this gateway knows it: from the sequencer's announcements,
 * else from pki (one call at a time, whatever the number of requests waiting for it). Never
 * goes back to a smaller tree than one it served.
 */
export class CheckpointCache {
  private latest: { readonly answer: Answer; until: number } | undefined;
  private asking: Promise<Answer> | undefined;
  /** The verifier key pki named: an announcement signed by another key is not served. */
  private verifierKey: string | undefined;

  constructor(
    private readonly ask: (opts?: CallOptions) => Promise<Answer>,
    private readonly freshMs = CHECKPOINT_FRESH_MS,
    private readonly now: () => number = Date.now,
  ) {}

  get(opts?: CallOptions): Promise<Answer> {
    const l = this.latest;
    if (l !== undefined && this.now() < l.until) return Promise.resolve(l.answer);
    this.asking ??= this.ask(opts)
      .then((answer) => {
        this.verifierKey = answer.verifierKey;
        return this.offer(answer);
      })
      .finally(() => {
        this.asking = undefined;
      });
    return this.asking;
  }

  /** Takes an announced checkpoint once its signature holds; false when it was not taken. */
  announced(event: eventsV1.LogCheckpointSigned): boolean {
    if (this.verifierKey !== undefined && event.verifierKey !== this.verifierKey) return false;
    let c: ReturnType<typeof openCheckpoint>;
    try {
      c = openCheckpoint(event.checkpoint, parseVerifierKey(event.verifierKey));
    } catch {
      return false;
    }
    this.offer({
      checkpoint: event.checkpoint,
      origin: c.origin,
      treeSize: c.size,
      rootHash: Buffer.from(c.root),
      headMapRoot: Buffer.from(c.headMapRoot),
      verifierKey: event.verifierKey,
    });
    return true;
  }

  /** Keeps `answer` unless a larger tree is known; either way the newest is fresh again. */
  private offer(answer: Answer): Answer {
    const l = this.latest;
    const kept = l !== undefined && l.answer.treeSize > answer.treeSize ? l.answer : answer;
    this.latest = { answer: kept, until: this.now() + this.freshMs };
    return kept;
  }
}

/** Follows the sequencer's checkpoint announcements into `cache`. */
export function startCheckpointSync(opts: { bus: EventBus; cache: CheckpointCache; logger: Logger }): SyncHandle {
  const { bus, cache, logger } = opts;
  let stopped = false;
  let subscribed = false;
  let sub: Subscription | undefined;
  const ready = retrying(
    async () => {
      sub = await bus.subscribe({
        subjects: [Events.logCheckpointSigned.subject],
        deliver: "new",
        handler: async (msg) => {
          const event = decodeEvent(Events.logCheckpointSigned, msg);
          if (event !== undefined && !cache.announced(event)) {
            logger.warn({ treeSize: event.treeSize }, "log checkpoint announcement not verified, ignored");
          }
        },
      });
      subscribed = true;
    },
    logger,
    "log checkpoint events",
    () => stopped,
  );
  return {
    loaded: ready,
    isLoaded: () => subscribed,
    stop: async () => {
      stopped = true;
      await sub?.stop();
    },
  };
}
