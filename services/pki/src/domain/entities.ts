/** A registered server instance; its instanceId is its public key. */
export interface Host {
  readonly instanceId: string;
  readonly hostPubKey: string;
  /** In the order they were added. */
  readonly addresses: readonly string[];
}

/** Names one user-key history. */
export interface KeyRef {
  readonly userId: string;
  readonly instanceId: string;
  readonly contextId: string;
}

/** One entry of a history; a deletion record has no userPubKey. */
export interface KeyRecord extends KeyRef {
  /** Position in its history, from 1, without gaps. */
  readonly seq: number;
  /** Server time in ms; strictly increasing within a history. */
  readonly createDate: number;
  readonly userPubKey?: string | undefined;
  /** Caller-supplied JSON, serialised. */
  readonly customData?: string | undefined;
}

/** What a write adds to a history; the store assigns seq and createDate. */
export interface KeyEntry {
  readonly userPubKey?: string | undefined;
  readonly customData?: string | undefined;
}
