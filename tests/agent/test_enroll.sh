#!/usr/bin/env bash
# `airlockd enroll` against the real airlock-server: the device makes its
# own P-256 TLS key, CSR and X25519 wrap key, spends a one-time token over
# TLS verified against the fleet CA, and writes its certificate; check-in
# then works with that identity. Refusals leave every file as it was: a
# wrong CA, an unreachable server, a used or expired token, an existing key
# without --force, a device id already enrolled.
. "$(dirname "$0")/lib.sh"
init_server
start_server_pub
head -c 1000000 /dev/urandom >v1.img
make_release v1 1.0 1 v1.img
token() {  # token: a fresh enrollment token for board-a in TOK
	api POST /api/v1/enroll-tokens '{"hardware":"board-a","ttl":600}'
	[ "$STATUS" = 201 ] || die "token: $STATUS $(cat body.json)"
	TOK=$(json 'd["token"]')
}
mkdir -p dev
cat >base.conf <<EOF
[server]
url = https://127.0.0.1:$PORT
ca = $WORK/srv/fleet-ca.crt
cert = $WORK/dev/device.crt
key = $WORK/dev/device.key

[device]
hardware = board-a
root = $WORK/dev/root.cbor
state_dir = $WORK/dev/state
wrap_key = $WORK/dev/wrap.key

[slots]
backend = file
a = $WORK/dev/slot-a.img
b = $WORK/dev/slot-b.img
capacity = 4M

[boot]
backend = sim
record = $WORK/dev/boot.rec

[agent]
log = $WORK/dev/agent.log
syslog = false
connect_timeout = 5
EOF
cp base.conf dev/airlockd.conf
E() { "$AIRLOCKD" --config dev/airlockd.conf enroll "$@" >enroll.out 2>&1; RC=$?; [ -n "${ENROLL_SHOW:-}" ] && cat enroll.out >&2; }
no_identity() { [ ! -e dev/device.key ] && [ ! -e dev/wrap.key ] && [ ! -e dev/device.crt ] &&
	[ -z "$(ls dev | grep enroll)" ] || adie "files left behind: $(ls dev)"; pass; }
token

# ---- usage ----
E; [ "$RC" = 2 ] || adie "no token: rc $RC"; pass

# ---- a CA that did not sign the server: TLS refused, the token not spent ----
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key -out other.crt -subj /CN=other \
	-days 1 2>/dev/null
sed "s|^ca = .*|ca = $WORK/other.crt|" base.conf >dev/airlockd.conf
E --token "$TOK"; [ "$RC" = 5 ] || adie "wrong CA: rc $RC $(cat enroll.out)"
grep -q 'TLS refused' enroll.out && grep -q 'other.crt' enroll.out || adie "wrong CA message: $(cat enroll.out)"; pass
no_identity

# ---- nobody listening ----
sed "s|^url = .*|url = https://127.0.0.1:$(free_port)|" base.conf >dev/airlockd.conf
E --token "$TOK"; [ "$RC" = 5 ] || adie "unreachable: rc $RC $(cat enroll.out)"
grep -q 'cannot reach' enroll.out || adie "unreachable message: $(cat enroll.out)"; pass
no_identity

# ---- success: the device id defaults to the host name ----
cp base.conf dev/airlockd.conf
E --token "$TOK"; [ "$RC" = 0 ] || adie "enroll: rc $RC $(cat enroll.out)"
ID=$(hostname)
grep -q "enrolled as '$ID'" enroll.out || adie "$(cat enroll.out)"; pass
[ "$(stat -c %a dev/device.key)" = 600 ] && [ "$(stat -c %a dev/wrap.key)" = 600 ] ||
	adie "key modes: $(stat -c '%n %a' dev/device.key dev/wrap.key)"; pass
openssl x509 -in dev/device.crt -noout -subject | grep -q "CN *= *$ID\$" || adie "certificate CN"; pass
openssl verify -CAfile srv/fleet-ca.crt dev/device.crt >/dev/null || adie "certificate does not verify"; pass
[ "$(openssl x509 -in dev/device.crt -noout -pubkey)" = "$(openssl pkey -in dev/device.key -pubout)" ] ||
	adie "certificate is not for the key"; pass
openssl pkey -in dev/device.key -noout -text | grep -q 'NIST CURVE: P-256' || adie "not a P-256 key"; pass
cmp -s dev/root.cbor srv/root.cbor || adie "fleet root not written"; pass
# the server holds the wrap key the device kept
api GET "/api/v1/devices/$ID"; [ "$STATUS" = 200 ] || adie "device not on the server: $(cat body.json)"; pass
ls dev | grep -q enroll && adie "staged files left: $(ls dev)"; pass

# ---- check-in works with the new identity ----
"$AIRLOCKD" --config dev/airlockd.conf provision --release rel/v1/r.cbor --image v1.img >/dev/null || adie "provision"
agent a checkin; [ "$RC" = 0 ] || adie "check-in with the enrolled identity: rc $RC $(cat agent.out)"
grep -q '"nothing to do"' dev/agent.log || adie "no check-in: $(tail -3 dev/agent.log)"; pass
# an encrypted release for this device opens with the wrap key it made
head -c 2000000 /dev/urandom >v2.img
make_release v2 2.0 2 v2.img --encrypt --recipient srv/content.pub
push_release v2; deploy "$DIGEST" "$ID"
agent a checkin; [ "$RC" = 10 ] || adie "install with the enrolled identity: rc $RC $(cat agent.out)"
cmp -n 2000000 dev/slot-b.img v2.img || adie "slot b is not v2"; pass
sha256sum dev/device.key dev/wrap.key dev/device.crt >ident.sum

# ---- the token again: refused with the server's reason, nothing changed ----
E --token "$TOK" --force --device-id other-1; [ "$RC" = 1 ] || adie "reused token: rc $RC $(cat enroll.out)"
grep -q 'unauthorized' enroll.out && grep -q 'used or expired' enroll.out || adie "reuse message: $(cat enroll.out)"; pass
sha256sum -c --quiet ident.sum || adie "identity changed by a refused enrollment"; pass

# ---- an expired token ----
token
sqlite3 srv/data/airlock.db "UPDATE enroll_tokens SET expires = 1 WHERE used IS NULL"
E --token "$TOK" --force --device-id other-2; [ "$RC" = 1 ] || adie "expired token: rc $RC $(cat enroll.out)"
grep -q 'used or expired' enroll.out || adie "expiry message: $(cat enroll.out)"; pass

# ---- an existing key is never overwritten without --force (the token is kept) ----
token
E --token "$TOK" --device-id dev-2; [ "$RC" = 3 ] || adie "overwrite: rc $RC $(cat enroll.out)"
grep -q 'already exists' enroll.out || adie "overwrite message: $(cat enroll.out)"; pass
sha256sum -c --quiet ident.sum || adie "identity changed without --force"; pass
# --force, but the id is already enrolled: 409, the files stay as they were
E --token "$TOK" --force --device-id "$ID"; [ "$RC" = 1 ] || adie "taken id: rc $RC $(cat enroll.out)"
grep -q 'conflict' enroll.out || adie "taken id message: $(cat enroll.out)"; pass
sha256sum -c --quiet ident.sum || adie "identity changed by a refused enrollment"; pass
# --force with a free id (the same token: a refused CSR or taken id leaves it unused)
E --token "$TOK" --force --device-id dev-2; [ "$RC" = 0 ] || adie "--force: rc $RC $(cat enroll.out)"
sha256sum -c --quiet ident.sum >/dev/null 2>&1 && adie "--force did not replace the identity"; pass
[ "$(stat -c %a dev/device.key)" = 600 ] && [ "$(stat -c %a dev/wrap.key)" = 600 ] || adie "modes after --force"; pass
openssl x509 -in dev/device.crt -noout -subject | grep -q 'CN *= *dev-2$' || adie "CN after --force"; pass
AIRLOCK_BOOT_SLOT=b "$AIRLOCKD" --config dev/airlockd.conf commit >agent.out 2>&1 || adie "commit: $(cat agent.out)"
agent b checkin; [ "$RC" = 0 ] || adie "check-in as dev-2: rc $RC $(cat agent.out)"
[ -n "$(sqlite3 srv/data/airlock.db "SELECT last_seen FROM devices WHERE id = 'dev-2'")" ] ||
	adie "the server did not see dev-2 check in"; pass
done_ok
