// A small Messenger webhook bot written with the npm `messaging-api-messenger`
// client, the way a bot developer would write one: a worked example of a bot
// that `baton certify-app` certifies (tests/sdk_bot.rs runs it).
//
// Usage: node sdk_bot.mjs [graph-origin] [port]
//   graph-origin  where the Graph API is (BATON_GRAPH; default http://127.0.0.1:8080,
//                 the port `baton certify-app --port` listens on)
//   port          where the webhook listens (BATON_BOT_PORT; default 3000, 0: any free port)
// Credentials come from the environment, defaulting to the ones `baton
// certify-app` prints: BATON_APP_TOKEN (page access token), BATON_APP_SECRET
// (app secret: webhook signatures and appsecret_proof), BATON_VERIFY_TOKEN
// (the verification handshake). They are never printed.
//
// What it does, and the rule of app-certification.md behind each choice:
// - GET /webhook: the verification handshake answers hub.challenge for the
//   right verify token, 403 otherwise (APP-5).
// - POST /webhook: X-Hub-Signature-256 is checked over the exact body with the
//   app secret (constant time); a missing or wrong one gets 403 and causes
//   nothing (APP-2). Every signed delivery gets 200, whatever it holds,
//   even bodies it cannot read (APP-1, APP-3); one seen before (a retry) gets
//   200 and no second reaction (APP-4).
// - It reads a whole delivery, then acts at most once per user (PSID), and
//   only where the latest event for that user came on `messaging`: it is
//   then the owner, or the thread is idle and it may send (CTRL-2/3).
//   Anything on `standby` means another app or the Page Inbox owns the
//   thread: it stays quiet there (BP-1, BP-2).
// - A request_thread_control is honoured at once: it passes the thread to the
//   earliest requester of the delivery, and says nothing more (BP-4).
// - A user message otherwise gets one reply, `messaging_type: RESPONSE`
//   (APP-6). It never takes control (BP-3), never releases or extends (so
//   none of those is refused on an idle thread, BP-5), and never asks
//   thread_owner (so it never finds a thread idle, BP-6).
//
// It prints `webhook: http://127.0.0.1:PORT/webhook` when ready, then one line
// per delivery and per Graph call.

import crypto from 'node:crypto';
import http from 'node:http';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { MessengerClient } = require('messaging-api-messenger');

const GRAPH = (process.argv[2] || process.env.BATON_GRAPH || 'http://127.0.0.1:8080').replace(
  /\/+$/,
  '',
);
const PORT = Number(process.argv[3] ?? process.env.BATON_BOT_PORT ?? 3000);
const TOKEN = process.env.BATON_APP_TOKEN || 'reference-app-token';
const SECRET = process.env.BATON_APP_SECRET || 'reference-app-secret';
const VERIFY_TOKEN = process.env.BATON_VERIFY_TOKEN || 'reference-app-verify-token';
if (!/^https?:\/\/[^/]+$/.test(GRAPH) || !Number.isInteger(PORT) || PORT < 0 || PORT > 65535) {
  console.error(
    `usage: node sdk_bot.mjs [graph-origin] [port]: ${JSON.stringify(GRAPH)} must be an origin such as http://127.0.0.1:8080 and ${JSON.stringify(process.argv[3] ?? process.env.BATON_BOT_PORT)} a port (0 for any)`,
  );
  process.exit(2);
}

// The SDK adds appsecret_proof to every call (from appSecret), puts the token
// in the query, and sends JSON bodies to {origin}/v19.0/me/{edge}.
const client = new MessengerClient({
  accessToken: TOKEN,
  appSecret: SECRET,
  origin: GRAPH,
  version: '19.0',
});
// A call that never answers must not hold up the bot forever.
client.axios.defaults.timeout = 10_000;

// ------------------------------------------------------------ signatures

function signatureOk(raw, header) {
  if (typeof header !== 'string') return false;
  const [scheme, hex] = header.split('=', 2);
  if (!scheme || scheme.toLowerCase() !== 'sha256' || !hex) return false;
  const want = crypto.createHmac('sha256', SECRET).update(raw).digest();
  const got = Buffer.from(hex.toLowerCase(), 'hex');
  return got.length === want.length && crypto.timingSafeEqual(got, want);
}

// ------------------------------------------------------------ retries

/** SHA-256 of recent signed bodies: a body seen before is a retry. */
const seen = new Set();
function isRetry(raw) {
  const h = crypto.createHash('sha256').update(raw).digest('hex');
  if (seen.has(h)) return true;
  seen.add(h);
  if (seen.size > 4096) seen.delete(seen.values().next().value);
  return false;
}

// ------------------------------------------------------------ reacting

/**
 * What one delivery tells the bot, per user in order of first appearance:
 * whether it may act (its latest event came on messaging and did not take
 * the thread from it), the apps that requested control (in order), and
 * whether the user wrote.
 */
function readDelivery(body) {
  const users = new Map();
  const entries = body && Array.isArray(body.entry) ? body.entry : [];
  for (const entry of entries) {
    if (!entry || typeof entry !== 'object') continue;
    for (const channel of ['messaging', 'standby']) {
      if (!Array.isArray(entry[channel])) continue;
      for (const ev of entry[channel]) {
        const psid = ev && ev.sender && ev.sender.id;
        if (typeof psid !== 'string' && typeof psid !== 'number') continue;
        const key = String(psid);
        if (!users.has(key)) users.set(key, { mayAct: false, requesters: [], wrote: false });
        const u = users.get(key);
        if (channel === 'standby') {
          // Another app or the Page Inbox owns the thread.
          u.mayAct = false;
          u.requesters = [];
          u.wrote = false;
          continue;
        }
        u.mayAct = true;
        if (ev.take_thread_control) {
          // The primary receiver took the thread from this bot.
          u.mayAct = false;
          u.requesters = [];
          u.wrote = false;
        } else if (ev.request_thread_control) {
          const app = ev.request_thread_control.requested_owner_app_id;
          if (app !== undefined && app !== null) u.requesters.push(String(app));
        } else if (ev.message && !ev.message.is_echo) {
          u.wrote = true;
        }
      }
    }
  }
  return users;
}

async function call(what, psid, f) {
  try {
    await f();
    console.log(`psid ${psid}: ${what} -> ok`);
  } catch (e) {
    // The SDK's error says what Graph answered, e.g. "Messenger API - 100
    // OAuthException (#100) The parameter messaging_type is required".
    console.log(`psid ${psid}: ${what} -> failed: ${e && e.message}`);
  }
}

async function react(body) {
  for (const [psid, u] of readDelivery(body)) {
    if (!u.mayAct) continue;
    if (u.requesters.length > 0) {
      const to = u.requesters[0];
      await call(`pass_thread_control to ${to}`, psid, () =>
        client.passThreadControl(psid, to, JSON.stringify({ from: 'sdk bot', reason: 'requested' })),
      );
    } else if (u.wrote) {
      await call('send', psid, () =>
        client.sendText(psid, 'Thanks for writing! A bot built with messaging-api-messenger here.', {
          messagingType: 'RESPONSE',
        }),
      );
    }
  }
}

// ------------------------------------------------------------ the webhook

/** Deliveries are reacted to one at a time, in the order they came. */
let queue = Promise.resolve();

const server = http.createServer((req, res) => {
  const url = new URL(req.url || '/', 'http://bot');
  if (url.pathname !== '/webhook') {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: the webhook is /webhook');
    return;
  }
  if (req.method === 'GET') {
    const q = url.searchParams;
    if (q.get('hub.mode') === 'subscribe' && q.get('hub.verify_token') === VERIFY_TOKEN) {
      res.writeHead(200, { 'content-type': 'text/plain' }).end(q.get('hub.challenge') || '');
    } else {
      res.writeHead(403, { 'content-type': 'text/plain' }).end('wrong verify token');
    }
    return;
  }
  if (req.method !== 'POST') {
    res.writeHead(405, { 'content-type': 'text/plain' }).end('GET or POST');
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('error', () => {});
  req.on('end', () => {
    const raw = Buffer.concat(chunks);
    if (!signatureOk(raw, req.headers['x-hub-signature-256'])) {
      console.log('delivery refused: missing or wrong X-Hub-Signature-256');
      res.writeHead(403, { 'content-type': 'text/plain' }).end('bad signature');
      return;
    }
    if (isRetry(raw)) {
      console.log('delivery: a retry, already handled');
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      return;
    }
    let body = null;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      // Not JSON: nothing to do, but still 200 (APP-3).
    }
    console.log(`delivery: ${raw.length} bytes`);
    queue = queue
      .then(() => react(body))
      .catch((e) => console.log(`reaction failed: ${e && e.message}`))
      .finally(() => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'));
  });
});

server.listen(PORT, '127.0.0.1', () => {
  console.log(`webhook: http://127.0.0.1:${server.address().port}/webhook`);
});
server.on('error', (e) => {
  console.error(`cannot listen on 127.0.0.1:${PORT}: ${e.message} (is the port in use? 0 takes any free port)`);
  process.exit(2);
});
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    console.log('shutting down');
    server.close();
    process.exit(0);
  });
}
