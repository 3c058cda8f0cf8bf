#!/usr/bin/env python3
"""Writes the seed corpora of the device-state, bundle, audit and agent
configuration fuzz targets (tests/fuzz/fuzz_{bootrec,grubenv,bootstate,
progress,bundle,audit,agentconf}.c) into tests/fuzz/corpus/<name>/.

The layouts come from the modules' header comments and docs; the bundles
are made by the real `airlock` CLI (release create, sign, bundle create);
the audit checkpoints are signed with openssl and a test key whose public
half is in fuzz_audit.c. The files are committed: run this only to
regenerate them. Inputs named crash-* are kept by hand (what a fuzzer
found, after the fix): this script neither writes nor removes them.

usage: make_corpus.py AIRLOCK_BINARY [OUT_DIR]
"""
import hashlib
import json
import os
import struct
import subprocess
import sys
import tempfile

AIRLOCK = os.path.abspath(sys.argv[1])
OUT = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

# Test keys made for the fuzz targets only (airlock key generate).
WRAP_KEY = """-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VuBCIEIGAx3ZXnfBFrK4cbPqKqJnFnC+xPJ+yxB4J3uP/Cy4Rl
-----END PRIVATE KEY-----
"""
WRAP_PUB = """-----BEGIN PUBLIC KEY-----
MCowBQYDK2VuAyEArc8O4moqy+ISg62iuMnpOj2EZoBr1MA+OuTfG5WrGSA=
-----END PUBLIC KEY-----
"""
AUDIT_KEY = """-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEILJV8Up55COinDKJP2SkcZIOICnJcFYG4SbxvXTZVqzV
-----END PRIVATE KEY-----
"""


def sha(b):
    return hashlib.sha256(b).digest()


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# ---- sim boot record: lib/bootctl_sim.c ----

def rec_copy(active, good, pending, seq, count=0, limit=3, secver=0, fmt=1, flags=None, reserved=0, digest=True):
    body = b"ALBR" + bytes([fmt, active, good, (1 if pending else 0) if flags is None else flags])
    body += struct.pack(">IIIIQ", seq, count, limit, reserved, secver)
    return body + (sha(body) if digest else bytes(32))


def rec_file(c0, c1=None, length=1024):
    f = bytearray(length)
    if c0:
        f[0:64] = c0[:min(64, length)]
    if c1 and length >= 576:
        f[512:576] = c1
    return bytes(f[:length])


def bootrec():
    idle_a = rec_copy(0, 0, False, 1)
    trial_b = rec_copy(1, 0, True, 2, count=1)
    put("bootrec", "one-copy", b"\0" + rec_file(idle_a))
    put("bootrec", "two-copies-newer-second", b"\0" + rec_file(idle_a, trial_b))
    put("bootrec", "two-copies-newer-first", b"\0" + rec_file(rec_copy(0, 0, False, 7), trial_b))
    put("bootrec", "seq-wrap", b"\0" + rec_file(rec_copy(0, 0, False, 0xffffffff), rec_copy(1, 1, False, 0, secver=9)))
    put("bootrec", "seq-half-apart", b"\0" + rec_file(rec_copy(0, 0, False, 5), rec_copy(1, 1, False, 0x80000005)))
    put("bootrec", "seq-equal", b"\0" + rec_file(rec_copy(0, 0, False, 4), rec_copy(1, 1, False, 4)))
    torn = bytearray(rec_copy(1, 0, True, 2))
    torn[40:] = bytes(24)                       # the write stopped inside the digest
    put("bootrec", "torn-second", b"\0" + rec_file(idle_a, bytes(torn)))
    put("bootrec", "torn-both", b"\0" + rec_file(bytes(torn), bytes(torn)))
    put("bootrec", "illegal-record-good-digest", b"\0" + rec_file(rec_copy(0, 0, True, 3)))
    put("bootrec", "exhausted-trial", b"\0" + rec_file(rec_copy(1, 0, True, 3, count=4, limit=3, secver=2)))
    put("bootrec", "count-over-limit", b"\0" + rec_file(rec_copy(1, 0, True, 3, count=5, limit=3)))
    put("bootrec", "bad-flags", b"\0" + rec_file(rec_copy(0, 0, False, 1, flags=2)))
    put("bootrec", "bad-format", b"\0" + rec_file(rec_copy(0, 0, False, 1, fmt=2)))
    put("bootrec", "reserved-set", b"\0" + rec_file(rec_copy(0, 0, False, 1, reserved=1)))
    put("bootrec", "slot-2", b"\0" + rec_file(rec_copy(2, 2, False, 1)))
    put("bootrec", "short-64", b"\0" + rec_file(idle_a, length=64))
    put("bootrec", "short-575", b"\0" + rec_file(idle_a, trial_b, length=575))
    put("bootrec", "too-large", b"\0" + rec_file(idle_a) + b"\0")
    put("bootrec", "empty", b"\0")
    put("bootrec", "fix-digests-zero-digest", b"\3" + rec_file(rec_copy(0, 0, False, 1, digest=False),
                                                             rec_copy(1, 0, True, 2, digest=False)))


# ---- GRUB environment block: lib/bootctl_grub.c, lib/bootctl_env.c ----

HDR = b"# GRUB Environment Block\n"


def block(lines):
    b = HDR + b"".join(lines)
    return b + b"#" * (1024 - len(b))


OURS = [b"airlock_slot=b\n", b"airlock_good=a\n", b"upgrade_available=1\n", b"bootcount=1\n",
        b"bootlimit=3\n", b"airlock_secver=12\n"]


def grubenv():
    put("grubenv", "block-ours", b"\0" + block(OURS))
    put("grubenv", "block-foreign-lines", b"\0" + block([b"saved_entry=Debian GNU/Linux\n", b"# a comment\n"] + OURS
                                                        + [b"next_entry=\n"]))
    put("grubenv", "block-escapes", b"\0" + block([b"menu=a\\\nb\\\\c\n", b"airlock_slot=\\a\n"]))
    put("grubenv", "block-later-wins", b"\0" + block([b"airlock_slot=a\n", b"airlock_slot=b\n", b"airlock_good=b\n"]))
    put("grubenv", "block-not-provisioned", b"\0" + block([b"saved_entry=0\n"]))
    put("grubenv", "block-no-equals", b"\0" + block([b"airlock_slot\n"]))
    put("grubenv", "block-value-too-long", b"\0" + block([b"airlock_slot=a\n", b"airlock_secver=" + b"1" * 30 + b"\n"]))
    put("grubenv", "block-bad-header", b"\0" + b"# GRUB Environment Bloc\n" + block([])[24:])
    put("grubenv", "block-short", b"\0" + block(OURS)[:1000])
    full = [b"x%03d=%s\n" % (i, b"y" * 20) for i in range(36)]
    put("grubenv", "block-almost-full", b"\0" + block(full + [b"airlock_slot=a\n"]))
    put("grubenv", "block-trailing-backslash", b"\0" + block(OURS)[:1023] + b"\\")
    put("grubenv", "block-junk-in-padding", b"\0" + block(OURS)[:1000] + b"#" * 10 + b"x" + b"#" * 13)
    put("grubenv", "framed-ours", b"\1" + b"".join(OURS))
    put("grubenv", "framed-trial-exhausted", b"\1airlock_slot=b\nairlock_good=a\nupgrade_available=1\nbootcount=9\n")
    put("grubenv", "framed-escaped-newline", b"\1airlock_slot=a\\\n\nfoo=\\\\\n")
    put("grubenv", "values-trial", b"\2b\na\n1\n2\n3\n18446744073709551615")
    put("grubenv", "values-only-slot", b"\2a")
    put("grubenv", "values-unset-slot", b"\2\x01\na\n0")
    put("grubenv", "values-limit-zero", b"\2A\nA\n0\n7\n0\n0")
    put("grubenv", "values-overflow", b"\2a\na\n0\n4294967296\n3\n18446744073709551616")
    put("grubenv", "values-signs", b"\2a\n\x01\n+1\n 1\n-1\n0x10")
    put("grubenv", "values-upgrade-2", b"\x020\n1\n2")
    put("grubenv", "values-empty", b"\2\n\n\n\n\n")


# ---- state file: lib/bootstate.c ----

def state_file(state=0, target=0, reason=0, trial=0, secver=0, gen=1, last_error=0, detail=b"", slots=None,
               pad19=0, fix=True):
    b = b"ALST" + struct.pack(">IQBBBBIQi", 1, gen, state, target, reason, pad19, trial, secver, last_error)
    b += detail.ljust(128, b"\0")
    for i in range(2):
        flags, sv, digest, version = (slots or [(1, 1, bytes(range(32)), b"1.0"), (0, 0, bytes(32), b"")])[i]
        b += bytes([flags]) + bytes(7) + struct.pack(">Q", sv) + digest + version.ljust(72, b"\0")
    assert len(b) == 404
    return b + (sha(b) if fix else bytes(32))


def bootstate():
    both = [(1, 1, bytes(range(32)), b"1.0"), (1, 2, bytes(range(1, 33)), b"2.0")]
    put("bootstate", "idle", b"\0" + state_file())
    put("bootstate", "installing", b"\0" + state_file(state=1, target=1, detail=b"downloading"))
    put("bootstate", "rolled-back", b"\0" + state_file(state=0, target=1, reason=2, last_error=42,
                                                      detail=b"trial slot not booted", slots=both))
    put("bootstate", "bad-state-5", b"\0" + state_file(state=5))
    put("bootstate", "bad-target", b"\0" + state_file(target=2))
    put("bootstate", "bad-pad", b"\0" + state_file(pad19=1))
    put("bootstate", "bad-error", b"\0" + state_file(last_error=10000))
    put("bootstate", "detail-unterminated", b"\0" + state_file(detail=b"x" * 128))
    put("bootstate", "detail-control-char", b"\0" + state_file(detail=b"a\nb"))
    put("bootstate", "bad-digest", b"\0" + state_file(fix=False))
    put("bootstate", "fix-digest", b"\1" + state_file(state=4, target=1, fix=False))
    put("bootstate", "short", b"\0" + state_file()[:435])
    # recovery: the state file, then the sim record file (booted slot: f >> 2 & 1)
    a_idle = rec_file(rec_copy(0, 0, False, 1, secver=1))
    b_trial = rec_file(rec_copy(0, 0, False, 1, secver=1), rec_copy(1, 0, True, 2, count=1))
    b_exhausted = rec_file(rec_copy(0, 0, False, 1), rec_copy(1, 0, True, 2, count=4))
    b_good = rec_file(rec_copy(0, 0, False, 1), rec_copy(1, 1, False, 2, secver=2))
    a_armed_other = rec_file(rec_copy(1, 1, False, 1), rec_copy(0, 1, True, 2))
    cases = [
        ("recover-idle", 0x02, state_file(), a_idle),
        ("recover-idle-pending", 0x02, state_file(), b_trial),
        ("recover-installing", 0x02, state_file(state=1, target=1), a_idle),
        ("recover-installing-armed", 0x02, state_file(state=1, target=1), b_trial),
        ("recover-installed", 0x02, state_file(state=2, target=1, slots=both), a_idle),
        ("recover-installed-armed", 0x06, state_file(state=2, target=1, slots=both), b_trial),
        ("recover-trial-booted", 0x06, state_file(state=3, target=1, slots=both), b_trial),
        ("recover-trial-fell-back", 0x02, state_file(state=3, target=1, slots=both), b_trial),
        ("recover-trial-exhausted", 0x06, state_file(state=3, target=1, slots=both), b_exhausted),
        ("recover-trial-committed", 0x06, state_file(state=3, target=1, slots=both), b_good),
        ("recover-trial-other-armed", 0x02, state_file(state=3, target=1, slots=both), a_armed_other),
        ("recover-rolling-back", 0x02, state_file(state=4, target=1, reason=1, slots=both), b_trial),
        ("recover-no-record", 0x02, state_file(), b""),
        ("recover-torn-record", 0x1a, state_file(state=3, target=1), rec_file(rec_copy(1, 0, True, 2, digest=False))),
    ]
    for name, f, st, rec in cases:
        put("bootstate", name, bytes([f]) + st + rec)


# ---- install resume record: lib/install.c ----

CS = 4096
SIZE = 3 * CS + 100


def fnv1a64(b):
    h = 0xcbf29ce484222325
    for x in b:
        h = ((h ^ x) * 0x100000001b3) & 0xffffffffffffffff
    return h


def fuzz_release_digest():
    plain = bytes(((i * 167) + (i >> 10)) & 0xff for i in range(SIZE))
    lst = b"".join(sha(plain[k * CS:(k + 1) * CS]) for k in range(4))
    return sha(lst)


def progress_rec(digest, size, chunk, flags, done, off, fix=True):
    b = b"AIP1" + digest + struct.pack(">QIIQQ", size, chunk, flags, done, off)
    return b + struct.pack(">Q", fnv1a64(b) if fix else 0)


def progress():
    d = fuzz_release_digest()
    for k in range(5):
        off = SIZE if k == 4 else k * CS
        for have in sorted({0, k, 4}):
            put("progress", "resume-%d-have-%d" % (k, have), bytes([2 | have << 3]) + progress_rec(d, SIZE, CS, 0, k, off))
    put("progress", "resume-offset-off-by-one", b"\x22" + progress_rec(d, SIZE, CS, 0, 2, 2 * CS + 1))
    put("progress", "resume-too-many-chunks", b"\x22" + progress_rec(d, SIZE, CS, 0, 5, SIZE))
    put("progress", "resume-huge-count", b"\x22" + progress_rec(d, SIZE, CS, 0, 2 ** 64 - 1, 2 ** 64 - CS))
    put("progress", "resume-encrypted-flag", b"\x22" + progress_rec(d, SIZE, CS, 1, 1, CS + 16))
    put("progress", "resume-other-digest", b"\x22" + progress_rec(bytes(32), SIZE, CS, 0, 1, CS))
    put("progress", "resume-other-chunk-size", b"\x22" + progress_rec(d, SIZE, 8192, 0, 1, 8192))
    put("progress", "graft-and-fix", b"\x2f" + progress_rec(bytes(32), 0, 0, 0, 3, 3 * CS, fix=False))
    put("progress", "bad-check", b"\0" + progress_rec(d, SIZE, CS, 0, 1, CS, fix=False))
    put("progress", "bad-flags", b"\0" + progress_rec(d, SIZE, CS, 2, 1, CS))
    put("progress", "bad-chunk-size", b"\0" + progress_rec(d, SIZE, 1000, 0, 1, CS))
    put("progress", "bad-magic", b"\1AIP2" + progress_rec(d, SIZE, CS, 0, 1, CS)[4:])
    put("progress", "short", b"\0" + progress_rec(d, SIZE, CS, 0, 1, CS)[:75])
    put("progress", "empty", b"\0")


# ---- offline bundles: agent/bundle.c, made by the real CLI ----

def run(*args, cwd):
    subprocess.run([AIRLOCK] + list(args), cwd=cwd, check=True, stdout=subprocess.DEVNULL)


def bundles():
    with tempfile.TemporaryDirectory() as t:
        with open(os.path.join(t, "wrap.pub"), "w") as f:
            f.write(WRAP_PUB)
        run("key", "generate", "--alg", "ed25519", "--out", "rel", cwd=t)
        with open(os.path.join(t, "img"), "wb") as f:
            f.write(bytes((i * 7) & 0xff for i in range(9000)))
        with open(os.path.join(t, "boot"), "wb") as f:
            f.write(b"boot" * 300)
        common = ["--product", "gw", "--hardware", "board-a", "--security-version", "2", "--chunk-size", "4096"]
        os.makedirs(os.path.join(t, "p"))
        os.makedirs(os.path.join(t, "e"))
        run("release", "create", "--out", "p/r.cbor", "--version", "1.0", "--payload", "rootfs=img",
            "--payload", "boot=boot", *common, cwd=t)
        run("release", "sign", "p/r.cbor", "--key", "rel.key", cwd=t)
        run("bundle", "create", "--release", "p/r.cbor", "--payload", "rootfs=img", "--payload", "boot=boot",
            "--out", "plain.bundle", cwd=t)
        run("release", "create", "--out", "e/r.cbor", "--version", "2.0", "--payload", "rootfs=img",
            "--encrypt", "--recipient", "wrap.pub", *common, cwd=t)
        run("release", "sign", "e/r.cbor", "--key", "rel.key", cwd=t)
        run("bundle", "create", "--release", "e/r.cbor", "--payload", "rootfs=e/rootfs.enc", "--out", "enc.bundle",
            cwd=t)
        plain = open(os.path.join(t, "plain.bundle"), "rb").read()
        enc = open(os.path.join(t, "enc.bundle"), "rb").read()
    put("bundle", "plain-two-payloads", plain)
    put("bundle", "encrypted-with-keys", enc)
    hlen = struct.unpack(">I", enc[8:12])[0]
    put("bundle", "header-only-cut", enc[:12 + hlen])
    put("bundle", "cut-in-header", enc[:12 + hlen // 2])
    put("bundle", "cut-in-data", plain[:len(plain) - 100])
    put("bundle", "hlen-zero", enc[:8] + bytes(4) + enc[12:])
    put("bundle", "hlen-max", enc[:8] + b"\xff\xff\xff\xff" + enc[12:])
    put("bundle", "hlen-one-more", enc[:8] + struct.pack(">I", hlen + 1) + enc[12:])
    put("bundle", "bad-magic", b"ALBUNDL2" + enc[8:])
    put("bundle", "prefix-only", enc[:12])
    # a keys file whose first wrap is for another device: the walk goes on
    k = enc.find(b"\x82\x01")
    if k > 0:
        flipped = bytearray(enc)
        flipped[k + 30] ^= 1
        put("bundle", "keys-entry-damaged", bytes(flipped))


# ---- audit exports: server/audit_verify.c ----

def cbor_head(major, n):
    if n < 24:
        return bytes([major << 5 | n])
    for ai, fmt in ((24, ">B"), (25, ">H"), (26, ">I"), (27, ">Q")):
        if n < 1 << (8 * struct.calcsize(fmt)):
            return bytes([major << 5 | ai]) + struct.pack(fmt, n)
    raise ValueError(n)


def cbor_int(v):
    return cbor_head(0, v) if v >= 0 else cbor_head(1, -1 - v)


def cbor_text(s):
    b = s.encode()
    return cbor_head(3, len(b)) + b


def entry_hash(prev, seq, time, actor, action, detail):
    c = b"\x85" + cbor_int(seq) + cbor_int(time) + cbor_text(actor) + cbor_text(action) + cbor_text(detail)
    return sha(b"airlock-audit-v1" + prev + c)


def sign(msg, keyfile):
    with tempfile.NamedTemporaryFile() as m:
        m.write(msg)
        m.flush()
        return subprocess.run(["openssl", "pkeyutl", "-sign", "-inkey", keyfile, "-rawin", "-in", m.name],
                              check=True, stdout=subprocess.PIPE).stdout


def checkpoint(seq, head, time, keyfile, keyid):
    msg = b"\x84" + cbor_text("airlock-audit-checkpoint-v1") + cbor_int(seq) + cbor_head(2, 32) + head + cbor_int(time)
    return {"seq": seq, "head": head.hex(), "time": time, "keyid": keyid.hex(), "signature": sign(msg, keyfile).hex()}


def audit():
    with tempfile.TemporaryDirectory() as t:
        kf = os.path.join(t, "audit.key")
        with open(kf, "w") as f:
            f.write(AUDIT_KEY)
        pub = subprocess.run(["openssl", "pkey", "-in", kf, "-pubout", "-outform", "DER"], check=True,
                             stdout=subprocess.PIPE).stdout[-32:]
        keyid = sha(pub)
        entries, heads, prev = [], [], bytes(32)
        rows = [("admin:0123abcd", "release.push", '{"version":"1.2"}'),
                ("device:gw-0001", "device.checkin", '{"state":"IDLE"}'),
                ("enroll:77aa", "device.enroll", '{"id":"gw-0002","note":"caf\u00e9"}'),
                ("system:startup", "server.start", "{}"),
                ("anonymous", "auth.fail", '{"path":"/api/v1/devices","n":3}')]
        for i, (actor, action, detail) in enumerate(rows):
            seq, time = i + 1, 1700000000 + 10 * i
            h = entry_hash(prev, seq, time, actor, action, detail)
            entries.append({"seq": seq, "time": time, "actor": actor, "action": action, "detail": detail,
                            "hash": h.hex()})
            heads.append(h)
            prev = h
        cp2 = checkpoint(2, heads[1], 1700000100, kf, keyid)
        cp5 = checkpoint(5, heads[4], 1700000200, kf, keyid)
        cp_bad_head = checkpoint(3, bytes(32), 1700000150, kf, keyid)
        cp_beyond = checkpoint(9, heads[4], 1700000300, kf, keyid)
        cp_neg = checkpoint(4, heads[3], -5, kf, keyid)
        cp2_other = checkpoint(2, heads[0], 1700000101, kf, keyid)   # a second head for seq 2: a split view

    def export(es, cps):
        return json.dumps({"format": 1, "entries": es, "checkpoints": cps}, separators=(",", ":")).encode()

    def ext(cp):
        return b"\0" + json.dumps(cp, separators=(",", ":")).encode()

    put("audit", "valid", b"\0" + export(entries, [cp2, cp5]))
    put("audit", "valid-external", b"\0" + export(entries, [cp2]) + ext(cp5))
    put("audit", "valid-no-checkpoints", b"\0" + export(entries, []))
    put("audit", "empty-log", b"\0" + export([], []))
    put("audit", "external-beyond", b"\0" + export(entries[:3], [cp2]) + ext(cp5))
    put("audit", "truncated", b"\0" + export(entries[:4], [cp2, cp5]))
    put("audit", "checkpoint-mismatch", b"\0" + export(entries, [cp2, cp_bad_head, cp5]))
    put("audit", "checkpoint-conflict", b"\0" + export(entries, [cp2, cp2_other]))
    put("audit", "checkpoints-out-of-order", b"\0" + export(entries, [cp5, cp2]))
    put("audit", "checkpoint-beyond", b"\0" + export(entries, [cp2, cp_beyond]))
    put("audit", "checkpoint-negative-time", b"\0" + export(entries, [cp_neg]))
    put("audit", "bad-signature", b"\0" + export(entries, [dict(cp2, signature="00" * 64)]))
    put("audit", "wrong-key", b"\0" + export(entries, [dict(cp2, keyid="11" * 32)]))
    tampered = [dict(e) for e in entries]
    tampered[2]["detail"] = '{"id":"gw-0666"}'
    put("audit", "tampered-detail", b"\0" + export(tampered, [cp2, cp5]))
    put("audit", "tampered-detail-rehash", b"\1" + export(tampered, [cp2, cp5]))
    put("audit", "deleted-entry", b"\0" + export(entries[:2] + entries[3:], [cp2]))
    put("audit", "deleted-entry-rehash", b"\1" + export(entries[:2] + entries[3:], [cp2, cp5]))
    put("audit", "starts-at-2", b"\0" + export(entries[1:], []))
    put("audit", "uppercase-hex", b"\0" + export([dict(entries[0], hash=entries[0]["hash"].upper())], []))
    put("audit", "unknown-field", b"\0" + export([dict(entries[0], prev="00" * 32)], []))
    put("audit", "float-seq", b'\0{"format":1,"entries":[{"seq":1.0,"time":1,"actor":"a","action":"b","detail":"{}",'
                              b'"hash":"' + b"0" * 64 + b'"}],"checkpoints":[]}')
    put("audit", "duplicate-key", b'\0{"format":1,"format":1,"entries":[],"checkpoints":[]}')
    put("audit", "format-2", b'\0{"format":2,"entries":[],"checkpoints":[]}')
    put("audit", "long-actor", b"\1" + export([dict(entries[0], actor="a" * 257)], []))
    put("audit", "nul-escape", b"\1" + export([dict(entries[0], detail="{\"a\":\"\u0000\"}")], []))
    put("audit", "not-json", b"\0{\"format\":1,\"entries\":[")
    put("audit", "external-malformed", b"\0" + export(entries, []) + b'\0{"seq":1}')


# ---- airlockd.conf: agent/config.c ----

def agentconf():
    full = """# airlockd configuration
[server]
url = https://updates.example.com:8443/
ca = /etc/airlock/fleet-ca.crt
cert = /etc/airlock/device.crt
key = /etc/airlock/device.key
pin = sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=

[device]
id = gw-0001
hardware = board-a
root = /etc/airlock/root.cbor
state_dir = /var/lib/airlock
wrap_key = /etc/airlock/wrap.key
trusted_clock = yes

[slots]
backend = block
a = /dev/mmcblk0p2
b = /dev/mmcblk0p3
capacity = 512M
payload = rootfs

[boot]
backend = uboot
record = /etc/fw_env.config
boot_limit = 3
reboot_command = /sbin/reboot

[health]
command = /usr/libexec/airlock/health-check
timeout = 120

[agent]
checkin_interval = 300
min_rate = 1K
rate_window = 60
connect_timeout = 30
log = /var/log/airlock/airlockd.log
log_max = 1M
syslog = false
queue_max = 256
"""
    put("agentconf", "full", full)
    put("agentconf", "offline-minimal", "[device]\nhardware = board-a\nroot = r.cbor\n[slots]\na = a.img\nb = b.img\n"
                                        "[boot]\nrecord = boot.rec\n")
    put("agentconf", "empty", "")
    put("agentconf", "comments-bom-crlf", "\ufeff; comment\r\n# another\r\n[device]\r\nhardware=x ; inline\r\n")
    put("agentconf", "unknown-section", "[serverr]\nurl = https://x\n")
    put("agentconf", "unknown-key", "[server]\npinn = sha256//x\n")
    put("agentconf", "no-section", "url = https://x\n")
    put("agentconf", "syntax-error", "[server\nurl = https://x\n")
    put("agentconf", "no-equals", "[server]\nurl\n")
    put("agentconf", "value-too-long", "[device]\nhardware = " + "h" * 80 + "\n")
    put("agentconf", "path-too-long", "[device]\nroot = /" + "p" * 1100 + "\n")
    put("agentconf", "numbers-suffixes", "[slots]\ncapacity = 1G\n[agent]\nlog_max = 4096\nmin_rate = 1073741824\n"
                                         "rate_window = 3600\nqueue_max = 100000\n")
    put("agentconf", "number-overflow", "[slots]\ncapacity = 18446744073709551615G\n")
    put("agentconf", "number-range", "[boot]\nboot_limit = 256\n")
    put("agentconf", "number-signs", "[health]\ntimeout = -1\n")
    put("agentconf", "number-trailing", "[agent]\nconnect_timeout = 30s\n")
    put("agentconf", "bool-bad", "[agent]\nsyslog = maybe\n")
    put("agentconf", "multiline", "[health]\ncommand = /bin/true\n  --with-continuation\n")
    put("agentconf", "duplicate-key", "[slots]\na = x\na = y\nb = x\n")
    put("agentconf", "health-unknown", "[health]\ncmd = x\n")
    put("agentconf", "long-line", "[device]\nroot = " + "r" * 300 + "\nhardware = z\n")


if __name__ == "__main__":
    bootrec()
    grubenv()
    bootstate()
    progress()
    bundles()
    audit()
    agentconf()
