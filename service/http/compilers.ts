/**
 * Schema compilers that compile a route's validator and response serializer on the route's first
 * use instead of at boot. Building the app compiled some 300 schemas (AJV for requests,
 * fast-json-stringify for replies, which also checks each schema against the JSON Schema
 * meta-schema): ~600 ms of every start and every test harness, most of it for routes an instance
 * may never serve, and code the idle process kept. A compiled function is kept after first use.
 *
 * Every schema must still compile: test/http/errors.test.ts builds the app with fastify's own eager
 * compilers, which fail `ready()` on a schema they cannot compile.
 */
import { AjvCompiler } from "@fastify/ajv-compiler";
import { SerializerSelector } from "@fastify/fast-json-stringify-compiler";

type SerializerFactory = ReturnType<typeof SerializerSelector>;
type ValidatorFactory = ReturnType<typeof AjvCompiler>;

/** One per fastify instance, as fastify's own `SerializerSelector()`. */
export function lazySerializers(): SerializerFactory {
  const factory = SerializerSelector();
  return (...factoryArgs) => {
    const compile = factory(...factoryArgs);
    return (route) => {
      let serialize: ((doc: unknown) => string) | null = null;
      return (doc: unknown) => (serialize ??= compile(route))(doc);
    };
  };
}

/**
 * fastify reads `errors` off the validator after a failed call, so the wrapper carries the compiled
 * validator's. It is called with the data alone (fastify passes AJV's parent-data context only to a
 * function carrying `schemaEnv`): the app's AJV options never coerce or replace a root value.
 */
export function lazyValidators(): ValidatorFactory {
  // One per fastify instance, as fastify's own: its pool gives every plugin context with the same
  // shared schemas one AJV instance (making an AJV instance costs more than most compiles).
  const factory = AjvCompiler();
  return ((...factoryArgs: Parameters<ValidatorFactory>) => {
    const compile = factory(...factoryArgs) as (route: unknown) => ((data: unknown) => unknown) & { errors?: unknown };
    return (route: unknown) => {
      let validate: ReturnType<typeof compile> | null = null;
      const lazy = (data: unknown): unknown => {
        validate ??= compile(route);
        const result = validate(data);
        lazy.errors = validate.errors;
        return result;
      };
      lazy.errors = null as unknown;
      return lazy;
    };
  }) as ValidatorFactory;
}
