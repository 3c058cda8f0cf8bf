#!/usr/bin/env bash
# airlockd's transport against real TLS on 127.0.0.1: a pinned server key
# (right and wrong), a server certificate from another CA, a certificate
# for another name, a redirect (never followed), and a resumed download
# answered with the whole file instead of the asked range (BAD_RANGE).
. "$(dirname "$0")/lib.sh"
init_server
MITM_PORT=$(free_port)
start_server_pub "$MITM_PORT"
enroll dev1 board-a
start_mitm
make_device "$PORT"
head -c 1000000 /dev/urandom >v1.img
head -c 6000000 /dev/urandom >v2.img
make_release v1 1.0 1 v1.img
make_release v2 2.0 2 v2.img --encrypt --recipient srv/content.pub
"$AIRLOCKD" --config dev/airlockd.conf provision --release rel/v1/r.cbor --image v1.img >/dev/null || adie "provision"
cp dev/airlockd.conf base.conf
conf() { cp base.conf dev/airlockd.conf; sed -i "s|^$1 = .*|$1 = $2|" dev/airlockd.conf; grep -q "^$1 = $2\$" dev/airlockd.conf || die "conf $1"; }
spki() { openssl x509 -in "$1" -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64; }

# ---- the server's public key pinned: right, then wrong ----
cp base.conf dev/airlockd.conf; sed -i "s|^\[server\]$|[server]\npin = sha256//$(spki srv/server.crt)|" dev/airlockd.conf
agent a checkin; [ "$RC" = 0 ] || adie "right pin refused: $RC $(cat agent.out)"; pass
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key -out other.crt -subj /CN=other \
	-days 1 2>/dev/null
cp base.conf dev/airlockd.conf; sed -i "s|^\[server\]$|[server]\npin = sha256//$(spki other.crt)|" dev/airlockd.conf
agent a checkin; [ "$RC" = 5 ] || adie "wrong pin: $RC $(cat agent.out)"
expect_log TLS_NAME

# ---- a server certificate the fleet CA did not sign ----
conf ca "$WORK/other.crt"
agent a checkin; [ "$RC" = 5 ] || adie "other CA: $RC $(cat agent.out)"
expect_log TLS

# ---- a certificate of the fleet CA, but for another name ----
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout evil.key -out evil.csr \
	-subj /CN=evil.example 2>/dev/null
printf 'subjectAltName=DNS:evil.example\n' >evil.ext
openssl x509 -req -in evil.csr -CA srv/fleet-ca.crt -CAkey srv/fleet-ca.key -CAcreateserial -days 1 \
	-extfile evil.ext -out evil.crt 2>/dev/null || adie "cannot make the evil certificate"
EVIL_PORT=$(free_port)
python3 "$SRC/tests/agent/mitm.py" "$EVIL_PORT" "$PORT" evil.crt evil.key srv/fleet-ca.crt dev1.crt dev1.key \
	mitm.mode evil.log 2>>mitm.err &
EVIL_PID=$!
sleep 1
conf url "https://127.0.0.1:$EVIL_PORT"
agent a checkin; kill $EVIL_PID; [ "$RC" = 5 ] || adie "wrong name: $RC $(cat agent.out)"
expect_log TLS_NAME
[ ! -s evil.log ] || adie "a request reached the wrong-name server"; pass

# ---- a redirect is an error, never followed ----
conf url "https://127.0.0.1:$MITM_PORT"
: >mitm.log; mitm redirect
agent a checkin; [ "$RC" = 5 ] || adie "redirect: $RC $(cat agent.out)"
expect_log HTTP_STATUS
grep -q '"check-in: HTTP 302' dev/agent.log || adie "302 not named"; pass
[ "$(grep -c 'POST /api/v1/device/checkin' mitm.log)" = 1 ] || adie "redirect retried or followed: $(cat mitm.log)"; pass

# ---- a resumed download answered 200 with the whole file: BAD_RANGE ----
push_release v2; deploy "$DIGEST" dev1
: >mitm.log; mitm cutnorange:3000000
agent a checkin; [ "$RC" = 5 ] || adie "no range: $RC $(cat agent.out)"
expect_log BAD_RANGE
server_told BAD_RANGE
mitm pass
agent a checkin; [ "$RC" = 10 ] || adie "after BAD_RANGE: $RC $(cat agent.out)"
cmp -n 6000000 dev/slot-b.img v2.img || adie "slot b is not v2"; pass
done_ok
