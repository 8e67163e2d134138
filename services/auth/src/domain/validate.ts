import { invalidParams } from "@pkiserver/kit/core";

/** Length check with the contract's message shape (`field -> Invalid length! …`). */
export function checkLength(field: string, value: string | readonly unknown[], min: number, max: number): void {
  const len = value.length;
  if (len < min) throw invalidParams(`${field} -> Invalid length! Expected min ${min}, get ${len}`);
  if (len > max) throw invalidParams(`${field} -> Invalid length! Expected max ${max}, get ${len}`);
}
