import { context, propagation } from "@opentelemetry/api";
import type { ConsumerConfig, ConsumerMessages, JetStreamClient, JetStreamManager, JsMsg, NatsConnection } from "nats";
import type { SubscribeOptions } from "../bus";
import type { Logger } from "../logger";
import { toBusMessage } from "./subjects";
import { describe, isNotFound, withinMs } from "./util";

/** One JetStream consumer a subscription reads: its stream, filter and name. */
export interface ConsumerTarget {
  stream: string;
  filter: string;
  name: string;
}

/**
 * One subscription of the bus: a consumer per stream its subjects touch,
 * each read by a loop that runs the handler and acknowledges (or, when the
 * handler fails, asks for redelivery after a delay): one event at a time, or
 * up to the subscription's `concurrency` at once.
 */
export interface SubscriptionDeps {
  nc: NatsConnection;
  jsm: JetStreamManager;
  js: JetStreamClient;
  prefix: string;
  redeliveryDelayMs: number;
  logger: Logger | undefined;
  isConnected(): boolean;
}

export class NatsSubscription {
  private readonly running: { iter: ConsumerMessages; loop: Promise<void>; target: ConsumerTarget }[] = [];
  private stopped = false;

  constructor(
    private readonly deps: SubscriptionDeps,
    private readonly opts: SubscribeOptions,
  ) {}

  async attach(target: ConsumerTarget, config: Partial<ConsumerConfig>): Promise<void> {
    const { jsm, js, logger } = this.deps;
    const existing = await jsm.consumers.info(target.stream, target.name).catch((err: unknown) => {
      if (isNotFound(err)) return undefined;
      throw err;
    });
    if (!existing) await jsm.consumers.add(target.stream, config);
    const consumer = await js.consumers.get(target.stream, target.name);
    const iter = await consumer.consume({ max_messages: 32 });
    const loop = this.run(iter).catch((err: unknown) => {
      if (!this.stopped) logger?.error({ err: describe(err), consumer: target.name }, "event consumer ended");
    });
    this.running.push({ iter, loop, target });
  }

  private async run(iter: ConsumerMessages): Promise<void> {
    const limit = Math.max(1, Math.floor(this.opts.concurrency ?? 1));
    const handling = new Set<Promise<void>>();
    for await (const m of iter) {
      if (this.stopped) {
        // Pulled but not handled: hand it back now rather than after ack_wait.
        m.nak();
        continue;
      }
      const done: Promise<void> = this.handle(m).finally(() => handling.delete(done));
      handling.add(done);
      // One at a time by default (in order); a consumer that allows more pulls on while it has room.
      if (handling.size >= limit) await Promise.race(handling);
    }
    await Promise.all(handling);
  }

  /** Runs the handler, then acknowledges; a failure asks for redelivery after a delay. Never rejects. */
  private async handle(m: JsMsg): Promise<void> {
    const { prefix, redeliveryDelayMs, logger } = this.deps;
    const msg = toBusMessage(m, prefix);
    const ctx = propagation.extract(context.active(), msg.headers);
    try {
      await context.with(ctx, () => this.opts.handler(msg));
      await m.ackAck().catch(() => m.ack());
    } catch (err) {
      logger?.warn({ err: describe(err), subject: msg.subject, id: msg.id }, "event handler failed");
      m.nak(redeliveryDelayMs);
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const { jsm, nc, isConnected } = this.deps;
    for (const r of this.running) r.iter.stop();
    await Promise.all(this.running.map((r) => r.loop));
    // Without the server there is nothing to flush or delete (the server
    // removes an unused consumer without a durable name by itself).
    if (!isConnected() || nc.isClosed()) return;
    await withinMs(nc.flush(), 2000);
    if (!this.opts.durable) {
      for (const r of this.running) await jsm.consumers.delete(r.target.stream, r.target.name).catch(() => {});
    }
  }
}
