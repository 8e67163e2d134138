import { type AsyncHandlers, bindToCall, type Logger, perCall, type Rpcs, registration } from "@pkiserver/kit";
import { pkiV1 } from "@pkiserver/proto";
import type { PkiDeps } from "../../domain/ports";
import type { TransparencyLog } from "../../domain/transparency";
import { addHostUrlHandler } from "./add-host-url";
import { deleteHostHandler } from "./delete-host";
import { deleteKeyHandler } from "./delete-key";
import { getCheckpointHandler } from "./get-checkpoint";
import { getConsistencyProofHandler } from "./get-consistency-proof";
import { getCurrentKeyHandler } from "./get-current-key";
import { getHostHandler } from "./get-host";
import { getInclusionProofHandler } from "./get-inclusion-proof";
import { getKeyAtHandler } from "./get-key-at";
import { getKeyHistoryHandler } from "./get-key-history";
import { getKeyProofHandler } from "./get-key-proof";
import { getLogTileHandler } from "./get-log-tile";
import { listHostsHandler } from "./list-hosts";
import { removeHostUrlHandler } from "./remove-host-url";
import { setHostHandler } from "./set-host";
import { setKeyHandler } from "./set-key";
import { verifyHostByIdHandler } from "./verify-host-by-id";
import { verifyHostByPubHandler } from "./verify-host-by-pub";
import { verifyKeyHandler } from "./verify-key";

/** The pki service: one handler per RPC (decode the request, run its use case, encode the result). */
export function pkiService(deps: PkiDeps, logger: Logger, log: TransparencyLog) {
  // A write whose caller gave up stops before its next store step; reads are one step each.
  const forCall = bindToCall(deps, { stores: ["hosts", "keys"] });
  const handlers: AsyncHandlers<Rpcs<pkiV1.PkiServiceServer>> = {
    ...perCall(forCall, {
      setHost: setHostHandler,
      addHostUrl: addHostUrlHandler,
      removeHostUrl: removeHostUrlHandler,
      deleteHost: deleteHostHandler,
      setKey: setKeyHandler,
      deleteKey: deleteKeyHandler,
    }),
    listHosts: listHostsHandler(deps),
    getHost: getHostHandler(deps),
    verifyHostById: verifyHostByIdHandler(deps),
    verifyHostByPub: verifyHostByPubHandler(deps),
    getCurrentKey: getCurrentKeyHandler(deps),
    getKeyAt: getKeyAtHandler(deps),
    getKeyHistory: getKeyHistoryHandler(deps),
    verifyKey: verifyKeyHandler(deps),
    getCheckpoint: getCheckpointHandler(log),
    getInclusionProof: getInclusionProofHandler(log),
    getConsistencyProof: getConsistencyProofHandler(log),
    getKeyProof: getKeyProofHandler(log),
    getLogTile: getLogTileHandler(log),
  };
  return registration<pkiV1.PkiServiceServer>(pkiV1.PkiServiceClient, pkiV1.PkiServiceService, handlers, logger);
}
