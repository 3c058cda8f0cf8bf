#!/usr/bin/env bash
# A full update over real mutual TLS: a device provisioned with v1 (plain)
# checks in, gets v2 (encrypted, content key wrapped for it), installs it
# into slot b verified chunk by chunk, reboots into a trial, passes its
# health check, commits (anti-rollback counter raised) and reports success.
. "$(dirname "$0")/lib.sh"
init_server
start_server_pub
enroll dev1 board-a
head -c 3000000 /dev/urandom >v1.img
head -c 5000000 /dev/urandom >v2.img
make_release v1 1.0 1 v1.img
make_release v2 2.0 2 v2.img --encrypt --recipient srv/content.pub
make_device "$PORT"

# factory: slot a holds v1
"$AIRLOCKD" --config dev/airlockd.conf provision --release rel/v1/r.cbor --image v1.img >/dev/null ||
	adie "provision failed"
cmp -n 3000000 dev/slot-a.img v1.img || adie "slot a does not hold v1"; pass

# nothing deployed: nothing to do
agent a checkin; [ "$RC" = 0 ] || adie "idle check-in: rc $RC $(cat agent.out)"
grep -q '"nothing to do"' dev/agent.log || adie "no 'nothing to do'"; pass

push_release v2
deploy "$DIGEST" dev1
agent a checkin
[ "$RC" = 10 ] || adie "install: expected reboot status 10, got $RC: $(cat agent.out)"
cmp -n 5000000 dev/slot-b.img v2.img || adie "slot b does not hold v2's plaintext"; pass
"$AIRLOCKD" --config dev/airlockd.conf status --json >st.json || adie "status"
python3 -c "import json; d=json.load(open('st.json')); assert d['boot']['pending'] and d['boot']['active']=='b' and d['security_version']==1, d" ||
	adie "not armed: $(cat st.json)"; pass

# the boot stage boots b on trial: health check, commit, report
agent b checkin
[ "$RC" = 0 ] || adie "trial boot: rc $RC: $(cat agent.out)"
"$AIRLOCKD" --config dev/airlockd.conf status --json >st.json
python3 -c "import json; d=json.load(open('st.json')); assert not d['boot']['pending'] and d['boot']['good']=='b' and d['security_version']==2 and d['slots'][1]['version']=='2.0', d" ||
	adie "not committed: $(cat st.json)"; pass
[ "$(dep_counts "$DEP")" = "(0, 1, 0)" ] || adie "server's deployment: $(dep_counts "$DEP")"; pass
# the log: JSON lines, mode 0600
[ "$(stat -c %a dev/agent.log)" = 600 ] || adie "log mode"; pass
python3 -c "import json; [json.loads(l) for l in open('dev/agent.log')]" || adie "log is not JSON lines"; pass
"$AIRLOCKD" --config dev/airlockd.conf status | grep -q 'security version (anti-rollback): 2' || adie "status text"; pass

# ---- the daemon: `run` checks in every interval and stops for the reboot ----
head -c 2000000 /dev/urandom >v3.img
make_release v3 3.0 3 v3.img
AIRLOCK_BOOT_SLOT=b "$AIRLOCKD" --config dev/airlockd.conf run >run.out 2>&1 &
RPID=$!
sleep 3
kill -0 $RPID 2>/dev/null || adie "daemon exited early: $(cat run.out)"
push_release v3; deploy "$DIGEST" dev1
for _ in $(seq 100); do kill -0 $RPID 2>/dev/null || break; sleep 0.2; done
wait $RPID; RC=$?
[ "$RC" = 10 ] || adie "daemon after an install: exit $RC $(cat run.out)"
[ "$(grep -c '"nothing to do"' dev/agent.log)" -ge 3 ] || adie "daemon did not check in repeatedly"; pass
cmp -n 2000000 dev/slot-a.img v3.img || adie "slot a is not v3"; pass
# on the trial slot: commit, then idle until SIGTERM
AIRLOCK_BOOT_SLOT=a "$AIRLOCKD" --config dev/airlockd.conf run >run.out 2>&1 &
RPID=$!
sleep 3
kill -TERM $RPID; wait $RPID; RC=$?
[ "$RC" = 0 ] || adie "SIGTERM: exit $RC $(cat run.out)"
grep -q 'stopped by signal' dev/agent.log || adie "no clean stop"; pass
"$AIRLOCKD" --config dev/airlockd.conf status --json | grep -q '"security_version": 3' || adie "v3 not committed"; pass
done_ok
