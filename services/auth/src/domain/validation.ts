import { invalidParams, nonceProblem } from "@pkiserver/kit/core";

/** Length check with the contract's message shape (`field -> Invalid length! …`). */
export function checkLength(field: string, value: string | readonly unknown[], min: number, max: number): void {
  const len = value.length;
  if (len < min) throw invalidParams(`${field} -> Invalid length! Expected min ${min}, get ${len}`);
  if (len > max) throw invalidParams(`${field} -> Invalid length! Expected max ${max}, get ${len}`);
}

/** A signature nonce of the contract's alphabet (API.md section 3), else `-32602` naming the field. */
export function checkNonce(field: string, value: string): void {
  const problem = nonceProblem(value);
  if (problem !== undefined) throw invalidParams(`${field} -> ${problem}`);
}
