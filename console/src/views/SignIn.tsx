/** Sign in: the API key is sent once to POST /v1/sessions and forgotten; a session cookie stays. */
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { signIn, type Session } from "../api";
import { ErrorBox } from "../ui";

/** `ended`: the service said the session is gone (expired, signed out elsewhere, key revoked). */
export function SignIn(props: { onSignedIn: (s: Session) => void; ended: boolean }): JSX.Element {
  const [key, setKey] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
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
        <input id="api-key" name="api-key" type="password" autocomplete="off" spellcheck={false} required value={key} onInput={(e) => setKey((e.target as HTMLInputElement).value)} placeholder="ent_…" />
        <button type="submit" disabled={busy || key.trim() === ""}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
      {error !== null && <ErrorBox error={error} />}
    </main>
  );
}
