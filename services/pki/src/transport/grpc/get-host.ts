import type { pkiV1 } from "@pkiserver/proto";
import { getHost } from "../../domain/get-host";
import type { PkiDeps } from "../../domain/ports";
import { hostToProto } from "./codec";

export function getHostHandler(deps: PkiDeps) {
  return async (req: pkiV1.GetHostRequest): Promise<pkiV1.GetHostResponse> => ({
    host: hostToProto(
      await getHost(deps, {
        ...(req.instanceId === undefined ? {} : { instanceId: req.instanceId }),
        ...(req.hostUrl === undefined ? {} : { hostUrl: req.hostUrl }),
      }),
    ),
  });
}
