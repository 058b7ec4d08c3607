/**
 * Holding back the answers of a real object (a repository, a SQL runner) to prove what a caller
 * does while a read is under way: `heldMethod` wraps one method, every other member is the object's
 * own. A hold is closed by `hold()` and opened by the function it returns.
 */

/** A gate for held answers: `wait()` resolves at once while no hold is closed. */
export function gate() {
  let held: Promise<void> | null = null;
  return {
    /** Closes the gate; the returned function opens it. */
    hold(): () => void {
      let open = () => {};
      const closed = new Promise<void>((r) => (open = r));
      held = closed;
      return () => {
        if (held === closed) held = null;
        open();
      };
    },
    /** Resolves when the gate that was closed at this call opens. */
    wait(): Promise<void> {
      return held ?? Promise.resolve();
    },
  };
}

/** `target` with `method` replaced by `wrap(original)` (bound to `target`); every other member as is. */
export function heldMethod<T extends object, K extends keyof T>(
  target: T,
  method: K,
  wrap: (original: T[K]) => T[K],
): T {
  return new Proxy(target, {
    get(t, prop) {
      const v = Reflect.get(t, prop, t) as unknown;
      if (typeof v !== "function") return v;
      const bound = (v as (...a: unknown[]) => unknown).bind(t);
      return prop === method ? wrap(bound as T[K]) : bound;
    },
  });
}
