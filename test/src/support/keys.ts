import { generateKeyPairSync } from "node:crypto";

// Valid compressed secp256k1 public keys in base58check (the first two from API.md).
export const HOST_KEYS = [
  "8UV7xqdcyqYDcZomeZbv4YNXLhikz1gt5teR9Qgot8xknL6nhH",
  "51WPnnGwztNPWUDEbhncYDxZCZWAFS4M9Yqv94N2335nL92fEn",
] as const;

/** An Ed25519 key pair in PEM, for public-key API keys. */
export function ed25519Pair(): { publicKeyPem: string; privateKeyPem: string } {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  return {
    publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
    privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
  };
}

// A fresh valid user/host key: base58check of a compressed secp256k1 point.
export { randomPubKey } from "@pkiserver/contract";
