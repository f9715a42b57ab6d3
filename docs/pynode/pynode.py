#!/usr/bin/env python3
"""A program node in Python, written from docs/PROTOCOL.md alone.

It shows (and cmd/alliancehub/pynode_test.go checks, against a real hub) that the
protocol document is enough to write a compatible node in another language. It is a
conformance exercise, not a node to run: it keeps nothing on disk.

    pynode.py --hub URL --admin TOKEN --program NV

It makes an Ed25519 key and has the hub enroll it (section 11), signs two Alliances and a
second revision of one (sections 2, 3, 5, 6), pushes them in signed batches with a token
it mints (sections 4, 7), sends a batch again, pulls the whole change feed, checks every
change against the hub's signed keys document (section 8a), and compares its own digest
of the program with the hub's (section 8a, digest). It prints one JSON line of what it
saw and exits 0, or prints the first disagreement with the document and exits 1.

Needs Python 3.9+ and the 'cryptography' package.
"""

import argparse
import base64
import hashlib
import json
import secrets
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


class Disagreement(Exception):
    """The hub did something the protocol document does not say."""


def b64url(data: bytes) -> str:
    # Section 3: base64url without padding.
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def now_rfc3339() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    # RFC 3339 with up to nanoseconds (section 1); Python keeps microseconds.
    text = text.replace("Z", "+00:00")
    if "." in text:
        head, rest = text.split(".", 1)
        digits = ""
        while rest and rest[0].isdigit():
            digits, rest = digits + rest[0], rest[1:]
        text = head + "." + (digits + "000000")[:6] + rest
    return datetime.fromisoformat(text)


class Key:
    """An Ed25519 key and its kid, the RFC 7638 thumbprint (section 2)."""

    def __init__(self):
        self.private = Ed25519PrivateKey.generate()
        raw = self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.x = b64url(raw)
        thumb = '{"crv":"Ed25519","kty":"OKP","x":"%s"}' % self.x
        self.kid = b64url(hashlib.sha256(thumb.encode("ascii")).digest())

    def public_jwk(self) -> dict:
        return {"kty": "OKP", "crv": "Ed25519", "x": self.x, "kid": self.kid}

    def sign(self, payload: bytes, typ: str) -> str:
        # Section 3: exactly alg, kid and typ in the protected header.
        header = json.dumps({"alg": "EdDSA", "kid": self.kid, "typ": typ}, separators=(",", ":"))
        signing_input = b64url(header.encode("utf-8")) + "." + b64url(payload)
        return signing_input + "." + b64url(self.private.sign(signing_input.encode("ascii")))


def verify_jws(compact: str, typ: str, keys: dict) -> tuple:
    """Checks a compact JWS against {kid: Ed25519PublicKey}; returns (kid, payload bytes)."""
    parts = compact.split(".")
    if len(parts) != 3:
        raise Disagreement("not a compact JWS: %.60s" % compact)
    header = json.loads(unb64url(parts[0]))
    if header.get("alg") != "EdDSA" or header.get("typ") != typ:
        raise Disagreement("JWS header %s, want alg EdDSA and typ %s" % (header, typ))
    kid = header.get("kid")
    if kid not in keys:
        raise Disagreement("JWS signed by %s, not a key this reader was given" % kid)
    try:
        keys[kid].verify(unb64url(parts[2]), (parts[0] + "." + parts[1]).encode("ascii"))
    except InvalidSignature:
        raise Disagreement("JWS by %s does not verify" % kid)
    return kid, unb64url(parts[1])


def body_bytes(payload: bytes) -> bytes:
    """The bytes of a record payload's "body" value, exactly as they appear (section 5)."""
    text = payload.decode("utf-8")
    dec = json.JSONDecoder()
    i = text.index("{") + 1
    while True:
        while text[i] in " \t\r\n,":
            i += 1
        if text[i] == "}":
            raise Disagreement("record payload without a body")
        name, i = dec.raw_decode(text, i)
        while text[i] in " \t\r\n:":
            i += 1
        start = i
        _, i = dec.raw_decode(text, i)
        if name == "body":
            return text[start:i].encode("utf-8")


def rev_of(prev_rev: str, body: bytes, resolves=()) -> str:
    # Section 5: N "-" hex(SHA-256(prev_rev "\n" body ["\nresolves" (" " r)...])).
    gen = int(prev_rev.split("-", 1)[0]) + 1 if prev_rev else 1
    data = prev_rev.encode("ascii") + b"\n" + body
    if resolves:
        data += b"\nresolves" + b"".join(b" " + r.encode("ascii") for r in resolves)
    return "%d-%s" % (gen, hashlib.sha256(data).hexdigest())


class Hub:
    def __init__(self, base: str):
        self.base = base.rstrip("/")

    def call(self, method, path, token=None, body=None, ctype=None):
        req = urllib.request.Request(self.base + path, data=body, method=method)
        if token:
            req.add_header("Authorization", "Bearer " + token)
        if ctype:
            req.add_header("Content-Type", ctype)
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return resp.status, resp.read(), resp.headers
        except urllib.error.HTTPError as e:
            return e.code, e.read(), e.headers


class Node:
    def __init__(self, hub: Hub, program: str):
        self.hub, self.program, self.key = hub, program, Key()
        self.seq = 0
        self.log = []  # (seq, record JWS, id, rev) in sequence order
        self.cursor = 0

    def token(self) -> str:
        # Section 4: a short program token signed with the node's own key.
        now = int(time.time())
        claims = {"sub": "node:" + self.program, "aud": "alliancehub", "iat": now, "nbf": now,
                  "exp": now + 300, "role": "program", "program": self.program}
        return self.key.sign(json.dumps(claims).encode("utf-8"), "JWT")

    def write(self, record_id: str, body: dict, prev_rev: str = "") -> str:
        """Signs one revision (sections 5 and 6) and appends it to the outbox."""
        raw = json.dumps(body, separators=(",", ":")).encode("utf-8")
        rev = rev_of(prev_rev, raw)
        self.seq += 1
        head = {"id": record_id, "kind": "alliance", "program": self.program, "rev": rev}
        if prev_rev:
            head["prev_rev"] = prev_rev
        head["seq"] = self.seq
        head["issued_at"] = now_rfc3339()
        # The body goes into the payload as the very bytes hashed.
        payload = json.dumps(head, separators=(",", ":"))[:-1].encode("utf-8") + b',"body":' + raw + b"}"
        self.log.append((self.seq, self.key.sign(payload, "alliancehub-record+jws"), record_id, rev))
        return rev

    def push_batch(self, entries, batch_id):
        batch = {"program": self.program, "batch_id": batch_id, "seq_from": entries[0][0],
                 "seq_to": entries[-1][0], "issued_at": now_rfc3339(),
                 "records": [e[1] for e in entries], "head": self.seq}
        signed = self.key.sign(json.dumps(batch).encode("utf-8"), "alliancehub-batch+jws")
        status, raw, _ = self.hub.call("POST", "/v1/sync/push", self.token(), signed.encode("ascii"),
                                       "application/jose")
        if status != 200:
            raise Disagreement("push answered %d: %s" % (status, raw[:300]))
        answer = json.loads(raw)
        # Section 7: one result per record, and checkpoint >= seq_to.
        if len(answer["results"]) != len(entries) or answer["checkpoint"] < batch["seq_to"]:
            raise Disagreement("push answer does not cover the batch: %s" % answer)
        for entry, result in zip(entries, answer["results"]):
            if (result["seq"], result["id"], result["rev"]) != (entry[0], entry[2], entry[3]):
                raise Disagreement("result %s does not name record %s" % (result, entry[:1] + entry[2:]))
        return answer

    def push(self, batch_records=500):
        outcomes = []
        while self.cursor < self.seq:
            entries = [e for e in self.log if e[0] > self.cursor][:batch_records]
            answer = self.push_batch(entries, secrets.token_hex(12))
            outcomes += [r["outcome"] for r in answer["results"]]
            self.cursor = entries[-1][0]
        return outcomes

    def pull(self, limit=2):
        """Reads the whole feed, checking every page as section 8a says."""
        status, raw, _ = self.hub.call("GET", "/.well-known/jwks.json")
        jwks = json.loads(raw)
        if status != 200 or len(jwks.get("keys", [])) != 1:
            raise Disagreement("the hub's JWKS: %d %s" % (status, raw[:200]))
        hub_jwk = jwks["keys"][0]
        hub_key = {hub_jwk["kid"]: Ed25519PublicKey.from_public_bytes(unb64url(hub_jwk["x"]))}
        status, raw, headers = self.hub.call("GET", "/v1/sync/keys", self.token())
        if status != 200 or headers.get("Content-Type") != "application/jose":
            raise Disagreement("keys document: %d %s" % (status, headers.get("Content-Type")))
        _, doc = verify_jws(raw.decode("ascii").strip(), "alliancehub-keys+jws", hub_key)
        doc = json.loads(doc)
        program_keys, windows = {}, {}
        for p in doc["programs"]:
            for k in p["keys"]:
                program_keys[k["kid"]] = (p["code"], Ed25519PublicKey.from_public_bytes(unb64url(k["jwk"]["x"])))
                windows[k["kid"]] = k
        changes, since = [], 0
        while True:
            status, raw, _ = self.hub.call("GET", "/v1/sync/changes?since=%d&limit=%d" % (since, limit), self.token())
            if status != 200:
                raise Disagreement("change feed: %d %s" % (status, raw[:200]))
            page = json.loads(raw)
            last = since
            for c in page["changes"]:
                if c["seq"] <= last:
                    raise Disagreement("change feed went backwards at %d" % c["seq"])
                last = c["seq"]
                if "note" in c:
                    verify_jws(c["note"], "alliancehub-note+jws", hub_key)
                    continue
                kid, payload = verify_jws(c["record"], "alliancehub-record+jws",
                                          {k: v[1] for k, v in program_keys.items()})
                rec = json.loads(payload)
                owner = rec["id"].split("-", 1)[0]
                if program_keys[kid][0] != rec["program"] or owner != rec["program"]:
                    raise Disagreement("change %d: key of %s for a record of %s" % (c["seq"], program_keys[kid][0], owner))
                received, w = parse_time(c["received_at"]), windows[kid]
                if ("not_before" in w and received < parse_time(w["not_before"])) or \
                   ("not_after" in w and received > parse_time(w["not_after"])) or \
                   ("revoked_at" in w and received > parse_time(w["revoked_at"])):
                    raise Disagreement("change %d: received outside its key's window" % c["seq"])
                if rev_of(rec.get("prev_rev", ""), body_bytes(payload), rec.get("resolves", ())) != rec["rev"]:
                    raise Disagreement("change %d: rev %s does not match its body" % (c["seq"], rec["rev"]))
                changes.append((c["seq"], rec["id"], rec["rev"], rec["program"]))
            if page["changes"] and page["last_seq"] != last:
                raise Disagreement("page ends at %d but says last_seq %d" % (last, page["last_seq"]))
            since = page["last_seq"]
            if since >= page["head_seq"]:
                return changes


def digest(refs) -> dict:
    # Section 8a: SHA-256 of the sorted lines "<id> <rev>\n".
    lines = sorted("%s %s\n" % r for r in refs)
    return {"count": len(lines), "hash": hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()}


def run(args) -> dict:
    hub = Hub(args.hub)
    node = Node(hub, args.program)
    status, raw, _ = hub.call("POST", "/v1/programs", args.admin,
                              json.dumps({"code": args.program, "jwk": node.key.public_jwk()}).encode("utf-8"),
                              "application/json")
    if status not in (200, 201):
        raise Disagreement("enrollment answered %d: %s" % (status, raw[:300]))

    def alliance(record_id, name, signed_on, expires_on):
        # Section 6: a complete body, as the hub does no normalization.
        return {"id": record_id, "program": args.program, "level": "state",
                "participants": [{"name": name, "type": "association"}],
                "goals": [{"category": "training-education", "description": "Fall protection for the trades"}],
                "signed_on": signed_on, "term_months": 24, "expires_on": expires_on, "status": "active"}

    first = "%s-py%s" % (args.program, secrets.token_hex(7))
    second = "%s-py%s" % (args.program, secrets.token_hex(7))
    rev1 = node.write(first, alliance(first, "Nevada Contractors Association", "2025-01-15", "2027-01-15"))
    node.write(second, alliance(second, "Builders Association of Northern Nevada", "2024-11-30", "2026-11-30"))
    outcomes = node.push(batch_records=1)
    if outcomes != ["accepted", "accepted"]:
        raise Disagreement("first push: %s" % outcomes)
    # Sending a batch again changes nothing: every record duplicate.
    again = node.push_batch(node.log[:2], "py-again")
    if [r["outcome"] for r in again["results"]] != ["duplicate", "duplicate"] or again["checkpoint"] != 2:
        raise Disagreement("batch sent again: %s" % again)
    body = alliance(first, "Nevada Contractors Association", "2025-01-15", "2027-01-15")
    body["emphasis_areas"] = ["Falls", "Heat"]
    node.write(first, body, prev_rev=rev1)
    outcomes = node.push()
    if outcomes != ["accepted"]:
        raise Disagreement("second revision: %s" % outcomes)

    changes = node.pull()
    mine = [(c[1], c[2]) for c in changes if c[3] == args.program]
    want = sorted((e[2], e[3]) for e in node.log)
    if sorted(mine) != want:
        raise Disagreement("the feed holds %s of this program, want %s" % (sorted(mine), want))
    status, raw, _ = hub.call("GET", "/v1/sync/digest?program=" + args.program, node.token())
    theirs = json.loads(raw)["programs"][0]
    if status != 200 or {"count": theirs["count"], "hash": theirs["hash"]} != digest(mine):
        raise Disagreement("digest %s, this node's %s" % (theirs, digest(mine)))
    return {"kid": node.key.kid, "pushed": len(node.log), "changes": len(changes),
            "programs": sorted({c[3] for c in changes}), "digest": digest(mine)["hash"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hub", required=True)
    parser.add_argument("--admin", required=True, help="an admin token for the enrollment")
    parser.add_argument("--program", default="NV")
    args = parser.parse_args()
    try:
        print(json.dumps(run(args)))
    except Disagreement as e:
        print("pynode: %s" % e, file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
