import type { pkiV1 } from "@pkiserver/proto";
import { listHosts } from "../../domain/list-hosts";
import type { PkiDeps } from "../../domain/ports";
import { hostToProto } from "./codec";

export function listHostsHandler(deps: PkiDeps) {
  return async (_req: pkiV1.ListHostsRequest): Promise<pkiV1.ListHostsResponse> => ({
    hosts: (await listHosts(deps)).map(hostToProto),
  });
}
