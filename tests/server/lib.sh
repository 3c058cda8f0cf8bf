# Helpers for the server integration tests: a real airlock-server on
# 127.0.0.1 with real TLS, driven with curl and the airlock CLI.
set -u
AIRLOCK=${AIRLOCK:?set AIRLOCK to the airlock binary}
SERVER=${AIRLOCK_SERVER:?set AIRLOCK_SERVER to the airlock-server binary}
BACKEND=${1:-sqlite}
WORK=$(mktemp -d)
SERVER_PID=
checks=0

cleanup() {
	[ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
cd "$WORK"

die() {
	echo "FAIL: $*" >&2
	if [ -f server.log ]; then
		# a sanitizer report is the whole story: print it, not just the tail
		if grep -q 'ERROR: \(Address\|Leak\|UndefinedBehavior\)Sanitizer\|runtime error:' server.log; then
			grep -A60 -m1 'ERROR: \(Address\|Leak\|UndefinedBehavior\)Sanitizer\|runtime error:' server.log >&2
		else
			tail -20 server.log >&2
		fi
	fi
	exit 1
}
pass() { checks=$((checks + 1)); }

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# init_server [INIT_OPTIONS...]: a development setup in srv/, on the chosen backend.
init_server() {
	local extra=("$@")
	if [ "$BACKEND" = postgres ]; then
		if [ -z "${AIRLOCK_TEST_PG:-}" ]; then
			[ "${AIRLOCK_REQUIRE_PG:-0}" = 1 ] && die "postgres backend needs AIRLOCK_TEST_PG"
			echo "skipped: no AIRLOCK_TEST_PG (scripts/test provides one)"
			exit 77
		fi
		# a fresh database per run in the shared throwaway cluster
		local db="airlock_t$$_$RANDOM"
		psql "$AIRLOCK_TEST_PG" -qc "CREATE DATABASE $db" >/dev/null || die "cannot create database"
		extra+=(--postgres "$(sed "s/dbname=[^ ]*/dbname=$db/" <<<"$AIRLOCK_TEST_PG")")
	fi
	"$SERVER" init srv "${extra[@]}" >init.txt 2>&1 || { cat init.txt; die "init failed"; }
	ADMIN=$(sed -n 's/^  admin token:  \([^ ]*\).*/\1/p' init.txt)
	[ -n "$ADMIN" ] || die "no admin token printed"
}

start_server() {
	PORT=$(free_port)
	URL="https://127.0.0.1:$PORT"
	"$SERVER" --config srv/server.conf --listen "127.0.0.1:$PORT" >>server.log 2>&1 &
	SERVER_PID=$!
	for _ in $(seq 100); do
		curl -s --cacert srv/fleet-ca.crt "$URL/healthz" >/dev/null 2>&1 && return 0
		kill -0 "$SERVER_PID" 2>/dev/null || die "server exited"
		sleep 0.1
	done
	die "server did not come up"
}

stop_server() {
	kill "$SERVER_PID" && wait "$SERVER_PID"
	SERVER_PID=
}

# api METHOD PATH [JSON] : admin call with $TOKEN (default $ADMIN); sets STATUS and writes body.json
api() {
	local method=$1 path=$2 data=${3:-}
	local tok=${TOKEN:-$ADMIN}
	if [ -n "$data" ]; then
		STATUS=$(curl -s -o body.json -w '%{http_code}' --cacert srv/fleet-ca.crt -X "$method" \
			-H "Authorization: Bearer $tok" -H 'Content-Type: application/json' --data-binary "$data" "$URL$path")
	else
		STATUS=$(curl -s -o body.json -w '%{http_code}' --cacert srv/fleet-ca.crt -X "$method" \
			-H "Authorization: Bearer $tok" "$URL$path")
	fi
}

# dev NAME METHOD PATH [JSON]: a device call with NAME's client certificate
dev() {
	local name=$1 method=$2 path=$3 data=${4:-}
	STATUS=$(curl -s -o body.json -w '%{http_code}' --cacert srv/fleet-ca.crt --cert "$name.crt" --key "$name.key" \
		-X "$method" -H 'Content-Type: application/json' ${data:+--data-binary "$data"} "$URL$path")
}

expect() {  # expect STATUS [ERROR_CODE]
	[ "$STATUS" = "$1" ] || die "expected HTTP $1, got $STATUS: $(cat body.json)"
	if [ $# -ge 2 ]; then
		grep -q "\"error\": *\"$2\"" body.json || die "expected error $2: $(cat body.json)"
	fi
	pass
}

json() { python3 -c "import json,sys; d=json.load(open('body.json')); print($1)"; }

# enroll NAME HARDWARE: makes NAME.key/.crt and NAME-wrap.key via the enrollment API
enroll() {
	local name=$1 hw=$2
	api POST /api/v1/enroll-tokens "{\"hardware\":\"$hw\",\"ttl\":600}"
	expect 201
	local tok
	tok=$(json 'd["token"]')
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$name.key" 2>/dev/null
	openssl req -new -key "$name.key" -subj "/CN=ignored" -out "$name.csr" 2>/dev/null
	"$AIRLOCK" key generate --alg x25519 --out "$name-wrap" >/dev/null
	local wrap
	wrap=$(openssl pkey -pubin -in "$name-wrap.pub" -outform DER | tail -c 32 | od -An -tx1 | tr -d ' \n')
	python3 - "$tok" "$name" "$name.csr" "$wrap" >enroll.json <<'PY'
import json, sys
print(json.dumps({"token": sys.argv[1], "device_id": sys.argv[2], "csr": open(sys.argv[3]).read(), "wrap_key": sys.argv[4]}))
PY
	STATUS=$(curl -s -o body.json -w '%{http_code}' --cacert srv/fleet-ca.crt -H 'Content-Type: application/json' \
		--data-binary @enroll.json "$URL/api/v1/enroll")
	expect 201
	json 'd["certificate"]' >"$name.crt"
}

# checkin NAME [RELEASE_HEX]: writes directive.cbor, release.cbor (if any), NONCE
checkin() {
	local name=$1 rel=${2:-}
	NONCE=$(openssl rand -hex 16)
	dev "$name" POST /api/v1/device/checkin \
		"{\"nonce\":\"$NONCE\",\"security_version\":0${rel:+,\"release\":\"$rel\"}}"
	expect 200
	json 'd["directive"]' | base64 -d >directive.cbor
	rm -f release.cbor
	if json '"release" in d' | grep -q True; then json 'd["release"]' | base64 -d >release.cbor; fi
}

done_ok() { echo "ok: $checks checks ($BACKEND)"; }
