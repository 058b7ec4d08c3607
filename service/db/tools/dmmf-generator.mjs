#!/usr/bin/env node
// A tiny Prisma generator (JSON-RPC: requests on stdin, answers on stderr, one JSON per line) that
// writes the schema's DMMF to <output>/dmmf.json. The drift test compares the database that the
// SQL migrations produce against this description of the schema.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import readline from "node:readline";

const answer = (id, result) => process.stderr.write(JSON.stringify({ jsonrpc: "2.0", id, result }) + "\n");
readline.createInterface({ input: process.stdin }).on("line", (line) => {
  const req = JSON.parse(line);
  if (req.method === "getManifest") {
    answer(req.id, { manifest: { prettyName: "Entrepot DMMF snapshot", defaultOutput: "./generated" } });
  } else if (req.method === "generate") {
    const out = req.params.generator.output.value;
    mkdirSync(out, { recursive: true });
    // The schema's hash lets the drift test refuse a stale snapshot ("regenerate first").
    const schemaSha256 = createHash("sha256").update(readFileSync(req.params.schemaPath)).digest("hex");
    writeFileSync(path.join(out, "dmmf.json"), JSON.stringify({ schemaSha256, datamodel: req.params.dmmf.datamodel }, null, 1));
    answer(req.id, null);
  }
});
