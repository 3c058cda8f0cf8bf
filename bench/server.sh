#!/usr/bin/env bash
# Benchmark of airlock-server against nginx, one load generator for both
# (bench/loadgen.c: keep-alive mutual TLS, epoll, many connections), all on
# 127.0.0.1 in one run:
#   (a) check-ins, closed loop, max rate at $CONNS connections: airlock on
#       SQLite, on PostgreSQL, and nginx answering a static body of the same
#       bytes (a real check-in answer) with client certificates required;
#   (b) check-ins, open loop at $RATE/s for $OPEN_S s (latency from the
#       scheduled send time) on SQLite and on PostgreSQL (nginx alongside);
#   (c) download of a $DL_MIB MiB artifact (a release payload pushed through
#       the admin API) from airlock and the same file from nginx.
# The check-in measured is the common one: a device with no deployment,
# answered by a signed "nothing to do" directive (same work for every
# device that is up to date). Each scenario runs $RUNS times, interleaved
# (airlock, then nginx, then again), so ratios come from the same round;
# the summary gives medians. Writes bench/results/server.txt.
#
#   bench/server.sh            the full run (about 9 minutes)
#   QUICK=1 bench/server.sh    short runs, to try the set-up
# Environment: BUILD_DIR (default: scripts/build, then build/), CONNS
# (1000), DURATION (10 s per closed-loop run), WARMUP (2 s), RATE (3400),
# OPEN_S (30), DL_MIB (1024), RUNS (3), DEVICES (16 enrolled devices share
# the connections), LG_THREADS (1: the load generator's threads; the machine
# has two cores, shared by client and server), SCENARIOS ("a b c"), KEEP=1
# (keep the temporary directory and the PostgreSQL cluster, to profile).
# Only a full run (no QUICK, all scenarios) writes bench/results/server.txt.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
if [ -z "${BUILD_DIR:-}" ]; then
	"$root/scripts/build" >/dev/null
	BUILD_DIR=$root/build
fi
B=$(cd "$BUILD_DIR" && pwd)
AIRLOCK=$B/airlock
SERVER=$B/airlock-server
LOADGEN=$B/bench/loadgen
for f in "$AIRLOCK" "$SERVER" "$LOADGEN"; do [ -x "$f" ] || { echo "missing $f (build first)" >&2; exit 1; }; done
command -v nginx >/dev/null || { echo "nginx is not installed (scripts/setup)" >&2; exit 1; }

CONNS=${CONNS:-1000}
DEVICES=${DEVICES:-16}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
RATE=${RATE:-3400}
OPEN_S=${OPEN_S:-30}
DL_MIB=${DL_MIB:-1024}
RUNS=${RUNS:-3}
LG_THREADS=${LG_THREADS:-1}
if [ "${QUICK:-0}" = 1 ]; then
	DURATION=3 WARMUP=1 OPEN_S=5 DL_MIB=128 RUNS=1
fi
# 1,000 connections need more descriptors than the usual 1,024, in the
# servers and in the load generator alike.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge $((CONNS + 200)) ] || { echo "ulimit -n $(ulimit -n) is too low for $CONNS connections" >&2; exit 1; }

W=$(mktemp -d /tmp/airlock-bench.XXXXXX)
chmod 0755 "$W"
PIDS=()
PG_DIR=
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
	if [ "${KEEP:-0}" = 1 ]; then
		echo "kept $W (PostgreSQL still running: scripts/pg-tmp stop $PG_DIR)" >&2
		return
	fi
	[ -n "$PG_DIR" ] && "$root/scripts/pg-tmp" stop "$PG_DIR" >/dev/null 2>&1 || true
	rm -rf "$W"
}
trap cleanup EXIT
cd "$W"
RAW=$W/raw.jsonl
: >"$RAW"
log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }
die() { echo "bench: $*" >&2; exit 1; }

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# ---- airlock-server ----

# setup_airlock NAME [PG_CONNINFO]: init NAME/, with the limits of a
# benchmark: all clients come from 127.0.0.1, so the per-address limit
# (64 by default, against a slowloris or one greedy client) is raised
# above the connection count.
setup_airlock() {
	local name=$1 pg=${2:-}
	"$SERVER" init "$name" ${pg:+--postgres "$pg"} >"$name.init" 2>&1 || { cat "$name.init"; die "init $name"; }
	# PostgreSQL: a request holds its MHD thread through each round trip
	# to the database, so the threads (and the pool behind them) set how
	# many check-ins are in the database at once; 4 of each is SQLite's
	# right size (one writer, in process), too few for a server process
	if [ -n "$pg" ]; then
		sed -i 's/^threads = .*/threads = 16/; s/^\[database\]$/[database]\npool = 16/' "$name/server.conf"
	fi
	cat >>"$name/server.conf" <<-EOF

	[limits]
	max_connections = $((CONNS * 2 + 64))
	max_per_ip = $((CONNS * 2 + 64))
	EOF
	sed -n 's/^  admin token:  \([^ ]*\).*/\1/p' "$name.init" >"$name.admin"
	[ -s "$name.admin" ] || die "$name: no admin token"
}

# start_airlock NAME: sets URL and PID_NAME
start_airlock() {
	local name=$1 port
	port=$(free_port)
	"$SERVER" --config "$name/server.conf" --listen "127.0.0.1:$port" >>"$name.log" 2>&1 &
	PIDS+=($!)
	SRV_PID=$!
	LG_PID=$!
	URL=https://127.0.0.1:$port
	for _ in $(seq 200); do
		curl -s --cacert "$name/fleet-ca.crt" "$URL/healthz" >/dev/null 2>&1 && return 0
		kill -0 "$SRV_PID" 2>/dev/null || { tail "$name.log"; die "$name exited"; }
		sleep 0.05
	done
	die "$name did not come up"
}

stop_pid() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null || true; }

api() {  # api NAME METHOD PATH [JSON]: admin call, body in api.json
	local name=$1 method=$2 path=$3 data=${4:-}
	curl -s -o api.json -w '%{http_code}' --cacert "$name/fleet-ca.crt" -X "$method" \
		-H "Authorization: Bearer $(cat "$name.admin")" -H 'Content-Type: application/json' \
		${data:+--data-binary "$data"} "$URL$path"
}

# enroll NAME DEV: DEV.key, DEV.crt (P-256, as the tests' devices)
enroll() {
	local name=$1 dev=$2 tok wrap
	[ "$(api "$name" POST /api/v1/enroll-tokens '{"hardware":"bench-hw","ttl":600}')" = 201 ] || die "enroll token: $(cat api.json)"
	tok=$(python3 -c 'import json; print(json.load(open("api.json"))["token"])')
	[ -f "$dev.key" ] || openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dev.key" 2>/dev/null
	openssl req -new -key "$dev.key" -subj /CN=ignored -out "$dev.csr" 2>/dev/null
	[ -f "$dev-wrap.pub" ] || "$AIRLOCK" key generate --alg x25519 --out "$dev-wrap" >/dev/null
	wrap=$(openssl pkey -pubin -in "$dev-wrap.pub" -outform DER | tail -c 32 | od -An -tx1 | tr -d ' \n')
	python3 - "$tok" "$dev" "$dev.csr" "$wrap" >enroll.json <<-'PY'
	import json, sys
	print(json.dumps({"token": sys.argv[1], "device_id": sys.argv[2], "csr": open(sys.argv[3]).read(), "wrap_key": sys.argv[4]}))
	PY
	[ "$(curl -s -o api.json -w '%{http_code}' --cacert "$name/fleet-ca.crt" -H 'Content-Type: application/json' \
		--data-binary @enroll.json "$URL/api/v1/enroll")" = 201 ] || die "enroll: $(cat api.json)"
	python3 -c 'import json; print(json.load(open("api.json"))["certificate"], end="")' >"$name-$dev.crt"
}

CHECKIN_BODY='{"nonce":"@NONCE@","security_version":0,"version":"1.0","slot_state":"good"}'

# ---- nginx ----

# setup_nginx: a config in nginx/ serving checkin.json (the bytes of a
# real check-in answer) and the artifact file, with the airlock server's
# certificate and key, client certificates required from the fleet CA,
# TLS 1.2/1.3 with the same AEAD-only policy, keep-alive limits raised.
setup_nginx() {
	local src=$1 port
	port=$(free_port)
	mkdir -p nginx/logs nginx/tmp nginx/www/api/v1/device nginx/www/api/v1/artifacts
	cp "$src/server.crt" "$src/fleet-ca.crt" nginx/
	install -m 0600 "$src/server.key" nginx/server.key
	cat >nginx/nginx.conf <<-EOF
	worker_processes auto;
	worker_rlimit_nofile 65536;
	pid $W/nginx/nginx.pid;
	error_log $W/nginx/logs/error.log warn;
	events { worker_connections $((CONNS * 2 + 64)); use epoll; multi_accept on; }
	http {
	    access_log $W/nginx/logs/access.log;
	    client_body_temp_path $W/nginx/tmp/body;
	    proxy_temp_path $W/nginx/tmp/proxy;
	    fastcgi_temp_path $W/nginx/tmp/fastcgi;
	    uwsgi_temp_path $W/nginx/tmp/uwsgi;
	    scgi_temp_path $W/nginx/tmp/scgi;
	    sendfile on;
	    keepalive_requests 100000000;
	    keepalive_timeout 30s;   # airlock-server's [limits] idle_timeout
	    server {
	        listen 127.0.0.1:$port ssl;
	        server_name localhost;
	        ssl_certificate $W/nginx/server.crt;
	        ssl_certificate_key $W/nginx/server.key;
	        ssl_client_certificate $W/nginx/fleet-ca.crt;
	        ssl_verify_client on;
	        ssl_protocols TLSv1.2 TLSv1.3;
	        ssl_ciphers ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256;
	        ssl_prefer_server_ciphers on;
	        ssl_ecdh_curve X25519:prime256v1:secp384r1;
	        ssl_session_tickets off;
	        ssl_session_cache off;
	        root $W/nginx/www;
	        location = /api/v1/device/checkin {
	            # the static answer, from memory, as fast as nginx goes
	            default_type application/json;
	            return 200 '$(cat checkin.json)';
	        }
	        location /api/v1/artifacts/ { default_type application/octet-stream; }
	    }
	}
	EOF
	NGINX_URL=https://127.0.0.1:$port
	if [ "$(id -u)" = 0 ]; then
		chown -R nobody nginx
		AS_NGINX=(runuser -u nobody --)
	else
		AS_NGINX=()
	fi
}

start_nginx() {
	"${AS_NGINX[@]}" nginx -p "$W/nginx" -c "$W/nginx/nginx.conf" -g 'daemon off;' 2>>nginx/logs/stderr.log &
	PIDS+=($!)
	NGINX_PID=$!
	LG_PID=$!
	for _ in $(seq 200); do
		curl -s -o /dev/null --cacert "$SQ/fleet-ca.crt" --cert "$SQ-dev1.crt" --key dev1.key "$NGINX_URL/" && return 0
		kill -0 "$NGINX_PID" 2>/dev/null || { cat nginx/logs/*; die "nginx exited"; }
		sleep 0.05
	done
	die "nginx did not come up"
}

# ---- the load ----

# tree_cpu PID: CPU seconds (user + system) of PID and its descendants
tree_cpu() {
	python3 - "$1" <<-'PY'
	import os, sys
	kids, cpu = {}, {}
	for p in os.listdir("/proc"):
	    if not p.isdigit(): continue
	    try: f = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
	    except OSError: continue
	    kids.setdefault(int(f[1]), []).append(int(p)); cpu[int(p)] = int(f[11]) + int(f[12])
	todo, total = [int(sys.argv[1])], 0
	while todo:
	    p = todo.pop(); total += cpu.get(p, 0); todo += kids.get(p, [])
	print(total / os.sysconf("SC_CLK_TCK"))
	PY
}

# lg LABEL URL CA CERTS KEYS [loadgen args...]: one loadgen run against
# the server $LG_PID, its JSON line (with the server's CPU time over the
# run) appended to raw.jsonl and echoed.
lg() {
	local label=$1 url=$2 ca=$3 certs=$4 keys=$5
	shift 5
	local out c0 c1 t0 t1
	c0=$(tree_cpu "$LG_PID")
	t0=$(date +%s.%N)
	out=$("$LOADGEN" --url "$url" --cacert "$ca" --cert "$certs" --key "$keys" --threads "$LG_THREADS" \
		--label "$label" "$@") || die "loadgen $label failed"
	t1=$(date +%s.%N)
	c1=$(tree_cpu "$LG_PID")
	out=$(python3 -c 'import json,sys; a=[float(x) for x in sys.argv[2:]]; d=json.loads(sys.argv[1]); d["server_cpu_s"]=round(a[1]-a[0],2); d["wall_s"]=round(a[3]-a[2],2); print(json.dumps(d))' \
		"$out" "$c0" "$c1" "$t0" "$t1")
	echo "$out" >>"$RAW"
	python3 - "$out" <<-'PY' >&2
	import json, sys
	d = json.loads(sys.argv[1]); l = d["latency_ms"]
	cpu = f'  server {d["server_cpu_s"] / d["wall_s"]:.2f} cores' if d["wall_s"] else ""
	extra = f' {d["mb_per_s"]:.0f} MB/s' if d["bytes"] > 1e8 else ''
	print(f'  {d["label"]:<28} {d["rate"]:>9.0f} req/s  p50 {l["p50"]:7.2f}  p99 {l["p99"]:7.2f}  max {l["max"]:7.1f} ms'
	      f'  errors {d["errors"]}{extra}{cpu}')
	if d["errors"]: print("    errors:", json.dumps(d["errors_by_kind"]))
	PY
}

checkin_lg() {  # checkin_lg LABEL URL CA CERTS KEYS [args]
	local label=$1 url=$2
	shift 2
	lg "$label" "$url/api/v1/device/checkin" "$@" --method POST --header 'Content-Type: application/json' \
		--body "$CHECKIN_BODY"
}

# ==== set-up ====
log "set-up in $W: $CONNS connections, ${DURATION}s closed loop, $RATE/s open loop for ${OPEN_S}s, $DL_MIB MiB download, $RUNS rounds"
SQ=sq
setup_airlock $SQ
start_airlock $SQ
SQ_URL=$URL
for i in $(seq "$DEVICES"); do enroll $SQ "d$i"; done
cp $SQ-d1.crt $SQ-dev1.crt
cp d1.key dev1.key
SQ_CERTS=$(seq -f "$SQ-d%g.crt" -s, "$DEVICES")
KEYS=$(seq -f "d%g.key" -s, "$DEVICES")

# a real "nothing to do" answer: its size is what nginx serves
nonce=$(openssl rand -hex 16)
code=$(curl -s -o checkin.json -w '%{http_code}' --cacert $SQ/fleet-ca.crt --cert $SQ-dev1.crt --key dev1.key \
	-H 'Content-Type: application/json' --data-binary "${CHECKIN_BODY/@NONCE@/$nonce}" "$URL/api/v1/device/checkin")
[ "$code" = 200 ] || die "check-in: $code $(cat checkin.json)"
CHECKIN_BYTES=$(stat -c %s checkin.json)
log "check-in answer: $CHECKIN_BYTES bytes (nothing to do)"

# the download: a release with one plain payload, pushed, uploaded and
# deployed to a second device (dev1 stays on "nothing to do")
head -c $((DL_MIB * 1024 * 1024)) /dev/urandom >payload.img
"$AIRLOCK" release create --out rel.cbor --product bench --hardware bench-hw --version 2.0 --security-version 1 \
	--payload rootfs=payload.img >/dev/null || die "release create"
"$AIRLOCK" release sign rel.cbor --key $SQ/dev-keys/release.key >/dev/null || die "release sign"
python3 -c "import json,base64; print(json.dumps({'release':base64.b64encode(open('rel.cbor','rb').read()).decode()}))" >push.json
[ "$(api $SQ POST /api/v1/releases @push.json)" = 201 ] || die "push: $(cat api.json)"
DIGEST=$(python3 -c 'import json; print(json.load(open("api.json"))["digest"])')
upload() {  # upload FILE NAME
	curl -s -o api.json -w '%{http_code}' --cacert $SQ/fleet-ca.crt -X PUT -H "Authorization: Bearer $(cat $SQ.admin)" \
		-H 'Content-Type: application/octet-stream' -T "$1" "$URL/api/v1/releases/$DIGEST/payloads/$2"
}
chunks=$(ls -- *.chunks 2>/dev/null | head -1 || true)
[ "$(upload payload.img rootfs)" = 201 ] || die "upload: $(cat api.json)"
ART=$(python3 -c 'import json; print(json.load(open("api.json"))["sha256"])')
if [ -n "$chunks" ]; then
	[ "$(upload "$chunks" rootfs/chunks)" = 201 ] || die "upload chunks: $(cat api.json)"
fi
enroll $SQ dev2
[ "$(api $SQ POST /api/v1/deployments "{\"release\":\"$DIGEST\",\"target_kind\":\"device\",\"target\":\"dev2\"}")" = 201 ] ||
	die "deploy: $(cat api.json)"
# the device learns of it by checking in (that assigns the artifact to it)
code=$(curl -s -o install.json -w '%{http_code}' --cacert $SQ/fleet-ca.crt --cert $SQ-dev2.crt --key dev2.key \
	-H 'Content-Type: application/json' --data-binary "${CHECKIN_BODY/@NONCE@/$nonce}" "$URL/api/v1/device/checkin")
[ "$code" = 200 ] && grep -q '"release"' install.json || die "install check-in: $code $(cat install.json)"
log "check-in answer with an install directive: $(stat -c %s install.json) bytes"
ART_FILE=$(find $SQ/data -type f -name "*$ART*" | head -1)
[ -n "$ART_FILE" ] && [ "$(stat -c %s "$ART_FILE")" = $((DL_MIB * 1024 * 1024)) ] || die "artifact file not found"
rm -f payload.img
stop_pid "$SRV_PID"

# PostgreSQL: a throwaway cluster for this run
PG_DIR=$W/pg
PG=$("$root/scripts/pg-tmp" start "$PG_DIR") || die "pg-tmp start"
PQ=pq
setup_airlock $PQ "$PG"
start_airlock $PQ
PQ_URL=$URL
for i in $(seq "$DEVICES"); do enroll $PQ "d$i"; done
PQ_CERTS=$(seq -f "$PQ-d%g.crt" -s, "$DEVICES")
stop_pid "$SRV_PID"

grep -q "[\\'\$]" checkin.json && die "the check-in answer has characters an nginx string would change"
setup_nginx $SQ
ln "$ART_FILE" "nginx/www/api/v1/artifacts/$ART" 2>/dev/null || cp "$ART_FILE" "nginx/www/api/v1/artifacts/$ART"
[ "$(id -u)" = 0 ] && chown -R nobody nginx
start_nginx
code=$(curl -s -o ng.json -w '%{http_code}' --cacert $SQ/fleet-ca.crt --cert $SQ-dev1.crt --key dev1.key \
	-X POST -H 'Content-Type: application/json' --data-binary "${CHECKIN_BODY/@NONCE@/$nonce}" "$NGINX_URL/api/v1/device/checkin")
[ "$code" = 200 ] && cmp -s ng.json checkin.json || die "nginx check-in answer: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert $SQ/fleet-ca.crt "$NGINX_URL/api/v1/device/checkin")
[ "$code" = 400 ] || die "nginx without a client certificate answered $code, not 400"
stop_pid "$NGINX_PID"

# ==== (a) closed loop at $CONNS connections ====
SCENARIOS=${SCENARIOS:-a b c}
A_ARGS=(--connections "$CONNS" --duration "$DURATION" --warmup "$WARMUP")
for r in $(seq "$RUNS"); do
	[[ " $SCENARIOS " == *" a "* ]] || break
	log "(a) round $r: max rate, $CONNS connections"
	start_airlock $SQ; checkin_lg "a$r.airlock-sqlite" "$URL" $SQ/fleet-ca.crt "$SQ_CERTS" "$KEYS" "${A_ARGS[@]}"; stop_pid "$SRV_PID"
	start_airlock $PQ; checkin_lg "a$r.airlock-postgres" "$URL" $PQ/fleet-ca.crt "$PQ_CERTS" "$KEYS" "${A_ARGS[@]}"; stop_pid "$SRV_PID"
	start_nginx; checkin_lg "a$r.nginx" "$NGINX_URL" $SQ/fleet-ca.crt "$SQ_CERTS" "$KEYS" "${A_ARGS[@]}"; stop_pid "$NGINX_PID"
done

# ==== (b) open loop, $RATE check-ins/s ====
B_ARGS=(--connections "$CONNS" --duration "$OPEN_S" --warmup "$WARMUP" --rate "$RATE")
if [[ " $SCENARIOS " == *" b "* ]]; then
log "(b) open loop: $RATE/s for ${OPEN_S}s over $CONNS connections"
start_airlock $SQ; checkin_lg "b.airlock-sqlite" "$URL" $SQ/fleet-ca.crt "$SQ_CERTS" "$KEYS" "${B_ARGS[@]}"; stop_pid "$SRV_PID"
start_airlock $PQ; checkin_lg "b.airlock-postgres" "$URL" $PQ/fleet-ca.crt "$PQ_CERTS" "$KEYS" "${B_ARGS[@]}"; stop_pid "$SRV_PID"
start_nginx; checkin_lg "b.nginx" "$NGINX_URL" $SQ/fleet-ca.crt "$SQ_CERTS" "$KEYS" "${B_ARGS[@]}"; stop_pid "$NGINX_PID"
fi

# ==== (c) download of the artifact ====
log "(c) download: $DL_MIB MiB, one connection"
C_ARGS=(--connections 1 --requests 1 --duration 120 --timeout 120)
# the file in the page cache for both
cat "$ART_FILE" >/dev/null
# a 1 GiB download lasts about 2 s: more rounds, against the noise
C_RUNS=$((RUNS > 5 ? RUNS : 5))
[ "${QUICK:-0}" = 1 ] && C_RUNS=1
for r in $(seq "$C_RUNS"); do
	[[ " $SCENARIOS " == *" c "* ]] || break
	start_airlock $SQ
	lg "c$r.airlock" "$URL/api/v1/artifacts/$ART" $SQ/fleet-ca.crt $SQ-dev2.crt dev2.key "${C_ARGS[@]}"
	stop_pid "$SRV_PID"
	start_nginx
	lg "c$r.nginx" "$NGINX_URL/api/v1/artifacts/$ART" $SQ/fleet-ca.crt $SQ-dev2.crt dev2.key "${C_ARGS[@]}"
	stop_pid "$NGINX_PID"
done

# ==== summary ====
mkdir -p "$root/bench/results"
OUT=$root/bench/results/server.txt
if [ "${QUICK:-0}" = 1 ] || [ "$SCENARIOS" != "a b c" ]; then OUT=$W/summary.txt; fi
python3 - "$RAW" "$CONNS" "$DURATION" "$RATE" "$OPEN_S" "$DL_MIB" "$RUNS" "$CHECKIN_BYTES" "$LG_THREADS" <<-'PY' | tee "$OUT"
import json, statistics, sys, os
raw, conns, dur, rate, open_s, dl, runs, nbytes, lgt = sys.argv[1:]
rows = [json.loads(l) for l in open(raw)]
by = {r["label"]: r for r in rows}
med = statistics.median
def pick(prefix, name):
    return [r for r in rows if r["label"].startswith(prefix) and r["label"].endswith("." + name)]
print(f"airlock-server benchmark ({os.uname().nodename}, {os.cpu_count()} cores shared with client and other work)")
print(f"check-in answer: {nbytes} bytes ('nothing to do', signed directive); loadgen threads: {lgt}")
print()
print(f"(a) closed loop, {conns} keep-alive mutual-TLS connections, {dur} s per run, {runs} rounds (medians)")
print(f"    {'server':<18} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'errors':>7} {'ratio':>6}")
ng = pick("a", "nginx")
for name in ("airlock-sqlite", "airlock-postgres", "nginx"):
    rs = pick("a", name)
    if not rs: continue
    ratios = [r["rate"] / n["rate"] for r, n in zip(rs, ng) if n["rate"] > 0]
    print(f"    {name:<18} {med([r['rate'] for r in rs]):>9.0f} {med([r['latency_ms']['p50'] for r in rs]):>8.2f}"
          f" {med([r['latency_ms']['p99'] for r in rs]):>8.2f} {med([r['latency_ms']['max'] for r in rs]):>8.1f}"
          f" {sum(r['errors'] for r in rs):>7} {med(ratios):>6.2f}")
print("    ratio: airlock / nginx in the same round, median; per round: " +
      "; ".join(name + ": " + ", ".join("%.2f" % (r["rate"] / n["rate"]) for r, n in zip(pick("a", name), ng))
                for name in ("airlock-sqlite", "airlock-postgres")))
print()
print(f"(b) open loop, {rate} check-ins/s for {open_s} s over {conns} connections (latency from the scheduled time)")
print(f"    {'server':<18} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'p99.9 ms':>8} {'max ms':>8} {'errors':>7} {'unfinished':>10}")
for name in ("airlock-sqlite", "airlock-postgres", "nginx"):
    r = by.get("b." + name)
    if not r: continue
    l = r["latency_ms"]
    print(f"    {name:<18} {r['rate']:>9.0f} {l['p50']:>8.2f} {l['p99']:>8.2f} {l['p999']:>8.2f} {l['max']:>8.1f}"
          f" {r['errors']:>7} {r['unfinished']:>10}")
print()
print(f"(c) download of a {dl} MiB artifact over one connection, {len(pick('c', 'airlock'))} rounds (medians)")
ca, cn = pick("c", "airlock"), pick("c", "nginx")
if ca and cn:
    print(f"    airlock {med([r['mb_per_s'] for r in ca]):.0f} MB/s, nginx {med([r['mb_per_s'] for r in cn]):.0f} MB/s,"
          f" ratio {med([a['mb_per_s'] / n['mb_per_s'] for a, n in zip(ca, cn)]):.2f}"
          " (per round: " + ", ".join("%.2f" % (a["mb_per_s"] / n["mb_per_s"]) for a, n in zip(ca, cn)) + ")")
print()
tls = sorted({(r["label"].split(".", 1)[1].split("-")[0], r["tls"]["version"], r["tls"]["cipher"]) for r in rows})
print("TLS negotiated: " + "; ".join(f"{n}: {v} {c}" for n, v, c in tls))
print()
print("raw loadgen results:")
for r in rows:
    print(json.dumps(r))
PY
log "done: $OUT"
