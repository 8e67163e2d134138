/**
 * One write for many callers: the items added while a flush runs wait for the next one, which
 * takes them all. One flush at a time; each `add` settles with its own item's outcome (the
 * flush returns one per item, in order) or with the flush's error.
 */
export class GroupCommit<T, R = undefined> {
  private items: T[] = [];
  private waiters: { resolve(r: R): void; reject(err: unknown): void }[] = [];
  /** The flush that will take `items`, queued behind the one running. */
  private next: Promise<void> | undefined;
  private last: Promise<void> = Promise.resolve();

  constructor(private readonly flush: (items: readonly T[]) => Promise<readonly R[]>) {}

  add(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.items.push(item);
      this.waiters.push({ resolve, reject });
      if (this.next === undefined) {
        this.next = this.last.then(() => this.run());
        this.last = this.next;
      }
    });
  }

  private async run(): Promise<void> {
    const items = this.items;
    const waiters = this.waiters;
    this.items = [];
    this.waiters = [];
    this.next = undefined;
    try {
      const results = await this.flush(items);
      for (let i = 0; i < waiters.length; i++) waiters[i]?.resolve(results[i] as R);
    } catch (err) {
      for (const w of waiters) w.reject(err);
    }
  }
}
