import {
  AppError,
  constantTimeEqual,
  createLogger,
  type GrpcServerHandle,
  implement,
  type Rpcs,
  SIGNATURE_WINDOW_MS,
  startGrpcServer,
  verifyEd25519,
  verifyHmac,
} from "@pkiserver/kit";
import { apikeyV1 } from "@pkiserver/proto";

/*
 * A stand-in for the apikey service over its real gRPC contract, checking
 * credentials with the kit's signature helpers. Only what auth calls is
 * served; the rest answers "method not found".
 */

export interface FakeKey {
  apiKeyId: string;
  enabled: boolean;
  maxScope: string[];
  secret?: string;
  publicKeyPem?: string;
}

type Methods = Rpcs<apikeyV1.ApiKeyServiceServer>;

export class FakeApiKeyServer {
  readonly keys = new Map<string, FakeKey>();
  private readonly nonces = new Set<string>();
  private handle: GrpcServerHandle | undefined;

  get address(): string {
    if (!this.handle) throw new Error("fake apikey server not started");
    return this.handle.address;
  }

  add(key: FakeKey): void {
    this.keys.set(key.apiKeyId, key);
  }

  private view(k: FakeKey): apikeyV1.ApiKey {
    return {
      apiKeyId: k.apiKeyId,
      name: k.apiKeyId,
      enabled: k.enabled,
      maxScope: [...k.maxScope],
      type: k.publicKeyPem ? apikeyV1.ApiKeyType.API_KEY_TYPE_PUB_KEY : apikeyV1.ApiKeyType.API_KEY_TYPE_SECRET,
      ...(k.publicKeyPem ? { clientPublicKey: k.publicKeyPem } : {}),
      createDate: 0,
      credentialGeneration: 0,
    };
  }

  private find(id: string): FakeKey {
    const k = this.keys.get(id);
    if (!k) throw new AppError("apikey.not_found");
    return k;
  }

  async start(): Promise<void> {
    const unsupported = async (): Promise<never> => {
      throw new AppError("rpc.method_not_found");
    };
    const implementation = implement<Methods>(
      apikeyV1.ApiKeyServiceService,
      {
        createFirstApiKey: unsupported,
        addApiKey: unsupported,
        listApiKeys: unsupported,
        updateApiKey: unsupported,
        deleteApiKey: unsupported,
        rotateApiKey: unsupported,
        getApiKey: async (req) => ({ apiKey: this.view(this.find(req.apiKeyId)) }),
        verifySecret: async (req) => {
          const k = this.find(req.apiKeyId);
          if (!k.enabled || k.secret === undefined || !constantTimeEqual(k.secret, req.secret)) {
            throw new AppError("auth.invalid_credentials");
          }
          return { apiKey: this.view(k), credentialGeneration: 0 };
        },
        verifySignature: async (req) => {
          const k = this.find(req.apiKeyId);
          const payload = Buffer.from(req.payload);
          const ok = k.publicKeyPem
            ? verifyEd25519(k.publicKeyPem, payload, req.signature)
            : k.secret !== undefined && verifyHmac(k.secret, payload, req.signature);
          const nonce = `${k.apiKeyId}\n${req.nonce}`;
          const fresh = Math.abs(Date.now() - req.timestamp) <= SIGNATURE_WINDOW_MS;
          if (!k.enabled || !ok || !fresh || this.nonces.has(nonce)) throw new AppError("auth.invalid_credentials");
          this.nonces.add(nonce);
          return { apiKey: this.view(k), credentialGeneration: 0 };
        },
      },
      createLogger({ name: "fake-apikey", level: "silent" }),
    );
    this.handle = await startGrpcServer({
      host: "127.0.0.1",
      port: 0,
      services: [
        { name: apikeyV1.ApiKeyServiceClient.serviceName, definition: apikeyV1.ApiKeyServiceService, implementation },
      ],
    });
  }

  async stop(): Promise<void> {
    await this.handle?.stop(100);
  }
}
