// A scripted HTTP client for one server: a cookie jar, browser-like defaults (an Origin header),
// and a recorder that keeps every normalised response under a stable case id.

import { request as httpRequest } from "node:http";
import { FRONTEND_ORIGIN } from "./servers.mjs";
import { Masker, normalise, parseSetCookie } from "./record.mjs";

const REQUEST_TIMEOUT_MS = 20_000;

/** Everything recorded against one server: case id → normalised response. */
export class Recording {
  constructor(server) {
    this.server = server;
    this.masker = new Masker(server.origin);
    this.cases = new Map();
  }

  add(id, normalised) {
    if (this.cases.has(id)) throw new Error(`case id recorded twice: ${id}`);
    this.cases.set(id, normalised);
  }
}

/** A client with its own cookie jar, talking to one server and recording into `recording`. */
export class Agent {
  constructor(recording) {
    this.recording = recording;
    this.base = `${recording.server.url}/api/auth`;
    this.jar = new Map();
  }

  cookieHeader() {
    return [...this.jar].map(([k, v]) => `${k}=${v}`).join("; ");
  }

  cookie(name) {
    return this.jar.get(name);
  }

  storeCookies(response) {
    for (const header of response.headers.getSetCookie()) {
      const { name, value, attributes } = parseSetCookie(header);
      if (attributes["max-age"] !== undefined && Number(attributes["max-age"]) <= 0) this.jar.delete(name);
      else this.jar.set(name, value);
    }
  }

  /**
   * Sends a request and records it as case `id` (unless id is null).
   *
   * opts: method (default GET, or POST with a body), path (relative to /api/auth, or absolute
   * from the server root when it starts with "//root"), json (object → JSON body), body (raw
   * string), contentType, headers, origin (default FRONTEND_ORIGIN; false for none), cookies
   * (true = the jar, false = none, string = that Cookie header), keep (store Set-Cookie in the
   * jar; default true), expect (the status this scenario relies on; anything else throws, on
   * either server).
   */
  async send(id, opts = {}) {
    const headers = new Headers();
    let body;
    if (opts.json !== undefined) {
      body = JSON.stringify(opts.json);
      headers.set("content-type", "application/json");
    } else if (opts.body !== undefined) {
      body = opts.body;
    }
    if (opts.contentType !== undefined) {
      if (opts.contentType === null) headers.delete("content-type");
      else headers.set("content-type", opts.contentType);
    }
    const origin = opts.origin === undefined ? FRONTEND_ORIGIN : opts.origin;
    if (origin) headers.set("origin", origin);
    const cookies = opts.cookies === undefined ? true : opts.cookies;
    const cookieHeader = cookies === true ? this.cookieHeader() : cookies || "";
    if (cookieHeader) headers.set("cookie", cookieHeader);
    for (const [k, v] of Object.entries(opts.headers ?? {})) {
      if (v === null) headers.delete(k);
      else headers.set(k, v.replaceAll("{origin}", this.recording.server.origin));
    }
    const method = opts.method ?? (body !== undefined ? "POST" : "GET");
    const path = (opts.path ?? "").replaceAll("{origin}", this.recording.server.origin);
    const url = path.startsWith("//root") ? `${this.recording.server.url}${path.slice(6)}` : `${this.base}${path}`;
    const response = await rawRequest(url, method, headers, body);
    const text = response.text;
    if (opts.keep !== false) this.storeCookies(response);
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    const result = { status: response.status, headers: response.headers, text, json };
    if (opts.expect !== undefined && response.status !== opts.expect) {
      // The scenario's own premise (e.g. "the 4th sign-in is limited") failed on this server.
      throw new Error(`${id}: expected status ${opts.expect} from ${this.recording.server.kind}, got ${response.status}: ${text.slice(0, 300)}`);
    }
    if (id !== null) {
      this.recording.masker.begin(id);
      this.recording.add(id, normalise(this.recording.masker, result));
    }
    return result;
  }
}

/**
 * One HTTP/1.1 request with exactly the given headers. (Node's fetch adds `sec-fetch-mode: cors`
 * and a default content type, which would change what the CSRF checks see.)
 */
export function rawRequest(url, method, headers, body) {
  return new Promise((ok, fail) => {
    const outgoing = {};
    for (const [k, v] of headers) outgoing[k] = v;
    if (body !== undefined) outgoing["content-length"] = Buffer.byteLength(body);
    const req = httpRequest(url, { method, headers: outgoing, timeout: REQUEST_TIMEOUT_MS }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const responseHeaders = new Headers();
        for (let i = 0; i < res.rawHeaders.length; i += 2) responseHeaders.append(res.rawHeaders[i], res.rawHeaders[i + 1]);
        ok({ status: res.statusCode, headers: responseHeaders, text: Buffer.concat(chunks).toString("utf8") });
      });
      res.on("error", fail);
    });
    req.on("timeout", () => req.destroy(new Error(`timeout: ${method} ${url}`)));
    req.on("error", fail);
    if (body !== undefined) req.write(body);
    req.end();
  });
}
