# Helpers for the CLI tests. $AIRLOCK is the binary under test (set by ctest).
set -u
AIRLOCK=${AIRLOCK:?set AIRLOCK to the airlock binary}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
checks=0

die() { echo "FAIL: $*" >&2; exit 1; }

# ok CMD...: must exit 0.
ok() {
	checks=$((checks + 1))
	"$@" >out.txt 2>err.txt || { cat out.txt err.txt >&2; die "expected success: $*"; }
}

# refused EXIT ERRNAME CMD...: must exit EXIT and name ERRNAME on stderr, in one line.
refused() {
	local want=$1 name=$2; shift 2
	checks=$((checks + 1))
	"$@" >out.txt 2>err.txt
	local got=$?
	[ "$got" -eq "$want" ] || { cat out.txt err.txt >&2; die "expected exit $want, got $got: $*"; }
	grep -q "$name" err.txt || { cat err.txt >&2; die "expected $name on stderr: $*"; }
	[ "$(grep -vc '^airlock [a-z ]*: note:' err.txt)" -eq 1 ] || { cat err.txt >&2; die "expected one line of error: $*"; }
}

# flip FILE OFFSET OUT: OUT is FILE with the byte at OFFSET xor 0x01.
flip() {
	python3 - "$1" "$2" "$3" <<'PY'
import sys
data = bytearray(open(sys.argv[1], 'rb').read())
data[int(sys.argv[2])] ^= 1
open(sys.argv[3], 'wb').write(bytes(data))
PY
}

# A 2-of-3 fleet: root keys r1..r3, release keys s1..s3 (s3 is P-256), director d1,
# an x25519 server key, and a signed root.cbor.
make_fleet() {
	for k in r1 r2 r3 s1 s2 d1; do ok "$AIRLOCK" key generate --alg ed25519 --out $k; done
	ok "$AIRLOCK" key generate --alg p256 --out s3
	ok "$AIRLOCK" key generate --alg x25519 --out srv
	ok "$AIRLOCK" root create --out root.cbor --expires +365d \
		--root-key r1.pub --root-key r2.pub --root-key r3.pub --root-threshold 2 \
		--release-key s1.pub --release-key s2.pub --release-key s3.pub --release-threshold 2 \
		--director-key d1.pub
	ok "$AIRLOCK" root sign root.cbor --key r1.key
	ok "$AIRLOCK" root sign root.cbor --key r2.key
}

# flips FILE DIR: writes DIR/N for every byte offset N of FILE, that byte xor 0x01.
flips() {
	mkdir -p "$2"
	python3 - "$1" "$2" <<'PY'
import sys
data = open(sys.argv[1], 'rb').read()
for i in range(len(data)):
    t = bytearray(data)
    t[i] ^= 1
    open('%s/%d' % (sys.argv[2], i), 'wb').write(bytes(t))
PY
}

done_ok() { echo "ok: $checks checks"; }
