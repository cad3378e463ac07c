// Passkeys (WebAuthn) for the pages: whether this browser and server have them, and the two
// ceremonies, each one auth-server round trip for options, one browser call, one to verify.
// The server's options are WebAuthn's JSON form (base64url for binary fields); the browser API
// takes and gives ArrayBuffers, converted here.

import { authRequest } from './auth.js';

/** A WebAuthn failure in the browser (cancelled, timed out, no authenticator). */
export class PasskeyCancelled extends Error {
  constructor(cause) {
    super('The passkey request was cancelled or timed out.');
    this.name = 'PasskeyCancelled';
    this.cause = cause;
  }
}

function fromBase64url(text) {
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

function toBase64url(buffer) {
  const bytes = new Uint8Array(buffer);
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

const descriptors = (list) => (list || []).map((d) => ({ ...d, id: fromBase64url(d.id) }));

/**
 * Whether passkeys can be used here: the browser has WebAuthn and the server has the plugin on
 * (`list-user-passkeys` is then a 401 or 200 for anyone; without the plugin it is a 404). The
 * probe changes nothing on the server.
 */
export async function passkeysAvailable() {
  if (!window.PublicKeyCredential || !navigator.credentials) return false;
  try {
    const response = await fetch('/api/auth/passkey/list-user-passkeys', {
      credentials: 'same-origin',
      cache: 'no-store',
    });
    return response.status !== 404;
  } catch {
    return false;
  }
}

async function browserCall(call) {
  try {
    const credential = await call();
    if (!credential) throw new PasskeyCancelled();
    return credential;
  } catch (err) {
    if (err instanceof PasskeyCancelled) throw err;
    throw new PasskeyCancelled(err);
  }
}

/** Creates a passkey on this device for the signed-in user and stores it; resolves to it. */
export async function addPasskey(name) {
  const options = await authRequest('/passkey/generate-register-options');
  const publicKey = {
    ...options,
    challenge: fromBase64url(options.challenge),
    user: { ...options.user, id: fromBase64url(options.user.id) },
    excludeCredentials: descriptors(options.excludeCredentials),
  };
  const credential = await browserCall(() => navigator.credentials.create({ publicKey }));
  const response = {
    id: credential.id,
    rawId: toBase64url(credential.rawId),
    type: credential.type,
    response: {
      clientDataJSON: toBase64url(credential.response.clientDataJSON),
      attestationObject: toBase64url(credential.response.attestationObject),
      transports: credential.response.getTransports ? credential.response.getTransports() : [],
    },
    clientExtensionResults: credential.getClientExtensionResults(),
    authenticatorAttachment: credential.authenticatorAttachment || undefined,
  };
  const body = name ? { response, name } : { response };
  return authRequest('/passkey/verify-registration', { method: 'POST', body });
}

/** Signs in with a passkey of this device; resolves to `{session, user}`. */
export async function signInWithPasskey() {
  const options = await authRequest('/passkey/generate-authenticate-options');
  const publicKey = {
    ...options,
    challenge: fromBase64url(options.challenge),
    allowCredentials: descriptors(options.allowCredentials),
  };
  const credential = await browserCall(() => navigator.credentials.get({ publicKey }));
  const { response: r } = credential;
  const response = {
    id: credential.id,
    rawId: toBase64url(credential.rawId),
    type: credential.type,
    response: {
      clientDataJSON: toBase64url(r.clientDataJSON),
      authenticatorData: toBase64url(r.authenticatorData),
      signature: toBase64url(r.signature),
      userHandle: r.userHandle ? toBase64url(r.userHandle) : undefined,
    },
    clientExtensionResults: credential.getClientExtensionResults(),
    authenticatorAttachment: credential.authenticatorAttachment || undefined,
  };
  return authRequest('/passkey/verify-authentication', { method: 'POST', body: { response } });
}
