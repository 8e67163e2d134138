import { integer } from "@pkiserver/contract";

const logIndex = integer();

/** Sizes and indexes of the log: non-negative safe integers (the log checks them against its size). */
export function checkLogIndex(field: string, value: number): number {
  return logIndex.parse(value, [field]);
}
