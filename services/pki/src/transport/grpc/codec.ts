import { invalidParams } from "@pkiserver/kit";
import type { pkiV1 } from "@pkiserver/proto";
import type { Host, KeyRecord, KeyRef } from "../../domain/entities";

export function refFromProto(ref: pkiV1.KeyRef | undefined): KeyRef {
  if (!ref) throw invalidParams("Key 'ref' is required");
  return { userId: ref.userId, instanceId: ref.instanceId, contextId: ref.contextId };
}

export function hostToProto(host: Host): pkiV1.Host {
  return { instanceId: host.instanceId, hostPubKey: host.hostPubKey, addresses: [...host.addresses] };
}

export function recordToProto(r: KeyRecord): pkiV1.KeyRecord {
  return {
    userId: r.userId,
    instanceId: r.instanceId,
    contextId: r.contextId,
    createDate: r.createDate,
    ...(r.userPubKey === undefined ? {} : { userPubKey: r.userPubKey }),
    ...(r.customData === undefined ? {} : { customDataJson: r.customData }),
  };
}
