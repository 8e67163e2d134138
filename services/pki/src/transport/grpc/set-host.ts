import type { pkiV1 } from "@pkiserver/proto";
import type { PkiDeps } from "../../domain/ports";
import { setHost } from "../../domain/set-host";

export function setHostHandler(deps: PkiDeps) {
  return async (req: pkiV1.SetHostRequest): Promise<pkiV1.SetHostResponse> => ({
    instanceId: await setHost(deps, req),
  });
}
