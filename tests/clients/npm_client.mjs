// Drives the real npm `messaging-api-messenger` client against a running
// baton reference server (or any implementation under test that has the
// control API), and checks answers and webhooks step by step.
//
// Usage: node npm_client.mjs <server-url> <control-key>
//    or: BATON_URL=... BATON_KEY=... node npm_client.mjs
//
// The Graph API and the control API are both at <server-url> (the control
// API under /conformance). The script runs its own webhook sink on
// 127.0.0.1 (an ephemeral port), so the server must be able to reach it.
// Exits 0 when every check passed; otherwise prints the failed check and
// exits 1.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { MessengerClient } = require('messaging-api-messenger');
const SDK_VERSION = require('messaging-api-messenger/package.json').version;

const BASE = (process.argv[2] || process.env.BATON_URL || '').replace(/\/+$/, '');
const KEY = process.argv[3] || process.env.BATON_KEY || '';
if (!BASE || !KEY) {
  console.error('usage: node npm_client.mjs <server-url> <control-key> (or BATON_URL / BATON_KEY)');
  process.exit(2);
}

const PAGE_INBOX = '263902037430900';
const INSTAGRAM_INBOX = '1217981644879628';
// A page id of its own per run, so that runs against one long-lived server
// never share a page (tokens are unique across pages, so they carry it too).
const PAGE_ID = String(7_000_000_000 + crypto.randomInt(1_000_000_000));
// The Instagram professional account linked to the page, and an Instagram
// user (IGSID) writing to it (instagram.md).
const IG_ACCOUNT = `17841${PAGE_ID}`;
const IGSID = '71000001';
const PSID = '24000001';
const PSID2 = '24000002';
const NOW_MS = 1_700_000_000_000;

const APPS = {
  // The primary receiver; requires appsecret_proof, so every call the
  // client makes for it is checked against the proof the client computes.
  A: { app_id: '1001', name: 'Bot A (primary)', secret: 'secret-a-0d1b', proof: true },
  B: { app_id: '1002', name: 'Agent B', secret: 'secret-b-77c4', proof: false },
  C: { app_id: '1003', name: 'Survey C', secret: 'secret-c-a9e0', proof: false },
};
for (const [tag, app] of Object.entries(APPS)) app.token = `tok-${PAGE_ID}-${tag}`;
const byId = Object.fromEntries(Object.entries(APPS).map(([tag, a]) => [a.app_id, tag]));

// ---------------------------------------------------------------- the sink

/** Every delivery received: { app, sig, raw, body, sigOk }. */
const deliveries = [];
/** Problems found while receiving (reported at the next check). */
const sinkProblems = [];

const sink = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const raw = Buffer.concat(chunks);
    const m = /^\/hook\/(\d+)$/.exec(req.url || '');
    const tag = m && byId[m[1]];
    if (!tag || req.method !== 'POST') {
      sinkProblems.push(`unexpected ${req.method} ${req.url}`);
      res.writeHead(404).end();
      return;
    }
    const sig = req.headers['x-hub-signature-256'];
    const want =
      'sha256=' + crypto.createHmac('sha256', APPS[tag].secret).update(raw).digest('hex');
    const sigOk =
      typeof sig === 'string' &&
      sig.length === want.length &&
      crypto.timingSafeEqual(Buffer.from(sig), Buffer.from(want));
    let body;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch (e) {
      sinkProblems.push(`app ${tag}: body is not JSON: ${raw.toString('utf8').slice(0, 200)}`);
    }
    const ct = req.headers['content-type'] || '';
    if (!ct.startsWith('application/json')) {
      sinkProblems.push(`app ${tag}: content-type ${JSON.stringify(ct)}, expected application/json`);
    }
    deliveries.push({ app: tag, sig, raw, body, sigOk });
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  });
});
await new Promise((resolve) => sink.listen(0, '127.0.0.1', resolve));
const SINK = `http://127.0.0.1:${sink.address().port}`;

/** Takes every delivery received so far, flattened into events. */
function takeEvents() {
  assert.deepEqual(sinkProblems, [], 'webhook sink saw bad deliveries');
  const events = [];
  for (const d of deliveries.splice(0)) {
    assert.ok(
      d.sigOk,
      `app ${d.app}: X-Hub-Signature-256 ${JSON.stringify(d.sig)} is not HMAC-SHA256 of the body with its secret`,
    );
    // One delivery is one surface: "page" entries name the page,
    // "instagram" entries the Instagram account (IG-3).
    const object = d.body.object;
    assert.ok(['page', 'instagram'].includes(object), `app ${d.app}: envelope object ${object}`);
    const entryId = object === 'instagram' ? IG_ACCOUNT : PAGE_ID;
    assert.ok(Array.isArray(d.body.entry) && d.body.entry.length > 0, `app ${d.app}: entry[]`);
    for (const entry of d.body.entry) {
      assert.equal(entry.id, entryId, `app ${d.app}: entry.id of an "${object}" delivery`);
      assert.equal(typeof entry.time, 'number', `app ${d.app}: entry.time is a number`);
      const channels = ['messaging', 'standby'].filter((c) => c in entry);
      assert.equal(channels.length, 1, `app ${d.app}: an entry has exactly one of messaging/standby`);
      for (const channel of channels) {
        for (const event of entry[channel]) events.push({ app: d.app, channel, event, object });
      }
    }
  }
  return events;
}

/** The kind of a webhook event (the key that is not sender/recipient/timestamp). */
function kindOf(event) {
  const kinds = Object.keys(event).filter(
    (k) => !['sender', 'recipient', 'timestamp', 'referral'].includes(k),
  );
  return kinds.join('+');
}

// ------------------------------------------------------------ control API

async function control(method, path, body) {
  const url = `${BASE}/conformance/${path}`;
  const res = await fetch(url, {
    method,
    headers: { 'x-conformance-key': KEY, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  assert.equal(res.status, 200, `control ${method} ${path}: HTTP ${res.status} ${text}`);
  return JSON.parse(text);
}

async function flush() {
  const out = await control('POST', 'flush', { page_id: PAGE_ID });
  assert.equal(typeof out.delivered, 'number', 'flush answers {"delivered": n}');
  return out;
}

/**
 * Flushes the page, then checks that exactly `expected` events arrived
 * (order-insensitive across apps; each expected item is {app, channel,
 * kind, fields}, where `fields` must match the kind's object exactly).
 */
async function expectWebhooks(step, expected) {
  await flush();
  const got = takeEvents();
  const summary = (evs) =>
    evs
      .map((e) => {
        const object = e.object ?? (e.instagram ? 'instagram' : 'page');
        return `${e.app}/${e.channel}/${e.kind ?? kindOf(e.event)}/${object}`;
      })
      .sort();
  assert.deepEqual(
    summary(got),
    summary(expected),
    `${step}: webhooks (app/channel/kind) differ; got ${JSON.stringify(got)}`,
  );
  for (const want of expected) {
    const match = got.find(
      (g) => g.app === want.app && g.channel === want.channel && kindOf(g.event) === want.kind,
    );
    const ev = match.event;
    const recipient = want.instagram ? IG_ACCOUNT : PAGE_ID;
    assert.deepEqual(ev.recipient, { id: recipient }, `${step}: ${want.app} recipient`);
    assert.deepEqual(ev.sender, { id: want.psid ?? PSID }, `${step}: ${want.app} sender is the user`);
    assert.equal(typeof ev.timestamp, 'number', `${step}: ${want.app} timestamp`);
    if (want.fields !== undefined) {
      assert.deepEqual(ev[want.kind], want.fields, `${step}: ${want.app} ${want.kind} fields`);
    }
    if (want.check) want.check(ev[want.kind]);
  }
  return got;
}

// ------------------------------------------------------------ the clients

function client(tag, overrides = {}) {
  return new MessengerClient({
    accessToken: APPS[tag].token,
    appSecret: APPS[tag].secret,
    origin: BASE,
    version: '19.0',
    ...overrides,
  });
}
const A = client('A');
const B = client('B');
const C = client('C');

/** Awaits `promise`, expects it to fail with a Graph error; returns it. */
async function expectGraphError(step, promise, { code, subcode }) {
  let err;
  try {
    const ok = await promise;
    assert.fail(`${step}: expected HTTP 400 code ${code}, got success ${JSON.stringify(ok)}`);
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    err = e;
  }
  // The client throws its AxiosError with the answer; it camel-cases keys.
  assert.equal(err.name, 'AxiosError', `${step}: the client's own error type (${err.stack})`);
  assert.equal(err.status, 400, `${step}: HTTP status (${err.message})`);
  const e = err.response?.data?.error;
  assert.ok(e, `${step}: a Graph error envelope, got ${JSON.stringify(err.response?.data)}`);
  assert.equal(e.code, code, `${step}: error code (${err.message})`);
  assert.equal(e.errorSubcode, subcode, `${step}: error_subcode (${err.message})`);
  assert.equal(typeof e.message, 'string', `${step}: error message`);
  assert.equal(typeof e.type, 'string', `${step}: error type`);
  assert.match(err.message, new RegExp(`^Messenger API - ${code} `), `${step}: client message`);
  return err;
}

async function owner(step, expectedAppId) {
  const got = await A.getThreadOwner(PSID); // A is the primary: it may see the owner
  assert.equal(got.appId, expectedAppId, `${step}: thread owner as seen by the primary`);
  assert.equal(typeof got.expiration, 'number', `${step}: expiration`);
  return got;
}

// ------------------------------------------------------------- the steps

const started = Date.now();
let steps = 0;
async function step(name, fn) {
  const t0 = Date.now();
  await fn();
  steps += 1;
  console.log(`ok ${steps} - ${name} (${Date.now() - t0} ms)`);
}

async function main() {
  console.log(`# messaging-api-messenger ${SDK_VERSION} against ${BASE}, page ${PAGE_ID}, sink ${SINK}`);

  await step('reset the page with three apps, A primary (A requires appsecret_proof)', async () => {
    const out = await control('POST', 'reset', {
      page_id: PAGE_ID,
      now_ms: NOW_MS,
      primary_receiver: APPS.A.app_id,
      instagram_account_id: IG_ACCOUNT,
      apps: Object.values(APPS).map((a) => ({
        app_id: a.app_id,
        name: a.name,
        access_token: a.token,
        app_secret: a.secret,
        webhook_url: `${SINK}/hook/${a.app_id}`,
        human_agent: false,
        require_appsecret_proof: a.proof,
      })),
    });
    assert.deepEqual(out, { ok: true });
    await expectWebhooks('reset', []);
  });

  await step('user message: primary A becomes owner (messaging), B and C get standby', async () => {
    const out = await control('POST', 'user_event', {
      page_id: PAGE_ID,
      type: 'message',
      psid: PSID,
      text: 'hello page',
    });
    assert.equal(out.ok, true);
    assert.equal(typeof out.mid, 'string');
    const check = (m) => {
      assert.equal(m.mid, out.mid, 'the webhook carries the mid the control API returned');
      assert.equal(m.text, 'hello page');
    };
    await expectWebhooks('user message', [
      { app: 'A', channel: 'messaging', kind: 'message', check },
      { app: 'B', channel: 'standby', kind: 'message', check },
      { app: 'C', channel: 'standby', kind: 'message', check },
    ]);
    await owner('after the user message', APPS.A.app_id);
  });

  await step('sendText by the owner A (with appsecret_proof) is delivered', async () => {
    const out = await A.sendText(PSID, 'Hi! How can I help?');
    assert.equal(out.recipientId, PSID, 'recipient_id');
    assert.equal(typeof out.messageId, 'string', 'message_id');
    await expectWebhooks('send by owner', []);
    const t = await control('GET', `transcript?page_id=${PAGE_ID}&psid=${PSID}`);
    assert.deepEqual(
      t.data.map(({ from_app_id, kind, text }) => ({ from_app_id, kind, text })),
      [{ from_app_id: APPS.A.app_id, kind: 'text', text: 'Hi! How can I help?' }],
    );
    assert.equal(t.data[0].mid, out.messageId, 'transcript mid is the message_id answered');
  });

  await step('sendText by non-owner B fails as the client error 400 / 10 / 2018300', async () => {
    await expectGraphError('send by non-owner', B.sendText(PSID, 'let me in'), {
      code: 10,
      subcode: 2018300,
    });
    await expectWebhooks('refused send', []);
    const t = await control('GET', `transcript?page_id=${PAGE_ID}&psid=${PSID}`);
    assert.equal(t.data.length, 1, 'the refused message never reached the user');
  });

  await step('appsecret_proof is checked for A: wrong or missing proof gets 400 / 100', async () => {
    await expectGraphError(
      'wrong proof',
      client('A', { appSecret: 'not-the-secret' }).sendText(PSID, 'x'),
      { code: 100, subcode: undefined },
    );
    await expectGraphError(
      'missing proof',
      client('A', { skipAppSecretProof: true }).sendText(PSID, 'x'),
      { code: 100, subcode: undefined },
    );
    // B does not require it: B's client without a proof is fine (thread_owner).
    const seen = await client('B', { skipAppSecretProof: true }).getThreadOwner(PSID);
    assert.equal(seen.appId, undefined, 'a non-owner secondary does not see the owner (AUTH-4)');
    assert.equal(typeof seen.expiration, 'number', 'but does see the expiration');
    await expectWebhooks('proof errors', []);
  });

  await step('an unknown token surfaces as the client error 400 / 190', async () => {
    const err = await expectGraphError(
      'unknown token',
      client('A', { accessToken: 'no-such-token' }).sendText(PSID, 'x'),
      { code: 190, subcode: undefined },
    );
    assert.match(String(err.response.headers['www-authenticate']), /invalid_token/);
  });

  await step('passThreadControl A -> B with metadata: B gets pass_thread_control', async () => {
    const out = await A.passThreadControl(PSID, APPS.B.app_id, 'over to you, B');
    assert.deepEqual(out, { success: true });
    await expectWebhooks('pass A->B', [
      {
        app: 'B',
        channel: 'messaging',
        kind: 'pass_thread_control',
        fields: {
          new_owner_app_id: APPS.B.app_id,
          previous_owner_app_id: APPS.A.app_id,
          metadata: 'over to you, B',
        },
      },
    ]);
    await owner('after pass', APPS.B.app_id);
    const own = await B.getThreadOwner(PSID);
    assert.equal(own.appId, APPS.B.app_id, 'the owner sees itself');
    const other = await C.getThreadOwner(PSID);
    assert.equal(other.appId, undefined, 'C (neither owner nor primary) sees no app_id');
  });

  await step('owner B sends; non-owners A and C cannot', async () => {
    const out = await B.sendText(PSID, 'Agent B here', { messagingType: 'RESPONSE' });
    assert.equal(out.recipientId, PSID);
    await expectGraphError('send by A', A.sendText(PSID, 'x'), { code: 10, subcode: 2018300 });
    await expectGraphError('pass by C', C.passThreadControl(PSID, APPS.C.app_id), {
      code: 10,
      subcode: 2018300,
    });
    await expectGraphError('take by non-primary C', C.takeThreadControl(PSID, 'mine'), {
      code: 10,
      subcode: 2018300,
    });
    await expectWebhooks('sends', []);
    await owner('after refused calls', APPS.B.app_id);
  });

  await step('requestThreadControl by C: owner B gets request_thread_control', async () => {
    const out = await C.requestThreadControl(PSID, 'C would like the thread');
    assert.deepEqual(out, { success: true });
    await expectWebhooks('request by C', [
      {
        app: 'B',
        channel: 'messaging',
        kind: 'request_thread_control',
        fields: { requested_owner_app_id: APPS.C.app_id, metadata: 'C would like the thread' },
      },
    ]);
    await owner('a request changes no owner', APPS.B.app_id);
    await expectGraphError('owner requests its own thread', B.requestThreadControl(PSID), {
      code: 100,
      subcode: undefined,
    });
  });

  await step('passThreadControl B -> C (numeric target, no metadata): no metadata key', async () => {
    const out = await B.passThreadControl(PSID, Number(APPS.C.app_id));
    assert.deepEqual(out, { success: true });
    await expectWebhooks('pass B->C', [
      {
        app: 'C',
        channel: 'messaging',
        kind: 'pass_thread_control',
        fields: { new_owner_app_id: APPS.C.app_id, previous_owner_app_id: APPS.B.app_id },
      },
    ]);
    await owner('after pass to C', APPS.C.app_id);
  });

  await step('pass to an unknown app gets 400 / 100 / 2018164', async () => {
    await expectGraphError('unknown target', C.passThreadControl(PSID, '999999'), {
      code: 100,
      subcode: 2018164,
    });
    await expectWebhooks('unknown target', []);
  });

  await step('takeThreadControl by primary A: previous owner C gets take_thread_control', async () => {
    const out = await A.takeThreadControl(PSID, 'primary takes back');
    assert.deepEqual(out, { success: true });
    await expectWebhooks('take by A', [
      {
        app: 'C',
        channel: 'messaging',
        kind: 'take_thread_control',
        fields: {
          previous_owner_app_id: APPS.C.app_id,
          new_owner_app_id: APPS.A.app_id,
          metadata: 'primary takes back',
        },
      },
    ]);
    await owner('after take', APPS.A.app_id);
    await expectGraphError('take by the owner', A.takeThreadControl(PSID), {
      code: 100,
      subcode: undefined,
    });
  });

  await step('getSecondaryReceivers: every app but the primary; non-primary refused', async () => {
    const list = await A.getSecondaryReceivers();
    assert.deepEqual(
      [...list].sort((x, y) => x.id.localeCompare(y.id)),
      [
        { id: APPS.B.app_id, name: APPS.B.name },
        { id: APPS.C.app_id, name: APPS.C.name },
      ],
    );
    await expectGraphError('secondary_receivers by B', B.getSecondaryReceivers(), {
      code: 10,
      subcode: undefined,
    });
  });

  await step('passThreadControlToPageInbox by A: no webhook, the Page Inbox owns', async () => {
    const out = await A.passThreadControlToPageInbox(PSID, 'a human, please');
    assert.deepEqual(out, { success: true });
    await expectWebhooks('pass to inbox', []);
    await owner('after pass to inbox', PAGE_INBOX);
    await expectGraphError('send while the inbox owns', B.sendText(PSID, 'x'), {
      code: 10,
      subcode: 2018300,
    });
    // A request while the Page Inbox owns: success, no webhook (REQ-1).
    assert.deepEqual(await C.requestThreadControl(PSID, 'me?'), { success: true });
    await expectWebhooks('request while inbox owns', []);
  });

  await step('user message while the Page Inbox owns: all apps on standby', async () => {
    await control('POST', 'user_event', {
      page_id: PAGE_ID,
      type: 'message',
      psid: PSID,
      text: 'is anyone there?',
    });
    await expectWebhooks('message under inbox', [
      { app: 'A', channel: 'standby', kind: 'message' },
      { app: 'B', channel: 'standby', kind: 'message' },
      { app: 'C', channel: 'standby', kind: 'message' },
    ]);
  });

  await step('primary A takes from the Page Inbox: no webhook (the inbox is no app)', async () => {
    assert.deepEqual(await A.takeThreadControl(PSID), { success: true });
    await expectWebhooks('take from inbox', []);
    await owner('after take from inbox', APPS.A.app_id);
  });

  await step('a second user is independent; an unknown PSID gets 400 / 100 / 2018001', async () => {
    await expectGraphError('unknown psid', A.sendText(PSID2, 'hello?'), {
      code: 100,
      subcode: 2018001,
    });
    await control('POST', 'user_event', { page_id: PAGE_ID, type: 'message', psid: PSID2, text: 'hi' });
    await expectWebhooks('second user', [
      { app: 'A', channel: 'messaging', kind: 'message', psid: PSID2 },
      { app: 'B', channel: 'standby', kind: 'message', psid: PSID2 },
      { app: 'C', channel: 'standby', kind: 'message', psid: PSID2 },
    ]);
    assert.deepEqual(await A.passThreadControl(PSID2, APPS.B.app_id), { success: true });
    await expectWebhooks('pass second user', [
      {
        app: 'B',
        channel: 'messaging',
        kind: 'pass_thread_control',
        psid: PSID2,
        fields: { new_owner_app_id: APPS.B.app_id, previous_owner_app_id: APPS.A.app_id },
      },
    ]);
    await owner('the first user is untouched', APPS.A.app_id);
  });

  // ------------------------------------------------ the Instagram surface

  const igOwner = async (step, expectedAppId) => {
    const got = await A.getThreadOwner(IGSID); // the primary serves both surfaces
    assert.equal(got.appId, expectedAppId, `${step}: Instagram thread owner`);
    return got;
  };

  await step('Instagram user message: primary A owns, webhooks are "object":"instagram"', async () => {
    const out = await control('POST', 'user_event', {
      page_id: PAGE_ID,
      type: 'message',
      platform: 'instagram',
      psid: IGSID,
      text: 'hi from Instagram',
    });
    assert.equal(typeof out.mid, 'string');
    const ig = { psid: IGSID, instagram: true, kind: 'message' };
    await expectWebhooks('instagram message', [
      { ...ig, app: 'A', channel: 'messaging' },
      { ...ig, app: 'B', channel: 'standby' },
      { ...ig, app: 'C', channel: 'standby' },
    ]);
    await igOwner('after the Instagram message', APPS.A.app_id);
    await owner('the Messenger user is untouched', APPS.A.app_id);
  });

  await step('sendText to the IGSID, and the Page Inbox is no target on Instagram', async () => {
    const out = await A.sendText(IGSID, 'Hi on Instagram!');
    assert.equal(out.recipientId, IGSID);
    await expectGraphError(
      'pass an Instagram thread to the Page Inbox',
      A.passThreadControlToPageInbox(IGSID, 'wrong inbox'),
      { code: 100, subcode: 2018164 },
    );
    await expectWebhooks('instagram send', []);
  });

  await step('passThreadControl to the Instagram Inbox: no webhook, thread_owner says so', async () => {
    const out = await A.passThreadControl(IGSID, INSTAGRAM_INBOX, 'qualified on Instagram');
    assert.deepEqual(out, { success: true });
    await expectWebhooks('pass to the Instagram Inbox', []);
    await igOwner('after pass to the Instagram Inbox', INSTAGRAM_INBOX);
    const other = await C.getThreadOwner(IGSID);
    assert.equal(other.appId, undefined, 'C sees no app_id on the IGSID either (AUTH-4)');
    await expectGraphError('send while the Instagram Inbox owns', A.sendText(IGSID, 'x'), {
      code: 10,
      subcode: 2018300,
    });
  });

  await step('Instagram user message under the Instagram Inbox: standby deliveries', async () => {
    await control('POST', 'user_event', {
      page_id: PAGE_ID,
      type: 'message',
      platform: 'instagram',
      psid: IGSID,
      text: 'is a person there?',
    });
    const ig = { psid: IGSID, instagram: true, kind: 'message' };
    await expectWebhooks('instagram standby', [
      { ...ig, app: 'A', channel: 'standby' },
      { ...ig, app: 'B', channel: 'standby' },
      { ...ig, app: 'C', channel: 'standby', check: (m) => assert.equal(m.text, 'is a person there?') },
    ]);
  });

  await step('the Instagram Inbox replies and marks done: control returns to A', async () => {
    await control('POST', 'inbox', {
      page_id: PAGE_ID,
      action: 'reply',
      platform: 'instagram',
      psid: IGSID,
      text: 'Sam here, on Instagram',
    });
    const t = await control('GET', `transcript?page_id=${PAGE_ID}&psid=${IGSID}`);
    assert.deepEqual(
      t.data.map(({ from_app_id, text }) => ({ from_app_id, text })),
      [
        { from_app_id: APPS.A.app_id, text: 'Hi on Instagram!' },
        { from_app_id: INSTAGRAM_INBOX, text: 'Sam here, on Instagram' },
      ],
    );
    await control('POST', 'inbox', { page_id: PAGE_ID, action: 'mark_done', platform: 'instagram', psid: IGSID });
    await expectWebhooks('mark done on Instagram', [
      {
        app: 'A',
        channel: 'messaging',
        kind: 'pass_thread_control',
        psid: IGSID,
        instagram: true,
        fields: { new_owner_app_id: APPS.A.app_id, previous_owner_app_id: INSTAGRAM_INBOX },
      },
    ]);
    await igOwner('after mark done', APPS.A.app_id);
  });

  await step('secondary_receivers with platform=instagram answers the same list', async () => {
    const plain = await A.getSecondaryReceivers();
    for (const platform of ['instagram', 'INSTAGRAM', 'messenger']) {
      const res = await A.axios.get(
        `/me/secondary_receivers?fields=id,name&platform=${platform}&access_token=${APPS.A.token}`,
      );
      assert.deepEqual(res.data.data, plain, `platform=${platform}`);
    }
    let status;
    try {
      await A.axios.get(`/me/secondary_receivers?platform=whatsapp&access_token=${APPS.A.token}`);
    } catch (e) {
      status = e.response?.status;
      assert.equal(e.response?.data?.error?.code, 100, 'a bad platform gets code 100');
    }
    assert.equal(status, 400, 'a bad platform is refused');
  });

  console.log(`# ${steps} steps passed in ${Date.now() - started} ms`);
}

let exitCode = 0;
try {
  await main();
} catch (e) {
  exitCode = 1;
  const headline = String(e && e.message ? e.message : e).split('\n')[0];
  console.error(`not ok ${steps + 1} - FAILED: ${headline}`);
  if (e && e.name === 'AxiosError') {
    // The client's error: show request and answer (its inspect hook).
    console.error(e);
  } else if (e && e.stack) {
    console.error(e.stack);
  }
  if (deliveries.length) console.error(`# undrained deliveries: ${JSON.stringify(deliveries.map((d) => d.body))}`);
} finally {
  sink.close();
  sink.closeAllConnections?.();
}
process.exit(exitCode);
