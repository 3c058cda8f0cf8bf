#!/usr/bin/env bash
# keys -> root -> release -> 2-of-3 signatures -> verify, plain and encrypted.
. "$(dirname "$0")/lib.sh"
make_fleet
head -c 300000 /dev/urandom >fw.img
head -c 65536 /dev/urandom >exact.bin   # exactly one chunk
: >empty.bin

ok "$AIRLOCK" release create --out rel.cbor --product acme-gw --hardware board-a --version 1.2.0 \
	--security-version 7 --payload rootfs=fw.img --payload exact=exact.bin --payload empty=empty.bin
[ -s rootfs.chunks ] || die "no chunk list written"
[ "$(stat -c %s rootfs.chunks)" -eq $((5 * 32)) ] || die "rootfs.chunks is not 5 digests"
[ "$(stat -c %s empty.chunks)" -eq 0 ] || die "empty payload has a non-empty chunk list"
refused 1 AIRLOCK_ERR_THRESHOLD "$AIRLOCK" verify --root root.cbor --release rel.cbor
ok "$AIRLOCK" release sign rel.cbor --key s1.key --root root.cbor
refused 1 AIRLOCK_ERR_THRESHOLD "$AIRLOCK" verify --root root.cbor --release rel.cbor
grep -q "1 of 2 required release signatures" err.txt || die "threshold message"
ok "$AIRLOCK" release sign rel.cbor --key s3.key
ok "$AIRLOCK" verify --root root.cbor --release rel.cbor --payload rootfs=fw.img --payload exact=exact.bin \
	--payload empty=empty.bin --hardware board-a --min-security-version 7
grep -q "OK payload rootfs" out.txt || die "payload not reported"
# a third signature is fine, a repeat is not
ok "$AIRLOCK" release sign rel.cbor --key s2.key
refused 1 AIRLOCK_ERR_DUPLICATE_SIGNER "$AIRLOCK" release sign rel.cbor --key s2.key
ok "$AIRLOCK" verify --root root.cbor --release rel.cbor --no-clock

# encrypted: plaintext and ciphertext both verify; the key file is needed to decrypt
mkdir enc
ok "$AIRLOCK" release create --out enc/rel.cbor --product acme-gw --hardware board-a --version 1.2.1 \
	--security-version 7 --payload rootfs=fw.img --payload empty=empty.bin --chunk-size 4096 \
	--encrypt --recipient srv.pub
[ -s enc/rootfs.enc ] && [ -s enc/rel.cbor.keys ] || die "encrypted artifacts missing"
[ "$(stat -c %s enc/rootfs.enc)" -eq $((300000 + 74 * 16)) ] || die "ciphertext size"
[ "$(stat -c %s enc/empty.enc)" -eq 16 ] || die "empty payload must be one empty chunk"
ok "$AIRLOCK" release sign enc/rel.cbor --key s1.key
ok "$AIRLOCK" release sign enc/rel.cbor --key s2.key
ok "$AIRLOCK" verify --root root.cbor --release enc/rel.cbor --payload rootfs=fw.img
ok "$AIRLOCK" verify --root root.cbor --release enc/rel.cbor --payload rootfs=enc/rootfs.enc --payload empty=enc/empty.enc
grep -q "plaintext not checked" out.txt || die "ciphertext-only check must say so"
ok "$AIRLOCK" verify --root root.cbor --release enc/rel.cbor --payload rootfs=enc/rootfs.enc \
	--payload empty=enc/empty.enc --decrypt-key srv.key --keys enc/rel.cbor.keys
grep -q "decrypted plaintext matches" out.txt || die "decryption not reported"

# inspect shows every kind, as text and as JSON
ok "$AIRLOCK" inspect rel.cbor
grep -q "security_version   7" out.txt || die "inspect text"
ok "$AIRLOCK" inspect --json enc/rel.cbor
python3 -c 'import json,sys; d=json.load(open("out.txt")); assert d["type"]=="release" and len(d["signatures"])==2 and d["release"]["payloads"][0]["encryption"]' || die "inspect json"
ok "$AIRLOCK" inspect --json root.cbor
python3 -c 'import json; d=json.load(open("out.txt")); assert d["root"]["roles"]["release"]["threshold"]==2' || die "inspect root json"
ok "$AIRLOCK" inspect enc/rel.cbor.keys
ok "$AIRLOCK" key id s1.pub s3.key
[ "$(wc -l <out.txt)" -eq 2 ] || die "key id"
done_ok
