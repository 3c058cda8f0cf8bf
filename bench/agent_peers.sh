#!/usr/bin/env bash
# Benchmark (not a test): Airlock's offline install beside SWUpdate, RAUC and
# Mender, in one run. The peers run through ../shared/peers/run_all.sh (they
# install from Debian with apt-get, build signed artifacts around two 32 MiB
# payloads and install them into 64 MiB file-backed slots); then airlockd
# installs the very same payloads (make_payloads from the peers' common.sh)
# from Airlock bundles into a 64 MiB file slot:
#   - signed plain and signed+encrypted releases, 64 KiB chunks, REPEAT runs
#     each, timed and RSS-measured with the peers' own helper (`timed`);
#   - a tampered payload byte (the peers' flip_payload_byte, 16 MiB + 123 in):
#     airlockd must refuse, and every byte of the slot must be either its
#     old content or the genuine payload at that offset, in whole verified
#     chunks before the tampered one (not one unverified byte written);
#   - installed size measured like the peers' <agent>-sizes.tsv (bin_sizes:
#     binary plus non-glibc shared libraries), with and without the libcurl
#     that airlockd opens for network installs.
#
#   BUILD=build-rel bash bench/agent_peers.sh      (env: REPEAT=3, PEERS=dir, SKIP_PEERS=1)
#
# Prints the medians and ratios and writes them to bench/results/agent.txt
# (section "agent_peers"); raw TSVs go to $OUT_DIR (default a temp dir, kept).
set -u
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$SRC/build}
case $BUILD in /*) ;; *) BUILD=$SRC/$BUILD ;; esac
AIRLOCK=${AIRLOCK:-$BUILD/airlock}
AIRLOCK_SERVER=${AIRLOCK_SERVER:-$BUILD/airlock-server}
AIRLOCKD=${AIRLOCKD:-$BUILD/agent/airlockd}
PEERS=${PEERS:-$SRC/../shared/peers}
[ -d "$PEERS" ] || PEERS=/work/shared/peers
RESULT_FILE=${RESULT_FILE:-$SRC/bench/results/agent.txt}
export OUT_DIR=${OUT_DIR:-$(mktemp -d /tmp/airlock-bench-peers.XXXXXX)}
for b in "$AIRLOCK" "$AIRLOCK_SERVER" "$AIRLOCKD"; do [ -x "$b" ] || { echo "no $b (set BUILD)" >&2; exit 2; }; done

# ---- the peers, first, in this same run ----
if [ -z "${SKIP_PEERS:-}" ]; then
	OUT_DIR=$OUT_DIR/peers bash "$PEERS/run_all.sh" || echo "peers: some checks failed (see $OUT_DIR/peers)" >&2
fi

AGENT=airlock
. "$PEERS/common.sh"
T=$(mktemp -d /tmp/airlock-bench.XXXXXX)
trap 'rm -rf "$T"' EXIT
init_results
cd "$T" || exit 1
make_payloads "$T"

# ---- a release setup (development keys) and a device template ----
"$AIRLOCK_SERVER" init srv >init.txt 2>&1 || die "server init: $(cat init.txt)"
"$AIRLOCK" key generate --alg x25519 --out wrap >/dev/null || die "wrap key"
chmod 600 wrap.key
release() {  # release NAME VERSION SV FILE [args]: rel/NAME/r.cbor (signed), its .enc and .chunks beside it
	local n=$1 v=$2 sv=$3 f=$4
	shift 4
	mkdir -p "rel/$n"
	"$AIRLOCK" release create --out "rel/$n/r.cbor" --product gw --hardware board-a --version "$v" \
		--security-version "$sv" --payload "rootfs=$f" --chunk-size 65536 "$@" >/dev/null &&
		"$AIRLOCK" release sign "rel/$n/r.cbor" --key srv/dev-keys/release.key >/dev/null || die "release $n"
}
mkdir -p rel
head -c 1000000 /dev/urandom >v1.img
release v1 1.0 1 v1.img
conf() {  # conf DIR
	cat <<EOF
[device]
hardware = board-a
root = $T/srv/root.cbor
state_dir = $1/state
wrap_key = $T/wrap.key

[slots]
backend = file
a = $1/slot-a.img
b = $1/slot-b.img
capacity = 64M

[boot]
backend = sim
record = $1/boot.rec

[agent]
log = $1/agent.log
syslog = false
EOF
}
mkdir -p tmpl
conf "$T/dev" >tmpl/airlockd.conf
mkdir -p dev && cp tmpl/airlockd.conf dev/
"$AIRLOCKD" --config dev/airlockd.conf provision --release rel/v1/r.cbor --image v1.img >/dev/null 2>&1 || die "provision"
rm -rf tmpl && mv dev tmpl
fresh() {  # a device as it left the factory; slot b as the peers' new_slot (zeros)
	rm -rf dev && cp -a tmpl dev
	new_slot dev/slot-b.img
}

# ---- bundles: plain and encrypted, both payloads ----
bundle() {  # bundle NAME ARTIFACT: NAME.bundle, its build time in NAME.build_s
	local t0
	t0=$(date +%s%N)
	"$AIRLOCK" bundle create --root srv/root.cbor --release "rel/$1/r.cbor" --payload "rootfs=$2" \
		--out "$1.bundle" >/dev/null || die "bundle $1"
	awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN {printf "%.3f", (b - a) / 1e9}' >"$1.build_s"
}
for p in random libs; do
	release "$p-plain" 2.0 2 "$p.img"
	release "$p-enc" 2.0 2 "$p.img" --encrypt --recipient wrap.pub
	bundle "$p-plain" "$p.img"
	bundle "$p-enc" "rel/$p-enc/rootfs.enc"
done

# ---- installs: REPEAT runs per (variant, payload) ----
for v in plain enc; do
	for p in random libs; do
		walls=() rss=0
		for r in $(seq 1 "$REPEAT"); do
			fresh
			timed "install-$v-$p-$r" env AIRLOCK_BOOT_SLOT=a "$AIRLOCKD" --config dev/airlockd.conf install "$p-$v.bundle"
			check "airlockd installs $p ($v) run $r" [ "$RC" = 0 ]
			check "slot b holds $p ($v) run $r" slot_matches "$p.img" dev/slot-b.img
			walls+=("$WALL_S")
			[ "${RSS_KB:-0}" -gt "$rss" ] && rss=$RSS_KB
		done
		size=$(stat -c %s "$p-$v.bundle")
		result_row airlock "bundle-$v" "$p" "$size" "$((size - PAYLOAD_SIZE))" "$(cat "$p-$v.build_s")" \
			"$(printf '%s\n' "${walls[@]}" | median)" "$(IFS=,; echo "${walls[*]}")" "$rss" ""
	done
done

# ---- a tampered payload byte: refused, and no unverified byte in the slot ----
# Every 64 KiB chunk of the slot must be either untouched (zeros, as
# new_slot left it) or the genuine payload's chunk, and the tampered chunk
# and everything after it untouched.
verified_only() {  # verified_only SLOT PAYLOAD: prints "genuine_chunks=N"
	python3 - "$1" "$2" "$FLIP_AT" <<'PY'
import sys
slot, pay, flip = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read(), int(sys.argv[3])
C = 65536
bad = flip // C
genuine = 0
for i in range((len(slot) + C - 1) // C):
    s = slot[i * C:(i + 1) * C]
    if s == bytes(len(s)):
        continue
    if i < bad and s == pay[i * C:(i + 1) * C]:
        genuine += 1
        continue
    print("chunk %d holds bytes that are neither the old content nor the verified payload" % i)
    sys.exit(1)
print("genuine_chunks=%d" % genuine)
PY
}
for v in plain enc; do
	fresh
	where=$(flip_payload_byte "random-$v.bundle" "tampered-$v.bundle" random.img)
	timed "tamper-$v" env AIRLOCK_BOOT_SLOT=a "$AIRLOCKD" --config dev/airlockd.conf install "tampered-$v.bundle"
	check "airlockd refuses a tampered payload byte ($v)" [ "$RC" = 1 ]
	err=$(grep -o 'AIRLOCK_ERR_[A-Z_]*' "$T/logs/tamper-$v.log" | head -1)
	vo=$(verified_only dev/slot-b.img random.img) || vo="UNVERIFIED: $vo"
	check "no unverified byte in slot b ($v): $vo" [ "${vo#genuine_chunks=}" != "$vo" ]
	"$AIRLOCKD" --config dev/airlockd.conf status --json >st.json 2>/dev/null
	check "nothing armed after the refusal ($v)" python3 -c "import json; d = json.load(open('st.json')); assert not d['boot']['pending'] and d['boot']['active'] == 'a'"
	result_row airlock "tamper:bundle-$v" random "$(stat -c %s "tampered-$v.bundle")" "" "" "$WALL_S" "" "$RSS_KB" \
		"rc=$RC;error=$err;flipped=$where;slot_b=$vo;$(slot_state dev/slot-b.img)"
done

# ---- installed size, as the peers measure it ----
strip -o "$T/airlockd" "$AIRLOCKD"
CURL_SO=$(ldconfig -p | awk '/libcurl\.so\.4 .*x86-64/ {print $NF; exit}')
bin_sizes "airlockd(stripped)+libcurl(dlopen)" "$T/airlockd" "$CURL_SO"
bin_sizes "airlockd(stripped), offline only" "$T/airlockd"

# ---- the comparison ----
PEER_TSV=$OUT_DIR/peers/all-results.tsv
summary=$(python3 - "$RESULTS" "$PEER_TSV" "$SIZES" "$OUT_DIR/peers/all-sizes.tsv" <<'PY'
import sys, csv, os
ours, peers_p, sizes_p, psizes_p = sys.argv[1:5]
def rows(p):
    if not os.path.exists(p):
        return []
    return [r for r in csv.reader(open(p), delimiter="\t")][1:]
def num(x):
    try: return float(x)
    except ValueError: return None
mine = rows(ours)
peers = [r for r in rows(peers_p) if len(r) > 8 and num(r[6]) is not None and r[7] and r[2] in ("random", "libs")]
# SWUpdate's client waits ~1 s after the work is done: its harness records the
# real work as work_done_s_median, and that is the figure compared (the peers'
# README does the same).
for r in peers:
    for kv in r[9].split(";") if len(r) > 9 else []:
        if kv.startswith("work_done_s_median="):
            r[6] = kv.split("=")[1]
            r[1] += " (real work)"
print("peer installs (median of runs, this run):")
for r in peers:
    print("  %-9s %-34s %-6s %6.3f s  peak RSS %s KB" % (r[0], r[1], r[2], num(r[6]), r[8]))
print("airlock installs (median of runs, this run):")
for r in mine:
    if r[1].startswith("bundle-"):
        print("  %-9s %-34s %-6s %6.3f s  peak RSS %s KB" % (r[0], r[1], r[2], num(r[6]), r[8]))
print("ratios to the fastest peer per payload (target <= 0.6):")
for p in ("random", "libs"):
    cand = [(num(r[6]), r[0] + " " + r[1]) for r in peers if r[2] == p]
    if not cand:
        print("  %s: no peer figure in this run" % p); continue
    best = min(cand)
    for r in mine:
        if r[1].startswith("bundle-") and r[2] == p:
            print("  %-6s airlock %-13s %.3f s / %s %.3f s = %.2fx" % (p, r[1], num(r[6]), best[1], best[0], num(r[6]) / best[0]))
rss = max(int(r[8]) for r in mine if r[1].startswith("bundle-"))
print("airlockd peak RSS (max over installs): %d KiB = %.1f MiB (target <= 8 MiB)" % (rss, rss / 1024))
if peers:
    print("smallest peer peak RSS: %s KB (%s)" % min((int(r[8]), r[0] + " " + r[1]) for r in peers if r[8].isdigit()))
for r in mine:
    if r[1].startswith("tamper:"):
        print("tampered (%s): %s" % (r[1], r[9]))
print("installed size (binary + non-glibc shared libraries):")
for path in (sizes_p, psizes_p):
    if os.path.exists(path):
        for line in open(path):
            f = line.rstrip("\n").split("\t")
            tot = [x for x in f if x.startswith("total_bytes=")]
            if tot:
                print("  %-50s %6.1f MB" % (f[0], int(tot[0].split("=")[1]) / 1e6))
PY
)
echo "$summary"
finish; ok=$?
report="== agent_peers: Airlock offline install beside SWUpdate, RAUC, Mender, REPEAT=$REPEAT, $(date -u +%Y-%m-%d) ==
$(cat "$OUT_DIR/peers/versions.txt" 2>/dev/null | head -3)
$summary
checks: $(grep -c '^PASS' "$CHECKS") passed, $(grep -c '^FAIL' "$CHECKS") failed; raw TSVs in $OUT_DIR"
mkdir -p "$(dirname "$RESULT_FILE")"
python3 - "$RESULT_FILE" "agent_peers" "$report" <<'PY'
import sys, re
path, name, new = sys.argv[1], sys.argv[2], sys.argv[3].rstrip() + "\n"
try:
    old = open(path).read()
except FileNotFoundError:
    old = ""
parts = [p for p in re.split(r"(?m)^(?=== )", old) if p.strip() and not p.startswith("== " + name + ":")]
open(path, "w").write("".join(p.rstrip() + "\n\n" for p in parts) + new)
PY
exit $ok
