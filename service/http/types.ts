/**
 * What the HTTP layer adds to Fastify's types: the authenticated caller and the raw body on each
 * request, each route's auth requirement in its config, and the shared services on the instance.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Config } from "../config.js";
import type { Services } from "../services.js";
import type { Principal, Scope } from "./auth/keys.js";
import type { AppError } from "../errors.js";
import type { Metrics } from "./plugins/metrics.js";

/** The failed-authentication lockout, for routes that take a key outside the Authorization header (sign-in). */
export interface AuthFailures {
  /** Counts the failure; answers what to throw (the failure itself, or 429 past a limit). */
  failed(request: FastifyRequest, reply: FastifyReply, error: AppError, knownKeyId: string | null): Promise<AppError>;
  /** Throws 429 while this address is over its key-less failure limit. */
  assertKeylessAllowed(request: FastifyRequest, reply: FastifyReply): void;
}

export interface RouteAuth {
  /** Any one of these scopes grants access (`admin` grants everything). */
  scopes: Scope[];
  /** The body must carry a valid HMAC signature by the key's signing secret (gateway writes). */
  signed?: boolean;
}

declare module "fastify" {
  interface FastifyRequest {
    principal: Principal | null;
    /** The exact bytes received (JSON bodies only): what a request signature covers. */
    rawBody: Buffer | undefined;
  }
  interface FastifyContextConfig {
    auth?: RouteAuth;
    /**
     * The body parser leaves NUL characters to the route's schema, which refuses them in every
     * string of each item: one item with a NUL fails alone instead of the whole body (the batch
     * endpoint; test/http/settlements.test.ts holds every event field to it).
     */
    nulByItem?: boolean;
  }
  interface FastifyInstance {
    services: Services;
    appConfig: Config;
    metrics: Metrics;
    authFailures: AuthFailures;
  }
}
