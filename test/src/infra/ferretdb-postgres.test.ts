import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { findFerretdbBinary, findPostgresBinDir, startLocalMongo, startLocalPostgres } from "@pkiserver/test-harness";
import { MongoClient } from "mongodb";

const binDir = findPostgresBinDir();
const ferretdb = findFerretdbBinary();
const skip =
  binDir === undefined
    ? "PostgreSQL is not installed"
    : ferretdb === undefined
      ? "the FerretDB test server is not built (test/infra/build-ferretdb.sh)"
      : false;

test("the FerretDB test server keeps its data in PostgreSQL when given -postgresql-url", { skip }, async () => {
  const pg = await startLocalPostgres();
  try {
    const mongo = await startLocalMongo({ bin: ferretdb as string, postgresqlUrl: pg.url });
    const client = new MongoClient(mongo.url);
    try {
      const coll = client.db("probe").collection("keys");
      await coll.createIndex({ k: 1 }, { unique: true });
      await coll.insertOne({ k: "a", v: 1 });
      await assert.rejects(coll.insertOne({ k: "a", v: 2 }), (err: { code?: number }) => err.code === 11000);
      const updated = await coll.findOneAndUpdate({ k: "a", v: 1 }, { $set: { v: 3 } }, { returnDocument: "after" });
      assert.equal(updated?.v, 3);
      // The database is a schema in PostgreSQL, not SQLite files in the data directory.
      const schemas = execFileSync(
        join(binDir as string, "psql"),
        [
          "-h",
          "127.0.0.1",
          "-p",
          String(pg.port),
          "-U",
          "pkiserver",
          "-d",
          "pkiserver",
          "-Atc",
          "select nspname from pg_namespace",
        ],
        { encoding: "utf8" },
      );
      assert.match(schemas, /^probe$/m);
    } finally {
      await client.close();
      await mongo.dispose();
    }
  } finally {
    await pg.dispose();
  }
});
