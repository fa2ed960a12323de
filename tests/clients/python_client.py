"""Drives Meta's Python `facebook-business` SDK against a running baton
reference server (or any implementation under test with the control API).

Usage: python_client.py <server-url> <control-key>
   or: BATON_URL=... BATON_KEY=... python_client.py

The SDK posts form-encoded bodies whose object values are JSON text
(`recipient={"id":"…"}`), puts `access_token` and `appsecret_proof` in the
query string, and addresses the page by its id (not `me`): this is the
shape of request the npm client never makes.

Pointing the SDK at the server needs no monkeypatching: `FacebookSession`
reads the Graph API origin from its `GRAPH` attribute (a class attribute,
'https://graph.facebook.com'), which we override on each session instance.
The SDK's crash reporter (which would post tracebacks to Facebook) stays
off: `crash_log=False` / we never call `FacebookAdsApi.init` with it on.

The script runs its own webhook sink on 127.0.0.1 and checks every
delivery's X-Hub-Signature-256. Exits 0 when every check passed, 1 with the
failed check otherwise.
"""

import hashlib
import hmac
import json
import os
import random
import sys
import threading
import time
import traceback
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests
from facebook_business import __version__ as SDK_VERSION
from facebook_business.adobjects.page import Page
from facebook_business.api import FacebookAdsApi
from facebook_business.exceptions import FacebookRequestError
from facebook_business.session import FacebookSession

BASE = (sys.argv[1] if len(sys.argv) > 1 else os.environ.get("BATON_URL", "")).rstrip("/")
KEY = sys.argv[2] if len(sys.argv) > 2 else os.environ.get("BATON_KEY", "")
if not BASE or not KEY:
    print("usage: python_client.py <server-url> <control-key> (or BATON_URL / BATON_KEY)", file=sys.stderr)
    sys.exit(2)

PAGE_INBOX = "263902037430900"
INSTAGRAM_INBOX = "1217981644879628"
PAGE_ID = str(8_000_000_000 + random.randrange(1_000_000_000))
PSID = "25000001"
# The Instagram professional account linked to the page and an Instagram
# user (IGSID) writing to it (instagram.md).
IG_ACCOUNT = f"17841{PAGE_ID}"
IGSID = "72000001"
NOW_MS = 1_700_000_000_000
API_VERSION = "v19.0"

APPS = {
    "A": {"app_id": "2001", "name": "Bot A (primary)", "secret": "py-secret-a", "proof": True},
    "B": {"app_id": "2002", "name": "Agent B", "secret": "py-secret-b", "proof": False},
    "C": {"app_id": "2003", "name": "Survey C", "secret": "py-secret-c", "proof": False},
}
for _tag, _app in APPS.items():
    _app["token"] = f"pytok-{PAGE_ID}-{_tag}"
BY_ID = {a["app_id"]: tag for tag, a in APPS.items()}


class CheckFailed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise CheckFailed(what)


def check_eq(got, want, what):
    if got != want:
        raise CheckFailed(f"{what}: got {got!r}, expected {want!r}")


# ------------------------------------------------------------------ the sink

_lock = threading.Lock()
deliveries = []  # (app tag, signature header, raw body bytes, content type)
sink_problems = []


class Sink(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's naming)
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        parts = self.path.split("/")
        tag = BY_ID.get(parts[-1]) if len(parts) == 3 and parts[1] == "hook" else None
        with _lock:
            if tag is None:
                sink_problems.append(f"unexpected POST {self.path}")
            else:
                deliveries.append(
                    (tag, self.headers.get("x-hub-signature-256"), raw, self.headers.get("content-type", ""))
                )
        self.send_response(200 if tag else 404)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


sink = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
sink.daemon_threads = True
threading.Thread(target=sink.serve_forever, daemon=True).start()
SINK = f"http://127.0.0.1:{sink.server_address[1]}"


def take_events():
    with _lock:
        check(not sink_problems, f"webhook sink saw bad deliveries: {sink_problems}")
        got = deliveries[:]
        deliveries.clear()
    events = []
    for tag, sig, raw, ctype in got:
        want = "sha256=" + hmac.new(APPS[tag]["secret"].encode(), raw, hashlib.sha256).hexdigest()
        check(
            sig is not None and hmac.compare_digest(sig, want),
            f"app {tag}: X-Hub-Signature-256 {sig!r} is not HMAC-SHA256 of the body with its secret",
        )
        check(ctype.startswith("application/json"), f"app {tag}: content-type {ctype!r}")
        body = json.loads(raw)
        # One delivery is one surface: "page" names the page, "instagram"
        # the Instagram account (IG-3).
        obj = body.get("object")
        check(obj in ("page", "instagram"), f"app {tag}: envelope object {obj!r}")
        entry_id = IG_ACCOUNT if obj == "instagram" else PAGE_ID
        for entry in body["entry"]:
            check_eq(entry.get("id"), entry_id, f"app {tag}: entry.id of an {obj!r} delivery")
            channels = [c for c in ("messaging", "standby") if c in entry]
            check_eq(len(channels), 1, f"app {tag}: one of messaging/standby per entry")
            for ev in entry[channels[0]]:
                events.append({"app": tag, "channel": channels[0], "event": ev, "object": obj})
    return events


def kind_of(ev):
    return "+".join(k for k in ev if k not in ("sender", "recipient", "timestamp", "referral"))


# ---------------------------------------------------------------- control API

http = requests.Session()
http.trust_env = False  # loopback only: never through a proxy from the environment


def control(method, path, body=None):
    r = http.request(
        method,
        f"{BASE}/conformance/{path}",
        headers={"x-conformance-key": KEY},
        json=body,
        timeout=30,
    )
    check_eq(r.status_code, 200, f"control {method} {path} ({r.text})")
    return r.json()


def expect_webhooks(step, expected, instagram=False):
    """Flushes, then checks that exactly `expected` events arrived. Each
    expected item is (app, channel, kind, fields or None); with `instagram`
    they are about the IGSID, in "object":"instagram" deliveries."""
    out = control("POST", "flush", {"page_id": PAGE_ID})
    check(isinstance(out.get("delivered"), int), f"{step}: flush answer {out}")
    got = take_events()
    obj = "instagram" if instagram else "page"
    summary = sorted(f"{g['app']}/{g['channel']}/{kind_of(g['event'])}/{g['object']}" for g in got)
    want = sorted(f"{a}/{c}/{k}/{obj}" for a, c, k, _ in expected)
    check_eq(summary, want, f"{step}: webhooks (app/channel/kind/object); events {got}")
    user, recipient_id = (IGSID, IG_ACCOUNT) if instagram else (PSID, PAGE_ID)
    for app, channel, kind, fields in expected:
        ev = next(g["event"] for g in got if g["app"] == app and g["channel"] == channel and kind_of(g["event"]) == kind)
        check_eq(ev.get("sender"), {"id": user}, f"{step}: {app} sender")
        check_eq(ev.get("recipient"), {"id": recipient_id}, f"{step}: {app} recipient")
        if fields is not None:
            check_eq(ev[kind], fields, f"{step}: {app} {kind} fields")


# ---------------------------------------------------------------- the clients


def api_for(tag, secret=None, token=None):
    app = APPS[tag]
    session = FacebookSession(
        app_id=app["app_id"],
        app_secret=app["secret"] if secret is None else secret,
        access_token=token or app["token"],
        timeout=30,
    )
    # The documented hook: the Graph origin is the session's GRAPH attribute.
    session.GRAPH = BASE
    session.requests.trust_env = False
    return FacebookAdsApi(session, api_version=API_VERSION)


apis = {tag: api_for(tag) for tag in APPS}


def page(tag):
    return Page(PAGE_ID, api=apis[tag])


def expect_error(step, fn, code, subcode=None):
    try:
        got = fn()
    except FacebookRequestError as e:
        check_eq(e.http_status(), 400, f"{step}: HTTP status ({e.api_error_message()})")
        check_eq(e.api_error_code(), code, f"{step}: error code ({e.api_error_message()})")
        check_eq(e.api_error_subcode(), subcode, f"{step}: error_subcode ({e.api_error_message()})")
        check(isinstance(e.api_error_type(), str), f"{step}: error type")
        return e
    raise CheckFailed(f"{step}: expected the SDK's FacebookRequestError {code}/{subcode}, got success {got!r}")


def sdk_success(out, what):
    """The SDK's parser drops `success` from `{"success":true}` and returns an
    empty object; any error answer would have raised. (The raw calls below
    check the literal `{"success":true}`.)"""
    check_eq(out.export_all_data(), {}, f"{what} (parsed by the SDK)")


def owner_as_primary(psid=PSID):
    """thread_owner through the SDK's Page edge (a GET with the PSID)."""
    cursor = page("A").get_thread_owner(params={"recipient": psid})
    items = [dict(x.export_all_data()) for x in cursor]
    if not items:
        return None
    return items[0]["thread_owner"].get("app_id")


recipient = {"id": PSID}

STEPS = []


def step(name):
    def deco(fn):
        STEPS.append((name, fn))
        return fn

    return deco


@step("reset the page with three apps, A primary (A requires appsecret_proof)")
def _reset():
    out = control(
        "POST",
        "reset",
        {
            "page_id": PAGE_ID,
            "now_ms": NOW_MS,
            "primary_receiver": APPS["A"]["app_id"],
            "instagram_account_id": IG_ACCOUNT,
            "apps": [
                {
                    "app_id": a["app_id"],
                    "name": a["name"],
                    "access_token": a["token"],
                    "app_secret": a["secret"],
                    "webhook_url": f"{SINK}/hook/{a['app_id']}",
                    "human_agent": False,
                    "require_appsecret_proof": a["proof"],
                }
                for a in APPS.values()
            ],
        },
    )
    check_eq(out, {"ok": True}, "reset")
    control("POST", "user_event", {"page_id": PAGE_ID, "type": "message", "psid": PSID, "text": "hello"})
    expect_webhooks(
        "user message",
        [("A", "messaging", "message", None), ("B", "standby", "message", None), ("C", "standby", "message", None)],
    )


@step("Page.create_message by owner A (form body, JSON-encoded recipient/message)")
def _send():
    out = page("A").create_message(
        params={"recipient": recipient, "message": {"text": "Hi from Python"}, "messaging_type": "RESPONSE"}
    )
    data = out.export_all_data()
    check_eq(data.get("recipient_id"), PSID, "recipient_id")
    check(isinstance(data.get("message_id"), str), f"message_id in {data}")
    t = control("GET", f"transcript?page_id={PAGE_ID}&psid={PSID}")
    check_eq([(x["from_app_id"], x["text"]) for x in t["data"]], [("2001", "Hi from Python")], "transcript")
    expect_webhooks("send", [])


@step("create_message by non-owner B raises FacebookRequestError 400 / 10 / 2018300")
def _send_refused():
    expect_error(
        "non-owner send",
        lambda: page("B").create_message(
            params={"recipient": recipient, "message": {"text": "x"}, "messaging_type": "UPDATE"}
        ),
        10,
        2018300,
    )
    expect_webhooks("refused send", [])


@step("appsecret_proof: the SDK's proof is accepted; a wrong one gets 400 / 100")
def _proof():
    bad = Page(PAGE_ID, api=api_for("A", secret="wrong-secret"))
    expect_error("wrong proof", lambda: bad.create_take_thread_control(params={"recipient": recipient}), 100)
    unknown = Page(PAGE_ID, api=api_for("A", token="no-such-token"))
    expect_error("unknown token", lambda: unknown.create_take_thread_control(params={"recipient": recipient}), 190)


@step("create_pass_thread_control A -> B (form): B gets pass_thread_control")
def _pass():
    out = page("A").create_pass_thread_control(
        params={"recipient": recipient, "target_app_id": APPS["B"]["app_id"], "metadata": "form pass"}
    )
    sdk_success(out, "pass answer")
    expect_webhooks(
        "pass",
        [
            (
                "B",
                "messaging",
                "pass_thread_control",
                {"new_owner_app_id": "2002", "previous_owner_app_id": "2001", "metadata": "form pass"},
            )
        ],
    )
    check_eq(owner_as_primary(), "2002", "owner after pass")
    seen = [x.export_all_data() for x in page("C").get_thread_owner(params={"recipient": PSID})]
    check_eq(len(seen), 1, "thread_owner for a non-owner secondary")
    check("app_id" not in seen[0]["thread_owner"], f"C (neither owner nor primary) sees no app_id: {seen}")
    check(isinstance(seen[0]["thread_owner"].get("expiration"), int), f"C sees the expiration: {seen}")


@step("create_request_thread_control by C: owner B gets request_thread_control")
def _request():
    out = page("C").create_request_thread_control(params={"recipient": recipient, "metadata": "C asks"})
    sdk_success(out, "request answer")
    expect_webhooks(
        "request",
        [("B", "messaging", "request_thread_control", {"requested_owner_app_id": "2003", "metadata": "C asks"})],
    )


@step("create_extend_thread_control by owner B with duration as form text")
def _extend():
    out = page("B").create_extend_thread_control(params={"recipient": recipient, "duration": 3600})
    sdk_success(out, "extend answer")
    expect_error(
        "extend by non-owner",
        lambda: page("C").create_extend_thread_control(params={"recipient": recipient, "duration": 3600}),
        10,
        2018300,
    )
    with warnings.catch_warnings():  # the SDK warns that "abc" is no unsigned int: that is the point
        warnings.simplefilter("ignore")
        expect_error(
            "bad duration",
            lambda: page("B").create_extend_thread_control(params={"recipient": recipient, "duration": "abc"}),
            100,
        )
    expect_webhooks("extend", [])


@step("create_take_thread_control by primary A: B gets take_thread_control")
def _take():
    out = page("A").create_take_thread_control(params={"recipient": recipient, "metadata": "form take"})
    sdk_success(out, "take answer")
    expect_webhooks(
        "take",
        [
            (
                "B",
                "messaging",
                "take_thread_control",
                {"previous_owner_app_id": "2002", "new_owner_app_id": "2001", "metadata": "form take"},
            )
        ],
    )
    check_eq(owner_as_primary(), "2001", "owner after take")


@step("raw FacebookAdsApi.call: secondary_receivers, and pass to the Page Inbox")
def _raw():
    r = apis["A"].call("GET", (PAGE_ID, "secondary_receivers"), params={"fields": "id,name"})
    check_eq(
        sorted((x["id"], x["name"]) for x in r.json()["data"]),
        [("2002", "Agent B"), ("2003", "Survey C")],
        "secondary_receivers",
    )
    r = apis["A"].call(
        "POST", (PAGE_ID, "pass_thread_control"), params={"recipient": recipient, "target_app_id": PAGE_INBOX}
    )
    check_eq(r.json(), {"success": True}, "pass to inbox")
    expect_webhooks("pass to inbox", [])
    check_eq(owner_as_primary(), PAGE_INBOX, "owner after pass to inbox")


@step("primary takes back, then create_release_thread_control: idle, thread_owner empty")
def _release():
    page("A").create_take_thread_control(params={"recipient": recipient})
    out = page("A").create_release_thread_control(params={"recipient": recipient})
    sdk_success(out, "release answer")
    expect_webhooks("take from inbox and release", [])
    check_eq(owner_as_primary(), None, "an idle thread has no owner")
    expect_error(
        "release while idle",
        lambda: page("B").create_release_thread_control(params={"recipient": recipient}),
        100,
    )


# ------------------------------------------------------- the Instagram surface

ig_recipient = {"id": IGSID}


@step("Instagram user message: the primary owns, deliveries are \"object\":\"instagram\"")
def _ig_message():
    control(
        "POST",
        "user_event",
        {"page_id": PAGE_ID, "type": "message", "platform": "instagram", "psid": IGSID, "text": "hi on IG"},
    )
    expect_webhooks(
        "instagram message",
        [("A", "messaging", "message", None), ("B", "standby", "message", None), ("C", "standby", "message", None)],
        instagram=True,
    )
    check_eq(owner_as_primary(IGSID), "2001", "the primary owns the Instagram thread")
    check_eq(owner_as_primary(), None, "the Messenger thread stays idle")


@step("create_message to the IGSID; passing it to the Page Inbox is an unknown target")
def _ig_send():
    out = page("A").create_message(
        params={"recipient": ig_recipient, "message": {"text": "Hi on Instagram"}, "messaging_type": "RESPONSE"}
    )
    check_eq(out.export_all_data().get("recipient_id"), IGSID, "recipient_id")
    expect_error(
        "pass an Instagram thread to the Page Inbox",
        lambda: page("A").create_pass_thread_control(params={"recipient": ig_recipient, "target_app_id": PAGE_INBOX}),
        100,
        2018164,
    )
    expect_error(
        "a survey on Instagram",
        lambda: page("A").create_message(
            params={
                "recipient": ig_recipient,
                "message": {"attachment": {"type": "template", "payload": {"template_type": "customer_feedback"}}},
                "messaging_type": "RESPONSE",
            }
        ),
        100,
    )
    expect_webhooks("instagram send", [])


@step("create_pass_thread_control to the Instagram Inbox: no webhook, thread_owner says so")
def _ig_pass_to_inbox():
    out = page("A").create_pass_thread_control(
        params={"recipient": ig_recipient, "target_app_id": INSTAGRAM_INBOX, "metadata": "qualified"}
    )
    sdk_success(out, "pass to the Instagram Inbox")
    expect_webhooks("pass to the Instagram Inbox", [])
    check_eq(owner_as_primary(IGSID), INSTAGRAM_INBOX, "owner after pass to the Instagram Inbox")
    expect_error(
        "send while the Instagram Inbox owns",
        lambda: page("A").create_message(
            params={"recipient": ig_recipient, "message": {"text": "x"}, "messaging_type": "RESPONSE"}
        ),
        10,
        2018300,
    )


@step("Instagram user message under the Instagram Inbox: every app on standby")
def _ig_standby():
    control(
        "POST",
        "user_event",
        {"page_id": PAGE_ID, "type": "message", "platform": "instagram", "psid": IGSID, "text": "anyone?"},
    )
    expect_webhooks(
        "instagram standby",
        [("A", "standby", "message", None), ("B", "standby", "message", None), ("C", "standby", "message", None)],
        instagram=True,
    )


@step("the Instagram Inbox replies and marks done: control returns to A")
def _ig_inbox():
    control(
        "POST",
        "inbox",
        {"page_id": PAGE_ID, "action": "reply", "platform": "instagram", "psid": IGSID, "text": "Sam here"},
    )
    t = control("GET", f"transcript?page_id={PAGE_ID}&psid={IGSID}")
    check_eq(
        [(x["from_app_id"], x["text"]) for x in t["data"]],
        [("2001", "Hi on Instagram"), (INSTAGRAM_INBOX, "Sam here")],
        "transcript of the IGSID",
    )
    control("POST", "inbox", {"page_id": PAGE_ID, "action": "mark_done", "platform": "instagram", "psid": IGSID})
    expect_webhooks(
        "mark done",
        [
            (
                "A",
                "messaging",
                "pass_thread_control",
                {"new_owner_app_id": "2001", "previous_owner_app_id": INSTAGRAM_INBOX},
            )
        ],
        instagram=True,
    )
    check_eq(owner_as_primary(IGSID), "2001", "owner after mark done")


@step("raw calls with platform: messenger_profile for Instagram, secondary_receivers")
def _ig_platform():
    menu = [{"locale": "default", "call_to_actions": [{"type": "postback", "title": "Book", "payload": "BOOK"}]}]
    r = apis["A"].call("POST", (PAGE_ID, "messenger_profile"), params={"persistent_menu": menu, "platform": "instagram"})
    check_eq(r.json(), {"result": "success"}, "the Instagram menu")
    control(
        "POST",
        "user_event",
        {"page_id": PAGE_ID, "type": "menu", "platform": "instagram", "psid": IGSID, "payload": "BOOK"},
    )
    expect_webhooks(
        "menu pick on Instagram",
        [("A", "messaging", "postback", None), ("B", "standby", "postback", None), ("C", "standby", "postback", None)],
        instagram=True,
    )
    plain = apis["A"].call("GET", (PAGE_ID, "secondary_receivers"), params={"fields": "id,name"}).json()
    for platform in ("instagram", "INSTAGRAM", "messenger"):
        r = apis["A"].call(
            "GET", (PAGE_ID, "secondary_receivers"), params={"fields": "id,name", "platform": platform}
        )
        check_eq(r.json(), plain, f"secondary_receivers platform={platform}")
    expect_error(
        "a bad platform",
        lambda: apis["A"].call("GET", (PAGE_ID, "secondary_receivers"), params={"platform": "whatsapp"}),
        100,
    )


def main():
    print(f"# facebook-business {SDK_VERSION} against {BASE}, page {PAGE_ID}, sink {SINK}")
    started = time.monotonic()
    for i, (name, fn) in enumerate(STEPS, 1):
        t0 = time.monotonic()
        try:
            fn()
        except Exception as e:  # noqa: BLE001 (report any failure as the step's)
            if isinstance(e, FacebookRequestError):
                e = (
                    f"unexpected Graph error HTTP {e.http_status()} code {e.api_error_code()} "
                    f"subcode {e.api_error_subcode()}: {e.body()!r}; request {e.request_context()!r}"
                )
            print(f"not ok {i} - {name}: FAILED: {e}", flush=True)
            traceback.print_exc(file=sys.stdout)
            return 1
        print(f"ok {i} - {name} ({(time.monotonic() - t0) * 1000:.0f} ms)", flush=True)
    print(f"# {len(STEPS)} steps passed in {(time.monotonic() - started) * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    code = main()
    sink.shutdown()
    sys.exit(code)
