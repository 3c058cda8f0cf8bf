# Helpers for airlockd's integration tests: a real airlock-server on
# 127.0.0.1 (tests/server/lib.sh), real mutual TLS, a real device agent with
# file slots and the sim boot record, and an optional man in the middle
# (mitm.py) between them.
set -u
AIRLOCKD=${AIRLOCKD:?set AIRLOCKD to the airlockd binary}
SRC=${AIRLOCK_SRC:?set AIRLOCK_SRC to the source tree}
set -- sqlite
. "$SRC/tests/server/lib.sh"
MITM_PID=

agent_cleanup() {
	if [ -n "${AGENT_TEST_VERBOSE:-}" ]; then
		cat "$WORK/dev/agent.log" "$WORK/mitm.log" 2>/dev/null | cut -c1-300
	fi
	[ -n "$MITM_PID" ] && kill "$MITM_PID" 2>/dev/null && wait "$MITM_PID" 2>/dev/null
	cleanup
}
trap agent_cleanup EXIT

adie() {
	echo "FAIL: $*" >&2
	[ -f dev/agent.log ] && tail -15 dev/agent.log >&2
	[ -f mitm.log ] && tail -5 mitm.log >&2
	die "see above"
}

# start_server_pub: like start_server, with the directive URLs pointing at
# $PUB_PORT (the server itself, or the man in the middle in front of it).
start_server_pub() {
	PORT=$(free_port)
	PUB_PORT=${1:-$PORT}
	URL="https://127.0.0.1:$PORT"
	sed -i "/^public_url/d; s|^\[server\]$|[server]\npublic_url = https://127.0.0.1:$PUB_PORT|" srv/server.conf
	"$SERVER" --config srv/server.conf --listen "127.0.0.1:$PORT" >>server.log 2>&1 &
	SERVER_PID=$!
	for _ in $(seq 100); do
		curl -s --cacert srv/fleet-ca.crt "$URL/healthz" >/dev/null 2>&1 && return 0
		kill -0 "$SERVER_PID" 2>/dev/null || die "server exited"
		sleep 0.1
	done
	die "server did not come up"
}

# start_mitm: the man in the middle on $MITM_PORT, forwarding to $PORT as dev1.
start_mitm() {
	echo pass >mitm.mode
	python3 "$SRC/tests/agent/mitm.py" "$MITM_PORT" "$PORT" srv/server.crt srv/server.key srv/fleet-ca.crt \
		dev1.crt dev1.key mitm.mode mitm.log 2>>mitm.err &
	MITM_PID=$!
	for _ in $(seq 100); do
		curl -s --cacert srv/fleet-ca.crt "https://127.0.0.1:$MITM_PORT/healthz" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	die "mitm did not come up: $(cat mitm.err)"
}
mitm() { echo "$1" >mitm.mode; }

# make_release NAME VERSION SV FILE [extra release-create args]: signed rel/NAME.cbor
make_release() {
	local name=$1 version=$2 sv=$3 file=$4
	shift 4
	mkdir -p "rel/$name"
	local hw=()
	for h in ${HW:-board-a}; do hw+=(--hardware "$h"); done
	"$AIRLOCK" release create --out "rel/$name/r.cbor" --product gw "${hw[@]}" --version "$version" \
		--security-version "$sv" --payload "rootfs=$file" --chunk-size 65536 "$@" >/dev/null || die "create $name"
	cp "rel/$name/r.cbor" "rel/$name/unsigned.cbor"
	"$AIRLOCK" release sign "rel/$name/r.cbor" --key srv/dev-keys/release.key >/dev/null || die "sign $name"
	cp "$file" "rel/$name/rootfs.img"
}

# push_release NAME: pushes rel/NAME and uploads its artifacts; sets DIGEST
push_release() {
	local name=$1 d=rel/$1 art
	python3 - "$d/r.cbor" >push.json <<'PY'
import base64, json, os, sys
d = {"release": base64.b64encode(open(sys.argv[1], "rb").read()).decode()}
if os.path.exists(sys.argv[1] + ".keys"):
    d["keys"] = base64.b64encode(open(sys.argv[1] + ".keys", "rb").read()).decode()
print(json.dumps(d))
PY
	api POST /api/v1/releases @push.json
	[ "$STATUS" = 201 ] || [ "$STATUS" = 200 ] || die "push $name: $STATUS $(cat body.json)"
	DIGEST=$(json 'd["digest"]')
	art=$d/rootfs.enc
	[ -f "$art" ] || art=$d/rootfs.img
	for up in "$art:rootfs" "$d/rootfs.chunks:rootfs/chunks"; do
		STATUS=$(curl -s -o body.json -w '%{http_code}' --cacert srv/fleet-ca.crt -X PUT -H "Authorization: Bearer $ADMIN" \
			--data-binary @"${up%%:*}" "$URL/api/v1/releases/$DIGEST/payloads/${up#*:}")
		[ "$STATUS" = 201 ] || [ "$STATUS" = 200 ] || die "upload ${up#*:} of $name: $STATUS $(cat body.json)"
	done
}

# deploy DIGEST DEVICE: sets DEP
deploy() {
	api POST /api/v1/deployments "{\"release\":\"$1\",\"target_kind\":\"device\",\"target\":\"$2\"}"
	[ "$STATUS" = 201 ] || die "deploy: $STATUS $(cat body.json)"
	DEP=$(json 'd["id"]')
}

# device_state DEP: the per-device state of a deployment, as the server has it
dep_counts() {
	api GET /api/v1/deployments
	json "[(x['pending'],x['succeeded'],x['failed']) for x in d['deployments'] if x['id']==$1][0]"
}

# make_device URL_PORT|'': dev/airlockd.conf (no [server] section for ''), for dev1 (enrolled), file slots of 32 MiB
make_device() {
	mkdir -p dev
	: >dev/airlockd.conf
	[ -n "$1" ] && cat >dev/airlockd.conf <<EOF
[server]
url = https://127.0.0.1:$1
ca = $WORK/srv/fleet-ca.crt
cert = $WORK/dev1.crt
key = $WORK/dev1.key

EOF
	cat >>dev/airlockd.conf <<EOF
[device]
hardware = board-a
root = $WORK/srv/root.cbor
state_dir = $WORK/dev/state
wrap_key = $WORK/dev1-wrap.key

[slots]
backend = file
a = $WORK/dev/slot-a.img
b = $WORK/dev/slot-b.img
capacity = 32M

[boot]
backend = sim
record = $WORK/dev/boot.rec

[health]
command = ${HEALTH:-true}
timeout = 5

[agent]
log = $WORK/dev/agent.log
syslog = false
checkin_interval = 2
min_rate = 1024
rate_window = 3
connect_timeout = 5
EOF
	chmod 600 dev1-wrap.key
	[ -f dev1.key ] && chmod 600 dev1.key
	return 0
}

# agent SLOT ARGS...: runs airlockd as the boot stage would start it on SLOT; sets RC
agent() {
	local slot=$1
	shift
	AIRLOCK_BOOT_SLOT=$slot timeout 120 "$AIRLOCKD" --config dev/airlockd.conf "$@" >agent.out 2>&1
	RC=$?
}

# expect_log ERROR_NAME: the agent's log names that error
expect_log() {
	grep -q "\"error\":\"AIRLOCK_ERR_$1\"" dev/agent.log || adie "log has no AIRLOCK_ERR_$1"
	pass
}

# snapshot / unchanged: the running slot's bytes and the boot record are
# byte-identical, and the update state says the good slot is still the one
# running, with the same anti-rollback counter and nothing armed. (The
# state file itself is rewritten by a refused install: its generation counts.)
snapshot() {
	sha256sum dev/slot-a.img dev/boot.rec >snap.txt
	"$AIRLOCKD" --config dev/airlockd.conf status --json >snap.json || adie "status"
}
unchanged() {
	sha256sum -c --quiet snap.txt || adie "running slot or boot record changed"
	"$AIRLOCKD" --config dev/airlockd.conf status --json >now.json || adie "status"
	python3 - <<'PY' || adie "device state changed: $(cat now.json)"
import json
a, b = json.load(open("snap.json")), json.load(open("now.json"))
assert b["update_state"] in ("IDLE", "INSTALLING"), b["update_state"]
for k in ("security_version", "root_version", "boot"):
    assert a[k] == b[k], (k, a[k], b[k])
assert a["slots"][0] == b["slots"][0]
assert not b["slots"][1]["valid"] or a["slots"][1] == b["slots"][1]
PY
	pass
}

# events_of DEVICE: the device's recorded events (error strings) from the audit export
server_told() {  # server_told ERROR_NAME
	api GET /api/v1/audit
	grep -q "$1" body.json && { pass; return; }
	sqlite3 srv/data/airlock.db "SELECT error FROM events WHERE device_id = 'dev1'" | grep -q "$1" ||
		adie "server has no report of $1"
	pass
}
