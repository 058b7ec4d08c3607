/**
 * Mark a plugin as not encapsulated (what `fastify-plugin` does): its hooks, decorators and
 * handlers apply to the whole app, not just to a child context. Kept local because
 * `fastify-plugin` is not a direct dependency of this project.
 */
export function shared<T extends object>(plugin: T): T {
  return Object.assign(plugin, { [Symbol.for("skip-override")]: true });
}
