import type { authV1 } from "@pkiserver/proto";
import { listRevocations as list } from "../../domain/list-revocations";
import type { AuthDeps } from "../../domain/ports";

export function listRevocations(deps: AuthDeps) {
  return async (_req: authV1.ListRevocationsRequest): Promise<authV1.ListRevocationsResponse> => list(deps);
}
