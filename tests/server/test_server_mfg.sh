#!/usr/bin/env bash
# Devices whose certificates a manufacturer CA pre-issued ([tls]
# manufacturer_ca, POST /api/v1/devices, bind on first use), enrollment
# tokens listed and revoked, public_url following --listen, and the version
# in /healthz; on a real airlock-server over real mutual TLS.
# Usage: test_server_mfg.sh sqlite|postgres
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_fleet.sh"
R=srv/root.cbor

# A CA of our own, as a manufacturer runs one in its factory.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout mfg-ca.key -out mfg-ca.crt \
	-days 30 -subj "/O=Example Maker/CN=Example Maker Device CA" \
	-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null ||
	die "cannot make the manufacturer CA"

# issue NAME CN CA [KEY_USAGE] [EXT_KEY_USAGE]: NAME.key and NAME.crt, a
# device certificate with subject CN signed by CA (CA.crt, CA.key).
issue() {
	local name=$1 cn=$2 ca=$3 ku=${4:-digitalSignature} eku=${5:-clientAuth}
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$name.key" 2>/dev/null
	openssl req -new -key "$name.key" -subj "/CN=$cn" -out "$name.csr" 2>/dev/null
	printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,%s\nextendedKeyUsage=%s\n' "$ku" "$eku" >"$name.ext"
	openssl x509 -req -in "$name.csr" -CA "$ca.crt" -CAkey "$ca.key" -set_serial "0x$(openssl rand -hex 16)" \
		-days 30 -extfile "$name.ext" -out "$name.crt" 2>/dev/null || die "cannot issue $name"
}
# wrap NAME: an X25519 wrap key pair NAME-wrap.key/.pub; prints the public key as hex.
wrap() {
	"$AIRLOCK" key generate --alg x25519 --out "$1-wrap" >/dev/null || die "wrap key $1"
	openssl pkey -pubin -in "$1-wrap.pub" -outform DER | tail -c 32 | od -An -tx1 | tr -d ' \n'
}
sha() { openssl x509 -in "$1" -outform DER | sha256sum | cut -d' ' -f1; }
ci() { # ci NAME: a check-in with NAME's certificate (STATUS, body.json)
	NONCE=$(openssl rand -hex 16)
	dev "$1" POST /api/v1/device/checkin "{\"nonce\":\"$NONCE\",\"security_version\":0}"
}
audit_has() { # audit_has ACTION PATTERN...: an audit entry of ACTION whose JSON matches every PATTERN
	api GET /api/v1/audit; expect 200
	python3 - "$@" <<'PY' || die "no audit entry $1 matching ${*:2}"
import json, re, sys
d = json.load(open("body.json"))
def text(e):  # the detail is stored as JSON text: match it as an object
    det = e.get("detail")
    det = json.loads(det) if isinstance(det, str) else det
    return json.dumps(dict(e, detail=det))
hits = [e for e in d["entries"] if e["action"] == sys.argv[1] and all(re.search(p, text(e)) for p in sys.argv[2:])]
sys.exit(0 if hits else 1)
PY
	pass
}

init_server
issue m1 m1 mfg-ca
W1=$(wrap m1)

# ---- 1. the version, and public_url following --listen ----
start_server
api GET /healthz; expect 200
want=$(sed -n 's/^project(airlock VERSION \([0-9.]*\).*/\1/p' "$AIRLOCK_SRC/CMakeLists.txt")
[ -n "$want" ] && [ "$(json 'd["version"]')" = "$want" ] || die "healthz version: $(cat body.json), want $want"; pass
"$AIRLOCK" server status --server "$URL" --ca srv/fleet-ca.crt >status.txt || die "server status: $(cat status.txt)"
grep -q "^version: *$want\$" status.txt || die "server status shows no version: $(cat status.txt)"; pass
"$SERVER" --version | grep -qx "airlock-server $want" || die "airlock-server --version"; pass
grep -q "\"public_url\":\"https://127.0.0.1:$PORT\"" server.log || die "public_url did not follow --listen: $(grep listening server.log)"; pass

# ---- 2. without [tls] manufacturer_ca a manufacturer certificate is a stranger ----
dev m1 POST /api/v1/device/checkin '{"nonce":"00112233445566778899aabbccddeeff","security_version":0}'
expect 403 forbidden
grep -q untrusted body.json || die "not refused as untrusted: $(cat body.json)"; pass
stop_server

# ---- 3. register devices, trust the manufacturer CA ----
set_conf tls manufacturer_ca "$WORK/mfg-ca.crt"
HPORT=$(free_port)
set_conf server health_listen "127.0.0.1:$HPORT"
restart_server
# devices_gauge STATUS: airlock_devices{status=STATUS} (the fleet gauges are cached for 1 s)
devices_gauge() {
	sleep 1.1
	curl -s "http://127.0.0.1:$HPORT/metrics" | sed -n "s/^airlock_devices{status=\"$1\"} //p"
}
# the CLI, with the wrap key as a file
"$AIRLOCK" devices register m1 --hardware board-a --group lab --tags eu,x --wrap-key m1-wrap.pub \
	--server "$URL" --ca srv/fleet-ca.crt --token "$ADMIN" >out.txt || die "devices register: $(cat out.txt)"
grep -q "device m1 registered" out.txt || die "register output: $(cat out.txt)"; pass
api GET /api/v1/devices/m1; expect 200
[ "$(json 'd["status"], d["group"], d["tags"], d["cert_ca"], d["cert_serial"]')" = "registered lab eu,x None None" ] ||
	die "registered device: $(cat body.json)"; pass
for id in m2 m3 m4 m5 m6 m7; do
	api POST /api/v1/devices "{\"id\":\"$id\",\"hardware\":\"board-a\",\"wrap_key\":\"$(wrap "$id")\"}"; expect 201
	[ "$(json 'd["status"]')" = registered ] || die "$id: $(cat body.json)"
done
[ "$(devices_gauge registered)" = 7 ] || die "registered devices not counted in /metrics"; pass
# strict validation, like enrollment's
api POST /api/v1/devices "{\"id\":\"m1\",\"hardware\":\"board-a\",\"wrap_key\":\"$W1\"}"; expect 409 conflict
api POST /api/v1/devices "{\"id\":\"x 1\",\"hardware\":\"board-a\",\"wrap_key\":\"$W1\"}"; expect 400 bad_request
api POST /api/v1/devices "{\"id\":\"x1\",\"hardware\":\"board a\",\"wrap_key\":\"$W1\"}"; expect 400 bad_request
api POST /api/v1/devices "{\"id\":\"x1\",\"hardware\":\"board-a\",\"wrap_key\":\"${W1:2}\"}"; expect 400 bad_request
api POST /api/v1/devices "{\"id\":\"x1\",\"hardware\":\"board-a\",\"wrap_key\":\"${W1^^}\"}"; expect 400 bad_request
api POST /api/v1/devices "{\"id\":\"x1\",\"hardware\":\"board-a\"}"; expect 400 bad_request
api POST /api/v1/devices "{\"id\":\"x1\",\"hardware\":\"board-a\",\"wrap_key\":\"$W1\",\"csr\":\"x\"}"; expect 400 bad_request
api POST /api/v1/devices "{\"id\":\"x1\",\"hardware\":\"board-a\",\"wrap_key\":\"$W1\",\"tags\":\"a,,b\"}"; expect 400 bad_request
api POST /api/v1/devices '{"id":"x1","id":"x2"}'; expect 400 bad_json
api POST /api/v1/devices '[]'; expect 400 bad_request
TOKEN=$(api POST /api/v1/tokens '{"name":"reader","scopes":"read"}'; json 'd["token"]')
[ -n "$TOKEN" ] || die "no read token"
api POST /api/v1/devices "{\"id\":\"x1\",\"hardware\":\"board-a\",\"wrap_key\":\"$W1\"}"; expect 403 forbidden
READ=$TOKEN; unset TOKEN
[ "$(sql "SELECT COUNT(*) FROM devices WHERE id = 'x1'")" = 0 ] || die "a refused registration left a row"; pass
"$AIRLOCK" devices register x1 --hardware board-a --wrap-key nosuch.pub --server "$URL" --ca srv/fleet-ca.crt \
	--token "$ADMIN" 2>err.txt && die "register with a missing key file"
grep -q AIRLOCK_ERR_IO_OPEN err.txt || die "missing key file: $(cat err.txt)"; pass
"$AIRLOCK" devices register x1 --hardware board-a --wrap-key srv/audit.pub --server "$URL" --ca srv/fleet-ca.crt \
	--token "$ADMIN" 2>err.txt && die "register with an Ed25519 key as wrap key"
grep -q "not an X25519 public key" err.txt || die "wrong key kind: $(cat err.txt)"; pass
# enrollment cannot take a registered id
api POST /api/v1/enroll-tokens '{"hardware":"board-a"}'; expect 201
tok=$(json 'd["token"]')
openssl req -new -key m1.key -subj /CN=x -out take.csr 2>/dev/null
python3 -c 'import json,sys; print(json.dumps({"token":sys.argv[1],"device_id":"m2","csr":open("take.csr").read(),"wrap_key":sys.argv[2]}))' \
	"$tok" "$W1" >take.json
STATUS=$(curl -s -o body.json -w '%{http_code}' --cacert srv/fleet-ca.crt -H 'Content-Type: application/json' \
	--data-binary @take.json "$URL/api/v1/enroll")
expect 409 conflict

# ---- 4. the first certificate binds; the directive is for that device ----
ci m1; expect 200
json 'd["directive"]' | base64 -d >directive.cbor
"$AIRLOCK" verify --root $R --directive directive.cbor --device m1 --nonce "$NONCE" >out.txt ||
	die "m1's directive refused: $(cat out.txt)"; pass
api GET /api/v1/devices/m1; expect 200
[ "$(json 'd["status"], d["cert_ca"]')" = "active manufacturer" ] || die "m1 not bound: $(cat body.json)"; pass
serial=$(openssl x509 -in m1.crt -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f' | sed 's/^0*//')
[ "$(json 'd["cert_serial"]' | sed 's/^0*//')" = "$serial" ] || die "serial $(json 'd["cert_serial"]') is not $serial"; pass
[ "$(sql "SELECT cert_sha256 FROM devices WHERE id = 'm1'")" = "$(sha m1.crt)" ] || die "bound to another digest"; pass
audit_has device.bind_certificate '"device_id": "m1"' "$(sha m1.crt)"
ci m1; expect 200
[ "$(sql "SELECT COUNT(*) FROM audit WHERE action = 'device.bind_certificate'")" = 1 ] || die "bound twice"; pass
[ "$(devices_gauge registered) $(devices_gauge active)" = "6 1" ] || die "/metrics after the binding"; pass

# ---- 5. refusals: not registered, a second certificate, wrong usage, fleet CA ----
issue ghost ghost mfg-ca
ci ghost; expect 403 forbidden
grep -q "no device 'ghost' is registered" body.json || die "ghost: $(cat body.json)"; pass
audit_has auth.manufacturer_refused '"reason": "not_registered"' '"cn": "ghost"'
[ "$(sql "SELECT COUNT(*) FROM devices WHERE id = 'ghost'")" = 0 ] || die "ghost got a row"; pass

issue m1b m1 mfg-ca
ci m1b; expect 403 forbidden
grep -q "bound to another certificate" body.json || die "second m1 certificate: $(cat body.json)"; pass
audit_has auth.manufacturer_refused '"reason": "already_bound"' "$(sha m1b.crt)"
[ "$(sql "SELECT cert_sha256 FROM devices WHERE id = 'm1'")" = "$(sha m1.crt)" ] || die "m1 rebound"; pass
ci m1; expect 200

issue m3eku m3 mfg-ca digitalSignature serverAuth
ci m3eku; expect 403 forbidden
grep -q "ext_key_usage" body.json || die "wrong EKU: $(cat body.json)"; pass
issue m3ca m3 mfg-ca "digitalSignature,keyCertSign"
sed -i 's/CA:FALSE/CA:TRUE/' m3ca.ext
openssl x509 -req -in m3ca.csr -CA mfg-ca.crt -CAkey mfg-ca.key -set_serial 7 -days 30 -extfile m3ca.ext \
	-out m3ca.crt 2>/dev/null || die "CA-flagged device certificate"
ci m3ca; expect 403 forbidden
grep -q "is_ca" body.json || die "CA certificate as device: $(cat body.json)"; pass
# no digitalSignature: GnuTLS refuses the handshake's CertificateVerify, or the layer says key_usage
issue m3ku m3 mfg-ca keyEncipherment
ci m3ku
case "$STATUS" in
000) echo "no digitalSignature: refused at the handshake"; pass ;;
403) grep -q key_usage body.json || die "wrong KU: $(cat body.json)"; echo "no digitalSignature: 403 key_usage"; pass ;;
*) die "a certificate without digitalSignature got HTTP $STATUS" ;;
esac
[ "$(sql "SELECT status FROM devices WHERE id = 'm3'")" = registered ] || die "m3 bound by a bad certificate"; pass

issue fleet-m4 m4 srv/fleet-ca
ci fleet-m4; expect 403 forbidden
grep -q "belongs to no enrolled device" body.json || die "fleet m4: $(cat body.json)"; pass
audit_has auth.unknown_certificate '"cn": "m4"'
[ "$(sql "SELECT status || ':' || COALESCE(cert_sha256, '-') FROM devices WHERE id = 'm4'")" = "registered:-" ] ||
	die "a fleet certificate bound to a registered id"; pass
issue m4 m4 mfg-ca
ci m4; expect 200

# a registered device revoked before its certificate came
api POST /api/v1/devices/m5/revoke; expect 200
issue m5 m5 mfg-ca
ci m5; expect 403 revoked
[ "$(sql "SELECT COALESCE(cert_sha256, '-') FROM devices WHERE id = 'm5'")" = - ] || die "revoked m5 bound"; pass

# two certificates for one id at once: exactly one binds
issue m6a m6 mfg-ca
issue m6b m6 mfg-ca
body='{"nonce":"00112233445566778899aabbccddeeff","security_version":0}'
racers=()
for n in m6a m6b; do
	curl -s -o "race-$n.json" -w '%{http_code}' --cacert srv/fleet-ca.crt --cert "$n.crt" --key "$n.key" \
		-H 'Content-Type: application/json' --data-binary "$body" "$URL/api/v1/device/checkin" >"race-$n.status" &
	racers+=($!)
done
wait "${racers[@]}"
got=$(printf '%s\n' "$(cat race-m6a.status)" "$(cat race-m6b.status)" | sort | tr '\n' ' ')
[ "$got" = "200 403 " ] || die "race for m6: $got"; pass
winner=m6a; [ "$(cat race-m6a.status)" = 200 ] || winner=m6b
[ "$(sql "SELECT cert_sha256 FROM devices WHERE id = 'm6'")" = "$(sha $winner.crt)" ] || die "m6 bound to the loser"; pass

# ---- 6. the bound device works like an enrolled one ----
release_up v1 1
deploy device m1
ci m1; expect 200
[ "$(json 'd["deployment"]')" = "$DEP" ] || die "no install directive for m1: $(cat body.json)"
json 'd["directive"]' | base64 -d >directive.cbor
"$AIRLOCK" verify --root $R --directive directive.cbor --device m1 --nonce "$NONCE" >out.txt ||
	die "install directive refused: $(cat out.txt)"
grep -q "install release $DIGEST" out.txt || die "directive: $(cat out.txt)"; pass
# the artifact URL names the --listen address (public_url is not set in the file)
"$AIRLOCK" inspect directive.cbor --json >dir.json || die "inspect directive"
grep -q "https://127.0.0.1:$PORT/api/v1/artifacts/$ART" dir.json || die "artifact URL: $(cat dir.json)"; pass
dev m1 GET "/api/v1/artifacts/$ART"; expect 200
cmp -s body.json "rel-v1/rootfs.enc" || die "m1 downloaded other bytes"; pass
dev m4 GET "/api/v1/artifacts/$ART"; expect 403 forbidden
dev m1 POST /api/v1/device/events "{\"event_id\":\"m1-1\",\"deployment\":$DEP,\"state\":\"downloading\",\"progress\":10}"
expect 201
dev m1 POST /api/v1/device/checkin "{\"nonce\":\"$(openssl rand -hex 16)\",\"security_version\":0,\"device_id\":\"m4\"}"
expect 403 identity_mismatch
api POST /api/v1/devices/m1/revoke; expect 200
ci m1; expect 403 revoked

# ---- 7. enrollment tokens: listed without secrets, revoked while unused ----
api POST /api/v1/enroll-tokens '{"hardware":"board-b","group":"g1","tags":"t1,t2","ttl":600}'; expect 201
T1=$(json 'd["id"]'); S1=$(json 'd["token"]')
api POST /api/v1/enroll-tokens '{"hardware":"board-b"}'; expect 201
T2=$(json 'd["id"]'); S2=$(json 'd["token"]')
enroll e1 board-a  # uses a third token
api GET /api/v1/enroll-tokens; expect 200
! grep -q "ale_" body.json || die "a listing shows a secret"; pass
python3 - "$T1" "$T2" <<'PY' || die "enroll-token listing: $(cat body.json)"
import json, sys
toks = {t["id"]: t for t in json.load(open("body.json"))["enroll_tokens"]}
t1, t2 = toks[sys.argv[1]], toks[sys.argv[2]]
assert (t1["hardware"], t1["group"], t1["tags"], t1["used"], t1["device_id"]) == ("board-b", "g1", "t1,t2", None, None), t1
assert t1["expires"] - t1["created"] == 600 and t1["created_by"].startswith("admin:"), t1
assert t2["group"] is None and t2["tags"] == "", t2
used = [t for t in toks.values() if t["device_id"] == "e1"]
assert len(used) == 1 and isinstance(used[0]["used"], int), used
PY
pass
TOKEN=$READ api GET /api/v1/enroll-tokens; expect 403 forbidden
TOKEN=$READ api DELETE "/api/v1/enroll-tokens/$T1"; expect 403 forbidden
api DELETE "/api/v1/enroll-tokens/$T1"; expect 200
[ "$(json 'd["id"], d["revoked"]')" = "$T1 True" ] || die "revoke answer: $(cat body.json)"; pass
api DELETE "/api/v1/enroll-tokens/$T1"; expect 404 not_found
api DELETE /api/v1/enroll-tokens/0123456789ABCDEF; expect 400 bad_request
used=$(sql "SELECT id FROM enroll_tokens WHERE device_id = 'e1'")
api DELETE "/api/v1/enroll-tokens/$used"; expect 409 conflict
audit_has enroll_token.revoke "\"id\": \"$T1\""
# the revoked token no longer enrolls
openssl req -new -key e1.key -subj /CN=x -out r.csr 2>/dev/null
python3 -c 'import json,sys; print(json.dumps({"token":sys.argv[1],"device_id":"e9","csr":open("r.csr").read(),"wrap_key":sys.argv[2]}))' \
	"$S1" "$W1" >r.json
STATUS=$(curl -s -o body.json -w '%{http_code}' --cacert srv/fleet-ca.crt -H 'Content-Type: application/json' \
	--data-binary @r.json "$URL/api/v1/enroll")
expect 401 unauthorized
# the CLI
export AIRLOCK_SERVER=$URL AIRLOCK_CA=srv/fleet-ca.crt AIRLOCK_TOKEN=$ADMIN
"$AIRLOCK" enroll-token list >out.txt || die "enroll-token list: $(cat out.txt)"
grep -q "^$T2 *board-b" out.txt && grep -q "$used .*e1\$" out.txt && ! grep -q "$T1" out.txt ||
	die "enroll-token list: $(cat out.txt)"; pass
! grep -q "$S2" out.txt || die "the CLI shows a secret"; pass
"$AIRLOCK" enroll-token revoke "$T2" >out.txt || die "enroll-token revoke: $(cat out.txt)"
grep -q "enrollment token $T2 revoked" out.txt || die "revoke output: $(cat out.txt)"; pass
"$AIRLOCK" enroll-token revoke "$used" 2>err.txt && die "a used token revoked by the CLI"
grep -q "409 conflict" err.txt || die "used token: $(cat err.txt)"; pass
"$AIRLOCK" enroll-token revoke nothex 2>err.txt; [ $? = 2 ] || die "bad id is not a usage error"; pass
"$AIRLOCK" devices show m4 >out.txt || die "devices show"
grep -q "certificate CA: *manufacturer" out.txt || die "devices show: $(cat out.txt)"; pass
unset AIRLOCK_SERVER AIRLOCK_CA AIRLOCK_TOKEN

# ---- 8. the audit chain holds; an explicit public_url wins over --listen ----
api GET /api/v1/audit; expect 200
"$AIRLOCK" audit verify --file body.json --key srv/audit.pub >out.txt || die "audit chain: $(cat out.txt)"; pass
stop_server
set_conf server public_url "https://updates.example.test:9443"
restart_server
deploy device m4
ci m4; expect 200
json 'd["directive"]' | base64 -d >directive.cbor
"$AIRLOCK" inspect directive.cbor --json >dir.json || die "inspect directive"
grep -q "https://updates.example.test:9443/api/v1/artifacts/$ART" dir.json || die "explicit public_url: $(cat dir.json)"; pass
stop_server
sed -i 's|^public_url = .*|public_url = https://updates.example.test/|' srv/server.conf
"$SERVER" --config srv/server.conf --listen "127.0.0.1:$PORT" 2>err.txt && die "a public_url with a trailing slash was taken"
grep -q "public_url" err.txt || die "bad public_url: $(cat err.txt)"; pass
sed -i "s|^manufacturer_ca = .*|manufacturer_ca = $WORK/nosuch.crt|; s|^public_url = .*|public_url = https://x.test|" srv/server.conf
"$SERVER" --config srv/server.conf --listen "127.0.0.1:$PORT" 2>err.txt && die "a missing manufacturer CA file was ignored"
grep -q "nosuch.crt" err.txt || die "missing manufacturer CA: $(cat err.txt)"; pass
done_ok
