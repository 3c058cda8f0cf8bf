#!/usr/bin/env bash
# Hardening of the real airlock-server (issue 3 item 8; ATTACKS.md A19, A20,
# F12 (d)), over real TLS on 127.0.0.1:
#  1. security headers on every kind of answer, errors and 429 included;
#  2. mutual-TLS refusals test_server.sh does not cover: a certificate of
#     another CA, expired, not yet valid, for servers only, TLS 1.0/1.1, a
#     non-AEAD cipher; each refusal audited or logged;
#  3. A19: a report naming another device, or replayed over another
#     device's identity, is refused; a replayed report counts once;
#  4. path traversal on /artifacts/ and every id-bearing route: 4xx JSON,
#     never 5xx, never a byte from outside the store, no file written;
#  5. malformed JSON on every endpoint that takes a body: 4xx JSON, never
#     5xx, and nothing changes in the database;
#  6. slowloris: trickling clients cut at the request deadline, connections
#     per address capped, everyone else served, memory bounded;
#  7. --user: after binding, real/effective/saved uid and gid are the
#     user's, no supplementary groups, no capabilities, in every thread.
# Usage: test_server_hardening.sh [sqlite|postgres]
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
. "$HERE/lib_fleet.sh"
DEADLINE=3
PER_IP=6
init_server
HPORT=$(free_port)
set_conf server health_listen "127.0.0.1:$HPORT"
set_conf limits request_deadline $DEADLINE
set_conf limits max_per_ip $PER_IP
start_server
C=(curl -s --max-time 20 --cacert srv/fleet-ca.crt)
H=(-H "Authorization: Bearer $ADMIN")

enroll d1 board-a
enroll d2 board-a
release_up v2 1 100000
deploy device d1; DEP1=$DEP
deploy device d2; DEP2=$DEP
checkin d1
checkin d2

# ---- 1. security headers on every answer ----
# headers NAME WANT_STATUS [--plain] CURL-ARGS...: the answer carries every
# security header (HSTS only on TLS), and Cache-Control: no-store unless it
# is an artifact (immutable by digest).
headers() {
	local name=$1 want=$2 plain=0; shift 2
	[ "$1" = --plain ] && { plain=1; shift; }
	"${C[@]}" -D hdr.txt -o hbody.txt "$@" >/dev/null 2>&1
	local st
	st=$(awk 'NR == 1 { print $2 }' hdr.txt)
	[ "$st" = "$want" ] || die "$name: status $st, expected $want"
	local h
	for h in 'X-Content-Type-Options: nosniff' 'X-Frame-Options: DENY' 'Referrer-Policy: no-referrer' \
		"Content-Security-Policy: default-src 'none'" 'X-Request-Id: [0-9a-f]{16}'; do
		grep -qiE "^$h" hdr.txt || die "$name ($st): no '$h': $(cat hdr.txt)"
	done
	if [ $plain = 1 ]; then
		grep -qi '^Strict-Transport-Security' hdr.txt && die "$name: HSTS on plain HTTP"
	else
		grep -qiE '^Strict-Transport-Security: max-age=[1-9][0-9]{6,}' hdr.txt || die "$name ($st): no HSTS"
	fi
	case "$name" in
	artifact*) grep -qi '^Cache-Control: .*immutable' hdr.txt || die "$name: artifact not immutable" ;;
	*) grep -qi '^Cache-Control: no-store' hdr.txt || die "$name ($st): no Cache-Control: no-store" ;;
	esac
	if [ "${st:0:1}" = 4 ] || [ "${st:0:1}" = 5 ]; then
		grep -qi '^Content-Type: application/json' hdr.txt || die "$name: error not JSON"
		python3 -c "import json; d=json.load(open('hbody.txt')); assert isinstance(d['error'], str)" ||
			die "$name: error body $(cat hbody.txt)"
	fi
	pass
}
D=(--cert d1.crt --key d1.key)
U=$URL/api/v1
headers healthz 200 "$URL/healthz"
headers root 200 "$U/root"
headers devices 200 "${H[@]}" "$U/devices"
headers checkin 200 "${D[@]}" -H 'Content-Type: application/json' -d '{"nonce":"00112233445566778899aabbccddeeff","security_version":0}' "$U/device/checkin"
headers "bad json" 400 "${H[@]}" -d '{' "$U/tokens"
headers "bad path" 400 --path-as-is "$URL/api/v1/../healthz"
headers "no token" 401 "$U/devices"
headers "no cert" 401 -X POST -d '{}' "$U/device/checkin"
headers "not assigned" 403 "${D[@]}" "$U/artifacts/$(printf 'a%.0s' $(seq 64))"
headers "unknown route" 404 "${H[@]}" "$U/nosuch"
headers "bad method" 405 -X TRACE "$URL/healthz"
headers "length required" 411 "${H[@]}" -X PUT -H 'Transfer-Encoding: chunked' --data-binary @rel-v2/rootfs.enc "$U/releases/$DIGEST/payloads/rootfs"
head -c 2000000 /dev/zero >big.bin
headers "too large" 413 "${H[@]}" --data-binary @big.bin "$U/tokens"
headers "artifact" 200 "${D[@]}" "$U/artifacts/$ART"
headers "artifact range" 206 "${D[@]}" -r 0-9 "$U/artifacts/$ART"
headers "artifact not modified" 304 "${D[@]}" -H "If-None-Match: \"$ART\"" "$U/artifacts/$ART"
headers "artifact range past the end" 416 "${D[@]}" -r 99999999- "$U/artifacts/$ART"
for _ in $(seq 21); do "${C[@]}" -o /dev/null --interface 127.0.0.3 -H 'Authorization: Bearer ala_x' "$U/devices"; done
headers "rate limited" 429 --interface 127.0.0.3 "$U/root"
grep -qi '^Retry-After: 60' hdr.txt || die "429 without Retry-After"; pass
P=http://127.0.0.1:$HPORT
headers "plain healthz" 200 --plain "$P/healthz"
headers "plain metrics" 200 --plain "$P/metrics"
headers "plain other" 404 --plain "$P/api/v1/devices"

# ---- 2. mutual TLS refusals (A20) ----
# a CA of the test's own, with an `openssl ca` database for arbitrary dates
mkdir -p ca/new; : >ca/index.txt; echo 1000 >ca/serial
cat >ca/ca.cnf <<EOF
[ ca ]
default_ca = this
[ this ]
database = ca/index.txt
new_certs_dir = ca/new
serial = ca/serial
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
[ any ]
commonName = supplied
[ client ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
[ server ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
EOF
# cert NAME CA_CRT CA_KEY EXT START END: NAME.key/.crt for CN=d1
cert() {
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null
	openssl req -new -key "$1.key" -subj /CN=d1 -out "$1.csr" 2>/dev/null
	openssl ca -batch -notext -config ca/ca.cnf -cert "$2" -keyfile "$3" -extensions "$4" -startdate "$5" \
		-enddate "$6" -in "$1.csr" -out "$1.crt" 2>/dev/null || die "cannot make certificate $1"
}
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other-ca.key -out other-ca.crt \
	-subj "/CN=Another CA" -days 30 -addext basicConstraints=critical,CA:TRUE \
	-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
NOW=$(date -u -d '-1 hour' +%Y%m%d%H%M%SZ)
LATER=$(date -u -d '+30 days' +%Y%m%d%H%M%SZ)
cert otherca other-ca.crt other-ca.key client "$NOW" "$LATER"
cert expired srv/fleet-ca.crt srv/fleet-ca.key client 20200101000000Z 20200201000000Z
cert future srv/fleet-ca.crt srv/fleet-ca.key client "$(date -u -d '+1 year' +%Y%m%d%H%M%SZ)" "$(date -u -d '+2 years' +%Y%m%d%H%M%SZ)"
cert serveronly srv/fleet-ca.crt srv/fleet-ca.key server "$NOW" "$LATER"
cert good srv/fleet-ca.crt srv/fleet-ca.key client "$NOW" "$LATER"
CHECKIN='{"nonce":"00112233445566778899aabbccddeeff","security_version":0}'
# refused NAME WHY: NAME's certificate never gets data, on every device route; audited with WHY
refused() {
	local r m st args
	for r in "POST /device/checkin" "POST /device/events" "GET /artifacts/$ART"; do
		m=${r%% *}
		args=(); [ "$m" = POST ] && args=(-H 'Content-Type: application/json' -d "$CHECKIN")
		st=$("${C[@]}" -o body.json -w '%{http_code}' --interface 127.0.0.4 --cert "$1.crt" --key "$1.key" \
			-X "$m" "${args[@]}" "$U${r#* }")
		[ "$st" = 403 ] || die "$1 on $r: HTTP $st, expected 403: $(cat body.json)"
		grep -q '"error": *"forbidden"' body.json || die "$1: $(cat body.json)"
		grep -q "$2" body.json || die "$1: reason $2 not named: $(cat body.json)"
	done
	pass
}
refused otherca untrusted
refused expired expired
refused future not_yet_valid
refused serveronly ext_key_usage
# a fleet certificate that no enrolled device holds
st=$("${C[@]}" -o body.json -w '%{http_code}' --interface 127.0.0.4 --cert good.crt --key good.key -d "$CHECKIN" "$U/device/checkin")
[ "$st" = 403 ] || die "unenrolled fleet certificate: $st"; pass
# a revoked device: no check-in (test_server.sh), no report, no download
api POST /api/v1/devices/d2/revoke; expect 200
for r in "POST /device/events" "GET /artifacts/$ART"; do
	m=${r%% *}
	args=(); [ "$m" = POST ] && args=(-d '{"event_id":"r1","state":"installing"}')
	st=$("${C[@]}" -o body.json -w '%{http_code}' --interface 127.0.0.4 --cert d2.crt --key d2.key -X "$m" \
		"${args[@]}" "$U${r#* }")
	[ "$st" = 403 ] && grep -q '"revoked"' body.json || die "revoked d2 on $r: $st $(cat body.json)"
done; pass
# every refusal is in the audit log
api GET /api/v1/audit; expect 200
for why in 'untrusted' 'expired' 'not_yet_valid' 'ext_key_usage' 'auth.unknown_certificate' 'auth.revoked_device'; do
	grep -q "$why" body.json || die "refusal '$why' not audited"
done; pass
# protocol floor and ciphers, against the real server (test_http.sh checks the layer)
S=(timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -CAfile srv/fleet-ca.crt -cert d1.crt -key d1.key)
handshake() { echo | "${S[@]}" -brief "$@" 2>&1 | grep -q '^CONNECTION ESTABLISHED'; }
handshake -tls1_3 || die "TLS 1.3 refused"; pass
handshake -tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256 || die "TLS 1.2 AEAD refused"; pass
LEGACY=(-cipher 'DEFAULT:@SECLEVEL=0')
handshake -tls1_1 "${LEGACY[@]}" && die "TLS 1.1 accepted"; pass
handshake -tls1 "${LEGACY[@]}" && die "TLS 1.0 accepted"; pass
handshake -tls1_2 -cipher AES128-SHA && die "non-AEAD AES128-SHA accepted"; pass
handshake -tls1_2 -cipher 'ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384' && die "CBC cipher accepted"; pass
handshake -tls1_2 -cipher 'AES128-GCM-SHA256:AES256-GCM-SHA384' && die "RSA key exchange accepted"; pass
sleep 0.3
grep -q '"msg":"closed without a request"' server.log || die "refused handshakes not logged"; pass

# ---- 3. A19: report replay and identity ----
ev() { dev "$1" POST /api/v1/device/events "$2"; }
dd_state() { sql "SELECT state FROM device_deployments WHERE device_id = '$1' AND deployment_id = $2"; }
before2=$(dd_state d2 "$DEP2")
# a report naming device d2, sent over d1's TLS identity: refused, audited
ev d1 "{\"event_id\":\"x1\",\"deployment\":$DEP1,\"state\":\"installing\",\"device_id\":\"d2\"}"; expect 403 identity_mismatch
dev d1 POST /api/v1/device/checkin "{\"nonce\":\"00112233445566778899aabbccddeeff\",\"security_version\":0,\"device_id\":\"d2\"}"
expect 403 identity_mismatch
# naming itself is fine
ev d1 "{\"event_id\":\"a1\",\"deployment\":$DEP1,\"state\":\"downloading\",\"device_id\":\"d1\"}"; expect 201
# d1 cannot move d2's deployment
ev d1 "{\"event_id\":\"x2\",\"deployment\":$DEP2,\"state\":\"succeeded\"}"; expect 404 not_found
[ "$(dd_state d2 "$DEP2")" = "$before2" ] || die "d2's state changed"; pass
[ "$(sql "SELECT COUNT(*) FROM events WHERE event_id IN ('x1', 'x2')")" = 0 ] || die "refused report stored"; pass
api GET /api/v1/audit; expect 200
python3 -c "
import json
e = [x for x in json.load(open('body.json'))['entries'] if x['action'] == 'auth.identity_mismatch']
assert len(e) == 2 and all(x['actor'] == 'device:d1' and 'd2' in x['detail'] for x in e), e
" || die "identity mismatch not audited"; pass
# a captured report replayed by d1: counted once
R="{\"event_id\":\"a2\",\"deployment\":$DEP1,\"state\":\"installing\",\"progress\":50}"
ev d1 "$R"; expect 201
for _ in 1 2 3; do ev d1 "$R"; expect 200; [ "$(json 'd["duplicate"]')" = True ] || die "replay not flagged"; done
[ "$(sql "SELECT COUNT(*) FROM events WHERE device_id = 'd1' AND event_id = 'a2'")" = 1 ] || die "replay stored twice"; pass
api GET /api/v1/audit; expect 200
[ "$(python3 -c "import json; print(sum(1 for x in json.load(open('body.json'))['entries'] if x['action'] == 'device.state' and '\"installing\"' in x['detail']))")" = 1 ] ||
	die "replayed report audited more than once"; pass
# the same captured report over another (enrolled, active) device's identity: d3 has no such deployment
enroll d3 board-a
ev d3 "$R"; expect 404 not_found
[ "$(dd_state d1 "$DEP1")" = installing ] || die "d1's state moved"; pass
# a stale report (an older state, new id) does not move the state back
ev d1 "{\"event_id\":\"a3\",\"deployment\":$DEP1,\"state\":\"downloading\"}"; expect 201
[ "$(dd_state d1 "$DEP1")" = installing ] || die "state moved backwards"; pass

# ---- 4. path traversal on every id-bearing route ----
mkdir -p srv/data/outside
echo "CANARY-$RANDOM$RANDOM" >srv/data/outside/secret
cp srv/data/outside/secret srv/data/artifacts/../secret-canary 2>/dev/null
CANARY=$(cat srv/data/outside/secret)
touch marker
sleep 1
LONG=$(head -c 300 /dev/zero | tr '\0' a)
HUGE=$(head -c 3000 /dev/zero | tr '\0' a)
EVIL=('..' '%2e%2e' '.%2e' '%2E%2E' '..%2f..%2fsecret-canary' '..%2F..%2Foutside%2Fsecret' '%2e%2e%2f%2e%2e%2fsecret-canary'
	'..%5c..%5csecret' '%252e%252e%252fsecret-canary' '%c0%ae%c0%ae' '..;' 'a%00b' '%00' "$LONG" "$HUGE"
	'%ff' 'x%0d%0aSet-Cookie:%20a=b' '..%00.json')
ROUTES=("GET /api/v1/artifacts/@" "GET /api/v1/devices/@" "POST /api/v1/devices/@/revoke"
	"DELETE /api/v1/tokens/@" "POST /api/v1/deployments/@/cancel"
	"PUT /api/v1/releases/@/payloads/rootfs" "PUT /api/v1/releases/$DIGEST/payloads/@"
	"PUT /api/v1/releases/$DIGEST/payloads/@/chunks" "GET /api/v1/artifacts/../../@")
# one keep-alive curl per caller; each answer's status and body checked below
mkdir trav
python3 - "$URL" "$ADMIN" "${ROUTES[@]}" -- "${EVIL[@]}" <<'PY'
import sys
url, admin = sys.argv[1], sys.argv[2]
rest = sys.argv[3:]
routes, evil = rest[:rest.index("--")], rest[rest.index("--") + 1:]
n = {"admin": 0, "device": 0}
cfg = {w: open(f"trav/{w}.cfg", "w") for w in n}
for r in routes:
    m, p = r.split(" ", 1)
    for e in evil:
        for who in ["admin"] + (["device"] if "artifacts" in r else []):
            f = cfg[who]
            if n[who]:
                f.write("next\n")
            i = f"{who}{n[who]}"
            n[who] += 1
            f.write(f'url = "{url}{p.replace("@", e)}"\nrequest = "{m}"\npath-as-is\nsilent\nmax-time = 20\n')
            f.write('cacert = "srv/fleet-ca.crt"\n')
            f.write(f'header = "Authorization: Bearer {admin}"\n' if who == "admin" else 'cert = "d1.crt"\nkey = "d1.key"\n')
            if m == "PUT":
                f.write('data-binary = "x"\n')
            f.write(f'output = "trav/{i}.out"\nwrite-out = "{i} {m} %{{http_code}} %{{url_effective}}\\n"\n')
PY
for w in admin device; do curl -K trav/$w.cfg; done >trav/results.txt
python3 - "$CANARY" <<'PY' || die "path traversal"
import json, sys
bad, n = [], 0
for line in open("trav/results.txt"):
    i, m, st, u = line.split(" ", 3)
    n += 1
    body = open(f"trav/{i}.out", "rb").read()
    try:
        ok = isinstance(json.loads(body)["error"], str)
    except Exception:
        ok = False
    if not st.startswith("4") or not ok or sys.argv[1].encode() in body:
        bad.append((m, u.strip()[:120], st, body[:120]))
for b in bad[:10]:
    print("  ", b)
print(f"path traversal: {n} requests, {n - len(bad)} answered 4xx JSON without the canary")
raise SystemExit(1 if bad or n < 150 else 0)
PY
[ -z "$(find srv/data -newer marker -type f ! -name 'airlock.db*')" ] || die "files written: $(find srv/data -newer marker -type f)"
pass
# a raw NUL and raw control bytes in the request line: refused, server unharmed
for raw in 'GET /api/v1/artifacts/\0../x HTTP/1.1' 'GET /api/v1/devices/a\x01b HTTP/1.1' 'GET /api/v1/../../etc/passwd HTTP/1.1'; do
	out=$(printf "$raw\r\nHost: localhost\r\nAuthorization: Bearer $ADMIN\r\nConnection: close\r\n\r\n" |
		timeout 10 openssl s_client -quiet -connect "127.0.0.1:$PORT" 2>/dev/null)
	st=$(head -1 <<<"$out" | awk '{print $2}')
	case "$st" in 4??|"") ;; *) die "raw '$raw': $(head -1 <<<"$out")" ;; esac
	grep -q CANARY <<<"$out" && die "raw '$raw' served the canary"
	grep -q 'root:' <<<"$out" && die "raw '$raw' served /etc/passwd"
done; pass
"${C[@]}" -o /dev/null -w '%{http_code}' "$URL/healthz" | grep -q 200 || die "server down after traversal"; pass

# ---- 5. malformed JSON bodies on every endpoint that takes one ----
counts() {
	local t
	for t in admin_tokens enroll_tokens devices releases payloads deployments device_deployments events; do
		printf '%s=%s ' $t "$(sql "SELECT COUNT(*) FROM $t")"
	done
}
COUNTS0=$(counts)
mkdir bodies
python3 - "$U" "$ADMIN" "$DIGEST" <<'PY'
import json, sys
U, admin, digest = sys.argv[1], sys.argv[2], sys.argv[3]
# path: (caller, a body whose every field is well formed, its required fields, the route's body cap)
templates = {
    "enroll": ("none", {"token": "ale_" + "A" * 43, "device_id": "dx", "csr": "-----BEGIN CERTIFICATE REQUEST-----",
                        "wrap_key": "00" * 32}, "token device_id csr wrap_key", 32 * 1024),
    "device/checkin": ("device", {"nonce": "00" * 16, "security_version": 0, "release": "00" * 32,
                                   "version": "v1", "slot_state": "ok"}, "nonce security_version", 4096),
    "device/events": ("device", {"event_id": "m1", "deployment": 1, "state": "downloading", "progress": 5,
                                  "error": "e", "log_tail": "t"}, "event_id state", 16 * 1024),
    "tokens": ("admin", {"name": "n", "scopes": "read", "ttl": 3600}, "name scopes", 1024 * 1024),
    "enroll-tokens": ("admin", {"hardware": "board-a", "group": "g", "tags": "a,b", "ttl": 600}, "hardware",
                      1024 * 1024),
    "releases": ("admin", {"release": "AAAA", "keys": "AAAA"}, "release", 256 * 1024),
    "deployments": ("admin", {"release": digest, "target_kind": "device", "target": "nobody"},
                    "release target_kind target", 1024 * 1024),
}
# values that are wrong for every field of the templates
bad_values = [123, -1, 1.5, 1e300, 10**30, -(10**30), True, [], {}, [1, 2], {"a": 1}, "", "\u0000", "a\u0000b",
              "x" * 70000]
bad_ints = ["1", "", "0x10", 1.0, 1e300, 10**19, -(10**19), -1, True, [], {}]
generic = [b"", b"{", b'{"a":', b"null", b"[]", b'"str"', b"1", b"true", b"{}}", b"{} x", b"{}{}",
           b'{"a":NaN}', b'/* c */{}', b"\xef\xbb\xbf{}", b'{"a":"\xff\xfe"}', b"[" * 5000 + b"]" * 5000,
           b'{"a":' * 3000 + b"1" + b"}" * 3000, b'{"x":1}', b"\x00", b"{\"a\":\"\\ud800\"}",
           b'{"a":1e400}', b'{"a":-1e400}',
           b'{"a":123456789012345678901234567890}', b'{"a":"' + b"\\" * 3 + b'"}', b"{'a':1}"]
reqs = []
for path, (auth, tpl, required, cap) in templates.items():
    bodies = list(generic)
    keys = list(tpl)
    # each field: removed (where required), wrong types, out of range
    for k in keys:
        if k in required.split():
            t = dict(tpl); del t[k]; bodies.append(json.dumps(t).encode())
        vals = bad_ints if isinstance(tpl[k], int) and not isinstance(tpl[k], bool) else bad_values
        for v in vals:
            t = dict(tpl); t[k] = v
            bodies.append(json.dumps(t).encode())
    t = dict(tpl); t["unknown"] = 1; bodies.append(json.dumps(t).encode())
    # a repeated key
    bodies.append(json.dumps(tpl).encode()[:-1] + b', "%s": %s}' % (keys[0].encode(), json.dumps(tpl[keys[0]]).encode()))
    bodies.append(b" " * (cap + 1))           # over the route's cap: 413
    for b in bodies:
        i = len(reqs)
        open(f"bodies/{i}.json", "wb").write(b)
        reqs.append((i, path, auth))
for auth in ("none", "device", "admin"):
    with open(f"bodies/{auth}.cfg", "w") as f:
        first = True
        for i, path, a in reqs:
            if a != auth:
                continue
            if not first:
                f.write("next\n")
            first = False
            f.write(f'url = "{U}/{path}"\ncacert = "srv/fleet-ca.crt"\nsilent\nmax-time = 20\n')
            f.write('header = "Content-Type: application/json"\n')
            if a == "admin":
                f.write(f'header = "Authorization: Bearer {admin}"\n')
            if a == "device":
                f.write('cert = "d1.crt"\nkey = "d1.key"\n')
            f.write(f'data-binary = "@bodies/{i}.json"\noutput = "bodies/{i}.out"\n')
            f.write(f'write-out = "{i} {path} %{{http_code}}\\n"\n')
print(len(reqs), "malformed bodies")
PY
for a in none device admin; do curl -K bodies/$a.cfg; done >bodies/results.txt
python3 - <<'PY' || die "malformed bodies"
import json
bad = []
n = 0
for line in open("bodies/results.txt"):
    i, path, st = line.split()
    n += 1
    try:
        err = json.load(open(f"bodies/{i}.out"))["error"]
    except Exception:
        err = None
    if not st.startswith("4") or not isinstance(err, str):
        bad.append((path, st, open(f"bodies/{i}.json", "rb").read()[:80], open(f"bodies/{i}.out", "rb").read()[:120]))
print(f"malformed bodies: {n} requests, {n - len(bad)} answered 4xx JSON")
for b in bad[:10]:
    print("  ", b)
raise SystemExit(1 if bad or n < 300 else 0)
PY
pass
grep -q ' 413$' bodies/results.txt || die "no oversized body answered 413"; pass
[ "$(counts)" = "$COUNTS0" ] || die "malformed bodies changed the database: $COUNTS0 -> $(counts)"; pass
# bodies where none belongs, and a chunked body over the cap
for p in "devices/d1/revoke" "deployments/$DEP1/cancel" "audit/checkpoint"; do
	st=$("${C[@]}" -o body.json -w '%{http_code}' "${H[@]}" -d '{"x":1}' "$U/$p")
	[ "$st" = 413 ] && grep -q body_not_allowed body.json || die "body on $p: $st $(cat body.json)"
done; pass
head -c 40000 /dev/zero | tr '\0' ' ' >chunky.json
st=$("${C[@]}" -o body.json -w '%{http_code}' "${D[@]}" -H 'Transfer-Encoding: chunked' --data-binary @chunky.json "$U/device/events")
[ "$st" = 413 ] || die "chunked oversized body: $st"; pass
[ "$(counts)" = "$COUNTS0" ] || die "refused bodies changed the database"; pass

# ---- 6. slowloris (F12 d) ----
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$SERVER_PID/status"; }
RSS0=$(rss)
python3 - "$PORT" 12 $((DEADLINE + 12)) >slow.txt <<'PY' &
import socket, ssl, sys, threading, time
port, n, dur = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
ctx = ssl.create_default_context(cafile="srv/fleet-ca.crt")
ctx.check_hostname = False
res = [None] * n
def one(i, tcp_only):
    t0 = time.monotonic()
    try:
        s = socket.create_connection(("127.0.0.1", port), source_address=("127.0.0.5", 0), timeout=dur)
        if not tcp_only:
            s = ctx.wrap_socket(s)
            s.sendall(b"GET /api/v1/root HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        s.settimeout(1.0)
        for _ in range(dur):
            try:
                if not s.recv(4096):
                    break
            except socket.timeout:
                pass
            if not tcp_only:
                s.sendall(b"a")
        else:
            res[i] = ("held", time.monotonic() - t0)
            return
        res[i] = ("closed", time.monotonic() - t0)
    except (OSError, ssl.SSLError) as e:
        res[i] = ("closed", time.monotonic() - t0)
th = []
for i in range(n):
    th.append(threading.Thread(target=one, args=(i, i == 0)))
    th[-1].start()
    time.sleep(0.05)
for t in th:
    t.join()
for r in res:
    print(r[0], "%.1f" % r[1])
PY
SLOW=$!
sleep 1.5
for _ in 1 2 3; do
	t=$("${C[@]}" -o /dev/null -w '%{time_total}' "$URL/healthz")
	python3 -c "import sys; sys.exit(0 if float('$t') < 2.0 else 1)" || die "healthz took $t s during slowloris"
done; pass
api GET /api/v1/devices; expect 200
wait $SLOW
cat slow.txt
python3 - $DEADLINE $PER_IP <<'PY' || die "slowloris"
import sys
deadline, per_ip = int(sys.argv[1]), int(sys.argv[2])
r = [(s, float(t)) for s, t in (l.split() for l in open("slow.txt"))]
assert all(s == "closed" for s, _ in r), "a slow client was never cut off"
refused = [t for _, t in r if t < 1.0]
cut = [t for _, t in r if t >= 1.0]
assert len(refused) >= len(r) - per_ip, f"only {len(refused)} refused at once past {per_ip} per address"
assert len(cut) <= per_ip, f"{len(cut)} connections held from one address (cap {per_ip})"
assert cut and all(t <= deadline + 2.5 for t in cut), f"held {max(cut)} s (deadline {deadline} s)"
print(f"slowloris: {len(refused)} connections refused at once, {len(cut)} cut after {min(cut):.1f}..{max(cut):.1f} s")
PY
pass
RSS1=$(rss)
[ $((RSS1 - RSS0)) -lt 32768 ] || die "RSS grew from $RSS0 to $RSS1 KiB"; pass
grep -q '"end":"deadline"' server.log || die "deadline cuts not logged"; pass
curl -s "$P/metrics" | grep -qE '^airlock_http_deadline_disconnects_total [1-9]' || die "deadline metric"; pass

# ---- 7. dropping privileges (--user) ----
stop_server
if [ "$(id -u)" != 0 ]; then
	echo "not root: --user not tested"
	done_ok
	exit 0
fi
RUN_AS=nobody
timeout 10 "$SERVER" --config srv/server.conf --listen "127.0.0.1:$PORT" --user root >user.log 2>&1 && die "--user root accepted"
grep -q 'nothing would be dropped' user.log || die "--user root: $(cat user.log)"; pass
timeout 10 "$SERVER" --config srv/server.conf --listen "127.0.0.1:$PORT" --user no-such-user-x >user.log 2>&1 && die "unknown user accepted"
grep -q "no user 'no-such-user-x'" user.log || die "--user unknown: $(cat user.log)"; pass
# a data directory the user cannot write is refused at start, not at the first upload
timeout 10 "$SERVER" --config srv/server.conf --listen "127.0.0.1:$PORT" --user $RUN_AS >user.log 2>&1 && die "unwritable data dir accepted"
grep -q 'cannot write' user.log || die "--user with root's data dir: $(cat user.log)"; pass
chmod 711 "$WORK" srv
chown -R "$RUN_AS:" srv/data
restart_server --user $RUN_AS
uid=$(id -u $RUN_AS); gid=$(id -g $RUN_AS)
nt=0
for st in /proc/$SERVER_PID/task/*/status; do
	awk -v u="$uid" -v g="$gid" '
		/^Uid:/ { if ($2 != u || $3 != u || $4 != u || $5 != u) bad = bad " uid:" $2 "," $3 "," $4 "," $5 }
		/^Gid:/ { if ($2 != g || $3 != g || $4 != g || $5 != g) bad = bad " gid:" $2 "," $3 "," $4 "," $5 }
		/^Groups:/ { if (NF > 1) bad = bad " groups:" $0 }
		/^CapEff:/ { if ($2 != "0000000000000000") bad = bad " caps:" $2 }
		/^CapPrm:/ { if ($2 != "0000000000000000") bad = bad " permitted caps:" $2 }
		/^NoNewPrivs:/ { if ($2 != 1) bad = bad " no_new_privs:" $2 }
		END { if (bad) { print FILENAME ":" bad; exit 1 } }' "$st" || die "privileges kept"
	nt=$((nt + 1))
done
[ "$nt" -ge 2 ] || die "expected worker threads, saw $nt"
echo "--user $RUN_AS: uid $uid gid $gid in all $nt threads, no groups, no capabilities"; pass
# still serving, and writing: a check-in, an upload into the store
checkin d1
release_up v3 2 50000
[ "$(stat -c %U "srv/data/artifacts/${ART:0:2}/$ART")" = "$RUN_AS" ] || die "artifact not written as $RUN_AS"; pass
stop_server
done_ok
