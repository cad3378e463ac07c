// The list of known, accepted differences, read from docs/compatibility.md.
//
// The list is the JSON array in the fenced block between the markers
// `<!-- compat:differences:begin -->` and `<!-- compat:differences:end -->`. Each entry:
//   { "id": stable id, "case": glob over case ids, "path": glob over flattened paths,
//     "betterAuth"?: exact expected value, "tessera"?: exact expected value,
//     "reason": why, "kind": "deliberate" | "pending" }
// `*` matches any run of characters (dots included), `?` one character. An observed difference is
// accepted only if an entry matches its case, its path and (when given) both values.

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
    for (const field of ["id", "case", "path", "reason", "kind"]) {
      if (typeof entry[field] !== "string" || !entry[field]) throw new Error(`${path}: entry ${JSON.stringify(entry.id)} lacks "${field}"`);
    }
    if (!["deliberate", "pending"].includes(entry.kind)) throw new Error(`${path}: ${entry.id}: kind must be deliberate or pending`);
    if (ids.has(entry.id)) throw new Error(`${path}: duplicate id ${entry.id}`);
    ids.add(entry.id);
    entry.caseRe = globToRegExp(entry.case);
    entry.pathRe = globToRegExp(entry.path);
    entry.used = 0;
  }
  return entries;
}

function globToRegExp(glob) {
  const escaped = glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${escaped}$`);
}

/** The entry accepting this difference, or undefined. */
export function findKnown(entries, caseId, difference) {
  return entries.find(
    (e) =>
      e.caseRe.test(caseId) &&
      e.pathRe.test(difference.path) &&
      (!("betterAuth" in e) || JSON.stringify(e.betterAuth) === JSON.stringify(difference.betterAuth)) &&
      (!("tessera" in e) || JSON.stringify(e.tessera) === JSON.stringify(difference.tessera)),
  );
}
