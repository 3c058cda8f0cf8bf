#!/usr/bin/env bash
# Benchmark: verifying a release with a 1 GiB payload against the floor,
# `openssl dgst -sha256` of the same file, side by side in one hyperfine run
# (file in the page cache, warm-up runs, medians). Also the metadata alone,
# in process. Writes the figures to bench/results/verify.txt; docs/benchmarks.md
# quotes them.
#   bench/verify.sh [SIZE_MIB]   (default 1024)
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib=${1:-1024}
runs=${BENCH_RUNS:-10}
scripts/build >/dev/null
A=$(pwd)/build/airlock
out=$(pwd)/bench/results
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

for k in r1 r2 r3 s1 s2 s3 d1; do "$A" key generate --alg ed25519 --out $k >/dev/null; done
"$A" root create --out root.cbor --expires +30d --root-key r1.pub --root-key r2.pub --root-key r3.pub \
	--root-threshold 2 --release-key s1.pub --release-key s2.pub --release-key s3.pub --release-threshold 2 \
	--director-key d1.pub >/dev/null
"$A" root sign root.cbor --key r1.key >/dev/null
"$A" root sign root.cbor --key r2.key >/dev/null
head -c $((size_mib * 1024 * 1024)) /dev/urandom >payload.img
"$A" release create --out rel.cbor --product bench --hardware hw --version 1 --security-version 1 \
	--payload rootfs=payload.img >/dev/null
"$A" release sign rel.cbor --key s1.key >/dev/null
"$A" release sign rel.cbor --key s2.key >/dev/null
# the same payload encrypted, to measure decrypt + verify of the ciphertext too
"$A" key generate --alg x25519 --out srv >/dev/null
mkdir enc
"$A" release create --out enc/rel.cbor --product bench --hardware hw --version 1 --security-version 1 \
	--payload rootfs=payload.img --encrypt --recipient srv.pub >/dev/null
"$A" release sign enc/rel.cbor --key s1.key >/dev/null
"$A" release sign enc/rel.cbor --key s2.key >/dev/null

hyperfine --warmup 2 --runs "$runs" --export-json verify.json \
	-n "openssl dgst -sha256" "openssl dgst -sha256 payload.img" \
	-n "airlock verify" "$A verify --root root.cbor --release rel.cbor --payload rootfs=payload.img" \
	-n "airlock verify (metadata only, whole process)" "$A verify --root root.cbor --release rel.cbor" \
	-n "airlock verify (ciphertext, decrypt + verify)" \
	"$A verify --root root.cbor --release enc/rel.cbor --payload rootfs=enc/rootfs.enc --decrypt-key srv.key --keys enc/rel.cbor.keys" \
	>hyperfine.txt
cat hyperfine.txt
meta=$("$(dirname "$A")/bench/bench_meta" root.cbor rel.cbor 5000)

python3 - "$size_mib" "$meta" >"$out/verify.txt" <<'PY'
import json, sys, statistics
size_mib = int(sys.argv[1])
res = {r["command"]: r for r in json.load(open("verify.json"))["results"]}
dgst = statistics.median(res["openssl dgst -sha256"]["times"])
ver = statistics.median(res["airlock verify"]["times"])
meta = statistics.median(res["airlock verify (metadata only, whole process)"]["times"])
print(f"payload_mib {size_mib}")
print(f"openssl_dgst_median_s {dgst:.3f}")
print(f"airlock_verify_median_s {ver:.3f}")
print(f"ratio_verify_over_dgst {ver / dgst:.3f}")
print(f"throughput_airlock_mib_s {size_mib / ver:.0f}")
print(f"throughput_openssl_mib_s {size_mib / dgst:.0f}")
print(f"metadata_only_process_ms {meta * 1000:.2f}")
dec = statistics.median(res["airlock verify (ciphertext, decrypt + verify)"]["times"])
print(f"decrypt_verify_median_s {dec:.3f}")
print(f"ratio_decrypt_verify_over_dgst {dec / dgst:.3f}")
print(sys.argv[2])
PY
cat "$out/verify.txt"
