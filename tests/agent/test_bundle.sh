#!/usr/bin/env bash
# Offline install (issue item 6): `airlock bundle create` makes one file of
# release, chunk lists and payloads; `airlockd install BUNDLE` verifies it
# exactly as a download (minus the directive's freshness), streaming from
# the file. Refusals: tampered payload, other hardware, downgrade, a
# damaged bundle, a content key for another device. No server involved.
. "$(dirname "$0")/lib.sh"
init_server
"$AIRLOCK" key generate --alg x25519 --out dev1-wrap >/dev/null
"$AIRLOCK" key generate --alg x25519 --out other-wrap >/dev/null
make_device ""
head -c 1000000 /dev/urandom >v1.img
head -c 6000000 /dev/urandom >v2.img
make_release v1 1.0 2 v1.img
make_release v2 2.0 3 v2.img --encrypt --recipient dev1-wrap.pub
make_release old 0.5 1 v2.img
HW=board-z make_release hwz 2.1 3 v2.img
make_release other 2.2 3 v2.img --encrypt --recipient other-wrap.pub
"$AIRLOCKD" --config dev/airlockd.conf provision --release rel/v1/r.cbor --image v1.img >/dev/null || adie "provision"
snapshot
B() { "$AIRLOCK" bundle create --root srv/root.cbor "$@" >bundle.out 2>&1; }

# ---- bundle create checks what it packs ----
B --release rel/v2/r.cbor --payload rootfs=v2.img --out bad.bundle && adie "plaintext packed for an encrypted release"
grep -q SIZE_MISMATCH bundle.out || adie "$(cat bundle.out)"; pass
B --release rel/v2/r.cbor --payload rootfs=rel/v2/rootfs.enc --chunks rootfs=rel/v1/rootfs.chunks --out bad.bundle &&
	adie "wrong chunk list packed"
grep -q 'chunk list does not match' bundle.out || adie "$(cat bundle.out)"; pass
B --release rel/v2/unsigned.cbor --payload rootfs=rel/v2/rootfs.enc --out bad.bundle && adie "unsigned release packed"
grep -q THRESHOLD bundle.out || adie "$(cat bundle.out)"; pass
[ ! -e bad.bundle ] || adie "a refused bundle was left behind"; pass
for n in v2 old hwz other; do
	f=rel/$n/rootfs.enc; [ -f "$f" ] || f=rel/$n/rootfs.img
	B --release rel/$n/r.cbor --payload "rootfs=$f" --out $n.bundle || adie "bundle $n: $(cat bundle.out)"
done; pass

inst() {  # inst BUNDLE EXPECTED_EXIT [ERROR]
	AIRLOCK_BOOT_SLOT=a "$AIRLOCKD" --config dev/airlockd.conf install "$1" >agent.out 2>&1
	RC=$?
	[ "$RC" = "$2" ] || adie "install $1: expected $2, got $RC: $(cat agent.out)"
	if [ $# -ge 3 ]; then grep -q "AIRLOCK_ERR_$3" agent.out || adie "install $1: no $3: $(cat agent.out)"; unchanged; fi
}

# ---- refusals: each leaves the device as it was ----
inst old.bundle 1 ROLLBACK
inst hwz.bundle 1 HARDWARE_MISMATCH
inst other.bundle 1 KEY_UNWRAP
python3 - <<'PY'
d = bytearray(open("v2.bundle", "rb").read())
d[len(d) - 1000000] ^= 1                       # a ciphertext byte
open("flip.bundle", "wb").write(d)
open("short.bundle", "wb").write(bytes(d[:len(d) // 2]))  # cut in the middle
open("junk.bundle", "wb").write(b"ALBUNDL1\xff\xff\xff\xff" + bytes(100))
PY
inst flip.bundle 1 AEAD_TAG
inst short.bundle 1 BAD_VALUE
inst junk.bundle 1 TOO_LARGE
inst /nonexistent.bundle 3 IO_OPEN

# ---- the real thing: streamed, verified, armed, then committed ----
/usr/bin/time -f '%M' -o rss.txt env AIRLOCK_BOOT_SLOT=a "$AIRLOCKD" --config dev/airlockd.conf install v2.bundle >agent.out 2>&1 ||
	adie "install v2: $(cat agent.out)"
grep -q 'installed 2.0 into slot b' agent.out || adie "$(cat agent.out)"; pass
cmp -n 6000000 dev/slot-b.img v2.img || adie "slot b is not v2"; pass
echo "peak RSS of airlockd install: $(cat rss.txt) KiB"
# (a sanitizer build's shadow memory does not count)
grep -q __asan_init "$AIRLOCKD" || { [ "$(cat rss.txt)" -lt 16384 ] || adie "peak RSS $(cat rss.txt) KiB"; }; pass
inst v2.bundle 3 >/dev/null 2>&1 || true   # armed: a second install waits for the reboot
grep -q 'reboot is due first' agent.out || adie "second install while armed: $(cat agent.out)"; pass
AIRLOCK_BOOT_SLOT=b "$AIRLOCKD" --config dev/airlockd.conf commit >agent.out 2>&1 || adie "commit: $(cat agent.out)"
"$AIRLOCKD" --config dev/airlockd.conf status --json >st.json
python3 -c "import json; d=json.load(open('st.json')); assert d['boot']['good']=='b' and d['security_version']==3 and d['reports_queued']>0, d" ||
	adie "not committed: $(cat st.json)"; pass
done_ok
