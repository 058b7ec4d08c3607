/**
 * A settlement's inclusion proof, verified in this browser against the chain: the page runs the
 * same verifier as `npm run verify` (service/anchoring/proof.ts, bundled with ethers and
 * @openzeppelin/merkle-tree) against a JSON-RPC node the reader chooses. The proof and the page come
 * from this server, and so does the contract address the proof names: anyone can deploy a
 * SettlementAnchor and anchor what they like in it. So the reader pins the SettlementAnchor address
 * the operator publishes (kept in this browser, per chain), and until they do the page says the
 * address comes only from this server and never says VERIFIED. With a pinned address and a node of
 * their own, the reader need not trust this server.
 */
import { JsonRpcProvider } from "ethers";
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { isAddress } from "ethers";
import { verdictLine, verifyProof, type ProofReport } from "../../../service/anchoring/proof";
import { ApiError, get } from "../api";
import { text } from "../format";
import type { ViewProps } from "../main";
import { href } from "../router";
import { ErrorBox, Fields, Hash, Link, Loading, Title } from "../ui";

const RPC_KEY = "entrepot.console.rpc";
/** The reader's pinned SettlementAnchor, per chain (the same address on another chain is another contract). */
const pinKey = (chainId: string) => `entrepot.console.anchor.${chainId}`;
const PIN_HINT = "Pin the SettlementAnchor address the operator publishes below, taken from that published source, not from this page.";

interface ConsoleConfig {
  rpcUrl: string | null;
  chainId: string | null;
  /** The depth at which this service counts an anchor final (CHAIN_CONFIRMATIONS). */
  finalityDepth: number;
}

/**
 * Why nothing answers at `rpcUrl` (no HTTP answer to eth_chainId within 10 s), or null when
 * something does. Without this, an endpoint that cannot be reached fails every check that asks the
 * chain with the same "Failed to fetch", which reads like five findings about the proof rather than
 * one about the node. A server that answers, whatever it answers, goes on to the checks: a wrong
 * answer is a finding.
 */
async function unreachable(rpcUrl: string): Promise<string | null> {
  try {
    await fetch(rpcUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      signal: AbortSignal.timeout(10_000),
    });
    return null;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

/** A document leaf's document (a period close's report digest), as the proof names it. */
function documentRows(doc: unknown): [string, JSX.Element | string][] {
  if (typeof doc !== "object" || doc === null) return [];
  const d = doc as { kind?: unknown; id?: unknown; digest?: unknown };
  return [
    ["Document", `${text(d.kind)} ${text(d.id)}`],
    ["Document digest", <Hash value={text(d.digest, "")} />],
  ];
}

async function verifyIn(rpcUrl: string, proof: unknown, anchor: string | null, finalityDepth: number): Promise<ProofReport> {
  const provider = new JsonRpcProvider(rpcUrl, undefined, { staticNetwork: false, cacheTimeout: -1 });
  try {
    return await verifyProof(proof, provider, { finalityDepth, ...(anchor === null ? {} : { anchor }) });
  } finally {
    provider.destroy();
  }
}

/**
 * An inclusion proof (a settlement's, a period close's: any `entrepot-anchor-proof` the API serves
 * at `path`), fetched and verified in the page at once; the reader may pick another node.
 * `fileName` is what "Download proof.json" saves it as.
 */
export function ProofPanel(props: { path: string; fileName: string; level: 2 | 3 }): JSX.Element {
  const { path, fileName } = props;
  // Under the page's h1 on a proof's own page, under a section's h2 on a settlement's.
  const H = props.level === 2 ? "h2" : "h3";
  const [proof, setProof] = useState<Record<string, unknown> | null>(null);
  const [proofError, setProofError] = useState<unknown>(null);
  const [rpc, setRpc] = useState<string>(() => localStorage.getItem(RPC_KEY) ?? "");
  const [serverRpc, setServerRpc] = useState<string>("http://127.0.0.1:8545");
  const [finalityDepth, setFinalityDepth] = useState<number>(12);
  const [pinned, setPinned] = useState<string | null>(null);
  const [pinInput, setPinInput] = useState<string>("");
  const [report, setReport] = useState<ProofReport | null>(null);
  const [nodeError, setNodeError] = useState<{ url: string; reason: string } | null>(null);
  const [verifying, setVerifying] = useState(false);

  const run = async (p: unknown, url: string, anchor: string | null, depth: number) => {
    setVerifying(true);
    setReport(null);
    setNodeError(null);
    try {
      const reason = await unreachable(url);
      if (reason !== null) setNodeError({ url, reason });
      else setReport(await verifyIn(url, p, anchor, depth));
    } finally {
      setVerifying(false);
    }
  };

  useEffect(() => {
    let cancelled = false;
    (async () => {
      const cfg = await fetch("/console/config.json").then((r) => r.json() as Promise<ConsoleConfig>);
      const server = cfg.rpcUrl ?? "http://127.0.0.1:8545";
      const url = localStorage.getItem(RPC_KEY) ?? server;
      if (!cancelled) {
        setServerRpc(server);
        setRpc(url);
        setFinalityDepth(cfg.finalityDepth);
      }
      const p = await get<Record<string, unknown>>(path);
      if (cancelled) return;
      const pin = localStorage.getItem(pinKey(text(p["chainId"])));
      setProof(p);
      setPinned(pin);
      setPinInput(pin ?? "");
      await run(p, url, pin, cfg.finalityDepth);
    })().catch((e: unknown) => !cancelled && setProofError(e));
    return () => {
      cancelled = true;
    };
  }, [path]);

  const download = () => {
    const blob = new Blob([JSON.stringify(proof, null, 2)], { type: "application/json" });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = fileName;
    a.click();
    URL.revokeObjectURL(a.href);
  };

  const chainId = proof === null ? "" : text(proof["chainId"]);
  const pin = (value: string | null) => {
    if (value === null) localStorage.removeItem(pinKey(chainId));
    else localStorage.setItem(pinKey(chainId), value);
    setPinned(value);
    setPinInput(value ?? "");
    if (proof !== null) void run(proof, rpc, value, finalityDepth);
  };
  const notYet = proofError instanceof ApiError && (proofError.status === 409 || proofError.status === 404);
  return (
    <>
      {proofError !== null && (
        <>
          <ErrorBox error={proofError} />
          {notYet && <p>Anchoring runs in the background: what was just booked or closed is anchored within seconds. Reload this page to try again.</p>}
        </>
      )}
      {proof !== null && (
        <section aria-labelledby="anchor-h">
          <H id="anchor-h">Anchor</H>
          <Fields
            rows={[
              ["Chain", text(proof["chainId"])],
              [
                "Contract",
                <>
                  <Hash value={text(proof["anchor"], "")} />{" "}
                  <span class="muted" data-testid="contract-source">
                    {pinned === null
                      ? "named by this server only: not pinned"
                      : pinned.toLowerCase() === text(proof["anchor"], "").toLowerCase()
                        ? "the SettlementAnchor you pinned"
                        : `not the SettlementAnchor you pinned (${pinned})`}
                  </span>
                </>,
              ],
              ["Batch", text(proof["batchId"])],
              ["Root", <Hash value={text(proof["root"], "")} />],
              ["Anchoring state", String((proof["anchoring"] as { state?: string } | undefined)?.state ?? "–")],
              ["Anchoring transaction", <Hash value={(proof["anchoring"] as { transactionHash?: string | null } | undefined)?.transactionHash ?? null} />],
              ...documentRows(proof["document"]),
            ]}
          />
          <button type="button" onClick={download}>
            Download proof.json
          </button>{" "}
          <span class="muted">
            then <code>npm run verify -- proof.json --anchor &lt;the published SettlementAnchor address&gt;</code> checks it anywhere.
          </span>
        </section>
      )}
      <section aria-labelledby="verify-h">
        <H id="verify-h">Verification in this browser, against the chain</H>
        <form
          class="inline"
          onSubmit={(e) => {
            e.preventDefault();
            // Only a node of the reader's own is remembered; this server's node is the default.
            if (rpc === serverRpc) localStorage.removeItem(RPC_KEY);
            else localStorage.setItem(RPC_KEY, rpc);
            if (proof !== null) void run(proof, rpc, pinned, finalityDepth);
          }}
        >
          <label for="rpc">Chain JSON-RPC endpoint</label>
          <input id="rpc" type="url" value={rpc} onInput={(e) => setRpc((e.target as HTMLInputElement).value)} required />
          <button type="submit" disabled={proof === null || verifying}>
            Verify again
          </button>
          <button
            type="button"
            class="secondary"
            disabled={proof === null || verifying || rpc === serverRpc}
            onClick={() => {
              localStorage.removeItem(RPC_KEY);
              setRpc(serverRpc);
              if (proof !== null) void run(proof, serverRpc, pinned, finalityDepth);
            }}
          >
            Reset to this server's node
          </button>
        </form>
        <form
          class="inline"
          onSubmit={(e) => {
            e.preventDefault();
            pin(pinInput.trim());
          }}
        >
          <label for="pin">Pinned SettlementAnchor (chain {chainId || "–"})</label>
          <input id="pin" value={pinInput} onInput={(e) => setPinInput((e.target as HTMLInputElement).value)} pattern="^0x[0-9a-fA-F]{40}$" placeholder="0x… as the operator publishes it" required />
          <button type="submit" disabled={proof === null || verifying || !isAddress(pinInput.trim())}>
            Pin
          </button>
          <button type="button" class="secondary" disabled={proof === null || verifying || pinned === null} onClick={() => pin(null)}>
            Unpin
          </button>
        </form>
        {pinned === null && proof !== null && (
          <p role="note" data-testid="unpinned">
            The contract address <code>{text(proof["anchor"], "")}</code> comes only from this server, which also serves this page and the proof: not pinned. Anyone can deploy a
            SettlementAnchor and anchor what they like in it, so the checks below prove nothing until you pin the address the operator publishes.
          </p>
        )}
        {verifying && <Loading />}
        {nodeError !== null && (
          <p class="verdict fail" role="status" data-testid="verdict">
            NOT VERIFIED: the chain node at {nodeError.url} could not be reached ({nodeError.reason}). Check the endpoint, or reset it to this server's node.
          </p>
        )}
        {report !== null && (
          <>
            <pre class="checks" tabIndex={0} role="region" aria-label="Checks as npm run verify prints them">
              {report.checks.map((c) => (
                <div key={c.name} class={c.ok ? "pass" : "fail"}>
                  <strong>{c.ok ? "PASS" : "FAIL"}</strong>
                  {"  "}
                  {c.name.padEnd(Math.max(...report.checks.map((x) => x.name.length)))}
                  {"  "}
                  {c.detail}
                </div>
              ))}
            </pre>
            <p class={`verdict ${report.verdict === "verified" ? "pass" : "fail"}`} role="status" data-testid="verdict">
              {verdictLine(report, PIN_HINT)}
            </p>
            {report.unverified.length > 0 && (
              <details>
                <summary>In the proof but not covered by these checks</summary>
                <ul>
                  {report.unverified.map((u) => (
                    <li key={u.field}>
                      <code>{u.field}</code>: {u.why}
                    </li>
                  ))}
                </ul>
              </details>
            )}
          </>
        )}
      </section>
    </>
  );
}

export function ProofView(props: ViewProps): JSX.Element {
  const id = props.params["id"] as string;
  return (
    <>
      <Title sub={<Link href={href(`/settlements/${id}`)}>Back to settlement {id}</Link>}>{`Inclusion proof of settlement ${id}`}</Title>
      <ProofPanel path={`/v1/settlements/${encodeURIComponent(id)}/proof`} fileName={`settlement-${id}-proof.json`} level={2} />
    </>
  );
}

/** A period close's report digest, verified on chain like a settlement (GET /v1/ledger/periods/:id/proof). */
export function PeriodProofView(props: ViewProps): JSX.Element {
  const id = props.params["id"] as string;
  return (
    <>
      <Title sub={<Link href={href(`/books/closes/${encodeURIComponent(id)}`)}>Back to the report of period close {id}</Link>}>{`Inclusion proof of period close ${id}`}</Title>
      <p>The leaf is the close's report digest (sha256 of the report as the service writes it); the checks below find that leaf under a root the chain holds.</p>
      <ProofPanel path={`/v1/ledger/periods/${encodeURIComponent(id)}/proof`} fileName={`period-close-${id}-proof.json`} level={2} />
    </>
  );
}
