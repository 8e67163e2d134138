import { requiredScope } from "@pkiserver/contract";
import type { BearerVerifier, Logger, RpcHandlers, RpcRules, ServiceRegistration } from "@pkiserver/kit";
import { bindToCall, serviceRegistration } from "@pkiserver/kit";
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

/** Who may call each RPC: the scope of the public method it serves (the contract's table). */
export const PKI_RPC_RULES: RpcRules<pkiV1.PkiServiceServer> = {
  setHost: requiredScope("pkiAdmin/setHost"),
  addHostUrl: requiredScope("pkiAdmin/addHostUrl"),
  removeHostUrl: requiredScope("pkiAdmin/removeHostUrl"),
  deleteHost: requiredScope("pkiAdmin/deleteHost"),
  listHosts: requiredScope("pkiAdmin/listHosts"),
  getHost: requiredScope("pki/getHost"),
  verifyHostById: requiredScope("pki/verifyHostById"),
  verifyHostByPub: requiredScope("pki/verifyHostByPub"),
  setKey: requiredScope("pkiAdmin/setKey"),
  deleteKey: requiredScope("pkiAdmin/deleteKey"),
  getCurrentKey: requiredScope("pki/getCurrentKey"),
  getKeyAt: requiredScope("pki/getKeyAt"),
  getKeyHistory: requiredScope("pki/getKeyHistory"),
  verifyKey: requiredScope("pki/verifyKey"),
  getCheckpoint: requiredScope("pki/getCheckpoint"),
  getInclusionProof: requiredScope("pki/getInclusionProof"),
  getConsistencyProof: requiredScope("pki/getConsistencyProof"),
  getKeyProof: requiredScope("pki/getKeyProof"),
  // The log's tiles (GET /log/tile/...) have the scope of pki/*.
  getLogTile: requiredScope("pki/getCheckpoint"),
};

/** The rules with every `pki:read` RPC open to anyone (PMX_PKI_PUBLIC_READ). */
function publicReads(rules: typeof PKI_RPC_RULES): typeof PKI_RPC_RULES {
  return Object.fromEntries(
    Object.entries(rules).map(([name, rule]) => [name, rule === "pki:read" ? "open" : rule]),
  ) as typeof PKI_RPC_RULES;
}

/** The pki service: one handler per RPC (decode the request, run its use case, encode the result). */
export function pkiService(
  deps: PkiDeps,
  logger: Logger,
  log: TransparencyLog,
  access: { tokens: BearerVerifier | undefined; publicRead: boolean },
): ServiceRegistration {
  // A write whose caller gave up stops before its next store step; reads are one step each.
  const writing = bindToCall(deps, { stores: ["hosts", "keys"], events: ["events"] });
  const handlers: RpcHandlers<pkiV1.PkiServiceServer> = {
    setHost: (req, ctx) => setHostHandler(writing(ctx))(req),
    addHostUrl: (req, ctx) => addHostUrlHandler(writing(ctx))(req),
    removeHostUrl: (req, ctx) => removeHostUrlHandler(writing(ctx))(req),
    deleteHost: (req, ctx) => deleteHostHandler(writing(ctx))(req),
    listHosts: listHostsHandler(deps),
    getHost: getHostHandler(deps),
    verifyHostById: verifyHostByIdHandler(deps),
    verifyHostByPub: verifyHostByPubHandler(deps),
    setKey: (req, ctx) => setKeyHandler(writing(ctx))(req),
    deleteKey: (req, ctx) => deleteKeyHandler(writing(ctx))(req),
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
  return serviceRegistration(pkiV1.PkiServiceClient.serviceName, pkiV1.PkiServiceService, handlers, logger, {
    rules: access.publicRead ? publicReads(PKI_RPC_RULES) : PKI_RPC_RULES,
    tokens: access.tokens,
  });
}
