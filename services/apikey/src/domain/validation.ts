import { invalidParams } from "@pkiserver/kit/core";

/** `-32602` in the contract's wording when `value` is outside [min, max] characters. */
export function checkLength(field: string, value: string, min: number, max: number): void {
  if (value.length < min) throw invalidParams(`${field} -> Invalid length! Expected min ${min}, get ${value.length}`);
  if (value.length > max) throw invalidParams(`${field} -> Invalid length! Expected max ${max}, get ${value.length}`);
}

export function checkListLength(field: string, list: readonly unknown[], max: number): void {
  if (list.length > max) throw invalidParams(`${field} -> Invalid length! Expected max ${max}, get ${list.length}`);
}
