#!/usr/bin/env bash
# Prometheus /metrics of the real airlock-server: served only on the plain
# local health listener, in the text exposition format, and every
# application series moves as requests are made: requests by route and
# status class, the latency histogram, check-ins, reports, enrollments,
# downloads (count and bytes), authentication failures by reason, 429s, and
# the fleet gauges read from the database.
# Usage: test_server_metrics.sh [sqlite|postgres]
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
. "$HERE/lib_fleet.sh"
init_server
HPORT=$(free_port)
M="http://127.0.0.1:$HPORT/metrics"
set_conf server health_listen "127.0.0.1:$HPORT"
set_conf limits auth_failures_per_minute 8
start_server

# scrape FILE: the metrics now (after the 1 s cache of the fleet gauges).
scrape() { curl -sS --max-time 5 "$M" >"$1" || die "scrape failed"; }
# val FILE SERIES: the value of one series line, exactly as named.
val() { awk -v k="$2" '$1 == k { print $2; f = 1 } END { if (!f) print "missing" }' "$1"; }
# moved SERIES DELTA: the series grew by exactly DELTA from m0.txt to m1.txt.
moved() {
	local a b
	a=$(val m0.txt "$1"); b=$(val m1.txt "$1")
	[ "$a" != missing ] && [ "$b" != missing ] || die "series $1 missing"
	python3 -c "import sys; sys.exit(0 if round(float('$b') - float('$a'), 6) == float('$2') else 1)" ||
		die "$1: $a -> $b, expected +$2"
	pass
}
is() {  # is FILE SERIES VALUE
	[ "$(val "$1" "$2")" = "$3" ] || die "$2 = $(val "$1" "$2") in $1, expected $3"
	pass
}

# ---- where it is served ----
scrape m.txt
grep -q '^airlock_http_requests_total' m.txt || die "no HTTP layer series"; pass
grep -q '^airlock_requests_total{route="checkin",code="2xx"} 0$' m.txt || die "no application series"; pass
STATUS=$(curl -s -o body.json -w '%{http_code}' --cacert srv/fleet-ca.crt "$URL/metrics"); expect 404 not_found
STATUS=$(curl -s -o body.json -w '%{http_code}' -H "Authorization: Bearer $ADMIN" --cacert srv/fleet-ca.crt "$URL/metrics")
expect 404 not_found
STATUS=$(curl -s -o body.json -w '%{http_code}' "http://127.0.0.1:$HPORT/api/v1/devices"); expect 404
# the text format: HELP and TYPE once per family, then samples
python3 - m.txt <<'PY' || die "not the Prometheus text format"
import re, sys
families, seen = {}, set()
sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*",?)*\})? (-?[0-9.]+(e[+-]?[0-9]+)?|\+Inf|NaN)$')
for line in open(sys.argv[1]):
    line = line.rstrip("\n")
    if line.startswith("# HELP ") or line.startswith("# TYPE "):
        kind, name = line.split()[1:3]
        assert (kind, name) not in seen, "repeated " + line
        seen.add((kind, name))
        if kind == "TYPE":
            families[name] = line.split()[3]
        continue
    m = sample.match(line)
    assert m, "bad line: " + line
    name = m.group(1)
    base = re.sub(r'_(bucket|sum|count)$', '', name) if name not in families else name
    assert base in families, "no TYPE for " + name
    assert ("HELP", base) in seen, "no HELP for " + name
PY
pass
for t in counter histogram gauge; do grep -q "^# TYPE airlock_.* $t\$" m.txt || die "no $t"; done; pass

# ---- a small fleet: enrollment, check-ins, downloads, reports ----
cp m.txt m0.txt
enroll d1 board-a
enroll d2 board-a
python3 -c "import json; print(json.dumps({'token':'ale_nope','device_id':'d9','csr':open('d1.csr').read(),'wrap_key':'00'*32}))" >e.json
STATUS=$(curl -s -o body.json -w '%{http_code}' --cacert srv/fleet-ca.crt --data-binary @e.json "$URL/api/v1/enroll"); expect 401
checkin d1
sleep 1.1
scrape m1.txt
moved 'airlock_enrollments_total{result="ok"}' 2
moved 'airlock_enrollments_total{result="refused"}' 1
moved 'airlock_auth_failures_total{reason="enroll_token"}' 1
moved 'airlock_checkins_total{directive="none"}' 1
moved 'airlock_checkins_total{directive="install"}' 0
moved 'airlock_requests_total{route="enroll",code="2xx"}' 2
moved 'airlock_requests_total{route="enroll",code="4xx"}' 1
moved 'airlock_requests_total{route="admin",code="2xx"}' 2
moved 'airlock_requests_total{route="checkin",code="2xx"}' 1
moved 'airlock_request_duration_seconds_count{route="enroll"}' 3
moved 'airlock_request_duration_seconds_bucket{route="checkin",le="+Inf"}' 1
moved 'airlock_requests_total{route="health",code="2xx"}' 0
is m1.txt 'airlock_devices{status="active"}' 2
is m1.txt 'airlock_deployment_devices{state="pending"}' 0

cp m1.txt m0.txt
release_up v2 1 24000000
deploy device d1
checkin d1
ART_SIZE=$(stat -c %s rel-v2/rootfs.enc)
STATUS=$(curl -s -o got.enc -w '%{http_code}' --cacert srv/fleet-ca.crt --cert d1.crt --key d1.key "$URL/api/v1/artifacts/$ART"); expect 200
STATUS=$(curl -s -o part -w '%{http_code}' -r 0-999 --cacert srv/fleet-ca.crt --cert d1.crt --key d1.key "$URL/api/v1/artifacts/$ART"); expect 206
STATUS=$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: \"$ART\"" --cacert srv/fleet-ca.crt --cert d1.crt --key d1.key "$URL/api/v1/artifacts/$ART"); expect 304
# one download cut off by the client
curl -s -o /dev/null --limit-rate 50k --max-time 1 --cacert srv/fleet-ca.crt --cert d1.crt --key d1.key "$URL/api/v1/artifacts/$ART"
dev d2 GET "/api/v1/artifacts/$ART"; expect 403 forbidden
dev d1 POST /api/v1/device/events "{\"event_id\":\"e1\",\"deployment\":$DEP,\"state\":\"downloading\"}"; expect 201
dev d1 POST /api/v1/device/events "{\"event_id\":\"e1\",\"deployment\":$DEP,\"state\":\"downloading\"}"; expect 200
for _ in $(seq 30); do
	sleep 0.2
	scrape m1.txt
	[ "$(val m1.txt 'airlock_downloads_total{result="aborted"}')" = "$(( $(val m0.txt 'airlock_downloads_total{result="aborted"}') + 1 ))" ] && break
done
sleep 1.1
scrape m1.txt
moved 'airlock_checkins_total{directive="install"}' 1
moved 'airlock_downloads_total{result="complete"}' 2
moved 'airlock_downloads_total{result="aborted"}' 1
moved 'airlock_download_bytes_total' $((ART_SIZE + 1000))
moved 'airlock_requests_total{route="artifact",code="2xx"}' 3
moved 'airlock_requests_total{route="artifact",code="3xx"}' 1
moved 'airlock_requests_total{route="artifact",code="4xx"}' 1
moved 'airlock_requests_total{route="upload",code="2xx"}' 2
moved 'airlock_auth_failures_total{reason="not_assigned"}' 1
moved 'airlock_device_reports_total{result="recorded"}' 1
moved 'airlock_device_reports_total{result="duplicate"}' 1
moved 'airlock_requests_total{route="events",code="2xx"}' 2
is m1.txt 'airlock_deployments{status="active"}' 1
is m1.txt 'airlock_deployment_devices{state="downloading"}' 1
is m1.txt 'airlock_deployment_devices{state="pending"}' 0
# the layer's response bytes count the download too
python3 -c "import sys; sys.exit(0 if float('$(val m1.txt airlock_http_response_bytes_total)') - float('$(val m0.txt airlock_http_response_bytes_total)') >= $ART_SIZE else 1)" ||
	die "airlock_http_response_bytes_total did not grow by the artifact"; pass
# histogram: cumulative buckets, +Inf equals _count
python3 - m1.txt <<'PY' || die "histogram shape"
import re, sys
b = {}
for l in open(sys.argv[1]):
    m = re.match(r'airlock_request_duration_seconds_bucket\{route="(\w+)",le="([^"]+)"\} (\d+)', l)
    if m:
        b.setdefault(m.group(1), []).append(int(m.group(3)))
    m = re.match(r'airlock_request_duration_seconds_count\{route="(\w+)"\} (\d+)', l)
    if m:
        assert b[m.group(1)][-1] == int(m.group(2)), l
for r, v in b.items():
    assert v == sorted(v), r
assert b["artifact"][-1] >= 4
PY
pass

# ---- the state gauge follows the reports; a cancelled deployment leaves it ----
cp m1.txt m0.txt
dev d1 POST /api/v1/device/events "{\"event_id\":\"e2\",\"deployment\":$DEP,\"state\":\"succeeded\"}"; expect 201
sleep 1.1
scrape m1.txt
is m1.txt 'airlock_deployment_devices{state="downloading"}' 0
is m1.txt 'airlock_deployment_devices{state="succeeded"}' 1
api POST "/api/v1/deployments/$DEP/cancel"; expect 200
api POST /api/v1/devices/d2/revoke; expect 200
sleep 1.1
scrape m1.txt
is m1.txt 'airlock_deployment_devices{state="succeeded"}' 0
is m1.txt 'airlock_deployments{status="cancelled"}' 1
is m1.txt 'airlock_devices{status="active"}' 1
is m1.txt 'airlock_devices{status="revoked"}' 1

# ---- authentication failures by reason, then the 429 ----
cp m1.txt m0.txt
STATUS=$(curl -s -o body.json -w '%{http_code}' --cacert srv/fleet-ca.crt -X POST -d '{}' "$URL/api/v1/device/checkin"); expect 401
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout evil.key -out evil.crt -subj /CN=d1 -days 1 2>/dev/null
dev evil POST /api/v1/device/checkin '{"nonce":"00112233445566778899aabbccddeeff","security_version":0}'; expect 403 forbidden
dev d2 POST /api/v1/device/checkin '{"nonce":"00112233445566778899aabbccddeeff","security_version":0}'; expect 403 revoked
TOKEN=ala_bogus api GET /api/v1/devices; expect 401
api POST /api/v1/tokens '{"name":"reader","scopes":"read","ttl":3600}'; expect 201
TOKEN=$(json 'd["token"]') api POST /api/v1/audit/checkpoint; expect 403 forbidden
dev d1 POST /api/v1/device/events '{"event_id":"e3","state":"downloading","device_id":"d2"}'; expect 403 identity_mismatch
# from another address, past auth_failures_per_minute (8): 429
for _ in $(seq 9); do
	curl -s -o /dev/null --interface 127.0.0.2 --cacert srv/fleet-ca.crt -H 'Authorization: Bearer ala_bogus' "$URL/api/v1/devices"
done
STATUS=$(curl -s -o body.json -w '%{http_code}' --interface 127.0.0.2 --cacert srv/fleet-ca.crt "$URL/api/v1/root"); expect 429 too_many_requests
api GET /api/v1/devices; expect 200   # 127.0.0.1 still served
scrape m1.txt
moved 'airlock_auth_failures_total{reason="no_certificate"}' 1
moved 'airlock_auth_failures_total{reason="bad_certificate"}' 1
moved 'airlock_auth_failures_total{reason="revoked_device"}' 1
moved 'airlock_auth_failures_total{reason="bad_token"}' 10
moved 'airlock_auth_failures_total{reason="token_scope"}' 1
moved 'airlock_auth_failures_total{reason="identity_mismatch"}' 1
moved 'airlock_auth_rate_limited_total' 1
moved 'airlock_requests_total{route="root",code="4xx"}' 1
moved 'airlock_requests_total{route="checkin",code="4xx"}' 3
moved 'airlock_requests_total{route="audit",code="4xx"}' 1

# ---- restart: counters start from zero; the plain listener stays local ----
stop_server
start_server
scrape m1.txt
is m1.txt 'airlock_checkins_total{directive="install"}' 0
is m1.txt 'airlock_devices{status="active"}' 1
stop_server
sed -i "s/^health_listen = .*/health_listen = 0.0.0.0:$HPORT/" srv/server.conf
timeout 10 "$SERVER" --config srv/server.conf --listen "127.0.0.1:$(free_port)" >wild.log 2>&1 && die "wildcard health_listen accepted"
grep -q 'must name one local address' wild.log || die "wildcard refusal: $(cat wild.log)"; pass
done_ok
