# More helpers for the server integration tests (sourced after lib.sh): a
# signed release with its artifacts on the server, deployments, and direct
# SQL on the server's database (SQLite file or PostgreSQL) for checks that
# the API does not expose.

# release_up NAME SECURITY_VERSION [SIZE]: creates, signs (development
# release key), pushes and uploads an encrypted release with one payload
# "rootfs" of SIZE random bytes. Sets DIGEST, ART (payload) and CHUNKS.
release_up() {
	local name=$1 sv=$2 size=${3:-200000}
	mkdir -p "rel-$name"
	head -c "$size" /dev/urandom >"rel-$name/fw.img"
	"$AIRLOCK" release create --out "rel-$name/r.cbor" --product gw --hardware board-a --version "$name" \
		--security-version "$sv" --payload rootfs="rel-$name/fw.img" --chunk-size 65536 --encrypt \
		--recipient srv/content.pub >/dev/null || die "release create $name"
	"$AIRLOCK" release sign "rel-$name/r.cbor" --key srv/dev-keys/release.key >/dev/null || die "release sign $name"
	python3 -c "import json,base64,sys
print(json.dumps({'release':base64.b64encode(open(sys.argv[1],'rb').read()).decode(),
                  'keys':base64.b64encode(open(sys.argv[2],'rb').read()).decode()}))" \
		"rel-$name/r.cbor" "rel-$name/r.cbor.keys" >"rel-$name/push.json"
	api POST /api/v1/releases @"rel-$name/push.json"
	expect 201
	DIGEST=$(json 'd["digest"]')
	local part
	for part in rootfs rootfs/chunks; do
		local file="rel-$name/rootfs.enc"
		[ "$part" = rootfs/chunks ] && file="rel-$name/rootfs.chunks"
		STATUS=$(curl -s -o body.json -w '%{http_code}' --cacert srv/fleet-ca.crt -X PUT \
			-H "Authorization: Bearer $ADMIN" --data-binary @"$file" "$URL/api/v1/releases/$DIGEST/payloads/$part")
		expect 201
		if [ "$part" = rootfs ]; then ART=$(json 'd["sha256"]'); else CHUNKS=$(json 'd["sha256"]'); fi
	done
}

# deploy KIND TARGET: a deployment of $DIGEST; sets DEP.
deploy() {
	api POST /api/v1/deployments "{\"release\":\"$DIGEST\",\"target_kind\":\"$1\",\"target\":\"$2\"}"
	expect 201
	DEP=$(json 'd["id"]')
}

# sql QUERY: rows of the server's database, columns separated by '|'.
sql() {
	if [ "$BACKEND" = postgres ]; then
		psql "$(sed -n 's/^conninfo = //p' srv/server.conf)" -XAtq -c "$1"
	else
		sqlite3 -batch srv/data/airlock.db ".timeout 5000" "$1"
	fi
}

# set_conf SECTION KEY VALUE: adds a setting to srv/server.conf (the
# section is appended if it is not there yet; a key must not repeat).
set_conf() {
	if grep -q "^\[$1\]" srv/server.conf; then
		sed -i "/^\[$1\]/a $2 = $3" srv/server.conf
	else
		printf '\n[%s]\n%s = %s\n' "$1" "$2" "$3" >>srv/server.conf
	fi
}

# restart_server [ARGS...]: starts the server again on the port it had
# (after a stop_server or a kill), so clients configured with $URL reach
# it; ARGS go to airlock-server.
restart_server() {
	"$SERVER" --config srv/server.conf --listen "127.0.0.1:$PORT" "$@" >>server.log 2>&1 &
	SERVER_PID=$!
	for _ in $(seq 100); do
		curl -s --cacert srv/fleet-ca.crt "$URL/healthz" >/dev/null 2>&1 && return 0
		kill -0 "$SERVER_PID" 2>/dev/null || die "server exited"
		sleep 0.1
	done
	die "server did not come up"
}
