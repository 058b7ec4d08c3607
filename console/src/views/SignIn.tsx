/** Sign in: the API key is sent once to POST /v1/sessions and forgotten; a session cookie stays. */
import type { JSX } from "preact";
import { useRef, useState } from "preact/hooks";
import { signIn, type Session } from "../api";
import { ErrorBox } from "../ui";

/** `ended`: the service said the session is gone (expired, signed out elsewhere, key revoked). */
export function SignIn(props: { onSignedIn: (s: Session) => void; ended: boolean }): JSX.Element {
  const [key, setKey] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const input = useRef<HTMLInputElement>(null);
  document.title = "Sign in · Entrepot console";
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const s = await signIn(key.trim());
      setKey("");
      props.onSignedIn(s);
    } catch (err) {
      setError(err);
      // The button disabled itself while signing in, which took focus from it: the key field takes
      // it back (its value selected to type again), the error read out with it (aria-describedby).
      window.setTimeout(() => {
        input.current?.focus();
        input.current?.select();
      }, 0);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="main" class="sign-in">
      <h1>Entrepot console</h1>
      <p>Sign in with a finance or admin API key (as <code>npm start</code> prints it). The key is exchanged for a session and not kept by the page.</p>
      {/* The API's detail is addressed to integrators ("send the API key as Authorization: Bearer"), not to a reader of this page. */}
      {props.ended && (
        <p class="notice" role="status">
          Your session has ended; sign in again.
        </p>
      )}
      <form onSubmit={(e) => void submit(e)}>
        <label for="api-key">API key</label>
        <input
          ref={input}
          id="api-key"
          name="api-key"
          type="password"
          autocomplete="off"
          spellcheck={false}
          required
          value={key}
          aria-invalid={error !== null ? true : undefined}
          aria-describedby={error !== null ? "sign-in-error" : undefined}
          onInput={(e) => setKey((e.target as HTMLInputElement).value)}
          placeholder="ent_…"
        />
        <button type="submit" disabled={busy || key.trim() === ""}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
      {error !== null && <ErrorBox error={error} id="sign-in-error" />}
    </main>
  );
}
