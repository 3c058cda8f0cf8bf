#!/usr/bin/env bash
# Root rotation through the CLI: v2 needs a threshold of v1's root keys and of its own.
. "$(dirname "$0")/lib.sh"
make_fleet
for k in n1 n2 n3; do ok "$AIRLOCK" key generate --alg ed25519 --out $k; done
head -c 10000 /dev/urandom >fw.img

ok "$AIRLOCK" root rotate --from root.cbor --out root2.cbor --expires +365d \
	--root-key n1.pub --root-key n2.pub --root-key n3.pub --root-threshold 2
# only the new keys: refused by v1's keys
ok "$AIRLOCK" root sign root2.cbor --key n1.key
ok "$AIRLOCK" root sign root2.cbor --key n2.key
cp root2.cbor only-new.cbor
refused 1 AIRLOCK_ERR_UNKNOWN_KEY "$AIRLOCK" verify --root root.cbor --root-update only-new.cbor --release root2.cbor
grep -q "by the keys of version 1" err.txt || die "message must say which keys"
# only the old keys: refused by its own keys
ok "$AIRLOCK" root rotate --from root.cbor --out old-only.cbor --expires +365d \
	--root-key n1.pub --root-key n2.pub --root-key n3.pub --root-threshold 2
ok "$AIRLOCK" root sign old-only.cbor --key r1.key
ok "$AIRLOCK" root sign old-only.cbor --key r3.key
refused 1 AIRLOCK_ERR_UNKNOWN_KEY "$AIRLOCK" verify --root root.cbor --root-update old-only.cbor --release root2.cbor
grep -q "by its own keys" err.txt || die "message must say which keys"
# both: accepted, and releases are then checked against v2 (same release keys carried over)
ok "$AIRLOCK" root sign root2.cbor --key r1.key
ok "$AIRLOCK" root sign root2.cbor --key r2.key
ok "$AIRLOCK" release create --out rel.cbor --product p --hardware h --version 1 --security-version 1 --payload a=fw.img
ok "$AIRLOCK" release sign rel.cbor --key s1.key
ok "$AIRLOCK" release sign rel.cbor --key s2.key
ok "$AIRLOCK" verify --root root.cbor --root-update root2.cbor --release rel.cbor
grep -q "OK root version 2" out.txt || die "chain not followed"
# v2 alone as trust anchor works; v3 skipping: rotate from v2 then present v3 to v1
ok "$AIRLOCK" root rotate --from root2.cbor --out root3.cbor --expires +365d
ok "$AIRLOCK" root sign root3.cbor --key n1.key
ok "$AIRLOCK" root sign root3.cbor --key n3.key
refused 1 AIRLOCK_ERR_ "$AIRLOCK" verify --root root.cbor --root-update root3.cbor --release rel.cbor
ok "$AIRLOCK" verify --root root.cbor --root-update root2.cbor --root-update root3.cbor --release rel.cbor
grep -q "OK root version 3" out.txt || die "v3 chain"
# going back: v2 presented after v3 is refused
refused 1 AIRLOCK_ERR_ROOT_VERSION "$AIRLOCK" verify --root root3.cbor --root-update root2.cbor --release rel.cbor
# a retired release key: rotate it out, its signatures stop counting
ok "$AIRLOCK" root rotate --from root3.cbor --out root4.cbor --expires +365d \
	--release-key s2.pub --release-key s3.pub --release-threshold 2
ok "$AIRLOCK" root sign root4.cbor --key n1.key
ok "$AIRLOCK" root sign root4.cbor --key n2.key
refused 1 AIRLOCK_ERR_UNKNOWN_KEY "$AIRLOCK" verify --root root3.cbor --root-update root4.cbor --release rel.cbor
done_ok
