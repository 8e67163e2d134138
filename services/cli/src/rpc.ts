/** A JSON-RPC error reply, or a transport failure described the same way. */
export class RpcError extends Error {
  constructor(
    message: string,
    readonly code: number | undefined,
  ) {
    super(message);
    this.name = "RpcError";
  }
}

/** Each call gives up after this long, ms. */
const CALL_TIMEOUT_MS = 30_000;

/**
 * The session every run opens under its key's whole scope. Named, so runs
 * replace one session instead of filling the key's 16 (which would close the
 * key's other clients' oldest sessions).
 */
const SESSION_SCOPE = ["session:pkiserver-cli"];

/** 75 (expired or revoked) and 76 (unreadable) are answered before a method runs: signing in again is safe. */
const TOKEN_ERRORS = new Set([75, 76]);

/**
 * The gateway's JSON-RPC API with an API key's credentials: `auth/token`
 * (client_credentials) once, then every call with the access token as Bearer.
 * A token another run replaced (same session name) is renewed once.
 */
export class GatewayClient {
  private accessToken: string | undefined;
  private nextId = 1;

  constructor(
    readonly url: string,
    private readonly clientId: string,
    private readonly clientSecret: string,
  ) {}

  /** The Authorization header of an authenticated call (signing in first if needed). */
  async authorization(): Promise<string> {
    if (this.accessToken === undefined) {
      const token = (await this.send("auth/token", {
        grantType: "client_credentials",
        clientId: this.clientId,
        clientSecret: this.clientSecret,
        scope: SESSION_SCOPE,
      })) as { accessToken: string };
      this.accessToken = token.accessToken;
    }
    return `Bearer ${this.accessToken}`;
  }

  async call<T = unknown>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    try {
      return (await this.send(method, params, await this.authorization())) as T;
    } catch (err) {
      if (!(err instanceof RpcError && err.code !== undefined && TOKEN_ERRORS.has(err.code))) throw err;
      this.accessToken = undefined;
      return (await this.send(method, params, await this.authorization())) as T;
    }
  }

  private async send(method: string, params: Record<string, unknown>, authorization?: string): Promise<unknown> {
    const id = this.nextId++;
    let res: Response;
    try {
      res = await fetch(`${this.url}/main`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(authorization ? { authorization } : {}) },
        body: JSON.stringify({ jsonrpc: "2.0", id, method, params }),
        signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      throw new RpcError(`cannot reach ${this.url}${cause ? ` (${cause})` : ""}`, undefined);
    }
    const text = await res.text();
    let reply: { result?: unknown; error?: { code: number; message: string } };
    try {
      reply = JSON.parse(text) as typeof reply;
    } catch {
      throw new RpcError(`${method}: HTTP ${res.status}, not a JSON-RPC reply`, undefined);
    }
    if (reply.error) throw new RpcError(reply.error.message, reply.error.code);
    if (!("result" in reply)) throw new RpcError(`${method}: HTTP ${res.status}, no result`, undefined);
    return reply.result;
  }
}
