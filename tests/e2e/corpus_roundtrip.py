#!/usr/bin/env python3
"""Sends a corpus of real messages into nmail with smtplib and reads them
back with poplib and curl's POP3 client, checking every byte.

Phases (the Rust test tests/corpus.rs runs them around an index rebuild):
  send     every *.eml under the corpus folders goes to bob (every 7th also
           to carol), over several SMTP connections; the queue id of each
           250 reply is recorded with the file it came from.
  verify   for each user: LIST, UIDL, then RETR of every message with
           poplib and again with curl; each body after the trace fields
           must equal what smtplib sent, in canonical CRLF form, and each
           LIST size the length RETR gave. UIDL and LIST are saved.
  compare  UIDL and LIST must equal the saved ones (after the index was
           deleted and rebuilt).

Failures name the corpus file. Exit status 1 on any failure.
"""
import argparse, concurrent.futures, hashlib, json, os, poplib, re, smtplib
import subprocess, sys, tempfile

# poplib refuses lines over 2,048 octets by default; real messages have
# longer ones (RFC 5322 only asks for 998, and many ignore even that).
poplib._MAXLINE = 1 << 26

USERS = {"bob@example.com": "Correct-Horse-7", "carol@example.com": "Blue-Lantern-42"}


def canonical(data: bytes) -> bytes:
    """What smtplib transmits, with line ends made CRLF.

    smtplib appends CRLF when the message does not end with one; the
    server stores bare CR and bare LF as CRLF (RFC 5321 2.3.8)."""
    if data and not data.endswith(b"\r\n"):
        data += b"\r\n"
    return re.sub(rb"\r\n|\r|\n", b"\r\n", data)


def corpus_files(dirs):
    out = []
    for d in dirs:
        for root, _, files in os.walk(d):
            for f in files:
                if f.endswith(".eml"):
                    out.append(os.path.join(root, f))
    return sorted(out)


def host_port(s):
    h, p = s.rsplit(":", 1)
    return h, int(p)


def send(args):
    files = corpus_files(args.corpus)
    if not files:
        sys.exit("no corpus files found")
    jobs = [(i, f) for i, f in enumerate(files)]
    chunks = [jobs[k::args.connections] for k in range(args.connections)]

    def worker(chunk):
        rec, errors = {}, []
        s = smtplib.SMTP(*host_port(args.smtp), timeout=120)
        s.ehlo("client.example.org")
        for i, path in chunk:
            with open(path, "rb") as fh:
                data = fh.read()
            rcpts = ["bob@example.com"] + (["carol@example.com"] if i % 7 == 0 else [])
            try:
                code, resp = s.mail("alice@example.org", ["SIZE=%d" % len(data)])
                assert code == 250, (code, resp)
                for r in rcpts:
                    code, resp = s.rcpt(r)
                    assert code == 250, (code, resp)
                code, resp = s.data(data)
                assert code == 250, (code, resp)
                qid = resp.decode().rsplit(" ", 1)[-1]
                rec[qid] = {"file": path, "rcpts": rcpts,
                            "sha": hashlib.sha256(canonical(data)).hexdigest()}
            except Exception as e:  # noqa: BLE001 - report every file
                errors.append("%s: SMTP failed: %r" % (path, e))
                s.rset()
        s.quit()
        return rec, errors

    state, errors = {}, []
    with concurrent.futures.ThreadPoolExecutor(args.connections) as ex:
        for rec, errs in ex.map(worker, chunks):
            state.update(rec)
            errors += errs
    with open(args.state, "w") as fh:
        json.dump({"sent": state}, fh)
    print("sent %d messages (%d files), %d failures" % (len(state), len(files), len(errors)))
    return errors


TRACE = re.compile(
    rb"\AReturn-Path: <[^\r\n]*>\r\nDelivered-To: [^\r\n]+\r\n"
    rb"Received: from [^\r\n]*\r\n\tby [^\r\n]* id ([0-9A-F]+)\r\n\tfor <[^\r\n]*>; [^\r\n]*\r\n")


def split_trace(msg: bytes):
    m = TRACE.match(msg)
    if not m:
        return None, msg
    return m.group(1).decode(), msg[m.end():]


def verify(args):
    with open(args.state) as fh:
        state = json.load(fh)
    sent = state["sent"]
    errors, listing = [], {}
    for user, pw in USERS.items():
        expected = {q for q, r in sent.items() if user in r["rcpts"]}
        p = poplib.POP3(*host_port(args.pop3), timeout=120)
        p.user(user)
        p.pass_(pw)
        sizes = [tuple(map(int, l.split())) for l in p.list()[1]]
        uidls = [l.decode().split(" ", 1) for l in p.uidl()[1]]
        listing[user] = {"list": sizes, "uidl": uidls}
        bodies, seen = {}, set()
        for n, size in sizes:
            _, lines, octets = p.retr(n)
            msg = b"".join(l + b"\r\n" for l in lines)
            bodies[n] = msg
            qid, body = split_trace(msg)
            rec = sent.get(qid)
            where = rec["file"] if rec else "message %d of %s (queue id %s)" % (n, user, qid)
            if octets != size or len(msg) != size:
                errors.append("%s: LIST says %d octets, RETR gave %d" % (where, size, octets))
            if rec is None:
                errors.append("%s: not a message this test sent" % where)
                continue
            seen.add(qid)
            if hashlib.sha256(body).hexdigest() != rec["sha"]:
                with open(rec["file"], "rb") as fh:
                    want = canonical(fh.read())
                i = next((k for k in range(min(len(want), len(body))) if want[k] != body[k]),
                         min(len(want), len(body)))
                errors.append("%s: body differs at octet %d (sent %d octets, got %d): %r vs %r" % (
                    rec["file"], i, len(want), len(body), want[i:i + 40], body[i:i + 40]))
        p.quit()
        for q in sorted(expected - seen):
            errors.append("%s: never arrived in %s's maildrop" % (sent[q]["file"], user))
        # The same maildrop through curl's POP3 client, one connection.
        if sizes:
            with tempfile.TemporaryDirectory() as tmp:
                host, port = host_port(args.pop3)
                url = "pop3://%s:%d/[1-%d]" % (host, port, len(sizes))
                r = subprocess.run(["curl", "-sS", "--fail", "-u", "%s:%s" % (user, pw), url,
                                    "-o", os.path.join(tmp, "m#1")], capture_output=True)
                if r.returncode != 0:
                    errors.append("curl failed for %s: %s" % (user, r.stderr.decode()))
                for n, _ in sizes:
                    try:
                        with open(os.path.join(tmp, "m%d" % n), "rb") as fh:
                            got = fh.read()
                    except OSError:
                        got = None
                    if got != bodies[n]:
                        qid, _ = split_trace(bodies[n])
                        where = sent.get(qid, {}).get("file", "message %d" % n)
                        errors.append("%s: curl's RETR differs from poplib's for %s" % (where, user))
    state["listing"] = listing
    with open(args.state, "w") as fh:
        json.dump(state, fh)
    print("verified %s" % ", ".join("%s: %d messages" % (u, len(l["list"])) for u, l in listing.items()))
    return errors


def compare(args):
    with open(args.state) as fh:
        state = json.load(fh)
    errors = []
    for user, pw in USERS.items():
        p = poplib.POP3(*host_port(args.pop3), timeout=120)
        p.user(user)
        p.pass_(pw)
        sizes = [list(map(int, l.split())) for l in p.list()[1]]
        uidls = [l.decode().split(" ", 1) for l in p.uidl()[1]]
        p.quit()
        before = state["listing"][user]
        if [list(x) for x in before["list"]] != sizes:
            errors.append("%s: LIST changed after the index rebuild" % user)
        if before["uidl"] != uidls:
            old = {u for _, u in before["uidl"]}
            new = {u for _, u in uidls}
            errors.append("%s: UIDL changed after the index rebuild (%d lost, %d new)" % (
                user, len(old - new), len(new - old)))
    print("UIDL and LIST unchanged" if not errors else "UIDL or LIST changed")
    return errors


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("phase", choices=["send", "verify", "compare"])
    ap.add_argument("--smtp")
    ap.add_argument("--pop3")
    ap.add_argument("--corpus", action="append", default=[])
    ap.add_argument("--state", required=True)
    ap.add_argument("--connections", type=int, default=4)
    args = ap.parse_args()
    errors = {"send": send, "verify": verify, "compare": compare}[args.phase](args)
    for e in errors[:200]:
        print("FAIL", e)
    if len(errors) > 200:
        print("... and %d more failures" % (len(errors) - 200))
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
