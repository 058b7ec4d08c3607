/**
 * The POSTs whose body requires nothing are sent with no body and no content type, as README's
 * webhook example does (signed over an empty body): `…/rotate-secret` and
 * `/v1/admin/api-keys/:id/rotate-signing-secret` answered 400 "body must be object". A body that is
 * sent is still checked. On PGlite and PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signedHeaders } from "../../service/http/auth/signature.js";
import { testDatabaseKinds } from "../support/db.js";
import { json, openHarness, problemCode, type Harness } from "./harness.js";

const kinds = await testDatabaseKinds();

describe.each(kinds)("bodiless POSTs on %s", (kind) => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness({ kind, env: { WEBHOOK_ALLOW_PRIVATE: "true" } });
  });
  afterAll(async () => h?.close());

  /** A POST with no body and no content type; a gateway key signs the empty body. */
  function bare(url: string, key = h.keys.admin, signed = false) {
    return h.app.inject({ method: "POST", url, headers: { authorization: `Bearer ${key.key}`, ...(signed ? signedHeaders(key.signingSecret, "", new Date()) : {}) } });
  }

  it("POST …/rotate-secret with no body: 200 with a new secret, by an admin key and by a signing gateway key", async () => {
    const created = await h.signedPost("/v1/webhooks/endpoints", { url: "http://127.0.0.1:9/hooks", eventTypes: ["webhook.test"] });
    expect(created.statusCode, created.body).toBe(201);
    const { endpoint, secret } = json<{ endpoint: { id: string }; secret: string }>(created);
    const r = await bare(`/v1/webhooks/endpoints/${endpoint.id}/rotate-secret`, h.keys.gateway, true);
    expect(r.statusCode, r.body).toBe(200);
    expect(json<{ secret: string }>(r).secret).not.toBe(secret);
    // A second rotation while the first's old secret still signs: the route ran (409), the body was no obstacle.
    const again = await bare(`/v1/webhooks/endpoints/${endpoint.id}/rotate-secret`);
    expect([again.statusCode, problemCode(again)], again.body).toEqual([409, "ENT_WEBHOOK_ROTATION_IN_PROGRESS"]);
  });

  it("POST /v1/admin/api-keys/:id/rotate-signing-secret with no body: 200 with a new signing secret", async () => {
    const key = await h.services.apiKeys.create({ name: "bodiless", scopes: ["gateway:write"], gateway: "stripe" });
    const r = await bare(`/v1/admin/api-keys/${key.id}/rotate-signing-secret`);
    expect(r.statusCode, r.body).toBe(200);
    expect(json<{ signingSecret: string }>(r).signingSecret).not.toBe(key.signingSecret);
  });

  it("a body that is sent is still checked: an unknown field is a 400 naming it, an empty application/json body is malformed", async () => {
    const key = await h.services.apiKeys.create({ name: "bodiless-2", scopes: ["gateway:write"], gateway: "stripe" });
    const extra = await h.post(`/v1/admin/api-keys/${key.id}/rotate-signing-secret`, { overlap: 1 }, h.keys.admin);
    expect([extra.statusCode, problemCode(extra), json<{ errors: Array<{ field: string }> }>(extra).errors.map((e) => e.field)]).toEqual([400, "ENT_REQUEST_VALIDATION", ["overlap"]]);
    const empty = await h.post(`/v1/admin/api-keys/${key.id}/rotate-signing-secret`, "", h.keys.admin);
    expect([empty.statusCode, problemCode(empty)]).toEqual([400, "ENT_HTTP_MALFORMED_JSON"]);
    const notObject = await h.post(`/v1/admin/api-keys/${key.id}/rotate-signing-secret`, "[]", h.keys.admin);
    expect([notObject.statusCode, problemCode(notObject)]).toEqual([400, "ENT_REQUEST_VALIDATION"]);
  });

  it("a route whose body requires a field still refuses a missing body, naming it", async () => {
    const r = await bare("/v1/admin/api-keys");
    expect([r.statusCode, problemCode(r)]).toEqual([400, "ENT_REQUEST_VALIDATION"]);
  });

  it("/openapi.json says those bodies may be left out, and the others may not", async () => {
    const spec = json<{ paths: Record<string, { post?: { requestBody?: { required?: boolean } } }> }>(await h.app.inject({ url: "/openapi.json" }));
    expect(spec.paths["/v1/webhooks/endpoints/{id}/rotate-secret"]?.post?.requestBody?.required).toBe(false);
    expect(spec.paths["/v1/admin/api-keys/{id}/rotate-signing-secret"]?.post?.requestBody?.required).toBe(false);
    expect(spec.paths["/v1/admin/api-keys"]?.post?.requestBody?.required).toBe(true);
  });
});
