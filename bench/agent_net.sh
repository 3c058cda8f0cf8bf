#!/usr/bin/env bash
# Benchmark (not a test): airlockd's end-to-end network install of a large
# encrypted image over loopback TLS against the real airlock-server, side by
# side in the same run with `curl -o /dev/null` fetching the same artifact
# from the same server with the device's client certificate (the ceiling).
#
#   BUILD=build-rel bash bench/agent_net.sh        # SIZE_MB=512 RUNS=3 by default
#
# Per run: a fresh device state (slot b zeroed, v1 provisioned in slot a),
# `airlockd checkin` installs v2 (download, decrypt, verify every chunk,
# write, fsync, arm) and must exit 10 with slot b holding v2; then curl
# fetches the artifact. Prints medians, the time ratio and airlockd's peak RSS,
# and writes them to bench/results/agent.txt (section "agent_net").
set -u
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$SRC/build}
case $BUILD in /*) ;; *) BUILD=$SRC/$BUILD ;; esac
export AIRLOCK=${AIRLOCK:-$BUILD/airlock} AIRLOCK_SERVER=${AIRLOCK_SERVER:-$BUILD/airlock-server}
export AIRLOCKD=${AIRLOCKD:-$BUILD/agent/airlockd} AIRLOCK_SRC=$SRC
SIZE_MB=${SIZE_MB:-512}
RUNS=${RUNS:-3}
OUT=${OUT:-$SRC/bench/results/agent.txt}
for b in "$AIRLOCK" "$AIRLOCK_SERVER" "$AIRLOCKD"; do [ -x "$b" ] || { echo "no $b (set BUILD)" >&2; exit 2; }; done
. "$SRC/tests/agent/lib.sh"   # real server on 127.0.0.1, release helpers; cleans up on exit

init_server
start_server_pub
mkdir -p dev
cat >dev/airlockd.conf <<EOF
[server]
url = https://127.0.0.1:$PORT
ca = $WORK/srv/fleet-ca.crt
cert = $WORK/dev/device.crt
key = $WORK/dev/device.key

[device]
id = bench-1
hardware = board-a
root = $WORK/srv/root.cbor
state_dir = $WORK/dev/state
wrap_key = $WORK/dev/wrap.key

[slots]
backend = file
a = $WORK/dev/slot-a.img
b = $WORK/dev/slot-b.img
capacity = $((SIZE_MB + 1))M

[boot]
backend = sim
record = $WORK/dev/boot.rec

[agent]
log = $WORK/dev/agent.log
syslog = false
EOF
api POST /api/v1/enroll-tokens '{"hardware":"board-a","ttl":600}'
"$AIRLOCKD" --config dev/airlockd.conf enroll --token "$(json 'd["token"]')" >/dev/null || die "enroll"

echo "making a ${SIZE_MB} MiB encrypted release..." >&2
head -c 1000000 /dev/urandom >v1.img
head -c $((SIZE_MB * 1024 * 1024)) /dev/urandom >v2.img
make_release v1 1.0 1 v1.img
make_release v2 2.0 2 v2.img --encrypt --recipient srv/content.pub
push_release v2
deploy "$DIGEST" bench-1
ART=$(sha256sum rel/v2/rootfs.enc | cut -d' ' -f1)
ART_BYTES=$(stat -c %s rel/v2/rootfs.enc)

fresh_device() {
	rm -rf dev/state dev/boot.rec dev/slot-a.img dev/slot-b.img
	"$AIRLOCKD" --config dev/airlockd.conf provision --release rel/v1/r.cbor --image v1.img >/dev/null 2>&1 ||
		die "provision"
	truncate -s $((SIZE_MB * 1024 * 1024 + 1048576)) dev/slot-b.img
	sync
}
field() { awk -F': ' -v k="$1" '$0 ~ k {print $2}' "$2"; }
ns() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", (b - a) / 1e9}'; }   # wall seconds between two date +%s%N
median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

: >agent.runs
: >curl.runs
load0=$(cut -d' ' -f1-3 /proc/loadavg)   # the machine is shared: say how busy it was
for r in $(seq "$RUNS"); do
	fresh_device
	t0=$(date +%s%N)
	/usr/bin/time -v -o agent.time env AIRLOCK_BOOT_SLOT=a "$AIRLOCKD" --config dev/airlockd.conf checkin \
		>agent.out 2>&1
	rc=$?
	t1=$(date +%s%N)
	[ "$rc" = 10 ] || die "airlockd checkin: exit $rc $(tail -3 agent.out)"
	cmp -s -n $((SIZE_MB * 1024 * 1024)) dev/slot-b.img v2.img || die "slot b does not hold v2"
	echo "$(ns "$t0" "$t1") $(field 'Maximum resident' agent.time)" >>agent.runs
	# the ceiling: the same bytes, the same TLS, the same server, no work on them
	# (after the check-in: the server serves a device only what is deployed to it)
	t0=$(date +%s%N)
	/usr/bin/time -v -o curl.time curl -s -o /dev/null -w '%{http_code} %{size_download}' --cacert srv/fleet-ca.crt \
		--cert dev/device.crt --key dev/device.key "$URL/api/v1/artifacts/$ART" >curl.out 2>&1
	t1=$(date +%s%N)
	[ "$(cat curl.out)" = "200 $ART_BYTES" ] || die "curl: $(cat curl.out)"
	echo "$(ns "$t0" "$t1") $(field 'Maximum resident' curl.time)" >>curl.runs

	echo "run $r: curl $(tail -1 curl.runs), airlockd $(tail -1 agent.runs) (s, KiB)" >&2
done

a_t=$(cut -d' ' -f1 agent.runs | median)
c_t=$(cut -d' ' -f1 curl.runs | median)
a_rss=$(cut -d' ' -f2 agent.runs | median)
a_rss_max=$(cut -d' ' -f2 agent.runs | sort -n | tail -1)
c_rss=$(cut -d' ' -f2 curl.runs | median)
ratio=$(awk -v a="$a_t" -v c="$c_t" 'BEGIN {printf "%.2f", a / c}')
report=$(
	echo "== agent_net: ${SIZE_MB} MiB encrypted image over loopback TLS, $RUNS runs, $(date -u +%Y-%m-%d) =="
	echo "artifact: $ART_BYTES bytes (ciphertext); slot: file; server: airlock-server (SQLite) on 127.0.0.1"
	echo "cpus: $(nproc); load average (1, 5, 15 min) before the runs: $load0, after: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "curl -o /dev/null (ceiling):  median $c_t s, peak RSS median $c_rss KiB   runs: $(cut -d' ' -f1 curl.runs | tr '\n' ' ')"
	echo "airlockd checkin (install):   median $a_t s, peak RSS median $a_rss KiB (max $a_rss_max)   runs: $(cut -d' ' -f1 agent.runs | tr '\n' ' ')"
	echo "install time / curl time: ${ratio}x (target <= 1.15x)"
	echo "airlockd peak RSS: $(awk -v k="$a_rss" 'BEGIN {printf "%.1f", k / 1024}') MiB (target <= 8 MiB)"
)
echo "$report"
mkdir -p "$(dirname "$OUT")"
python3 - "$OUT" "agent_net" <<PY
import sys, re
path, name = sys.argv[1], sys.argv[2]
new = """$report""".rstrip() + "\n"
try:
    old = open(path).read()
except FileNotFoundError:
    old = ""
parts = [p for p in re.split(r"(?m)^(?=== )", old) if p.strip() and not p.startswith("== " + name + ":")]
open(path, "w").write("".join(p.rstrip() + "\n\n" for p in parts) + new)
PY
