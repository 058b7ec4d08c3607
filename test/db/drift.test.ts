/**
 * The SQL migrations produce exactly what service/db/schema.prisma describes: the catalogue of a
 * freshly migrated database (tables, columns, types, nullability, defaults, keys, indexes, foreign
 * keys) equals the catalogue derived from the schema's DMMF. Fails when a model changes without a
 * migration (or a migration without the model).
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { actualCatalogue, diffCatalogues, expectedCatalogue, type Datamodel } from "../../service/db/catalogue.js";
import { freshDatabase, testDatabaseKinds, type TestDatabase } from "../support/db.js";

const SCHEMA = new URL("../../service/db/schema.prisma", import.meta.url);
const SNAPSHOT = new URL("../../service/db/generated/dmmf.json", import.meta.url);
const snapshot = JSON.parse(readFileSync(SNAPSHOT, "utf8")) as { schemaSha256: string; datamodel: Datamodel };
const kinds = await testDatabaseKinds();

describe("schema snapshot", () => {
  it("was generated from the current schema.prisma (else run the db:generate command)", () => {
    expect(snapshot.schemaSha256).toBe(createHash("sha256").update(readFileSync(SCHEMA)).digest("hex"));
  });
});

describe.each(kinds)("migrations vs schema on %s", (kind) => {
  let db: TestDatabase;
  let actual: string[];
  beforeAll(async () => {
    // From scratch, not the tests' migrated template: this is the migrations' own check.
    db = await freshDatabase(kind, { template: false });
    actual = await actualCatalogue(db.sql);
  }, 60_000);
  afterAll(async () => {
    await db?.close();
  });

  it("has no drift", () => {
    const expected = expectedCatalogue(snapshot.datamodel);
    expect(diffCatalogues(expected, actual)).toEqual([]);
    expect(actual.filter((f) => f.startsWith("table ")).length).toBeGreaterThan(0);
  });

  it("notices a model change that has no migration", () => {
    const changed = structuredClone(snapshot.datamodel);
    const model = changed.models[0]!;
    model.fields.push({ ...model.fields.find((f) => f.kind === "scalar" && f.isRequired)!, name: "addedWithoutMigration", dbName: "added_without_migration" });
    const nullable = changed.models[1]!.fields.find((f) => f.kind === "scalar" && f.isRequired && !f.default)!;
    nullable.isRequired = false;
    const diff = diffCatalogues(expectedCatalogue(changed), actual);
    expect(diff.some((d) => d.includes("added_without_migration"))).toBe(true);
    expect(diff.some((d) => d.includes(`.${nullable.dbName ?? nullable.name} `))).toBe(true);
  });
});
