#!/usr/bin/env bash
# The root chain the server keeps and serves: every version it was started
# with stays available at /api/v1/root/{version} for devices that lag
# behind, and a start with a root that would fork or roll back the chain is
# refused with a message saying why.
# Usage: test_server_roots.sh [sqlite|postgres]
. "$(dirname "$0")/lib.sh"
K=srv/dev-keys
init_server
start_server

get_root() {  # get_root PATH: the answer in got.bin, the status in STATUS
	STATUS=$(curl -s -o got.bin -w '%{http_code}' --cacert srv/fleet-ca.crt "$URL$1")
}
get_root /api/v1/root; expect 200
cmp -s got.bin srv/root.cbor || die "/root is not the config's root"; pass
get_root /api/v1/root/1; expect 200
cmp -s got.bin srv/root.cbor || die "/root/1 is not the config's root"; pass
for bad in abc 01 -1 1.0 99999999999999999999 '%31'; do
	get_root "/api/v1/root/$bad"
	[ "$STATUS" = 400 ] || [ "$STATUS" = 404 ] || die "/root/$bad answered $STATUS"; pass
done
get_root /api/v1/root/2; expect 404
get_root /api/v1/root/0; expect 404

# rotate to version 2: a new root key, signed by the old and the new
"$AIRLOCK" key generate --alg ed25519 --out root2 >/dev/null
expires=$(date -u -d '+1 year' +%Y-%m-%d)
"$AIRLOCK" root rotate --from srv/root.cbor --out v2.cbor --expires "$expires" \
	--root-key root2.pub --root-threshold 1 >/dev/null || die "rotate"
"$AIRLOCK" root sign v2.cbor --key "$K/root.key" >/dev/null
"$AIRLOCK" root sign v2.cbor --key root2.key >/dev/null
cp srv/root.cbor v1.cbor

restart_with() {  # restart_with ROOT: copies it as the config's root and starts
	[ -z "$SERVER_PID" ] || stop_server
	cp "$1" srv/root.cbor
	: >server.log
}
refused_with() {  # refused_with ROOT PATTERN: the server must not start
	restart_with "$1"
	if timeout 20 "$SERVER" --config srv/server.conf --listen "127.0.0.1:$(free_port)" >>server.log 2>&1; then
		die "server started with $1"
	fi
	grep -q "$2" server.log || die "no '$2' in: $(cat server.log)"
	pass
}

restart_with v2.cbor
start_server
get_root /api/v1/root/2; expect 200
cmp -s got.bin v2.cbor || die "/root/2 differs"; pass
get_root /api/v1/root/1; expect 200
cmp -s got.bin v1.cbor || die "/root/1 lost after rotation"; pass
get_root /api/v1/root; expect 200
cmp -s got.bin v2.cbor || die "/root is not version 2"; pass

# back to version 1: a rollback of the root
refused_with v1.cbor "older than version 2"
# another version 2 (same version, different bytes): a fork
"$AIRLOCK" root rotate --from v1.cbor --out v2b.cbor --expires "$expires" >/dev/null
"$AIRLOCK" root sign v2b.cbor --key "$K/root.key" >/dev/null
refused_with v2b.cbor "differs from the version 2"
# version 4 skipping 3
"$AIRLOCK" root rotate --from v2.cbor --out v3.cbor --expires "$expires" >/dev/null
"$AIRLOCK" root sign v3.cbor --key root2.key >/dev/null
"$AIRLOCK" root rotate --from v3.cbor --out v4.cbor --expires "$expires" >/dev/null
"$AIRLOCK" root sign v4.cbor --key root2.key >/dev/null
refused_with v4.cbor "does not follow the stored version 2"
# version 3 signed only by a key root 2 does not list: not a valid rotation
"$AIRLOCK" key generate --alg ed25519 --out rogue >/dev/null
"$AIRLOCK" root rotate --from v2.cbor --out v3rogue.cbor --expires "$expires" \
	--root-key rogue.pub --root-threshold 1 >/dev/null
"$AIRLOCK" root sign v3rogue.cbor --key rogue.key >/dev/null
refused_with v3rogue.cbor "not a valid rotation of version 2"
# the genuine version 3 is accepted and the whole chain is served
restart_with v3.cbor
start_server
for v in 1 2 3; do
	get_root "/api/v1/root/$v"; expect 200
	cmp -s got.bin "v$v.cbor" || die "/root/$v differs"; pass
done
# the additions are in the audit log
api GET /api/v1/audit; expect 200
n=$(json 'sum(1 for e in d["entries"] if e["action"] == "root.add")')
[ "$n" = 3 ] || die "expected 3 root.add audit entries, got $n"; pass
done_ok
