#!/usr/bin/env bash
# airlock-server end to end, over real mutual TLS on 127.0.0.1:
# init, enrollment, check-in with a signed nonce-bound directive, release
# push verified against the root, artifact upload and download, deployments,
# events, the audit chain, and every refusal of the issue's list.
# Usage: test_server.sh [sqlite|postgres]
. "$(dirname "$0")/lib.sh"
init_server
start_server
R=srv/root.cbor

# ---- admin tokens and scopes ----
api GET /api/v1/devices; expect 200
TOKEN=bogus api GET /api/v1/devices; expect 401 unauthorized
TOKEN=ala_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA api GET /api/v1/devices; expect 401 unauthorized
STATUS=$(curl -s -o body.json -w '%{http_code}' --cacert srv/fleet-ca.crt "$URL/api/v1/devices"); expect 401
api POST /api/v1/tokens '{"name":"reader","scopes":"read","ttl":3600}'; expect 201
READ=$(json 'd["token"]'); READ_ID=$(json 'd["id"]')
TOKEN=$READ api GET /api/v1/devices; expect 200
TOKEN=$READ api POST /api/v1/deployments '{"release":"'$(printf '0%.0s' $(seq 64))'","target_kind":"device","target":"x"}'; expect 403 forbidden
TOKEN=$READ api POST /api/v1/tokens '{"name":"x","scopes":"admin"}'; expect 403 forbidden
api DELETE "/api/v1/tokens/$READ_ID"; expect 200
TOKEN=$READ api GET /api/v1/devices; expect 401 unauthorized
api POST /api/v1/tokens '{"name":"releaser","scopes":"release,deploy,read","ttl":3600}'; expect 201
REL_TOKEN=$(json 'd["token"]')
# malformed bodies: clear 4xx, never 5xx
api POST /api/v1/tokens '{"name":"x","scopes":"admin"'; expect 400 bad_json
api POST /api/v1/tokens '{"name":"x","scopes":"root"}'; expect 400 bad_request
api POST /api/v1/tokens '{"name":"x","scopes":"read","extra":1}'; expect 400 bad_request
api POST /api/v1/tokens '["name"]'; expect 400 bad_request
python3 -c 'print("{\"name\":\"" + "a" * 2000000 + "\"}")' >big.json
api POST /api/v1/tokens @big.json; expect 413
api GET /api/v1/nosuch; expect 404 not_found
api GET /api/v1/devices/a%2F..%2Fb; expect 400

# ---- enrollment ----
enroll dev1 board-a
enroll dev2 board-a
api POST /api/v1/enroll-tokens '{"hardware":"board-a","ttl":600}'; expect 201
T=$(json 'd["token"]')
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out x.key 2>/dev/null
openssl req -new -key x.key -subj /CN=x -out x.csr 2>/dev/null
python3 -c "import json; print(json.dumps({'token':'$T','device_id':'dev1','csr':open('x.csr').read(),'wrap_key':'00'*32}))" >e.json
STATUS=$(curl -s -o body.json -w '%{http_code}' --cacert srv/fleet-ca.crt --data-binary @e.json "$URL/api/v1/enroll"); expect 409 conflict
python3 -c "import json; print(json.dumps({'token':'$T','device_id':'dev3','csr':'garbage','wrap_key':'00'*32}))" >e.json
STATUS=$(curl -s -o body.json -w '%{http_code}' --cacert srv/fleet-ca.crt --data-binary @e.json "$URL/api/v1/enroll"); expect 400 bad_csr
# the token survived both refusals; one use, then never again
python3 -c "import json; print(json.dumps({'token':'$T','device_id':'dev3','csr':open('x.csr').read(),'wrap_key':'00'*32}))" >e.json
STATUS=$(curl -s -o body.json -w '%{http_code}' --cacert srv/fleet-ca.crt --data-binary @e.json "$URL/api/v1/enroll"); expect 201
python3 -c "import json; print(json.dumps({'token':'$T','device_id':'dev4','csr':open('x.csr').read(),'wrap_key':'00'*32}))" >e.json
STATUS=$(curl -s -o body.json -w '%{http_code}' --cacert srv/fleet-ca.crt --data-binary @e.json "$URL/api/v1/enroll"); expect 401 unauthorized

# ---- device identity (mutual TLS) ----
checkin dev1
"$AIRLOCK" verify --root $R --directive directive.cbor --device dev1 --nonce "$NONCE" >out.txt || die "directive refused"
grep -q "nothing to do" out.txt || die "expected nothing to do"; pass
# replay: the directive answers only the nonce it was issued for
"$AIRLOCK" verify --root $R --directive directive.cbor --device dev1 --nonce "$(openssl rand -hex 16)" 2>err.txt \
	&& die "replayed directive accepted"; grep -q NONCE_MISMATCH err.txt || die "replay: $(cat err.txt)"; pass
"$AIRLOCK" verify --root $R --directive directive.cbor --device dev2 --nonce "$NONCE" 2>err.txt \
	&& die "other device's directive accepted"; grep -q DEVICE_MISMATCH err.txt || die "device: $(cat err.txt)"; pass
# no client certificate; a certificate from another CA; a self-signed one
STATUS=$(curl -s -o body.json -w '%{http_code}' --cacert srv/fleet-ca.crt -X POST -d '{}' "$URL/api/v1/device/checkin"); expect 401
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout evil.key -out evil.crt -subj /CN=dev1 -days 1 2>/dev/null
dev evil POST /api/v1/device/checkin '{"nonce":"00112233445566778899aabbccddeeff","security_version":0}'; expect 403 forbidden
# bad check-in bodies
dev dev1 POST /api/v1/device/checkin '{"nonce":"00","security_version":0}'; expect 400
dev dev1 POST /api/v1/device/checkin '{"nonce":"00112233445566778899aabbccddeeff"}'; expect 400
dev dev1 POST /api/v1/device/checkin 'nonsense'; expect 400 bad_json

# ---- release push: verified against the root before anything is kept ----
head -c 300000 /dev/urandom >fw.img
mkdir rel
"$AIRLOCK" release create --out rel/r.cbor --product gw --hardware board-a --version 2.0 --security-version 3 \
	--payload rootfs=fw.img --chunk-size 65536 --encrypt --recipient srv/content.pub >/dev/null || die "create"
push_json() { python3 -c "import json,base64,sys; d={'release':base64.b64encode(open(sys.argv[1],'rb').read()).decode()}
if len(sys.argv)>2: d['keys']=base64.b64encode(open(sys.argv[2],'rb').read()).decode()
print(json.dumps(d))" "$@"; }
TOKEN=$REL_TOKEN api POST /api/v1/releases "$(push_json rel/r.cbor rel/r.cbor.keys)"; expect 422 release_refused
grep -q THRESHOLD body.json || die "unsigned push: $(cat body.json)"
"$AIRLOCK" key generate --alg ed25519 --out stranger >/dev/null
cp rel/r.cbor rel/s.cbor; "$AIRLOCK" release sign rel/s.cbor --key stranger.key >/dev/null
TOKEN=$REL_TOKEN api POST /api/v1/releases "$(push_json rel/s.cbor rel/r.cbor.keys)"; expect 422 release_refused
grep -q UNKNOWN_KEY body.json || die "stranger push: $(cat body.json)"
"$AIRLOCK" release sign rel/r.cbor --key srv/dev-keys/release.key >/dev/null || die "sign"
TOKEN=$REL_TOKEN api POST /api/v1/releases "$(push_json rel/r.cbor)"; expect 400 keys_required
TOKEN=$READ api POST /api/v1/releases "$(push_json rel/r.cbor rel/r.cbor.keys)"; expect 401
TOKEN=$REL_TOKEN api POST /api/v1/releases "$(push_json rel/r.cbor rel/r.cbor.keys)"; expect 201
DIGEST=$(json 'd["digest"]')
TOKEN=$REL_TOKEN api POST /api/v1/releases "$(push_json rel/r.cbor rel/r.cbor.keys)"; expect 200   # idempotent
# a deployment needs every artifact first
TOKEN=$REL_TOKEN api POST /api/v1/deployments "{\"release\":\"$DIGEST\",\"target_kind\":\"device\",\"target\":\"dev1\"}"; expect 409 incomplete
upload() {  # upload FILE PATH
	STATUS=$(curl -s -o body.json -w '%{http_code}' --cacert srv/fleet-ca.crt -X PUT -H "Authorization: Bearer $REL_TOKEN" \
		--data-binary @"$1" "$URL/api/v1/releases/$DIGEST/payloads/$2")
}
flip() { python3 -c "import sys; d=bytearray(open(sys.argv[1],'rb').read()); d[int(sys.argv[2])]^=1; open(sys.argv[3],'wb').write(d)" "$@"; }
flip rel/rootfs.enc 1000 bad.enc
upload bad.enc rootfs; expect 422 digest_mismatch
head -c 100 rel/rootfs.enc >short.enc
upload short.enc rootfs; expect 400 size_mismatch
upload rel/rootfs.enc rootfs; expect 201
ART=$(json 'd["sha256"]')
upload rel/rootfs.chunks rootfs/chunks; expect 201
CHUNKS=$(json 'd["sha256"]')
[ "$(ls srv/data/artifacts/*/ | grep -c upload-)" = 0 ] || die "staging files left behind"; pass

# ---- deployment and the install directive ----
TOKEN=$REL_TOKEN api POST /api/v1/deployments "{\"release\":\"$DIGEST\",\"target_kind\":\"device\",\"target\":\"dev1\"}"; expect 201
DEP=$(json 'd["id"]')
checkin dev1
"$AIRLOCK" verify --root $R --directive directive.cbor --device dev1 --nonce "$NONCE" >out.txt || die "install directive refused"
grep -q "install release $DIGEST" out.txt || die "directive: $(cat out.txt)"
grep -q "content key wrapped for this device" out.txt || die "no wrapped key"; pass
"$AIRLOCK" verify --root $R --release release.cbor --hardware board-a >/dev/null || die "release from check-in refused"; pass
# the device downloads its artifact (Range too) and chunk list; dev2 may not
STATUS=$(curl -s -o got.enc -w '%{http_code}' --cacert srv/fleet-ca.crt --cert dev1.crt --key dev1.key "$URL/api/v1/artifacts/$ART"); expect 200
cmp got.enc rel/rootfs.enc || die "downloaded artifact differs"; pass
STATUS=$(curl -s -o part -w '%{http_code}' -r 1000-1999 --cacert srv/fleet-ca.crt --cert dev1.crt --key dev1.key "$URL/api/v1/artifacts/$ART"); expect 206
cmp part <(tail -c +1001 rel/rootfs.enc | head -c 1000) || die "range"; pass
STATUS=$(curl -s -o got.chunks -w '%{http_code}' --cacert srv/fleet-ca.crt --cert dev1.crt --key dev1.key "$URL/api/v1/artifacts/$CHUNKS"); expect 200
cmp got.chunks rel/rootfs.chunks || die "chunk list differs"; pass
dev dev2 GET "/api/v1/artifacts/$ART"; expect 403 forbidden
dev dev2 GET "/api/v1/artifacts/0000000000000000000000000000000000000000000000000000000000000000"; expect 403
# events: idempotent, forward only
dev dev1 POST /api/v1/device/events "{\"event_id\":\"e1\",\"deployment\":$DEP,\"state\":\"downloading\",\"progress\":10}"; expect 201
dev dev1 POST /api/v1/device/events "{\"event_id\":\"e1\",\"deployment\":$DEP,\"state\":\"downloading\",\"progress\":10}"; expect 200
[ "$(json 'd["duplicate"]')" = True ] || die "duplicate not flagged"; pass
dev dev1 POST /api/v1/device/events "{\"event_id\":\"e2\",\"deployment\":$DEP,\"state\":\"succeeded\"}"; expect 201
dev dev2 POST /api/v1/device/events "{\"event_id\":\"e3\",\"deployment\":$DEP,\"state\":\"succeeded\"}"; expect 404
dev dev1 POST /api/v1/device/events '{"event_id":"e4","state":"exploded"}'; expect 400
api GET /api/v1/deployments; expect 200
[ "$(json '[x for x in d["deployments"] if x["id"]=='$DEP'][0]["succeeded"]')" = 1 ] || die "deployment state: $(cat body.json)"; pass

# ---- revocation ----
api POST /api/v1/devices/dev2/revoke; expect 200
dev dev2 POST /api/v1/device/checkin '{"nonce":"00112233445566778899aabbccddeeff","security_version":0}'; expect 403 revoked
api GET /api/v1/devices/dev2; expect 200
[ "$(json 'd["status"]')" = revoked ] || die "not shown revoked"; pass

# ---- audit: the chain verifies, and a hand-edited row is exposed ----
api GET /api/v1/audit; expect 200
cp body.json audit.json
"$AIRLOCK" audit verify --file audit.json --key srv/audit.pub >out.txt || die "audit chain: $(cat out.txt)"; pass
for a in device.enroll release.push release.refused deployment.create device.state device.revoke token.revoke auth.fail; do
	grep -q "\"$a\"" audit.json || die "no audit entry for $a"
done; pass
if [ "$BACKEND" = sqlite ]; then
	stop_server
	sqlite3 srv/data/airlock.db "UPDATE audit SET detail = '{\"device_id\":\"mallory\"}' WHERE seq = 3"
	start_server
	api GET /api/v1/audit; expect 200
	"$AIRLOCK" audit verify --file body.json --key srv/audit.pub 2>err.txt && die "edited audit row not detected"
	grep -q "3" err.txt || die "audit: $(cat err.txt)"; pass
fi
done_ok
