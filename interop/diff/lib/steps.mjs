// TAP-like output shared by the compatibility scripts: "ok N - …" / "not ok N - …" per step and
// one closing line "N passed, M failed" (read by scripts/test.sh and CI).

let passed = 0;
let failed = 0;

/** Runs one step; a failure is printed and, with `fatal`, ends the script. */
export async function step(description, fn, { fatal = true } = {}) {
  try {
    await fn();
    passed += 1;
    console.log(`ok ${passed + failed} - ${description}`);
    return true;
  } catch (error) {
    failed += 1;
    console.log(`not ok ${passed + failed} - ${description}`);
    console.log(indent(String(error?.stack ?? error)));
    if (fatal) {
      await finish();
    }
    return false;
  }
}

/** Records a failure found outside `step`. */
export function fail(description, detail) {
  failed += 1;
  console.log(`not ok ${passed + failed} - ${description}`);
  if (detail) console.log(indent(detail));
}

export function pass(description) {
  passed += 1;
  console.log(`ok ${passed + failed} - ${description}`);
}

export function indent(text) {
  return text
    .split("\n")
    .map((line) => `    ${line}`)
    .join("\n");
}

let cleanup = async () => {};
/** Registers what `finish` runs before exiting (stopping servers); it gets whether all passed. */
export function onFinish(fn) {
  cleanup = fn;
}

/** Prints the closing line and exits: 0 only if nothing failed. */
export async function finish() {
  try {
    await cleanup(failed === 0 && passed > 0);
  } catch (error) {
    console.error(`cleanup failed: ${error}`);
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 && passed > 0 ? 0 : 1);
}
