#!/usr/bin/env bash
# Resumed downloads (ATTACKS.md F06, issue item 10 "network cut"): the
# connection drops mid-download and the agent goes on with an HTTP Range
# from its last verified chunk; the agent is killed (SIGKILL, then SIGTERM)
# mid-download and the next run resumes from at least the kill offset. The
# resumed image is verified as strictly as a fresh one (the final digest).
. "$(dirname "$0")/lib.sh"
init_server
MITM_PORT=$(free_port)
start_server_pub "$MITM_PORT"
enroll dev1 board-a
start_mitm
make_device "$MITM_PORT"
head -c 2000000 /dev/urandom >v1.img
head -c 12000000 /dev/urandom >v2.img
head -c 12000000 /dev/urandom >v3.img
make_release v1 1.0 1 v1.img
make_release v2 2.0 2 v2.img --encrypt --recipient srv/content.pub
make_release v3 3.0 3 v3.img
"$AIRLOCKD" --config dev/airlockd.conf provision --release rel/v1/r.cbor --image v1.img >/dev/null || adie "provision"

ranges() { sed -n 's|^GET /api/v1/artifacts/[0-9a-f]* bytes=\([0-9]*\)-.*|\1|p' mitm.log; }

# ---- the network drops every 5 MB: three Range requests finish the job ----
push_release v2; deploy "$DIGEST" dev1
: >mitm.log; mitm cut:5000000
agent a checkin
[ "$RC" = 10 ] || adie "cut download: $RC $(cat agent.out)"
cmp -n 12000000 dev/slot-b.img v2.img || adie "resumed image differs"; pass
[ "$(ranges | wc -l)" -ge 2 ] || adie "no Range requests: $(cat mitm.log)"; pass
ranges | sort -n -c || adie "resume offsets not monotone"; pass
for r in $(ranges); do [ $((r % (65536 + 16))) = 0 ] || adie "resume not at a sealed-chunk boundary: $r"; done; pass
expect_log NETWORK
grep -q 'resuming at byte' dev/agent.log || adie "no resume logged"; pass
agent b checkin; [ "$RC" = 0 ] || adie "trial of v2: $RC $(cat agent.out)"

# ---- SIGKILL mid-download, then a fresh start ----
push_release v3; deploy "$DIGEST" dev1
: >mitm.log; mitm throttle:2000000
AIRLOCK_BOOT_SLOT=b "$AIRLOCKD" --config dev/airlockd.conf checkin >agent.out 2>&1 &
APID=$!
for _ in $(seq 150); do [ -f dev/state/download.aip ] && break; sleep 0.1; done
[ -f dev/state/download.aip ] || adie "no checkpoint written"
sleep 1
kill -9 $APID; wait $APID 2>/dev/null
KILLED_AT=$(od -An -j60 -N8 -tu1 dev/state/download.aip | awk '{v=0; for(i=1;i<=NF;i++) v=v*256+$i; print v}')
[ "$KILLED_AT" -gt 0 ] && [ "$KILLED_AT" -lt 12000000 ] || adie "checkpoint offset $KILLED_AT"; pass
"$AIRLOCKD" --config dev/airlockd.conf status --json | grep -q '"update_state": "INSTALLING"' || adie "not resumable"; pass
: >mitm.log; mitm pass
agent b checkin
[ "$RC" = 10 ] || adie "after the kill: $RC $(cat agent.out)"
FIRST=$(ranges | head -1)
[ -n "$FIRST" ] && [ "$FIRST" -ge "$KILLED_AT" ] || adie "resumed at '$FIRST', checkpoint was $KILLED_AT: $(cat mitm.log)"; pass
cmp -n 12000000 dev/slot-a.img v3.img || adie "image after kill differs"; pass
agent a checkin; [ "$RC" = 0 ] || adie "trial of v3: $RC $(cat agent.out)"

# ---- SIGTERM mid-download: a clean stop, and the next run resumes ----
head -c 12000000 /dev/urandom >v4.img
make_release v4 4.0 4 v4.img
push_release v4; deploy "$DIGEST" dev1
: >mitm.log; mitm throttle:2000000
rm -f dev/state/download.aip
AIRLOCK_BOOT_SLOT=a "$AIRLOCKD" --config dev/airlockd.conf checkin >agent.out 2>&1 &
APID=$!
for _ in $(seq 150); do [ -f dev/state/download.aip ] && break; sleep 0.1; done
sleep 1
kill -TERM $APID; wait $APID; TRC=$?
[ "$TRC" = 0 ] || adie "SIGTERM: exit $TRC $(cat agent.out)"
grep -q 'stopped by signal' dev/agent.log || adie "no clean stop logged"; pass
: >mitm.log; mitm pass
agent a checkin
[ "$RC" = 10 ] || adie "after SIGTERM: $RC $(cat agent.out)"
[ "$(ranges | head -1)" -gt 0 ] || adie "no resume after SIGTERM: $(cat mitm.log)"; pass
cmp -n 12000000 dev/slot-b.img v4.img || adie "image after SIGTERM differs"; pass
done_ok
