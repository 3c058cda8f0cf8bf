#!/usr/bin/env bash
# The server's HTTP layer (server/http*.c) against real clients: curl and
# openssl s_client, over TLS on 127.0.0.1, through tests/server/http_testd.
#
# Build of http_testd (until CMake has it; CMake lines in the same spirit):
#   add_executable(http_testd tests/server/http_testd.c)
#   target_link_libraries(http_testd PRIVATE airlock-server-core)
#   add_test(NAME server.test_http COMMAND bash tests/server/test_http.sh)
#   set_tests_properties(server.test_http PROPERTIES LABELS server
#     ENVIRONMENT "HTTP_TESTD=$<TARGET_FILE:http_testd>")
# or by hand, from the repository root, with build/ configured:
#   cmake --build build --target airlock-server-core &&
#   cc -std=c11 -D_POSIX_C_SOURCE=200809L -Iinclude -Ilib -Iserver \
#      $(pkg-config --cflags libmicrohttpd gnutls jansson) tests/server/http_testd.c \
#      build/libairlock-server-core.a build/libairlock.a \
#      $(pkg-config --libs libmicrohttpd gnutls jansson sqlite3 libpq inih) -lcrypto -lpthread \
#      -o build/tests/http_testd
#
# Needs: bash, openssl (CLI), curl (CLI), coreutils. $HTTP_TESTD is the
# daemon (default build/tests/http_testd). Prints "N passed, N failed".
set -u

HTTP_TESTD=${HTTP_TESTD:-build/tests/http_testd}
for tool in openssl curl sha256sum timeout; do
	command -v "$tool" >/dev/null || { echo "test_http: needs $tool (scripts/setup installs it)" >&2; exit 1; }
done
[ -x "$HTTP_TESTD" ] || { echo "test_http: no daemon at $HTTP_TESTD (set HTTP_TESTD)" >&2; exit 1; }
HTTP_TESTD=$(cd "$(dirname "$HTTP_TESTD")" && pwd)/$(basename "$HTTP_TESTD")

W=$(mktemp -d)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
cd "$W"

passed=0
failed=0
pass() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
# check NAME CMD...: CMD must succeed.
check() {
	local name=$1; shift
	if "$@"; then pass; else fail "$name"; fi
}

# ---- certificates (openssl CLI) ----------------------------------------

mkdir pki
newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null && chmod 600 "$1"; }
# mkca DIR CN: a CA with an `openssl ca` database (for dates, revocation, CRLs).
mkca() {
	local d=pki/$1
	mkdir -p "$d/new"
	: >"$d/index.txt"
	echo 1000 >"$d/serial"
	echo 1000 >"$d/crlnumber"
	cat >"$d/ca.cnf" <<EOF
[ ca ]
default_ca = this
[ this ]
dir = $W/$d
database = \$dir/index.txt
new_certs_dir = \$dir/new
serial = \$dir/serial
crlnumber = \$dir/crlnumber
certificate = \$dir/ca.pem
private_key = \$dir/ca.key
default_md = sha256
default_days = 30
default_crl_days = 30
policy = any
unique_subject = no
copy_extensions = none
[ any ]
commonName = supplied
[ client ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
[ client_bare ]
basicConstraints = CA:FALSE
[ client_badku ]
basicConstraints = CA:FALSE
keyUsage = critical,keyEncipherment
extendedKeyUsage = clientAuth
[ client_badeku ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
[ client_isca ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,digitalSignature,keyCertSign
extendedKeyUsage = clientAuth
[ server ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1,IP:::1
[ server_rsa ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
EOF
	newkey "$d/ca.key"
	openssl req -x509 -new -key "$d/ca.key" -out "$d/ca.pem" -days 60 -subj "/CN=$2" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}
# issue CA NAME CN EXT [START END]: pki/NAME.{key,pem}, signed by CA.
issue() {
	local ca=$1 name=$2 cn=$3 ext=$4 dates=()
	[ $# -ge 6 ] && dates=(-startdate "$5" -enddate "$6")
	if [ "$ext" = server_rsa ]; then
		openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "pki/$name.key" 2>/dev/null
		chmod 600 "pki/$name.key"
	else
		newkey "pki/$name.key"
	fi
	openssl req -new -key "pki/$name.key" -subj "/CN=$cn" -out "pki/$name.csr" 2>/dev/null
	openssl ca -batch -notext -config "pki/$ca/ca.cnf" -extensions "$ext" -in "pki/$name.csr" \
		-out "pki/$name.pem" "${dates[@]}" 2>/dev/null
}
mkca fleet "Airlock Test Fleet CA"
mkca other "Some Other CA"
issue fleet server localhost server
issue fleet server_rsa localhost server_rsa
issue fleet dev device-001 client
issue fleet bare device-bare client_bare
issue other stranger device-001 client
issue fleet expired device-old client 200101000000Z 210101000000Z
issue fleet future device-new client "$(date -u -d '+1 year' +%y%m%d%H%M%SZ)" "$(date -u -d '+2 years' +%y%m%d%H%M%SZ)"
issue fleet badku device-ku client_badku
issue fleet badeku device-eku client_badeku
issue fleet isca device-ca client_isca
issue fleet revoked device-revoked client
openssl ca -batch -config pki/fleet/ca.cnf -revoke pki/revoked.pem 2>/dev/null
openssl ca -batch -config pki/fleet/ca.cnf -gencrl -out pki/fleet.crl 2>/dev/null
for f in server server_rsa dev bare stranger expired future badku badeku isca revoked; do
	[ -s "pki/$f.pem" ] || { echo "test_http: could not make certificate $f" >&2; exit 1; }
done
[ -s pki/fleet.crl ] || { echo "test_http: could not make the CRL" >&2; exit 1; }
# the client-CA bundle: the fleet CA and a "manufacturer" CA
cat pki/fleet/ca.pem >pki/clients.pem
mkca maker "Airlock Test Manufacturer CA"
cat pki/maker/ca.pem >>pki/clients.pem
issue maker makerdev maker-dev-7 client

# ---- the daemon ---------------------------------------------------------

# start NAME ARGS...: starts http_testd, sets PID, PORT, PLAIN_PORT.
start() {
	local name=$1; shift
	rm -f "$name.port"
	# Under ASan, freed memory waits in a quarantine (256 MiB by default),
	# which would hide the RSS bound of the upload check; harmless otherwise.
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=16 \
		"$HTTP_TESTD" --port-file "$name.port" "$@" 2>>"$name.log" &
	PID=$!
	PIDS+=("$PID")
	for _ in $(seq 1 100); do
		[ -s "$name.port" ] && break
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.1
	done
	if [ ! -s "$name.port" ]; then
		fail "daemon $name did not start: $(tail -3 "$name.log")"
		return 1
	fi
	read -r PORT PLAIN_PORT <"$name.port"
}
# stop: SIGTERM, must exit 0 (under ASan: also no leak, no error).
stop() {
	kill -TERM "$PID"
	wait "$PID"
	local rc=$?
	[ "$rc" -eq 0 ] || fail "daemon exited $rc on SIGTERM (see $W/*.log)"
	[ "$rc" -eq 0 ] && pass
}

TLS=(--cert pki/server.pem --key pki/server.key --client-ca pki/clients.pem --crl pki/fleet.crl)
head -c 1000 /dev/urandom >f1000
truncate -s 5G sparse5g
printf 'tail-of-5GiB' | dd of=sparse5g bs=1 seek=$((5 * 1024 * 1024 * 1024 - 12)) conv=notrunc 2>/dev/null

start main "${TLS[@]}" --file f1000 --file2 sparse5g --max-body 65536 --deadline 3 --idle 10 \
	--per-ip 4 --threads 4 --plain 127.0.0.1 --plain-port 0 || exit 1
MAIN_PID=$PID
U=https://localhost:$PORT
C=(curl -sS --max-time 20 --cacert pki/fleet/ca.pem --resolve "localhost:$PORT:127.0.0.1")
S=(timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -servername localhost -CAfile pki/fleet/ca.pem)

# code URL ARGS...: prints the HTTP status (000 when no response).
code() { "${C[@]}" -o /dev/null -w '%{http_code}' "$@" 2>/dev/null; }
expect() {  # expect NAME WANT URL ARGS...
	local name=$1 want=$2; shift 2
	local got
	got=$(code "$@")
	if [ "$got" = "$want" ]; then pass; else fail "$name: want $want, got $got"; fi
}
# echo_cert NAME WANT_STATE [WANT_REASON] CURL-ARGS...: /echo reports that certificate state.
echo_cert() {
	local name=$1 state=$2 reason=$3; shift 3
	local out
	out=$("${C[@]}" "$U/echo" "$@" 2>&1)
	if grep -q "\"state\":\"$state\"" <<<"$out" && { [ -z "$reason" ] || grep -q "\"reason\":\"$reason\"" <<<"$out"; }; then
		pass
	else
		fail "$name: want $state $reason, got: ${out:0:300}"
	fi
}

# ---- client certificates ------------------------------------------------

echo_cert "valid cert" verified "" --cert pki/dev.pem --key pki/dev.key
out=$("${C[@]}" "$U/echo" --cert pki/dev.pem --key pki/dev.key)
fp=$(openssl x509 -in pki/dev.pem -outform DER | sha256sum | cut -c1-64)
serial=$(openssl x509 -in pki/dev.pem -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f')
check "cert fingerprint is SHA-256 of the DER" grep -q "\"sha256\":\"$fp\"" <<<"$out"
check "cert CN" grep -q '"cn":"device-001"' <<<"$out"
check "cert serial" grep -q "\"serial\":\"$serial\"" <<<"$out"
check "cert reason null when verified" grep -q '"reason":null' <<<"$out"
echo_cert "manufacturer CA cert" verified "" --cert pki/makerdev.pem --key pki/makerdev.key
echo_cert "cert without KU/EKU" verified "" --cert pki/bare.pem --key pki/bare.key
echo_cert "no cert" none ""
echo_cert "other CA" invalid untrusted --cert pki/stranger.pem --key pki/stranger.key
echo_cert "expired" invalid expired --cert pki/expired.pem --key pki/expired.key
echo_cert "not yet valid" invalid not_yet_valid --cert pki/future.pem --key pki/future.key
echo_cert "wrong EKU (serverAuth)" invalid ext_key_usage --cert pki/badeku.pem --key pki/badeku.key
echo_cert "CA cert as client" invalid is_ca --cert pki/isca.pem --key pki/isca.key
echo_cert "revoked (CRL)" invalid revoked --cert pki/revoked.pem --key pki/revoked.key
# A key usage without digitalSignature: GnuTLS already refuses the client's
# CertificateVerify at the handshake (so no data at all); if it ever let it
# through, the layer must say "invalid".
out=$("${C[@]}" "$U/echo" --cert pki/badku.pem --key pki/badku.key 2>&1)
if grep -q '"state":"verified"' <<<"$out"; then fail "wrong KU identified"; else pass; fi
if grep -q '"state"' <<<"$out"; then check "wrong KU is invalid" grep -q '"reason":"key_usage"' <<<"$out"; fi

expect "needs-cert: valid" 200 "$U/needs-cert" --cert pki/dev.pem --key pki/dev.key
expect "needs-cert: none" 403 "$U/needs-cert"
for c in stranger expired future badeku isca revoked; do
	expect "needs-cert: $c" 403 "$U/needs-cert" --cert "pki/$c.pem" --key "pki/$c.key"
done
check "403 is a JSON error" grep -q '{"error":"client_cert_invalid","message":' <<<"$("${C[@]}" "$U/needs-cert" --cert pki/stranger.pem --key pki/stranger.key)"
# refused in route(), before the body: a 1 GB announcement gets 403 at once
out=$(printf 'PUT /needs-cert HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000000000\r\n\r\n' |
	"${S[@]}" -quiet 2>/dev/null | head -1)
check "needs-cert answers before the body" grep -q '^HTTP/1.1 403' <<<"$out"
# the handshake asks for a certificate, names the client CAs, does not require one
out=$(echo | "${S[@]}" 2>&1)
check "client CA names sent" grep -q "Airlock Test Fleet CA" <<<"$out"
check "manufacturer CA named" grep -q "Airlock Test Manufacturer CA" <<<"$out"

# ---- TLS configuration --------------------------------------------------

# handshake ARGS...: 0 if a TLS session was established.
# (-brief says CONNECTION ESTABLISHED only once the server's Finished arrived.)
handshake() { echo | "${S[@]}" -brief "$@" 2>&1 | grep -q '^CONNECTION ESTABLISHED'; }
refuse() { if handshake "$@"; then fail "handshake accepted: $*"; else pass; fi; }
accept() { if handshake "$@"; then pass; else fail "handshake refused: $*"; fi; }
accept -tls1_3
for cs in TLS_AES_256_GCM_SHA384 TLS_AES_128_GCM_SHA256 TLS_CHACHA20_POLY1305_SHA256; do
	accept -tls1_3 -ciphersuites "$cs"
done
refuse -tls1_3 -ciphersuites TLS_AES_128_CCM_SHA256
for c in ECDHE-ECDSA-AES256-GCM-SHA384 ECDHE-ECDSA-AES128-GCM-SHA256 ECDHE-ECDSA-CHACHA20-POLY1305; do
	accept -tls1_2 -cipher "$c"
done
# CBC only (SHA-1 and SHA-2 MACs), and no forward secrecy
refuse -tls1_2 -cipher 'ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA384:ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA'
refuse -tls1_2 -cipher 'AES128-GCM-SHA256:AES256-GCM-SHA384:AES128-SHA'
refuse -tls1_2 -cipher 'DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384'
# old protocols; with a client that would speak them (checked on a control server)
LEGACY=(-cipher 'DEFAULT:@SECLEVEL=0')
openssl s_server -accept 127.0.0.1:0 -cert pki/server.pem -key pki/server.key -tls1_1 "${LEGACY[@]}" \
	-quiet </dev/null >control.out 2>&1 &
CTL=$!
PIDS+=("$CTL")
sleep 0.5
ctl_port=$(ss -ltnp 2>/dev/null | grep "pid=$CTL," | grep -oE '127\.0\.0\.1:[0-9]+' | head -1 | cut -d: -f2)
if [ -n "$ctl_port" ] && echo | timeout 5 openssl s_client -connect "127.0.0.1:$ctl_port" -tls1_1 "${LEGACY[@]}" 2>&1 |
	grep -q 'Protocol  : TLSv1.1'; then
	pass  # the client can do TLS 1.1: the refusals below are the server's
else
	echo "note: could not run the TLS 1.1 control server; refusals below still hold" >&2
fi
kill "$CTL" 2>/dev/null
refuse -tls1_1 "${LEGACY[@]}"
refuse -tls1 "${LEGACY[@]}"
sleep 0.3
check "refused handshakes logged with the address" grep -q '"src":"conn","ip":"127.0.0.1","msg":"closed without a request","end":"closed"' main.log
out=$(echo | "${S[@]}" -tls1_2 2>&1)
check "TLS 1.2: secure renegotiation" grep -q 'Secure Renegotiation IS supported' <<<"$out"
check "TLS 1.2: no compression" grep -q 'Compression: NONE' <<<"$out"
check "TLS 1.2: extended master secret" grep -q 'Extended master secret: yes' <<<"$out"
# client-initiated renegotiation does not complete: the server drops the connection
out=$( (sleep 1; echo R; sleep 2) | "${S[@]}" -tls1_2 2>&1)
if grep -q 'RENEGOTIATING' <<<"$out" && ! grep -qE 'verify return:1' <<<"$(sed -n '/RENEGOTIATING/,$p' <<<"$out")"; then
	pass
else
	fail "client renegotiation completed"
fi
# no session tickets and no resumption: every connection shows its certificate
out=$(echo | "${S[@]}" -tls1_2 -sess_out sess12.pem 2>&1)
if grep -q 'TLS session ticket:' <<<"$out"; then fail "TLS 1.2 session ticket issued"; else pass; fi
out=$(echo | "${S[@]}" -tls1_2 -sess_in sess12.pem 2>&1)
if grep -q '^Reused,' <<<"$out"; then fail "TLS 1.2 session resumed"; else pass; fi
out=$( (sleep 1; echo) | "${S[@]}" -tls1_3 2>&1)
if grep -q 'New Session Ticket arrived' <<<"$out"; then fail "TLS 1.3 session ticket issued"; else pass; fi
# a bad priority string is refused at start
if "$HTTP_TESTD" "${TLS[@]}" --priorities 'NORMAL:+NOPE' --port-file bad.port 2>bad.log; then
	fail "bad priority string accepted"
else
	check "bad priority message" grep -q 'bad TLS priority string' bad.log
fi
# a world-readable key is refused
cp pki/server.key loose.key && chmod 644 loose.key
if "$HTTP_TESTD" --cert pki/server.pem --key loose.key --port-file bad.port 2>bad.log; then
	fail "world-readable key accepted"
else
	check "key permission message" grep -q 'accessible to others' bad.log
fi

# ---- requests: paths, methods, headers ----------------------------------

expect "plain echo" 200 "$U/echo"
for p in '/echo/../echo' '/../echo' '//echo' '/echo//x' '/echo%2f' '/echo%2F..' '/%2e%2e/echo' '/.%2e/echo' \
	'/echo%00' '/echo%0a' '/echo%5c..' '/echo\x' '/echo%zz' '/echo%4'; do
	expect "bad path $p" 400 "$U$p" --path-as-is
done
expect "escaped letter is just a path" 404 "$U/ech%6f" --path-as-is
expect "path of 2048 bytes" 404 "$U/$(head -c 2047 /dev/zero | tr '\0' a)"
expect "path of 2049 bytes" 400 "$U/$(head -c 2048 /dev/zero | tr '\0' a)"
check "bad path error code" grep -q '"error":"bad_path"' <<<"$("${C[@]}" --path-as-is "$U/a/../b")"
out=$(printf 'GET /ec\001ho HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' | "${S[@]}" -quiet 2>/dev/null | head -1)
check "control byte in path: 400" grep -q '^HTTP/1.1 400' <<<"$out"
expect "NUL in query" 400 "$U/echo?q=a%00b"
expect "newline in query" 400 "$U/echo?q=a%0ab"
check "query decoded" grep -q '"q":"a b/c"' <<<"$("${C[@]}" "$U/echo?q=a%20b%2Fc")"
check "header getter" grep -q '"x_test":"yes"' <<<"$("${C[@]}" -H 'X-Test: yes' "$U/echo")"
expect "TRACE" 405 "$U/echo" -X TRACE
expect "OPTIONS" 405 "$U/echo" -X OPTIONS
expect "unknown route" 404 "$U/nope"
check "404 JSON" grep -qx '{"error":"not_found","message":"no such route"}' <<<"$("${C[@]}" "$U/nope")"
# oversized headers: 431 (or the connection closed), never a crash
big=$(head -c 40000 /dev/zero | tr '\0' a)
got=$(code "$U/echo" -H "X-Big: $big")
if [ "$got" = 431 ] || [ "$got" = 000 ]; then pass; else fail "oversized header: got $got"; fi
many=()
for i in $(seq 1 600); do many+=(-H "X-H$i: $(head -c 60 /dev/zero | tr '\0' b)"); done
got=$(code "$U/echo" "${many[@]}")
if [ "$got" = 431 ] || [ "$got" = 000 ]; then pass; else fail "many headers: got $got"; fi
expect "alive after big headers" 200 "$U/echo"

# ---- responses: security headers, request id, errors --------------------

"${C[@]}" -D hdr.txt -o body.txt "$U/echo"
for h in 'Strict-Transport-Security: max-age=' 'X-Content-Type-Options: nosniff' 'Cache-Control: no-store' \
	"Content-Security-Policy: default-src 'none'" 'X-Frame-Options: DENY' 'Referrer-Policy: no-referrer' \
	'Content-Type: application/json'; do
	check "header $h" grep -qi "^$h" hdr.txt
done
rid=$(grep -i '^X-Request-Id:' hdr.txt | tr -d '\r' | awk '{print $2}')
check "request id: 16 hex" grep -qE '^[0-9a-f]{16}$' <<<"$rid"
check "request id in body" grep -q "\"request_id\":\"$rid\"" body.txt
"${C[@]}" -D hdr.txt -o /dev/null "$U/nope"
check "security headers on errors" grep -qi '^X-Content-Type-Options: nosniff' hdr.txt

# ---- bodies -------------------------------------------------------------

head -c 65536 /dev/urandom >b64k
head -c 65537 /dev/urandom >b64k1
head -c 10485760 /dev/urandom >b10m
h64=$(sha256sum <b64k | cut -c1-64)
check "body at the limit" grep -q "\"body_sha256\":\"$h64\"" <<<"$("${C[@]}" --data-binary @b64k "$U/echo")"
expect "body limit+1 (Content-Length)" 413 "$U/echo" --data-binary @b64k1
check "413 JSON" grep -q '"error":"body_too_large"' <<<"$("${C[@]}" --data-binary @b64k1 "$U/echo")"
check "chunked at the limit" grep -q "\"body_sha256\":\"$h64\"" <<<"$("${C[@]}" -H 'Transfer-Encoding: chunked' --data-binary @b64k "$U/echo")"
expect "body limit+1 (chunked)" 413 "$U/echo" -H 'Transfer-Encoding: chunked' --data-binary @b64k1
# far past the limit: MHD 0.9.75 cannot answer in the middle of a body, so the
# layer discards up to 256 KiB more to still send its 413, then closes
got=$(code "$U/echo" -H 'Transfer-Encoding: chunked' --data-binary @b10m)
case $got in 413 | 000 | 100) pass ;; *) fail "10 MiB chunked: got $got" ;; esac
expect "body on a route without one" 413 "$U/file" -X GET --data-binary 'x'
# Content-Length over the limit is answered without reading the body
out=$(printf 'POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000000000\r\n\r\n' |
	"${S[@]}" -quiet 2>/dev/null | head -1)
check "413 before the body" grep -q '^HTTP/1.1 413' <<<"$out"
# the application's sink refuses mid-stream: its answer still reaches the client
head -c 100000 /dev/urandom >b100k
expect "sink refusal" 422 "$U/upload?fail_at=1000" -T b100k
expect "alive" 200 "$U/echo"

# a 200 MiB streamed upload, hashed, with bounded memory
head -c $((200 * 1024 * 1024)) /dev/urandom >big.bin
want=$(sha256sum <big.bin | cut -c1-64)
hwm_before=$(awk '/VmHWM/ {print $2}' "/proc/$MAIN_PID/status")
out=$("${C[@]}" --max-time 300 -T big.bin "$U/upload")
hwm_after=$(awk '/VmHWM/ {print $2}' "/proc/$MAIN_PID/status")
check "200 MiB upload: byte count" grep -q '"bytes":209715200' <<<"$out"
check "200 MiB upload: SHA-256" grep -q "\"sha256\":\"$want\"" <<<"$out"
grow=$(( (hwm_after - hwm_before) / 1024 ))
echo "note: daemon peak RSS ${hwm_before} kB -> ${hwm_after} kB over a 200 MiB upload" >&2
if [ "$grow" -lt 32 ]; then pass; else fail "peak RSS grew by $grow MiB during a 200 MiB upload"; fi
rm -f big.bin
# a slow but legitimate upload outlives the 3 s request deadline (route: 120 s)
head -c 400000 /dev/urandom >b400k
check "slow upload within its route deadline" grep -q '"bytes":400000' <<<"$("${C[@]}" --limit-rate 80k -T b400k "$U/upload")"

# ---- files: Range, ETag -------------------------------------------------

"${C[@]}" -D hdr.txt -o got.bin "$U/file"
check "file: 200 whole" cmp -s got.bin f1000
check "file: ETag" grep -q '^ETag: "v1-3e8"' hdr.txt
check "file: Accept-Ranges" grep -qi '^Accept-Ranges: bytes' hdr.txt
# range NAME RANGE WANT_STATUS WANT_CONTENT_RANGE FIRST LEN
range() {
	local name=$1 r=$2 st=$3 cr=$4 first=$5 len=$6
	local got
	rm -f got.bin
	got=$("${C[@]}" -D hdr.txt -o got.bin -w '%{http_code}' -H "Range: $r" "$U/file")
	[ "$got" = "$st" ] || { fail "range $name: status $got, want $st"; return; }
	if [ -n "$cr" ]; then
		grep -q "^Content-Range: $cr" hdr.txt || { fail "range $name: $(grep -i content-range hdr.txt)"; return; }
	fi
	if [ "$st" != 416 ]; then
		tail -c +$((first + 1)) f1000 | head -c "$len" >want.bin
		cmp -s got.bin want.bin || { fail "range $name: body"; return; }
		grep -q "^Content-Length: $len" hdr.txt || { fail "range $name: Content-Length"; return; }
	fi
	pass
}
range "a-b" 'bytes=0-99' 206 'bytes 0-99/1000' 0 100
range "middle" 'bytes=500-509' 206 'bytes 500-509/1000' 500 10
range "a-" 'bytes=900-' 206 'bytes 900-999/1000' 900 100
range "-n" 'bytes=-10' 206 'bytes 990-999/1000' 990 10
range "-n beyond size" 'bytes=-5000' 206 'bytes 0-999/1000' 0 1000
range "b beyond size" 'bytes=990-5000' 206 'bytes 990-999/1000' 990 10
range "last byte" 'bytes=999-999' 206 'bytes 999-999/1000' 999 1
range "start at size" 'bytes=1000-' 416 'bytes \*/1000' 0 0
range "start beyond" 'bytes=5000-6000' 416 'bytes \*/1000' 0 0
range "-0" 'bytes=-0' 416 'bytes \*/1000' 0 0
range "several ranges" 'bytes=0-1,5-6' 200 '' 0 1000
range "reversed" 'bytes=9-2' 200 '' 0 1000
range "garbage" 'bytes=abc' 200 '' 0 1000
range "other unit" 'items=0-1' 200 '' 0 1000
range "overflow" 'bytes=99999999999999999999999-' 200 '' 0 1000
check "416 JSON" grep -q '"error":"range_not_satisfiable"' <<<"$("${C[@]}" -H 'Range: bytes=2000-' "$U/file")"
expect "If-None-Match" 304 "$U/file" -H 'If-None-Match: "v1-3e8"'
expect "If-None-Match weak" 304 "$U/file" -H 'If-None-Match: W/"v1-3e8"'
expect "If-None-Match list" 304 "$U/file" -H 'If-None-Match: "x", "v1-3e8"'
expect "If-None-Match *" 304 "$U/file" -H 'If-None-Match: *'
expect "If-None-Match other" 200 "$U/file" -H 'If-None-Match: "v0"'
rm -f got.bin
"${C[@]}" -D hdr.txt -o got.bin -H 'If-None-Match: "v1-3e8"' "$U/file"
check "304: ETag, no body" grep -q '^ETag: "v1-3e8"' hdr.txt
check "304: no body" test ! -s got.bin
range_if() { "${C[@]}" -o /dev/null -w '%{http_code}' -H 'Range: bytes=0-9' -H "If-Range: $1" "$U/file"; }
check "If-Range same tag: 206" test "$(range_if '"v1-3e8"')" = 206
check "If-Range other tag: 200" test "$(range_if '"v0"')" = 200
"${C[@]}" -I -D hdr.txt -o /dev/null "$U/file"
check "HEAD: length" grep -q '^Content-Length: 1000' hdr.txt
# 64-bit offsets: the last bytes of a 5 GiB file
got=$("${C[@]}" -D hdr.txt -H 'Range: bytes=-12' "$U/file2")
check "5 GiB file: tail" test "$got" = 'tail-of-5GiB'
check "5 GiB file: Content-Range" grep -q '^Content-Range: bytes 5368709108-5368709119/5368709120' hdr.txt
got=$("${C[@]}" -H 'Range: bytes=5368709118-' "$U/file2")
check "5 GiB file: range past 4 GiB" test "$got" = 'iB'

# ---- plain listener -----------------------------------------------------

P=http://127.0.0.1:$PLAIN_PORT
check "plain /healthz" grep -q '"ok":true' <<<"$(curl -sS --max-time 5 "$P/healthz")"
curl -sS --max-time 5 "$P/metrics" >metrics.txt
check "metrics: requests" grep -qE '^airlock_http_requests_total\{class="2xx"\} [1-9]' metrics.txt
check "metrics: 4xx" grep -qE '^airlock_http_requests_total\{class="4xx"\} [1-9]' metrics.txt
check "metrics: histogram" grep -qE '^airlock_http_request_duration_seconds_bucket\{le="\+Inf"\} [1-9]' metrics.txt
check "metrics: bytes" grep -qE '^airlock_http_response_bytes_total [1-9]' metrics.txt
check "metrics: certs" grep -qE '^airlock_http_requests_by_cert_total\{state="invalid"\} [1-9]' metrics.txt
check "metrics: app's own" grep -q '^http_testd_up 1' metrics.txt
check "plain: no other route" test "$(curl -sS -o /dev/null -w '%{http_code}' "$P/echo")" = 404
check "plain: GET only" test "$(curl -sS -o /dev/null -w '%{http_code}' -X POST -d x "$P/healthz")" = 404
check "plain: no HSTS" test -z "$(curl -sS -D - -o /dev/null "$P/healthz" | grep -i strict-transport)"
if "$HTTP_TESTD" "${TLS[@]}" --plain 0.0.0.0 --port-file bad.port 2>bad.log; then
	fail "plain listener on a wildcard accepted"
else
	check "plain wildcard message" grep -q 'must name one local address' bad.log
fi

# ---- access log ---------------------------------------------------------

rid=$("${C[@]}" -D - -o /dev/null --cert pki/dev.pem --key pki/dev.key "$U/echo" | tr -d '\r' | awk 'tolower($1)=="x-request-id:" {print $2}')
sleep 0.3
line=$(grep "\"rid\":\"$rid\"" main.log)
check "access log line" grep -q '"src":"access"' <<<"$line"
for f in '"ip":"127.0.0.1"' '"method":"GET"' '"path":"/echo"' '"status":200' '"bytes":' '"ms":' '"ts":"' \
	"\"cert_fp\":\"${fp:0:16}\"" '"cert":"verified"' '"route":"echo"'; do
	check "access log has $f" grep -qF "$f" <<<"$line"
done

# ---- deadline (slowloris) and limits ------------------------------------

# trickle SECONDS PREFIX: sends PREFIX then one byte a second; prints how long
# the server kept the connection.
trickle() {
	local t0=$SECONDS
	( printf '%b' "$2"; for _ in $(seq 1 "$1"); do printf 'X'; sleep 1; done ) |
		timeout $(($1 + 10)) openssl s_client -quiet -connect "127.0.0.1:$PORT" >/dev/null 2>&1
	echo $((SECONDS - t0))
}
trickle 20 'GET /echo HTTP/1.1\r\nHost: localhost\r\nX-Slow: ' >t_headers &
tr1=$!
trickle 20 'POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n' >t_body &
tr2=$!
# a TCP connection that never starts the TLS handshake
( t0=$SECONDS; exec 3<>"/dev/tcp/127.0.0.1/$PORT"; timeout 20 cat <&3 >/dev/null; echo $((SECONDS - t0)) ) >t_tcp &
tr3=$!
sleep 1.5
expect "served during slowloris" 200 "$U/echo"
check "slow handler is not cut" grep -q '"slept_ms":4000' <<<"$("${C[@]}" "$U/slow?ms=4000")"
wait "$tr1" "$tr2" "$tr3"
for t in t_headers t_body t_tcp; do
	s=$(cat $t)
	if [ -n "$s" ] && [ "$s" -le 7 ]; then pass; else fail "$t: connection held ${s:-?} s (deadline 3 s)"; fi
done
check "metrics: deadline" grep -qE '^airlock_http_deadline_disconnects_total [3-9]' <<<"$(curl -sS "$P/metrics")"
check "access log: deadline" grep -q '"end":"deadline"' main.log
check "conn log: deadline" grep -q '"src":"conn","ip":"127.0.0.1","msg":"closed without a request","end":"deadline"' main.log

# per-IP limit (4): four slow downloads from 127.0.0.2 hold its slots (the
# response phase is not under the deadline); a fifth is refused, 127.0.0.1 is not
holders=()
for i in 1 2 3 4; do
	"${C[@]}" --interface 127.0.0.2 --limit-rate 20k -o /dev/null "$U/file2" 2>/dev/null &
	holders+=($!)
done
sleep 4
alive=0
for h in "${holders[@]}"; do kill -0 "$h" 2>/dev/null && alive=$((alive + 1)); done
check "downloads outlive the deadline" test "$alive" = 4
expect "5th connection from one address" 000 "$U/echo" --interface 127.0.0.2
expect "another address still served" 200 "$U/echo"
kill "${holders[@]}" 2>/dev/null
wait "${holders[@]}" 2>/dev/null
sleep 1
expect "slots freed" 200 "$U/echo" --interface 127.0.0.2

# ---- RSA server key, IPv6 -----------------------------------------------

stop
start rsa --cert pki/server_rsa.pem --key pki/server_rsa.key --client-ca pki/clients.pem || exit 1
S=(timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -servername localhost -CAfile pki/fleet/ca.pem)
accept -tls1_2 -cipher ECDHE-RSA-AES256-GCM-SHA384
accept -tls1_2 -cipher ECDHE-RSA-CHACHA20-POLY1305
accept -tls1_3
refuse -tls1_2 -cipher 'AES256-GCM-SHA384:AES128-GCM-SHA256'
refuse -tls1_2 -cipher 'ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA384'
stop
if [ -e /proc/net/if_inet6 ] && grep -q ' lo$' /proc/net/if_inet6; then
	start v6 "${TLS[@]}" --listen '[::1]' || exit 1
	check "IPv6 [::1]" grep -q '"ip":"::1"' <<<"$(curl -sS --max-time 10 --cacert pki/fleet/ca.pem "https://[::1]:$PORT/echo")"
	stop
else
	echo "note: no IPv6 loopback, [::1] not tested" >&2
fi

# ---- a listener that requires a certificate; the total connection cap ----

start strict "${TLS[@]}" --require-cert yes || exit 1
U=https://localhost:$PORT
C=(curl -sS --max-time 20 --cacert pki/fleet/ca.pem --resolve "localhost:$PORT:127.0.0.1")
S=(timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -servername localhost -CAfile pki/fleet/ca.pem)
refuse -tls1_2
# in TLS 1.3 the client finishes first; the server's refusal comes after it
out=$(printf 'GET /echo HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' | "${S[@]}" -quiet -tls1_3 2>/dev/null)
if grep -q '^HTTP/' <<<"$out"; then fail "required cert: TLS 1.3 without one was answered"; else pass; fi
accept -tls1_3 -cert pki/dev.pem -key pki/dev.key
expect "required cert: none (TLS 1.3)" 000 "$U/echo"
expect "required cert: none (TLS 1.2)" 000 "$U/echo" --tls-max 1.2
echo_cert "required cert: valid" verified "" --cert pki/dev.pem --key pki/dev.key
echo_cert "required cert: other CA" invalid untrusted --cert pki/stranger.pem --key pki/stranger.key
expect "required cert: other CA gets 403" 403 "$U/needs-cert" --cert pki/stranger.pem --key pki/stranger.key
stop
start cap "${TLS[@]}" --file2 sparse5g --max-conns 2 --threads 1 --per-ip 10 || exit 1
U=https://localhost:$PORT
C=(curl -sS --max-time 20 --cacert pki/fleet/ca.pem --resolve "localhost:$PORT:127.0.0.1")
holders=()
for i in 1 2; do
	"${C[@]}" --limit-rate 20k -o /dev/null "$U/file2" 2>/dev/null &
	holders+=($!)
done
sleep 1
# past the cap MHD stops accepting: the third waits in the listen backlog
expect "connection cap" 000 "$U/echo" --max-time 3
kill "${holders[@]}" 2>/dev/null
wait "${holders[@]}" 2>/dev/null
sleep 1
expect "cap freed" 200 "$U/echo"
stop

# ---- kill -9 and restart: no state --------------------------------------

start again "${TLS[@]}" --plain 127.0.0.1 || exit 1
port=$PORT
{ kill -9 "$PID"; wait "$PID"; } 2>/dev/null
start again "${TLS[@]}" --port "$port" --plain 127.0.0.1 || exit 1
check "restart on the same port" test "$PORT" = "$port"
U=https://localhost:$PORT
C=(curl -sS --max-time 20 --cacert pki/fleet/ca.pem --resolve "localhost:$PORT:127.0.0.1")
expect "served after restart" 200 "$U/echo" --cert pki/dev.pem --key pki/dev.key
sleep 0.2
m=$(curl -sS "http://127.0.0.1:$PLAIN_PORT/metrics")
check "metrics start from zero" grep -qx 'airlock_http_requests_total{class="2xx"} 1' <<<"$m"
stop

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
