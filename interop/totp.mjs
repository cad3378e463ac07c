// TOTP codes as an authenticator app computes them from a `totpURI` (RFC 6238 through Better
// Auth's own `createOTP`, 30 s periods): the interop scenario, the differential harness,
// adoption and side by side all read codes here.
import { createOTP } from "@better-auth/utils/otp";
import { base32 } from "@better-auth/utils/base32";

/** The TOTP generator of the secret in `uri` (an `otpauth://totp/…?secret=<base32>` URI). */
export function totpOf(uri) {
  const secret = new URL(uri).searchParams.get("secret");
  return createOTP(new TextDecoder().decode(base32.decode(secret)));
}

/** The code of the secret in `uri`, `steps` periods from now. */
export function totpCode(uri, steps = 0) {
  return totpOf(uri).hotp(Math.floor(Date.now() / 30_000) + steps);
}
