// Checks the console's verify.js against vectors.json (the gm profile: SM3, SM2; and the
// blake3 profile where a case says so). Usage, from anywhere:
//
//   node tests/data/gm/check.mjs [ASSETS_DIR] [VECTORS_JSON]
//
// ASSETS_DIR is a directory holding verify.js and vendor/ (default: the repository's
// src/http/console/assets); it is copied to a temporary directory with a package.json of
// "type": "module", so Node loads every script as the browser does (as an ES module).
// VECTORS_JSON defaults to vectors.json beside this script. Prints one line per failing
// case, then `gm vectors: N passed, N failed`; exits 1 if any case failed, 2 if it could
// not run. A program (tests/console_js.rs, say) can run it on its own copy of the served
// scripts and read the exit status.

import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const assets = resolve(process.argv[2] ?? join(here, '../../../src/http/console/assets'));
const vectorsPath = resolve(process.argv[3] ?? join(here, 'vectors.json'));

const work = mkdtempSync(join(tmpdir(), 'rotaledger-gm-'));
let v;
try {
  cpSync(assets, work, { recursive: true });
  writeFileSync(join(work, 'package.json'), '{"type":"module"}');
  v = await import(pathToFileURL(join(work, 'verify.js')).href);
} catch (e) {
  console.error(`cannot load verify.js from ${assets}: ${e.stack ?? e}`);
  process.exit(2);
} finally {
  rmSync(work, { recursive: true, force: true });
}
const vectors = JSON.parse(readFileSync(vectorsPath, 'utf8'));

const hx = (h) => {
  const b = v.fromHex(h);
  if (b === null) throw new Error(`not hex: ${h}`);
  return b;
};
const te = new TextEncoder();
// A case's profile: `null` or absent means "pass no profile" (the blake3 default).
const prof = (c) => c.profile ?? undefined;

let passed = 0;
let failed = 0;
function report(group, i, c, ok, what) {
  if (ok) {
    passed++;
  } else {
    failed++;
    console.log(`FAIL ${group}[${i}] (${c.source ?? ''}): ${what}`);
  }
}

/** Runs f; the case wants either the value `c.want` (compared by `same`) or failure `c.fail`. */
function judge(group, i, c, f, same = (a, b) => a === b) {
  let got;
  try {
    got = { ok: true, value: f() };
  } catch (e) {
    got = { ok: false, code: e instanceof v.VerifyError ? e.code : `exception: ${e}` };
  }
  if ('fail' in c) {
    report(group, i, c, !got.ok && got.code === c.fail, `want ${c.fail}, got ${JSON.stringify(got)}`);
  } else {
    report(group, i, c, got.ok && same(got.value, c.want), `want ${JSON.stringify(c.want)}, got ${JSON.stringify(got)}`);
  }
}

const gm = v.hasherFor('gm');
vectors.sm3.forEach((c, i) => {
  const d = v.toHex(v.sm3(hx(c.msg_hex)));
  report('sm3', i, c, d === c.digest, `want ${c.digest}, got ${d}`);
  const d2 = v.toHex(gm.hash(hx(c.msg_hex)));
  report('sm3/hasherFor', i, c, d2 === c.digest, `want ${c.digest}, got ${d2}`);
});

vectors.sm2.forEach((c, i) => {
  const ok = v.sm2Verify(hx(c.public_key), hx(c.msg_hex), hx(c.signature), c.distid);
  report('sm2', i, c, ok === c.valid, `want ${c.valid}, got ${ok}`);
});

vectors.keys.forEach((c, i) => {
  const want = 'fail' in c ? c : { ...c, want: `${c.name}+${c.key_id}+${c.public_key}+${c.profile}` };
  judge('keys', i, want, () => {
    const k = v.parseVerifierKey(c.text);
    return `${k.name}+${v.toHex(k.keyId)}+${v.toHex(k.publicKey)}+${k.profile}`;
  });
});

vectors.notes.forEach((c, i) => {
  const want = 'fail' in c ? c : { ...c, want: `${c.want.origin}|${c.want.size}|${c.want.root}|${c.want.time}` };
  judge('notes', i, want, () => {
    const cp = v.openNote(c.note, v.parseVerifierKey(c.key));
    return `${cp.origin}|${cp.size}|${v.toHex(cp.root)}|${cp.time}`;
  });
});

vectors.entries.forEach((c, i) => {
  const body = te.encode(c.body);
  const e = v.entryHash(BigInt(c.seq), hx(c.prev), body, prof(c));
  report('entries', i, c, v.toHex(e) === c.hash, `want ${c.hash}, got ${v.toHex(e)}`);
  const h = v.hasherFor(prof(c));
  const e2 = v.toHex(h.entryHash(BigInt(c.seq), hx(c.prev), body));
  report('entries/hasherFor', i, c, e2 === c.hash, `want ${c.hash}, got ${e2}`);
  // The leaf, where the vector has one (null: none computed independently).
  if (c.leaf !== null) {
    const l = v.toHex(v.leafHash(e, prof(c)));
    report('entries/leaf', i, c, l === c.leaf && v.toHex(h.leaf(e)) === c.leaf, `want ${c.leaf}, got ${l}`);
  }
});

vectors.inclusion.forEach((c, i) => {
  judge('inclusion', i, c, () =>
    v.toHex(v.verifyInclusion(BigInt(c.index), BigInt(c.size), hx(c.entry), c.proof.map(hx), hx(c.root), prof(c))),
  );
});

vectors.check.forEach((c, i) => {
  judge('check', i, c, () => {
    const cp = { size: BigInt(c.size), root: hx(c.root) };
    return v.checkInclusion(cp, BigInt(c.seq), c.entry, c.proof, prof(c));
  }, (a, b) => JSON.stringify(a) === JSON.stringify(b));
});

// The node hash of each profile, from the leaves of a two-entry tree the vectors hold.
{
  const c = vectors.inclusion.find((x) => x.profile === 'gm' && x.size === '2' && x.index === '0' && !('fail' in x));
  const left = gm.leaf(hx(c.entry));
  const right = hx(c.proof[0]);
  const root = v.toHex(v.nodeHash(left, right, 'gm'));
  report('node', 0, c, root === c.want, `want ${c.want}, got ${root}`);
  report('node', 1, c, v.toHex(v.nodeHash(left, right)) !== c.want, 'blake3 node equals the gm node');
}

// An unknown profile is refused, never taken for blake3.
judge('profile', 0, { fail: 'profile_unsupported', source: 'sm3 is not a profile name' }, () =>
  v.entryHash(0n, new Uint8Array(32), new Uint8Array(0), 'sm3'),
);
judge('profile', 1, { want: 'blake3,gm', source: 'PROFILES' }, () => v.PROFILES.join(','));

console.log(`gm vectors: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
