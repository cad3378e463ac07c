// The list of known, accepted differences, read from docs/compatibility.md.
//
// The list is the JSON array in the fenced block between the markers
// `<!-- compat:differences:begin -->` and `<!-- compat:differences:end -->`. Each entry:
//   { "id": stable id, "case": glob over case ids, "reason": why,
//     "kind": "deliberate" | "pending",
//     and either one pinned path:
//       "path": glob over flattened paths, "betterAuth"?: exact value, "tessera": exact value
//     or several:
//       "differences": [{ "path", "betterAuth"?, "tessera" }, …] }
// `*` matches any run of characters (dots included), `?` one character. Instead of "tessera"
// a difference may give "tesseraLike", a glob over the (string) value, for masked ids that
// change from case to case. An observed difference is accepted only if an entry matches its case
// and one of the entry's paths with the pinned Tessera value (and Better Auth's, when given): a
// listed difference never lets through an answer of another kind, such as a 500.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO } from "./servers.mjs";

export const COMPAT_DOC = join(REPO, "docs/compatibility.md");
const BEGIN = "<!-- compat:differences:begin -->";
const END = "<!-- compat:differences:end -->";

export function loadKnownDifferences(path = COMPAT_DOC) {
  const text = readFileSync(path, "utf8");
  const start = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  if (start < 0 || end < start) throw new Error(`${path}: no ${BEGIN} … ${END} block`);
  const block = text.slice(start + BEGIN.length, end).replace(/^\s*```json\s*/, "").replace(/\s*```\s*$/, "");
  const entries = JSON.parse(block);
  const ids = new Set();
  for (const entry of entries) {
    for (const field of ["id", "case", "reason", "kind"]) {
      if (typeof entry[field] !== "string" || !entry[field]) throw new Error(`${path}: entry ${JSON.stringify(entry.id)} lacks "${field}"`);
    }
    if (!["deliberate", "pending"].includes(entry.kind)) throw new Error(`${path}: ${entry.id}: kind must be deliberate or pending`);
    if (ids.has(entry.id)) throw new Error(`${path}: duplicate id ${entry.id}`);
    ids.add(entry.id);
    if ("path" in entry === "differences" in entry) throw new Error(`${path}: ${entry.id}: give either "path" or "differences"`);
    const specs = entry.differences ?? [{ path: entry.path, betterAuth: entry.betterAuth, tessera: entry.tessera, tesseraLike: entry.tesseraLike }];
    entry.specs = specs.map((spec) => {
      const pinned = (name) => (entry.differences ? name in spec : spec[name] !== undefined);
      if (typeof spec.path !== "string" || !spec.path) throw new Error(`${path}: ${entry.id}: a difference lacks "path"`);
      if (pinned("tessera") === pinned("tesseraLike")) {
        throw new Error(`${path}: ${entry.id}: ${spec.path}: pin Tessera's value with exactly one of "tessera" or "tesseraLike"`);
      }
      return {
        path: spec.path,
        pathRe: globToRegExp(spec.path),
        betterAuth: pinned("betterAuth") ? { value: spec.betterAuth } : undefined,
        tessera: pinned("tessera") ? { value: spec.tessera } : undefined,
        tesseraRe: pinned("tesseraLike") ? globToRegExp(spec.tesseraLike) : undefined,
        used: 0,
      };
    });
    entry.caseRe = globToRegExp(entry.case);
    entry.used = 0;
  }
  return entries;
}

function globToRegExp(glob) {
  const escaped = glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${escaped}$`);
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

/** The entry accepting this difference, or undefined; counts the pinned path it matched. */
export function findKnown(entries, caseId, difference) {
  for (const entry of entries) {
    if (!entry.caseRe.test(caseId)) continue;
    const spec = entry.specs.find(
      (s) =>
        s.pathRe.test(difference.path) &&
        (!s.betterAuth || same(s.betterAuth.value, difference.betterAuth)) &&
        (s.tessera ? same(s.tessera.value, difference.tessera) : typeof difference.tessera === "string" && s.tesseraRe.test(difference.tessera)),
    );
    if (spec) {
      spec.used += 1;
      return entry;
    }
  }
  return undefined;
}
