import Fastify from "fastify";

/**
 * The baseline the bench's figures are ratios to: a bare fastify server in a
 * process of its own that parses a JSON-RPC request on POST /main and answers
 * with a result, and does nothing else.
 */
async function main(): Promise<void> {
  const app = Fastify({ logger: false });
  app.post("/main", async (req) => {
    const id = (req.body as { id?: unknown } | null)?.id ?? null;
    return { jsonrpc: "2.0", id, result: true };
  });
  await app.listen({ host: "127.0.0.1", port: Number(process.env.PORT ?? 0) });
  process.stdout.write("echo listening\n");
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
