#!/usr/bin/env bash
# The root chain (DESIGN.md "Trust"): the server's director key rotates
# through root v2, and its root key through v3, while the device still
# trusts v1. Its next check-in gets a directive signed by a key v1 does not
# know; the agent fetches the server's root, walks v1 -> v2 -> v3 (each
# step signed by a threshold of the previous root and of itself), stores
# v3, and then accepts the directive and an update signed under v3.
. "$(dirname "$0")/lib.sh"
K=srv/dev-keys
init_server
start_server_pub
enroll dev1 board-a
cp srv/root.cbor root-v1.cbor
make_device "$PORT"
sed -i "s|^root = .*|root = $WORK/root-v1.cbor|" dev/airlockd.conf
head -c 500000 /dev/urandom >v1.img
head -c 700000 /dev/urandom >v2.img
make_release v1 1.0 1 v1.img
"$AIRLOCKD" --config dev/airlockd.conf provision --release rel/v1/r.cbor --image v1.img >/dev/null || adie "provision"
agent a checkin; [ "$RC" = 0 ] || adie "check-in under v1: $RC $(cat agent.out)"

expires=$(date -u -d '+1 year' +%Y-%m-%d)
"$AIRLOCK" key generate --alg ed25519 --out director2 >/dev/null
"$AIRLOCK" root rotate --from root-v1.cbor --out root-v2.cbor --expires "$expires" \
	--director-key director2.pub --director-threshold 1 >/dev/null || die "rotate v2"
"$AIRLOCK" root sign root-v2.cbor --key "$K/root.key" >/dev/null || die "sign v2"
"$AIRLOCK" key generate --alg ed25519 --out root3 >/dev/null
"$AIRLOCK" root rotate --from root-v2.cbor --out root-v3.cbor --expires "$expires" \
	--root-key root3.pub --root-threshold 1 >/dev/null || die "rotate v3"
"$AIRLOCK" root sign root-v3.cbor --key "$K/root.key" >/dev/null
"$AIRLOCK" root sign root-v3.cbor --key root3.key >/dev/null
# the server learns each version at a start, in order
sed -i "s|^director_key = .*|director_key = $WORK/director2.key|" srv/server.conf
for v in 2 3; do
	stop_server; cp root-v$v.cbor srv/root.cbor; start_server_pub
done
sed -i "s|^url = .*|url = https://127.0.0.1:$PORT|" dev/airlockd.conf

agent a checkin; [ "$RC" = 0 ] || adie "check-in after the rotation: $RC $(cat agent.out)"
grep -q 'trusted root is now version 3' dev/agent.log || adie "chain not walked"; pass
cmp -s dev/state/root.cbor root-v3.cbor || adie "stored root is not v3"; pass
"$AIRLOCKD" --config dev/airlockd.conf status --json | grep -q '"root_version": 3' || adie "status root"; pass

# an update under v3 installs
make_release v2 2.0 2 v2.img
push_release v2; deploy "$DIGEST" dev1
agent a checkin; [ "$RC" = 10 ] || adie "update under v3: $RC $(cat agent.out)"
cmp -n 700000 dev/slot-b.img v2.img || adie "slot b is not v2"; pass
done_ok
