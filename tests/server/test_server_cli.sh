#!/usr/bin/env bash
# The admin CLI against the real airlock-server over real TLS on 127.0.0.1:
# every admin verb, the token scopes and their refusals, the settings'
# precedence (flag > environment > config file) and the config file's 0600
# rule, plain http:// and a wrong CA refused, a release made and signed with
# the CLI pushed (tampered and under-signed ones refused), a 64 MiB payload
# streamed, deployments, devices, and the audit log fetched and verified.
# Usage: test_server_cli.sh [sqlite|postgres]
. "$(dirname "$0")/lib.sh"
A=$AIRLOCK

# No settings from the person running the test.
unset AIRLOCK_SERVER AIRLOCK_CA AIRLOCK_TOKEN AIRLOCK_CONFIG
export HOME=$WORK/home
mkdir -p "$HOME"

# cli RC CMD...: the airlock CLI must exit RC; on failure, one line on stderr.
cli() {
	local want=$1; shift
	"$A" "$@" >out.txt 2>err.txt
	local got=$?
	[ "$got" = "$want" ] || { cat out.txt err.txt >&2; die "expected exit $want, got $got: airlock $*"; }
	if [ "$want" != 0 ]; then
		[ "$(grep -vc ': note:' err.txt)" = 1 ] || { cat err.txt >&2; die "expected one error line: airlock $*"; }
	fi
	pass
}
# cli_err RC PATTERN CMD...: as cli, and stderr names PATTERN.
cli_err() {
	local want=$1 pat=$2; shift 2
	cli "$want" "$@"
	grep -q -- "$pat" err.txt || { cat err.txt >&2; die "expected '$pat' on stderr: airlock $*"; }
}
has() { grep -q -- "$1" out.txt || { cat out.txt >&2; die "expected '$1' in the output"; }; pass; }
jsonout() { python3 -c "import json; d=json.load(open('out.txt')); print($1)"; }

# SQL against the server's database (either backend), to age a token.
sql() {
	if [ "$BACKEND" = sqlite ]; then
		sqlite3 srv/data/airlock.db "$1"
	else
		psql "$(sed -n 's/^conninfo = //p' srv/server.conf)" -qc "$1" >/dev/null
	fi
}

# ---- a fleet made with the CLI: 2-of-2 release keys, the server's director key ----
for k in r1 s1 s2 d1; do "$A" key generate --alg ed25519 --out $k >/dev/null || die "key $k"; done
"$A" root create --out fleet.cbor --expires +365d --root-key r1.pub --root-threshold 1 \
	--release-key s1.pub --release-key s2.pub --release-threshold 2 --director-key d1.pub >/dev/null || die "root"
"$A" root sign fleet.cbor --key r1.key >/dev/null || die "root sign"
init_server --root fleet.cbor --director-key d1.key
# this test makes many refused calls on purpose: keep the rate limit out of the way
printf '\n[limits]\nauth_failures_per_minute = 1000\n' >>srv/server.conf
start_server
CA=srv/fleet-ca.crt

# ---- settings: usage errors before any network ----
cli_err 2 "no server" devices list
cli_err 2 "plain http:// is refused" devices list --server "http://127.0.0.1:$PORT" --ca $CA --token "$ADMIN"
AIRLOCK_SERVER="HTTP://127.0.0.1:$PORT" cli_err 2 "plain http:// is refused" devices list --ca $CA --token "$ADMIN"
cli_err 2 "expected https://" devices list --server "ftp://127.0.0.1:$PORT" --token "$ADMIN"
cli_err 2 "no admin token" devices list --server "$URL" --ca $CA
cli_err 2 "not a bearer token" devices list --server "$URL" --ca $CA --token "ala_x y"
cli_err 3 "AIRLOCK_ERR_IO_OPEN" devices list --server "$URL" --ca nosuch.crt --token "$ADMIN"
cli_err 2 "timeout" devices list --server "$URL" --ca $CA --token "$ADMIN" --timeout 0

export AIRLOCK_SERVER=$URL AIRLOCK_CA=$CA

# ---- TLS: the server is verified against the given CA only ----
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other-ca.key -out other-ca.crt \
	-subj /CN=other-ca -days 1 2>/dev/null
cli_err 5 "AIRLOCK_ERR_TLS" server status --ca other-ca.crt
cli_err 5 "AIRLOCK_ERR_TLS" devices list --ca /etc/ssl/certs/ca-certificates.crt --token "$ADMIN"
cli_err 5 "AIRLOCK_ERR_NETWORK" server status --server "https://127.0.0.1:$(free_port)"
# a peer that accepts the connection and never answers: the total timeout ends it
python3 -c 'import socket,time,sys; s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(8); print(s.getsockname()[1], flush=True); time.sleep(30)' >stall.port &
STALL_PID=$!
for _ in $(seq 50); do [ -s stall.port ] && break; sleep 0.1; done
start=$(date +%s)
cli_err 5 "AIRLOCK_ERR_TOO_SLOW" server status --server "https://127.0.0.1:$(cat stall.port)" --timeout 2
[ $(($(date +%s) - start)) -le 6 ] || die "timeout not honoured"; pass
kill $STALL_PID; wait $STALL_PID 2>/dev/null

# ---- server status: honest about what the server reports ----
cli 0 server status
has "health: *ok"; has "fleet root: *version 1"; has "need a token"
cli 0 server status --token "$ADMIN"
has "devices: *0"; has "releases: *0"
cli 0 server status --json
[ "$(jsonout 'd["status"]')" = ok ] || die "status json"; pass

# ---- admin tokens and scopes ----
export AIRLOCK_TOKEN=$ADMIN
cli 0 tokens create --name reader --scopes read --ttl 1h
has "token (shown once): ala_"; READ=$(sed -n 's/^token (shown once): //p' out.txt)
cli 0 tokens create --name releaser --scopes release --ttl 2h --json
REL=$(jsonout 'd["token"]')
cli 0 tokens create --name deployer --scopes deploy,read
DEPLOY=$(sed -n 's/^token (shown once): //p' out.txt)
cli 0 tokens create --name doomed --scopes read,deploy --ttl 10m
DOOMED=$(sed -n 's/^token (shown once): //p' out.txt); DOOMED_ID=$(sed -n 's/^  id \([0-9a-f]*\),.*/\1/p' out.txt)
cli 0 tokens create --name aging --scopes read --ttl 3600
AGING=$(sed -n 's/^token (shown once): //p' out.txt); AGING_ID=$(sed -n 's/^  id \([0-9a-f]*\),.*/\1/p' out.txt)
cli 0 tokens list
has "reader  *read"; has "releaser  *release"; has "initial-admin"
for t in "$READ" "$REL" "$DEPLOY" "$ADMIN"; do grep -q -- "$t" out.txt && die "tokens list shows a secret"; done; pass
cli_err 2 "scopes" tokens create --name x --scopes read,root
cli_err 2 "ttl" tokens create --name x --scopes read --ttl 5
cli_err 2 "required" tokens create --name x
cli_err 2 "not a token id" tokens revoke nothex
# a token without the needed scope: refused, with the server's reason
AIRLOCK_TOKEN=$READ cli_err 1 "HTTP 403 forbidden: the token lacks the scope" tokens list
AIRLOCK_TOKEN=$READ cli_err 1 "HTTP 403 forbidden" enroll-token create --hardware board-a
cli 0 tokens revoke "$DOOMED_ID"
has "revoked"
AIRLOCK_TOKEN=$DOOMED cli_err 1 "HTTP 401 unauthorized: the token was revoked" devices list
cli_err 1 "HTTP 404 not_found" tokens revoke "$DOOMED_ID"
sql "UPDATE admin_tokens SET expires = 1 WHERE id = '$AGING_ID'"
AIRLOCK_TOKEN=$AGING cli_err 1 "HTTP 401 unauthorized: the token has expired" devices list
cli_err 1 "HTTP 401 unauthorized" devices list --token ala_secretvalue
grep -q secretvalue err.txt out.txt && die "a token was echoed"; pass

# ---- precedence: flag > environment > config file; the config file's mode ----
mkdir -p "$HOME/.config/airlock" cfg
cp $CA cfg/ca.crt
printf '[admin]\nserver = %s\nca = ca.crt\ntoken = %s\n' "$URL" "$READ" >cfg/admin.conf
chmod 644 cfg/admin.conf
unset AIRLOCK_SERVER AIRLOCK_CA AIRLOCK_TOKEN
cli_err 3 "AIRLOCK_ERR_KEY_PERMS" devices list --config cfg/admin.conf
grep -q "chmod 600" err.txt || die "no hint"; pass
chmod 600 cfg/admin.conf
cli 0 devices list --config cfg/admin.conf       # server, relative ca and token from the file
AIRLOCK_CONFIG=cfg/admin.conf cli 0 devices list
AIRLOCK_CONFIG=cfg/admin.conf cli_err 1 "403 forbidden" tokens list                          # the file's read token
AIRLOCK_CONFIG=cfg/admin.conf AIRLOCK_TOKEN=$ADMIN cli 0 tokens list                          # env beats the file
AIRLOCK_CONFIG=cfg/admin.conf AIRLOCK_TOKEN=$ADMIN cli_err 1 "401" tokens list --token ala_nope   # flag beats env
AIRLOCK_CONFIG=cfg/admin.conf AIRLOCK_SERVER="https://127.0.0.1:$(free_port)" cli_err 5 "AIRLOCK_ERR_NETWORK" devices list
AIRLOCK_CONFIG=cfg/admin.conf AIRLOCK_SERVER="https://127.0.0.1:1" cli 0 devices list --server "$URL"
AIRLOCK_CONFIG=cfg/admin.conf AIRLOCK_CA=other-ca.crt cli_err 5 "AIRLOCK_ERR_TLS" devices list
# the default file, and an explicit one that is missing
cp cfg/admin.conf "$HOME/.config/airlock/admin.conf"; cp cfg/ca.crt "$HOME/.config/airlock/"
cli 0 devices list
cli_err 3 "AIRLOCK_ERR_IO_OPEN" devices list --config nosuch.conf
# without a token, group-readable is fine; typos are refused with the line
printf '[admin]\nserver = %s\nca = ca.crt\n' "$URL" >cfg/open.conf; chmod 644 cfg/open.conf
cli 0 devices list --config cfg/open.conf --token "$READ"
printf '[admin]\nserver = %s\nserver_url = x\n' "$URL" >cfg/typo.conf
cli_err 1 "line 3: unknown key 'server_url'" devices list --config cfg/typo.conf --token "$READ"
printf '[admin]\nserver = http://127.0.0.1:%s\n' "$PORT" >cfg/plain.conf
cli_err 2 "plain http://" devices list --config cfg/plain.conf --token "$READ"
rm "$HOME/.config/airlock/admin.conf"
export AIRLOCK_SERVER=$URL AIRLOCK_CA=$CA AIRLOCK_TOKEN=$ADMIN

# ---- enrollment tokens and devices ----
cli 0 enroll-token create --hardware board-a --group lab --tags east,beta --ttl 10m
has "enrollment token (shown once): ale_"
ETOK=$(sed -n 's/^enrollment token (shown once): //p' out.txt)
cli_err 2 "ttl" enroll-token create --hardware board-a --ttl 10
cli_err 2 "tags" enroll-token create --hardware board-a --tags "a,,b"
cli_err 2 "required" enroll-token create
# the device enrolls with the CLI's token, as airlockd would
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out dev1.key 2>/dev/null
openssl req -new -key dev1.key -subj /CN=ignored -out dev1.csr 2>/dev/null
"$A" key generate --alg x25519 --out dev1-wrap >/dev/null || die "wrap key"
WRAP=$(openssl pkey -pubin -in dev1-wrap.pub -outform DER | tail -c 32 | od -An -tx1 | tr -d ' \n')
python3 -c "import json; print(json.dumps({'token':'$ETOK','device_id':'dev1','csr':open('dev1.csr').read(),'wrap_key':'$WRAP'}))" >e.json
STATUS=$(curl -s -o body.json -w '%{http_code}' --cacert $CA --data-binary @e.json "$URL/api/v1/enroll"); expect 201
json 'd["certificate"]' >dev1.crt
enroll dev2 board-a
cli 0 devices list
has "dev1  *board-a  *lab  *east,beta  *active"; has "dev2  *board-a"
cli 0 devices show dev1
has "hardware: *board-a"; has "group: *lab"; has "status: *active"; has "certificate expires: *20"
cli 0 devices show dev1 --json
[ "$(jsonout 'd["id"]')" = dev1 ] || die "show json"; pass
cli_err 1 "HTTP 404 not_found: no device 'nosuch'" devices show nosuch
cli_err 2 "device id" devices show
AIRLOCK_TOKEN=$READ cli_err 1 "403 forbidden" devices revoke dev2
cli 0 devices revoke dev2
has "dev2 revoked"
dev dev2 POST /api/v1/device/checkin '{"nonce":"00112233445566778899aabbccddeeff","security_version":0}'; expect 403 revoked
cli_err 1 "404 not_found" devices revoke dev2
cli 0 devices show dev2
has "status: *revoked"

# ---- releases: made and signed with the CLI, pushed, checked by the server ----
head -c 300000 /dev/urandom >fw.img
mkdir rel
"$A" release create --out rel/r.cbor --product gw --hardware board-a --version 2.0 --security-version 3 \
	--payload rootfs=fw.img --encrypt --recipient srv/content.pub >/dev/null || die "release create"
cli_err 1 "HTTP 422 release_refused: AIRLOCK_ERR_THRESHOLD" release push rel/r.cbor
"$A" release sign rel/r.cbor --key s1.key >/dev/null || die "sign s1"
cli_err 1 "1 of 2 release signatures" release push rel/r.cbor
"$A" release sign rel/r.cbor --key s2.key >/dev/null || die "sign s2"
# a tampered release (the product renamed after signing) is refused, nothing kept
python3 -c "import sys; d=open('rel/r.cbor','rb').read(); i=d.index(b'gw'); open('rel/t.cbor','wb').write(d[:i]+b'gx'+d[i+2:])"
cli_err 1 "release_refused: AIRLOCK_ERR_BAD_SIGNATURE" release push rel/t.cbor --keys rel/r.cbor.keys
cli_err 1 "fleet.cbor: not a release: AIRLOCK_ERR_WRONG_TYPE" release push fleet.cbor
cli_err 1 "AIRLOCK_ERR_TOO_LARGE" release push fw.img
cli_err 2 "required" release push
AIRLOCK_TOKEN=$READ cli_err 1 "403 forbidden" release push rel/r.cbor
# local checks before anything is sent
cli_err 1 "is the plaintext" release push rel/r.cbor --payload rootfs=fw.img
head -c 1000 rel/rootfs.enc >short.enc
cli_err 1 "AIRLOCK_ERR_SIZE_MISMATCH" release push rel/r.cbor --payload rootfs=short.enc
cli_err 2 "no payload of that name" release push rel/r.cbor --payload kernel=fw.img
cli_err 3 "keys file rel/nosuch.keys" release push rel/r.cbor --keys rel/nosuch.keys
# a tampered payload byte: the server refuses it and the release stays incomplete
python3 -c "d=bytearray(open('rel/rootfs.enc','rb').read()); d[5000]^=1; open('bad.enc','wb').write(d)"
cli_err 1 "HTTP 422 digest_mismatch" release push rel/r.cbor --payload rootfs=bad.enc --token "$REL"
has "accepted"
DIGEST=$(sed -n 's/.* accepted: \([0-9a-f]*\)$/\1/p' out.txt)
[ ${#DIGEST} = 64 ] || die "no digest printed"; pass
cli_err 1 "HTTP 409 incomplete" deployments create --release "$DIGEST" --device dev1
# the files 'release create' wrote are found by default
cli 0 release push rel/r.cbor --token "$REL"
has "already on the server"; has "uploaded payload rootfs: $(stat -c %s rel/rootfs.enc) bytes from rel/rootfs.enc"
has "uploaded chunk list rootfs: 160 bytes from rel/rootfs.chunks"
cli 0 release push rel/r.cbor          # again: complete, nothing sent
has "nothing sent"
cli 0 release list
has "$DIGEST  *gw  *2.0  *3  *board-a  *yes"
# 64 MiB, plaintext, from another directory: streamed with an explicit length
head -c $((64 << 20)) /dev/urandom >big.img
mkdir big
"$A" release create --out big/big.cbor --product gw --hardware board-a --version 3.0 --security-version 4 \
	--payload rootfs=big.img --chunk-size 1048576 >/dev/null || die "big create"
for k in s1 s2; do "$A" release sign big/big.cbor --key $k.key >/dev/null || die "big sign"; done
cli_err 2 "give --payload rootfs=FILE" release push big/big.cbor
cp big/big.cbor big.cbor
python3 - "$A" release push big.cbor --payload rootfs=big.img --artifacts big --token "$REL" >rss.txt <<'PY' || die "big push: $(cat out.txt err.txt)"
import resource, subprocess, sys
with open("out.txt", "w") as o, open("err.txt", "w") as e:
    rc = subprocess.run(sys.argv[1:], stdout=o, stderr=e).returncode
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(rc)
PY
has "uploaded payload rootfs: 67108864 bytes from big.img, sha256 $(sha256sum big.img | cut -c1-64)"
has "uploaded chunk list rootfs: 2048 bytes from big/rootfs.chunks"
# (sanitizer builds carry their own shadow memory: no bound there)
if ! ldd "$A" | grep -q libasan; then
	[ "$(cat rss.txt)" -lt 32768 ] || die "the 64 MiB upload took $(cat rss.txt) KiB of memory"; pass
fi
echo "64 MiB push: peak RSS $(cat rss.txt) KiB"
BIG=$(sed -n 's/.* accepted: \([0-9a-f]*\)$/\1/p' out.txt)

# ---- deployments ----
cli_err 2 "exactly one" deployments create --release "$DIGEST" --device dev1 --group lab
cli_err 2 "64 lowercase hex" deployments create --release abc --device dev1
cli_err 1 "404 not_found" deployments create --release "$(printf '0%.0s' $(seq 64))" --device dev1
AIRLOCK_TOKEN=$READ cli_err 1 "403 forbidden" deployments create --release "$DIGEST" --device dev1
AIRLOCK_TOKEN=$DEPLOY cli 0 deployments create --release "$DIGEST" --device dev1
has "release $DIGEST to device dev1 (active)"
DEP=$(sed -n 's/^deployment \([0-9]*\):.*/\1/p' out.txt)
cli 0 deployments create --release "$BIG" --group lab --json
[ "$(jsonout 'd["target_kind"]')" = group ] || die "deployment json"; pass
GROUP_DEP=$(jsonout 'd["id"]')
checkin dev1
json '"release" in d' | grep -q True || die "dev1 was not offered its deployment"; pass
AIRLOCK_TOKEN=$DEPLOY cli 0 deployments list
has "$DEP  *$DIGEST  *device  *dev1  *active"
cli 0 deployments cancel "$GROUP_DEP"
has "deployment $GROUP_DEP cancelled"
cli 0 deployments list --json
[ "$(jsonout '[x["status"] for x in d["deployments"] if x["id"]=='$GROUP_DEP'][0]')" = cancelled ] || die "not cancelled"; pass
cli_err 1 "404 not_found" deployments cancel "$GROUP_DEP"
cli_err 2 "positive integer" deployments cancel x1

# ---- audit: show, fetch, verify ----
cli 0 audit show
for a in token.create token.revoke enroll_token.create device.enroll device.revoke release.push release.refused \
	artifact.upload deployment.create deployment.cancel auth.fail; do has " $a "; done
cli 0 audit show --from 2 --to 3
[ "$(grep -cE '^[0-9]+  [0-9]{4}-' out.txt)" = 2 ] || die "audit range: $(cat out.txt)"; pass
cli_err 2 "below --from" audit show --from 5 --to 3
AIRLOCK_TOKEN=$DOOMED cli_err 1 "401 unauthorized" audit show
cli 0 audit fetch --out export.json --new-checkpoint
has "checkpoint signed"
cli 0 audit verify --file export.json --key srv/audit.pub
has "OK audit log export.json"
cli_err 3 "AIRLOCK_ERR_EXISTS" audit fetch --out export.json
AIRLOCK_TOKEN=$READ cli_err 1 "403 forbidden" audit fetch --out other.json --new-checkpoint
[ ! -e other.json ] || die "a refused fetch left a file"; pass
AIRLOCK_TOKEN=$DOOMED cli_err 1 "401 unauthorized" audit fetch --out other.json
[ ! -e other.json ] || die "an error answer landed in the file"; pass
cli 0 audit verify --remote --key srv/audit.pub
has "OK audit log from the server"
cli_err 2 "need --remote" audit verify --file export.json --key srv/audit.pub --token "$ADMIN"

# ---- --help everywhere ----
for v in "server status" "devices list" "devices" "enroll-token create" "release push" "release list" \
	"deployments create" "tokens create" "audit show" "audit fetch" "audit verify"; do
	# shellcheck disable=SC2086
	cli 0 $v --help
	has "usage: airlock"
done
done_ok
