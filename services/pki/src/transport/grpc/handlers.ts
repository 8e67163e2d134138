import { type AsyncHandlers, abortable, type CallContext } from "@pkiserver/kit";
import type { pkiV1 } from "@pkiserver/proto";
import { addHostUrl } from "../../domain/add-host-url";
import { deleteHost } from "../../domain/delete-host";
import { deleteKey } from "../../domain/delete-key";
import { getCurrentKey } from "../../domain/get-current-key";
import { getHost } from "../../domain/get-host";
import { getKeyAt } from "../../domain/get-key-at";
import { getKeyHistory } from "../../domain/get-key-history";
import { listHosts } from "../../domain/list-hosts";
import type { PkiDeps } from "../../domain/ports";
import { removeHostUrl } from "../../domain/remove-host-url";
import { setHost } from "../../domain/set-host";
import { setKey } from "../../domain/set-key";
import { verifyHostById } from "../../domain/verify-host-by-id";
import { verifyHostByPub } from "../../domain/verify-host-by-pub";
import { verifyKey } from "../../domain/verify-key";
import { hostToProto, recordToProto, refFromProto } from "./codec";

/**
 * The generated server interface, without the index signature it inherits
 * from grpc-js: mapped over, that signature would demand a handler of type
 * `never` for every string.
 */
export type PkiServiceMethods = {
  [K in keyof pkiV1.PkiServiceServer as string extends K ? never : K]: pkiV1.PkiServiceServer[K];
};

/** One entry per RPC: decode the request, run its use case, encode the result. */
export function pkiHandlers(deps: PkiDeps): AsyncHandlers<PkiServiceMethods> {
  // A write whose caller gave up stops before its next store step; reads are one step each.
  const writing = (ctx: CallContext): PkiDeps => ({
    ...deps,
    hosts: abortable(deps.hosts, ctx),
    keys: abortable(deps.keys, ctx),
  });
  return {
    setHost: async (req, ctx) => ({ instanceId: await setHost(writing(ctx), req) }),
    addHostUrl: async (req, ctx) => {
      await addHostUrl(writing(ctx), req);
      return {};
    },
    removeHostUrl: async (req, ctx) => {
      await removeHostUrl(writing(ctx), req);
      return {};
    },
    deleteHost: async (req, ctx) => {
      await deleteHost(writing(ctx), req);
      return {};
    },
    listHosts: async () => ({ hosts: (await listHosts(deps)).map(hostToProto) }),
    getHost: async (req) => ({
      host: hostToProto(
        await getHost(deps, {
          ...(req.instanceId === undefined ? {} : { instanceId: req.instanceId }),
          ...(req.hostUrl === undefined ? {} : { hostUrl: req.hostUrl }),
        }),
      ),
    }),
    verifyHostById: async (req) => ({ valid: await verifyHostById(deps, req) }),
    verifyHostByPub: async (req) => ({ valid: await verifyHostByPub(deps, req) }),
    setKey: async (req, ctx) => ({
      record: recordToProto(
        await setKey(writing(ctx), {
          ref: refFromProto(req.ref),
          userPubKey: req.userPubKey,
          customData: req.customDataJson,
        }),
      ),
    }),
    deleteKey: async (req, ctx) => ({
      record: recordToProto(await deleteKey(writing(ctx), { ref: refFromProto(req.ref) })),
    }),
    getCurrentKey: async (req) => ({
      record: recordToProto(await getCurrentKey(deps, { ref: refFromProto(req.ref) })),
    }),
    getKeyAt: async (req) => ({
      record: recordToProto(await getKeyAt(deps, { ref: refFromProto(req.ref), date: req.date })),
    }),
    getKeyHistory: async (req) => ({
      records: (await getKeyHistory(deps, { ref: refFromProto(req.ref) })).map(recordToProto),
    }),
    verifyKey: async (req) => ({
      valid: await verifyKey(deps, { ref: refFromProto(req.ref), userPubKey: req.userPubKey, date: req.date }),
    }),
  };
}
