import { fields } from "@pkiserver/contract";

/*
 * The gateway validates parameters first; the service checks again with the
 * same fields (the contract package), because its gRPC port has other
 * callers: one bound and one message per field wherever it is checked.
 */

export const checkRefreshToken = (value: string): string => fields.refreshToken.parse(value, ["refreshToken"]);

export const checkSessionName = (value: string): string => fields.sessionName.parse(value, ["sessionName"]);

export const checkApiKeyId = (value: string): string => fields.apiKeyId.parse(value, ["apiKeyId"]);

export const checkScopeList = (value: readonly string[]): string[] => fields.scopeList.parse(value, ["scope"]);

/** The client_credentials grant's credential. */
export function checkClientCredentials(grant: { clientId: string; clientSecret: string }): void {
  fields.clientId.parse(grant.clientId, ["clientId"]);
  fields.clientSecret.parse(grant.clientSecret, ["clientSecret"]);
}

/** The client_signature grant's credential. */
export function checkClientSignature(grant: {
  clientId: string;
  signature: string;
  timestamp: number;
  nonce: string;
  data?: string | undefined;
}): void {
  fields.clientId.parse(grant.clientId, ["clientId"]);
  fields.signature.parse(grant.signature, ["signature"]);
  fields.nonce.parse(grant.nonce, ["nonce"]);
  if (grant.data !== undefined) fields.grantData.parse(grant.data, ["data"]);
  fields.timestamp.parse(grant.timestamp, ["timestamp"]);
}
