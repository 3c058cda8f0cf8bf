#!/usr/bin/env bash
# Every refusal names its reason in one line, with the documented exit code.
. "$(dirname "$0")/lib.sh"
make_fleet
head -c 200000 /dev/urandom >fw.img
ok "$AIRLOCK" release create --out rel.cbor --product acme-gw --hardware board-a --version 2.0 \
	--security-version 6 --payload rootfs=fw.img --chunk-size 4096
ok "$AIRLOCK" release sign rel.cbor --key s1.key
ok "$AIRLOCK" release sign rel.cbor --key s2.key
V=("$AIRLOCK" verify --root root.cbor --release rel.cbor)

# policy
refused 1 AIRLOCK_ERR_ROLLBACK "${V[@]}" --min-security-version 7
grep -q "security_version 6 is below the minimum 7" err.txt || die "rollback message"
refused 1 AIRLOCK_ERR_HARDWARE_MISMATCH "${V[@]}" --hardware board-z
refused 1 AIRLOCK_ERR_EXPIRED "${V[@]}" --now +400d
grep -q "root version 1 expired" err.txt || die "expiry message"
refused 2 "exclude each other" "${V[@]}" --no-clock --now +400d

# wrong role: a root key or the director key signing a release counts zero
cp rel.cbor wr.cbor
ok "$AIRLOCK" release create --out wr2.cbor --artifacts . --product acme-gw --hardware board-a --version 2.0 \
	--security-version 6 --payload other=fw.img --chunk-size 4096
ok "$AIRLOCK" release sign wr2.cbor --key r1.key
ok "$AIRLOCK" release sign wr2.cbor --key d1.key
refused 1 AIRLOCK_ERR_WRONG_ROLE "$AIRLOCK" verify --root root.cbor --release wr2.cbor
refused 1 AIRLOCK_ERR_WRONG_ROLE "$AIRLOCK" release sign wr2.cbor --key r2.key --root root.cbor
# unknown key
ok "$AIRLOCK" key generate --alg ed25519 --out stranger
ok "$AIRLOCK" release create --out uk.cbor --artifacts . --product acme-gw --hardware board-a --version 2.0 \
	--security-version 6 --payload uk=fw.img --chunk-size 4096
ok "$AIRLOCK" release sign uk.cbor --key stranger.key
ok "$AIRLOCK" release sign uk.cbor --key s1.key
refused 1 AIRLOCK_ERR_UNKNOWN_KEY "$AIRLOCK" verify --root root.cbor --release uk.cbor
# a signed root cannot pass as a release, nor the reverse
refused 1 AIRLOCK_ERR_WRONG_TYPE "$AIRLOCK" verify --root root.cbor --release root.cbor
refused 1 AIRLOCK_ERR_WRONG_TYPE "$AIRLOCK" verify --root rel.cbor --release rel.cbor

# every single flipped byte of the signed release and of the signed root is refused
flips rel.cbor relflips
size=$(stat -c %s rel.cbor)
for ((i = 0; i < size; i++)); do
	"$AIRLOCK" verify --root root.cbor --release relflips/$i >/dev/null 2>err.txt
	rc=$?
	[ $rc -eq 1 ] || die "release flip at $i: exit $rc"
	[ "$(wc -l <err.txt)" -eq 1 ] || die "release flip at $i: not one line"
	checks=$((checks + 1))
done
flips root.cbor rootflips
size=$(stat -c %s root.cbor)
for ((i = 0; i < size; i++)); do
	"$AIRLOCK" verify --root rootflips/$i --release rel.cbor >/dev/null 2>&1
	rc=$?
	[ $rc -eq 1 ] || die "root flip at $i: exit $rc"
	checks=$((checks + 1))
done
# the body flip names the signature
flip rel.cbor 40 t.cbor
refused 1 AIRLOCK_ERR_BAD_SIGNATURE "$AIRLOCK" verify --root root.cbor --release t.cbor
grep -q "signature 1 by key" err.txt || die "bad signature message must name the signature"

# payloads: a flipped byte, one byte more, one byte less
flip fw.img 100000 bad.img
refused 1 AIRLOCK_ERR_DIGEST_MISMATCH "${V[@]}" --payload rootfs=bad.img
cp fw.img long.img && printf x >>long.img
refused 1 AIRLOCK_ERR_TOO_LARGE "${V[@]}" --payload rootfs=long.img
head -c 199999 fw.img >short.img
refused 1 AIRLOCK_ERR_SIZE_MISMATCH "${V[@]}" --payload rootfs=short.img
refused 1 AIRLOCK_ERR_NOT_FOUND "${V[@]}" --payload nosuch=fw.img

# encrypted payloads: tampered ciphertext is caught at its chunk
mkdir enc
ok "$AIRLOCK" release create --out enc/rel.cbor --product acme-gw --hardware board-a --version 2.0 \
	--security-version 6 --payload rootfs=fw.img --chunk-size 4096 --encrypt --recipient srv.pub
ok "$AIRLOCK" release sign enc/rel.cbor --key s1.key
ok "$AIRLOCK" release sign enc/rel.cbor --key s2.key
E=("$AIRLOCK" verify --root root.cbor --release enc/rel.cbor --decrypt-key srv.key --keys enc/rel.cbor.keys)
flip enc/rootfs.enc $((4112 * 3 + 7)) bad.enc
refused 1 AIRLOCK_ERR_AEAD_TAG "${E[@]}" --payload rootfs=bad.enc
grep -q "chunk 3" err.txt || die "AEAD failure must name chunk 3"
refused 1 AIRLOCK_ERR_DIGEST_MISMATCH "$AIRLOCK" verify --root root.cbor --release enc/rel.cbor --payload rootfs=bad.enc
ok "$AIRLOCK" key generate --alg x25519 --out other
refused 1 AIRLOCK_ERR_KEY_UNWRAP "$AIRLOCK" verify --root root.cbor --release enc/rel.cbor \
	--decrypt-key other.key --keys enc/rel.cbor.keys --payload rootfs=enc/rootfs.enc

# keys: no overwrite, private keys must be 0600, x25519 cannot sign
refused 3 AIRLOCK_ERR_EXISTS "$AIRLOCK" key generate --alg ed25519 --out s1
chmod 0644 s2.key
refused 3 AIRLOCK_ERR_KEY_PERMS "$AIRLOCK" release sign rel.cbor --key s2.key
chmod 0600 s2.key
[ "$(stat -c %a s1.key)" = 600 ] || die "private key mode"
refused 1 AIRLOCK_ERR_UNSUPPORTED_ALG "$AIRLOCK" release sign rel.cbor --key srv.key

# bad input files and flags: clear errors, nothing written
head -c 1000 /dev/urandom >junk.bin
refused 1 AIRLOCK_ERR_ "$AIRLOCK" inspect junk.bin
refused 3 AIRLOCK_ERR_IO_OPEN "$AIRLOCK" inspect /nonexistent
head -c 70000 /dev/zero >big.bin
refused 1 AIRLOCK_ERR_TOO_LARGE "$AIRLOCK" verify --root root.cbor --release big.bin
refused 2 "unknown algorithm" "$AIRLOCK" key generate --alg rsa --out x
refused 2 "required" "$AIRLOCK" release create --out x.cbor
refused 1 AIRLOCK_ERR_BAD_NAME "$AIRLOCK" release create --out n.cbor --product p --hardware h --version 1 \
	--security-version 1 --payload ../../etc/passwd=fw.img
[ ! -e n.cbor ] || die "refused release left a file"
refused 2 "power of two" "$AIRLOCK" release create --out n.cbor --product p --hardware h --version 1 \
	--security-version 1 --payload a=fw.img --chunk-size 5000
refused 3 AIRLOCK_ERR_IO_OPEN "$AIRLOCK" release create --out n.cbor --product p --hardware h --version 1 \
	--security-version 1 --payload a=fw.img --payload b=/nonexistent
[ ! -e n.cbor ] && [ ! -e a.chunks ] || die "failed create left partial output"
refused 2 "bad date" "$AIRLOCK" root create --out x.cbor --expires 2026-02-30 --root-key r1.pub --root-threshold 1 \
	--release-key s1.pub --release-threshold 1 --director-key d1.pub
refused 2 "threshold" "$AIRLOCK" root create --out x.cbor --expires +1d --root-key r1.pub --root-threshold 2 \
	--release-key s1.pub --release-threshold 1 --director-key d1.pub
done_ok
