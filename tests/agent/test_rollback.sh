#!/usr/bin/env bash
# Trial boot that fails (ATTACKS.md F05): the new image's health check
# fails, the agent rolls back to the good slot, and the rolled-back report
# reaches the server after reconnecting, also when the new image had no
# network at all. Plus the explicit `airlockd rollback` and `commit`.
. "$(dirname "$0")/lib.sh"
init_server
start_server_pub
enroll dev1 board-a
make_device "$PORT"
head -c 1000000 /dev/urandom >v1.img
head -c 1500000 /dev/urandom >v2.img
head -c 1500000 /dev/urandom >v3.img
make_release v1 1.0 1 v1.img
make_release v2 2.0 2 v2.img
make_release v3 3.0 3 v3.img
"$AIRLOCKD" --config dev/airlockd.conf provision --release rel/v1/r.cbor --image v1.img >/dev/null || adie "provision"

# ---- v2's health check fails, and v2 cannot even reach the server ----
push_release v2; V2=$DIGEST; deploy "$V2" dev1; DEP2=$DEP
agent a checkin; [ "$RC" = 10 ] || adie "install v2: $RC $(cat agent.out)"
cp dev/airlockd.conf good.conf
sed -i "s|^command = .*|command = exit 3|; s|^url = .*|url = https://127.0.0.1:$(free_port)|" dev/airlockd.conf
agent b checkin
[ "$RC" = 10 ] || adie "failed trial should ask for a reboot: $RC $(cat agent.out)"
expect_log HEALTH_CHECK
grep -q 'health check exited with status 3' dev/agent.log || adie "no health detail"; pass
"$AIRLOCKD" --config dev/airlockd.conf status --json >st.json
python3 -c "import json; d=json.load(open('st.json')); assert d['boot']['active']=='a' and not d['boot']['pending'] and d['security_version']==1 and d['slots'][1]['bad'] and d['reports_queued']>=1, d" ||
	adie "not rolled back: $(cat st.json)"; pass
# back on a, with the network: the queued report goes out
cp good.conf dev/airlockd.conf
agent a checkin; [ "$RC" = 0 ] || adie "back on a: $RC $(cat agent.out)"
[ "$(sqlite3 srv/data/airlock.db "SELECT state FROM device_deployments WHERE deployment_id = $DEP2")" = rolled-back ] ||
	adie "server not told of the rollback"; pass
"$AIRLOCKD" --config dev/airlockd.conf status --json | grep -q '"reports_queued": 0' || adie "reports left queued"; pass
# the failed release is not retried
deploy "$V2" dev1
agent a checkin; [ "$RC" = 3 ] || adie "failed release retried: $RC $(cat agent.out)"
grep -q 'failed its trial boot before' dev/agent.log || adie "no reason given"; pass

# ---- explicit rollback of an armed slot, then a committed v3 ----
push_release v3; V3=$DIGEST; deploy "$V3" dev1
agent a checkin; [ "$RC" = 10 ] || adie "install v3: $RC $(cat agent.out)"
AIRLOCK_BOOT_SLOT=a "$AIRLOCKD" --config dev/airlockd.conf rollback >agent.out 2>&1 || adie "rollback: $(cat agent.out)"
"$AIRLOCKD" --config dev/airlockd.conf status --json | grep -q '"pending": false' || adie "still armed"; pass
AIRLOCK_BOOT_SLOT=a "$AIRLOCKD" --config dev/airlockd.conf commit >agent.out 2>&1 && adie "commit with nothing on trial"
grep -q 'nothing to commit' agent.out || adie "commit message: $(cat agent.out)"; pass
done_ok
