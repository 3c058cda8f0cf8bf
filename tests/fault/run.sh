#!/bin/bash
# Power-cut sweep wrapper: makes a one-key fleet and two signed releases with
# the real airlock CLI (v1: the factory image, v2: the update, 2 MiB each in
# 4 KiB chunks, half of v2's chunks equal to v1's), then runs fault-sweep
# with the given arguments. Environment (set by CTest): AIRLOCK, AIRLOCK_BOOT,
# FAULT_DEVICE, FAULT_SWEEP. FAULT_IMAGE_KIB overrides the image size.
set -eu
: "${AIRLOCK:?}" "${AIRLOCK_BOOT:?}" "${FAULT_DEVICE:?}" "${FAULT_SWEEP:?}"
# tmpfs when there is one: the power-cut model needs no real fsync (the
# process dies, the kernel does not), and thousands of fsyncs on a disk
# would make the sweep slow.
if [ -d /dev/shm ] && [ -w /dev/shm ]; then WORK=$(mktemp -d /dev/shm/airlock-fault.XXXXXX); else WORK=$(mktemp -d); fi
trap '[ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
cd "$WORK"
mkdir data
q() { "$@" >/dev/null 2>err.txt || { cat err.txt >&2; echo "FAIL: $*" >&2; exit 1; }; }

for k in root rel dir; do q "$AIRLOCK" key generate --alg ed25519 --out $k; done
q "$AIRLOCK" root create --out data/root.cbor --expires +365d --root-key root.pub --root-threshold 1 \
	--release-key rel.pub --release-threshold 1 --director-key dir.pub
q "$AIRLOCK" root sign data/root.cbor --key root.key
echo fault-board-1 > data/hardware

python3 - "${FAULT_IMAGE_KIB:-2048}" <<'PY'
import random, sys
kib = int(sys.argv[1])
r = random.Random(20261130)
v1 = bytearray(r.getrandbits(8) for _ in range(kib * 1024))
v2 = bytearray(v1)
for c in range(0, kib // 4, 2):          # every other 4 KiB chunk changes
    off = c * 4096
    v2[off:off + 4096] = bytes(r.getrandbits(8) for _ in range(4096))
open('data/v1.img', 'wb').write(v1)
open('data/v2.img', 'wb').write(v2)
PY

mkdir -p art1 art2
for v in 1 2; do
	q "$AIRLOCK" release create --out data/v$v.cbor --product fault-demo --hardware fault-board-1 \
		--version $v.0 --security-version $v --payload rootfs=data/v$v.img --chunk-size 4096 --artifacts art$v
	q "$AIRLOCK" release sign data/v$v.cbor --key rel.key
done
cp art2/rootfs.chunks data/v2.chunks

"$FAULT_SWEEP" --data "$WORK/data" --work "$WORK" --boot "$AIRLOCK_BOOT" --device-tool "$FAULT_DEVICE" "$@"
