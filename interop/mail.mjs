// Reading mail the servers really delivered, for the interop scripts (standard library only):
// the browser scenario reads the test SMTP server's Maildir, the side-by-side run Tessera's `.eml`
// files. A minimal MIME reader: enough for the messages Tessera and the test SMTP server write
// (multipart/alternative, 7bit, quoted-printable or base64 parts), no more.

import fs from 'node:fs';
import path from 'node:path';

/** The decoded text/plain part of a raw MIME message (quoted-printable, base64 or 7bit). */
export function textPart(raw) {
  const unfold = (headers) => headers.replace(/\r?\n[ \t]+/g, ' ');
  const header = (headers, name) => (new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(unfold(headers)) || [])[1] || '';
  const split = (entity) => {
    const at = entity.search(/\r?\n\r?\n/);
    return [entity.slice(0, at), entity.slice(at).replace(/^\r?\n\r?\n/, '')];
  };
  const decode = (headers, body) => {
    const cte = header(headers, 'Content-Transfer-Encoding').toLowerCase();
    if (cte === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
    if (cte === 'quoted-printable') {
      const bytes = body.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/gi, (_, x) => String.fromCharCode(parseInt(x, 16)));
      return Buffer.from(bytes, 'latin1').toString('utf8');
    }
    return body;
  };
  const [headers, body] = split(raw);
  const type = header(headers, 'Content-Type');
  const boundary = (/boundary="?([^";]+)"?/i.exec(type) || [])[1];
  if (!boundary) return /^text\/plain/i.test(type) || !type ? decode(headers, body) : '';
  for (const part of body.split(`--${boundary}`).slice(1)) {
    if (part.startsWith('--')) break;
    const text = textPart(part.replace(/^\r?\n/, ''));
    if (text) return text;
  }
  return '';
}

/**
 * Waits (at most `withinMs`) for the first message to `address` among the files directly in
 * `dirs` (whose text matches `matching`, when given); resolves to its decoded plain text.
 */
export async function waitForMail(dirs, address, withinMs = 30_000, matching = null) {
  const to = new RegExp(`^To:.*${address.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`, 'im');
  const deadline = Date.now() + withinMs;
  for (;;) {
    for (const dir of dirs) {
      for (const file of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
        // A dotfile is one still being written (Tessera's `.<id>.eml.partial`, renamed when
        // complete); a file gone between the listing and the read was moved (Maildir's new/ →
        // cur/) and is read again on the next pass.
        if (file.startsWith('.')) continue;
        let raw;
        try {
          raw = fs.readFileSync(path.join(dir, file), 'utf8');
        } catch (err) {
          if (err.code === 'ENOENT') continue;
          throw err;
        }
        if (!to.test(raw)) continue;
        const text = textPart(raw);
        if (!matching || matching.test(text)) return text;
      }
    }
    if (Date.now() >= deadline) throw new Error(`no mail to ${address} arrived within ${withinMs / 1000} s in ${dirs.join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
