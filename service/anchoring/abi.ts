/**
 * A small, fast `abi.encode` for the types the anchoring leaves use: uint<N>, int<N>, address,
 * bool, bytes32, string, dynamic arrays `T[]` and `tuple(...)`. Byte-for-byte the Solidity ABI
 * encoding (tests compare it with ethers' AbiCoder on random values); it exists because the general
 * encoders cost about a millisecond per leaf, which capped anchoring near 1,000 transactions a
 * second on this machine. Values: bigint (or safe integer) for integers, hex strings for address
 * and bytes32, strings, arrays.
 */
import { getBytes } from "ethers";

const WORD = 32;
const utf8 = new TextEncoder();

type Parsed =
  | { kind: "uint" | "int"; bits: number }
  | { kind: "address" | "bool" | "bytes32" | "string" }
  | { kind: "array"; of: Parsed }
  | { kind: "tuple"; of: Parsed[] };

const parsedCache = new Map<string, Parsed>();

function splitTuple(inner: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i];
    if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (c === "," && depth === 0) {
      out.push(inner.slice(start, i));
      start = i + 1;
    }
  }
  if (inner.length > 0) out.push(inner.slice(start));
  return out.map((s) => s.trim());
}

function parse(type: string): Parsed {
  const hit = parsedCache.get(type);
  if (hit) return hit;
  let p: Parsed;
  if (type.endsWith("[]")) p = { kind: "array", of: parse(type.slice(0, -2)) };
  else if (type.startsWith("tuple(") && type.endsWith(")")) p = { kind: "tuple", of: splitTuple(type.slice(6, -1)).map(parse) };
  else if (type === "address" || type === "bool" || type === "bytes32" || type === "string") p = { kind: type };
  else {
    const m = /^(u?int)(\d{1,3})$/.exec(type);
    if (!m) throw new TypeError(`abi type ${type} is not supported by this encoder`);
    const bits = Number(m[2]);
    if (bits < 8 || bits > 256 || bits % 8 !== 0) throw new TypeError(`abi type ${type} has an invalid size`);
    p = { kind: m[1] === "uint" ? "uint" : "int", bits };
  }
  parsedCache.set(type, p);
  return p;
}

function isDynamic(p: Parsed): boolean {
  return p.kind === "string" || p.kind === "array" || (p.kind === "tuple" && p.of.some(isDynamic));
}

/** Head size of a static type (a dynamic one takes one word in its parent's head). */
function staticSize(p: Parsed): number {
  return p.kind === "tuple" ? p.of.reduce((a, q) => a + staticSize(q), 0) : WORD;
}

function wordOf(n: bigint): Uint8Array {
  const out = new Uint8Array(WORD);
  let x = n < 0n ? (1n << 256n) + n : n;
  for (let i = WORD - 1; i >= 0 && x > 0n; i--) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return out;
}

function smallWord(n: number): Uint8Array {
  const out = new Uint8Array(WORD);
  const view = new DataView(out.buffer);
  // Offsets and lengths: < 2^53 in practice; written as a big-endian uint64 in the last 8 bytes.
  view.setBigUint64(WORD - 8, BigInt(n));
  return out;
}

function hexBytes(v: unknown, size: number, what: string): Uint8Array {
  if (typeof v !== "string" || !/^0x[0-9a-fA-F]*$/.test(v) || v.length !== 2 + size * 2) throw new TypeError(`${what}: expected ${size} bytes of 0x-hex`);
  return getBytes(v);
}

function integer(v: unknown, p: { kind: "uint" | "int"; bits: number }): bigint {
  const n = typeof v === "bigint" ? v : typeof v === "number" && Number.isSafeInteger(v) ? BigInt(v) : typeof v === "string" && /^-?\d+$/.test(v) ? BigInt(v) : null;
  if (n === null) throw new TypeError(`${p.kind}${p.bits}: expected an integer, got ${typeof v}`);
  const b = BigInt(p.bits);
  const ok = p.kind === "uint" ? n >= 0n && n < 1n << b : n >= -(1n << (b - 1n)) && n < 1n << (b - 1n);
  if (!ok) throw new RangeError(`${p.kind}${p.bits}: ${n} out of range`);
  return n;
}

/** Encoded pieces of one value, appended to `out`; returns the byte length added. */
function encodeValue(p: Parsed, v: unknown, out: Uint8Array[]): number {
  switch (p.kind) {
    case "uint":
    case "int":
      out.push(wordOf(integer(v, p)));
      return WORD;
    case "bool":
      if (typeof v !== "boolean") throw new TypeError("bool: expected a boolean");
      out.push(smallWord(v ? 1 : 0));
      return WORD;
    case "address": {
      const w = new Uint8Array(WORD);
      w.set(hexBytes(v, 20, "address"), 12);
      out.push(w);
      return WORD;
    }
    case "bytes32":
      out.push(hexBytes(v, 32, "bytes32"));
      return WORD;
    case "string": {
      if (typeof v !== "string") throw new TypeError("string: expected a string");
      const bytes = utf8.encode(v);
      const padded = new Uint8Array(Math.ceil(bytes.length / WORD) * WORD);
      padded.set(bytes);
      out.push(smallWord(bytes.length), padded);
      return WORD + padded.length;
    }
    case "array": {
      if (!Array.isArray(v)) throw new TypeError("array: expected an array");
      out.push(smallWord(v.length));
      return WORD + encodeSequence(Array<Parsed>(v.length).fill(p.of), v, out);
    }
    case "tuple":
      if (!Array.isArray(v) || v.length !== p.of.length) throw new TypeError(`tuple: expected ${p.of.length} values`);
      return encodeSequence(p.of, v, out);
  }
}

/** A tuple's (or an array's) encoding: heads (values or offsets), then the tails of dynamic members. */
function encodeSequence(types: readonly Parsed[], values: readonly unknown[], out: Uint8Array[]): number {
  const headSize = types.reduce((a, t) => a + (isDynamic(t) ? WORD : staticSize(t)), 0);
  const heads: Uint8Array[] = [];
  const tails: Uint8Array[] = [];
  let tailSize = 0;
  types.forEach((t, i) => {
    if (isDynamic(t)) {
      heads.push(smallWord(headSize + tailSize));
      tailSize += encodeValue(t, values[i], tails);
    } else {
      encodeValue(t, values[i], heads);
    }
  });
  out.push(...heads, ...tails);
  return headSize + tailSize;
}

/** `abi.encode(types..., values...)` as bytes. */
export function abiEncode(types: readonly string[], values: readonly unknown[]): Uint8Array {
  if (types.length !== values.length) throw new TypeError(`abiEncode: ${types.length} types, ${values.length} values`);
  const parts: Uint8Array[] = [];
  const size = encodeSequence(types.map(parse), values, parts);
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
