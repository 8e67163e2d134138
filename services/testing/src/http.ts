/** POSTs a JSON-RPC body (object, array or raw string) and returns status, headers and parsed JSON. */
export async function post(
  target: { readonly rpcUrl: string },
  body: unknown,
  headers: Record<string, string> = {},
): Promise<HttpReply> {
  const res = await fetch(target.rpcUrl, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return httpReply(res);
}

/** An HTTP reply as tests read it: status, headers, the body as text and, when it is JSON, parsed. */
export interface HttpReply {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed, or undefined when it is empty or not JSON. */
  json: unknown;
}

/** Reads a fetch response's body into an HttpReply. */
export async function httpReply(res: Response): Promise<HttpReply> {
  const text = await res.text();
  let json: unknown;
  try {
    json = text.length > 0 ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** A JSON-RPC 2.0 request object. */
export function rpc(method: string, params?: unknown, id: string | number | null = 1): Record<string, unknown> {
  return { jsonrpc: "2.0", id, method, ...(params !== undefined ? { params } : {}) };
}

/** Two valid public keys (API.md's examples). */
export const VALID_KEY_1 = "8UV7xqdcyqYDcZomeZbv4YNXLhikz1gt5teR9Qgot8xknL6nhH";
export const VALID_KEY_2 = "51WPnnGwztNPWUDEbhncYDxZCZWAFS4M9Yqv94N2335nL92fEn";
