#!/usr/bin/env bash
# F12 (a): kill -9 the server in the middle of a burst of device reports,
# restart it, and prove that
#  - every report the server acknowledged (2xx) is stored exactly once;
#  - retrying every report (acknowledged or not) stores nothing twice: an
#    acknowledged one is answered "duplicate";
#  - each device's deployment state is the one its stored reports imply
#    (states only move forward), and the admin API agrees with the database;
#  - the audit log has exactly one device.state entry per stored report,
#    verifies with `airlock audit verify`, also against a checkpoint saved
#    before the crash, and extends the pre-crash export unchanged.
# Usage: test_server_crash.sh [sqlite|postgres]
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
. "$HERE/lib_fleet.sh"
T0=$SECONDS
DEVICES=4          # enrolled devices
WORKERS=2          # concurrent reporting processes per device
PER_WORKER=150     # reports per process
init_server
start_server

# ---- a fleet with one deployment per device ----
release_up v2 1
for i in $(seq 1 $DEVICES); do
	enroll "d$i" board-a
	deploy device "d$i"
	echo "$DEP" >"d$i.dep"
	checkin "d$i"
	[ -s release.cbor ] || die "d$i was offered no release"
done
[ "$(sql "SELECT COUNT(*) FROM device_deployments WHERE state = 'pending'")" = $DEVICES ] || die "not all pending"; pass

# ---- a checkpoint saved before the crash ----
api POST /api/v1/audit/checkpoint; expect 200
api GET /api/v1/audit; expect 200
cp body.json before.json
"$AIRLOCK" audit checkpoint --file before.json --key srv/audit.pub --out saved.json >/dev/null || die "checkpoint save"
pass

# ---- the burst ----
# One curl process per worker sends its reports one after the other over
# one keep-alive connection; each report's status is written with its
# event id. States ramp downloading -> installing -> rebooting, so the
# crash lands at some intermediate state.
python3 - "$DEVICES" "$WORKERS" "$PER_WORKER" "$URL" <<'PY'
import json, sys
devices, workers, per, url = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
for d in range(1, devices + 1):
    dep = int(open(f"d{d}.dep").read())
    for w in range(1, workers + 1):
        with open(f"burst-d{d}-w{w}.cfg", "w") as f:
            for k in range(per):
                state = ("downloading", "installing", "rebooting")[3 * k // per]
                eid = f"d{d}-w{w}-{k:04d}"
                body = json.dumps({"event_id": eid, "deployment": dep, "state": state, "progress": k % 101})
                f.write(f'url = "{url}/api/v1/device/events"\n')
                f.write('cacert = "srv/fleet-ca.crt"\n')
                f.write(f'cert = "d{d}.crt"\nkey = "d{d}.key"\n')
                f.write('header = "Content-Type: application/json"\n')
                f.write('data-binary = "%s"\n' % body.replace('"', '\\"'))
                f.write(f'write-out = "d{d} {eid} %{{http_code}}\\n"\n')
                f.write('output = "/dev/null"\nsilent\nmax-time = 10\n')
                if k + 1 < per:
                    f.write("next\n")
PY
TOTAL=$((DEVICES * WORKERS * PER_WORKER))
burst() {  # burst SUFFIX: runs every worker; results in burst-*.SUFFIX
	local pids=() f
	for f in burst-*.cfg; do
		# line-buffered: curl's stdout to a file is otherwise flushed only at
		# exit, and the kill below would wait for answers it cannot see
		stdbuf -oL curl -K "$f" >"${f%.cfg}.$1" 2>/dev/null &
		pids+=($!)
	done
	BURST_PIDS=("${pids[@]}")
}
acked() { cat burst-*."$1" 2>/dev/null | awk '$3 ~ /^2/' | wc -l; }
burst run1
# kill -9 once a quarter of the reports were acknowledged: surely mid-burst
for _ in $(seq 300); do
	[ "$(acked run1)" -ge $((TOTAL / 4)) ] && break
	sleep 0.05
done
kill -9 "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null
SERVER_PID=
wait "${BURST_PIDS[@]}"
cat burst-*.run1 >run1.txt
ACKED=$(awk '$3 ~ /^2/' run1.txt | wc -l)
LOST=$(awk '$3 == "000"' run1.txt | wc -l)
[ "$(wc -l <run1.txt)" = $TOTAL ] || die "burst: $(wc -l <run1.txt) results for $TOTAL reports"
awk '$3 ~ /^5/' run1.txt | grep -q . && die "5xx during the burst: $(awk '$3 ~ /^5/' run1.txt | head -3)"
[ "$ACKED" -gt 0 ] || die "nothing acknowledged before the kill"
[ "$LOST" -gt 0 ] || die "the kill did not interrupt the burst"
awk '$3 !~ /^(2..|000)$/' run1.txt | grep -q . && die "unexpected answers: $(awk '$3 !~ /^(2..|000)$/' run1.txt | head -3)"
echo "burst: $TOTAL reports, $ACKED acknowledged, $LOST unanswered (killed)"; pass

# ---- restart: every acknowledged report is there, once ----
restart_server
sql "SELECT device_id, event_id, COUNT(*) FROM events GROUP BY device_id, event_id" >stored1.txt
python3 - <<'PY' || die "acknowledged reports missing"
stored = {}
for line in open("stored1.txt"):
    dev, eid, n = line.strip().split("|")
    stored[(dev, eid)] = int(n)
bad = [l for l in open("run1.txt") if l.split()[2].startswith("2")
       and stored.get((l.split()[0], l.split()[1])) != 1]
if bad:
    print("acknowledged but not stored exactly once:", bad[:5])
    raise SystemExit(1)
extra = [k for k, n in stored.items() if n != 1]
if extra:
    print("stored more than once:", extra[:5])
    raise SystemExit(1)
print(f"after restart: {len(stored)} reports stored, every acknowledged one among them")
PY
pass

# ---- retry everything: acknowledged ones are duplicates, nothing doubles ----
for f in burst-*.cfg; do curl -K "$f" >"${f%.cfg}.run2" 2>/dev/null; done
cat burst-*.run2 >run2.txt
python3 - <<'PY' || die "retry"
r1 = {tuple(l.split()[:2]): l.split()[2] for l in open("run1.txt")}
r2 = {tuple(l.split()[:2]): l.split()[2] for l in open("run2.txt")}
assert len(r2) == len(r1), "retry results missing"
bad = [(k, r1[k], r2[k]) for k in r1 if r2[k] not in ("200", "201") or (r1[k].startswith("2") and r2[k] != "200")]
if bad:
    print("bad retry answers (id, first, retry):", bad[:5])
    raise SystemExit(1)
PY
pass
for i in $(seq 1 $DEVICES); do
	n=$(sql "SELECT COUNT(*) FROM events WHERE device_id = 'd$i'")
	[ "$n" = $((WORKERS * PER_WORKER)) ] || die "d$i: $n reports stored, $((WORKERS * PER_WORKER)) sent"
done; pass

# ---- deployment states follow the stored reports ----
check_states() {
	sql "SELECT device_id, state FROM events" >ev.txt
	sql "SELECT device_id, state FROM device_deployments" >dd.txt
	python3 - <<'PY' || die "deployment states inconsistent"
rank = {"pending": 0, "downloading": 1, "installing": 2, "rebooting": 3, "succeeded": 4, "failed": 4, "rolled-back": 4}
best = {}
for l in open("ev.txt"):
    d, s = l.strip().split("|")
    if d not in best or rank[s] > rank[best[d]]:
        best[d] = s
for l in open("dd.txt"):
    d, s = l.strip().split("|")
    want = best.get(d, "pending")
    if s != want:
        print(f"{d}: deployment state {s}, reports imply {want}")
        raise SystemExit(1)
PY
}
check_states; pass
for i in $(seq 1 $DEVICES); do
	api GET "/api/v1/devices/d$i"; expect 200
done
# every device reports success once (and once more: a retry)
for i in $(seq 1 $DEVICES); do
	for code in 201 200; do
		dev "d$i" POST /api/v1/device/events "{\"event_id\":\"done-$i\",\"deployment\":$(cat d$i.dep),\"state\":\"succeeded\"}"
		expect $code
	done
done
check_states; pass
api GET /api/v1/deployments; expect 200
python3 -c "
import json
d = json.load(open('body.json'))['deployments']
assert len(d) == $DEVICES and all(x['succeeded'] == 1 and x['pending'] == 0 for x in d), d
" || die "deployments API: $(cat body.json)"; pass

# ---- the audit log: one entry per stored report, intact, consistent ----
api POST /api/v1/audit/checkpoint; expect 200
api GET /api/v1/audit; expect 200
cp body.json after.json
"$AIRLOCK" audit verify --file after.json --key srv/audit.pub >verify.txt || die "audit verify: $(cat verify.txt)"; pass
"$AIRLOCK" audit verify --file after.json --key srv/audit.pub --checkpoint saved.json >verify.txt ||
	die "audit verify against the pre-crash checkpoint: $(cat verify.txt)"
grep -q 'saved checkpoint saved.json .* matches' verify.txt || die "saved checkpoint not checked: $(cat verify.txt)"; pass
sql "SELECT device_id, COUNT(*) FROM events WHERE deployment_id IS NOT NULL GROUP BY device_id" >ev_count.txt
python3 - <<'PY' || die "audit log and events disagree"
import json
before = json.load(open("before.json"))["entries"]
after = json.load(open("after.json"))["entries"]
# the log after the crash extends the one exported before it, unchanged
assert after[:len(before)] == before, "pre-crash entries changed"
audited = {}
for e in after:
    if e["action"] == "device.state":
        audited[e["actor"]] = audited.get(e["actor"], 0) + 1
for l in open("ev_count.txt"):
    d, n = l.strip().split("|")
    if audited.get("device:" + d, 0) != int(n):
        print(f"{d}: {n} reports stored, {audited.get('device:' + d, 0)} audited")
        raise SystemExit(1)
PY
pass
[ $((SECONDS - T0)) -lt 60 ] || die "took $((SECONDS - T0)) s (bound: 60 s)"
echo "crash test: $((SECONDS - T0)) s"
done_ok
