import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import forge from "node-forge";

const DAY_MS = 86_400_000;

/** PEM text of a certificate and its private key. */
export interface PemPair {
  readonly cert: string;
  readonly key: string;
}

/** An RSA key made by Node (fast, native), in the form forge signs with. */
function newKey(): { pem: string; forgeKey: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey } {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const forgeKey = forge.pki.privateKeyFromPem(pem) as forge.pki.rsa.PrivateKey;
  return { pem, forgeKey, publicKey: forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e) };
}

function serial(): string {
  // Positive, 16 bytes.
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString("hex");
}

/** A certificate of `publicKey` with a fresh serial, valid from a minute ago for a day; the caller names and signs it. */
function newCertificate(publicKey: forge.pki.rsa.PublicKey): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = serial();
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + DAY_MS);
  return cert;
}

/**
 * A throwaway certificate authority for mutual TLS between local processes
 * (the local launcher of the distributed form, tests). Its certificates live
 * a day; nothing of it is meant to outlive the processes it serves.
 */
export class DevCertificateAuthority {
  private constructor(
    readonly cert: string,
    private readonly caCert: forge.pki.Certificate,
    private readonly caKey: forge.pki.rsa.PrivateKey,
  ) {}

  static create(name = "pkiserver local CA"): DevCertificateAuthority {
    const key = newKey();
    const cert = newCertificate(key.publicKey);
    const subject = [{ name: "commonName", value: name }];
    cert.setSubject(subject);
    cert.setIssuer(subject);
    cert.setExtensions([
      { name: "basicConstraints", cA: true, pathLenConstraint: 0, critical: true },
      { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
      { name: "subjectKeyIdentifier" },
    ]);
    cert.sign(key.forgeKey, forge.md.sha256.create());
    return new DevCertificateAuthority(forge.pki.certificateToPem(cert), cert, key.forgeKey);
  }

  /** A certificate for a process that both serves and calls (server and client authentication). */
  issue(commonName: string, hosts: { dns?: readonly string[]; ips?: readonly string[] } = {}): PemPair {
    const key = newKey();
    const cert = newCertificate(key.publicKey);
    cert.setSubject([{ name: "commonName", value: commonName }]);
    cert.setIssuer(this.caCert.subject.attributes);
    cert.setExtensions([
      { name: "basicConstraints", cA: false, critical: true },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
      { name: "extKeyUsage", serverAuth: true, clientAuth: true },
      {
        name: "subjectAltName",
        altNames: [
          ...(hosts.dns ?? ["localhost"]).map((value) => ({ type: 2, value })),
          ...(hosts.ips ?? ["127.0.0.1", "::1"]).map((ip) => ({ type: 7, ip })),
        ],
      },
    ]);
    cert.sign(this.caKey, forge.md.sha256.create());
    return { cert: forge.pki.certificateToPem(cert), key: key.pem };
  }
}

/**
 * Writes a CA and one certificate that every local process presents (and
 * serves with) into a fresh temporary directory, as PMX_GRPC_TLS_* name them.
 */
export function writeDevTls(): { env: Record<string, string>; remove(): void } {
  const ca = DevCertificateAuthority.create();
  const pair = ca.issue("pkiserver");
  const dir = mkdtempSync(join(tmpdir(), "pkiserver-tls-"));
  const paths = { cert: join(dir, "tls.crt"), key: join(dir, "tls.key"), ca: join(dir, "ca.crt") };
  writeFileSync(paths.cert, pair.cert);
  writeFileSync(paths.key, pair.key, { mode: 0o600 });
  writeFileSync(paths.ca, ca.cert);
  return {
    env: { PMX_GRPC_TLS_CERT: paths.cert, PMX_GRPC_TLS_KEY: paths.key, PMX_GRPC_TLS_CA: paths.ca },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
