/** POSTs a JSON-RPC body (object, array or raw string) and returns status, headers and parsed JSON. */
export async function post(
  target: { readonly rpcUrl: string },
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; json: unknown; text: string }> {
  const res = await fetch(target.rpcUrl, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = text.length > 0 ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, json, text };
}

/** A JSON-RPC 2.0 request object. */
export function rpc(method: string, params?: unknown, id: string | number | null = 1): Record<string, unknown> {
  return { jsonrpc: "2.0", id, method, ...(params !== undefined ? { params } : {}) };
}

/** Two valid public keys (API.md's examples). */
export const VALID_KEY_1 = "8UV7xqdcyqYDcZomeZbv4YNXLhikz1gt5teR9Qgot8xknL6nhH";
export const VALID_KEY_2 = "51WPnnGwztNPWUDEbhncYDxZCZWAFS4M9Yqv94N2335nL92fEn";
