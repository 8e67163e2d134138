/** What a person starting the server needs to see: where it listens and the first key. */
export function banner(
  url: string,
  firstKey: { apiKeyId: string; apiKeySecret: string } | undefined,
  storage: string,
  logVerifierKey?: string,
  grpc?: Readonly<Record<string, string>>,
): string {
  const lines = ["", `PKI server listening on ${url}/main  (${storage})`];
  if (grpc) {
    // Internal consumers call the services here, with an access token (or mutual TLS when configured).
    lines.push("", "gRPC services (internal consumers; every call needs credentials):");
    for (const [name, address] of Object.entries(grpc)) lines.push(`  ${name.padEnd(6)} ${address}`);
  }
  if (firstKey) {
    lines.push(
      "",
      "First API key (shown once; keep the secret safe):",
      `  API_KEY_ID=${firstKey.apiKeyId}`,
      `  API_KEY_SECRET=${firstKey.apiKeySecret}`,
    );
  } else {
    lines.push(
      "",
      "No key was created: call auth/createFirstApiKey with PMX_INITIALIZATION_TOKEN, or use a key you have.",
    );
  }
  // Public: clients pin it out of band to check the log's checkpoints.
  if (logVerifierKey) lines.push("", "Transparency log verifier key (public):", `  LOG_VERIFIER_KEY=${logVerifierKey}`);
  lines.push("", "Press Ctrl-C to stop.", "");
  return lines.join("\n");
}
