/**
 * Bodies that are XML documents (the bank's camt.053 and camt.054): taken as bytes, not text, so
 * the reader decodes them as the document says (a BOM, its XML declaration, or the Content-Type's
 * charset, which wins): a Latin-1 statement is not read as UTF-8. A route taking one has no body
 * schema to validate (the body is a Buffer); /openapi.json still documents it as a string.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { SwaggerTransform } from "@fastify/swagger";
import { Type } from "typebox";
import { Errors } from "../errors.js";

export const XML_BODY_TYPES = ["application/xml", "text/xml"];

/** Registers the parser in the routes' plugin (the body limit is the service's). */
export function acceptXmlBodies(app: FastifyInstance): void {
  app.addContentTypeParser(XML_BODY_TYPES, { parseAs: "buffer" }, (_request, body, done) => done(null, body));
}

/** Documents the route's body in /openapi.json (route config `swaggerTransform`). */
export function xmlBodyDocs(description: string): SwaggerTransform {
  return ({ schema, url }) => ({ schema: { ...schema, body: Type.String({ description }) }, url });
}

/** The document's bytes and the charset the Content-Type names; 400 naming `body` when there is none. */
export function xmlBody(request: FastifyRequest, what: string): { bytes: Uint8Array; options: { charset?: string } } {
  const body = request.body;
  if (!(body instanceof Uint8Array) || body.length === 0) {
    throw Errors.validation(`send the ${what} as the request body with Content-Type: application/xml`, { fields: [{ field: "body", message: "is required" }] });
  }
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(String(request.headers["content-type"] ?? ""))?.[1];
  return { bytes: body, options: charset === undefined ? {} : { charset } };
}
