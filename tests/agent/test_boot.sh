#!/usr/bin/env bash
# The agent booted by the real secure-boot simulator (airlock-boot) on the
# sim flash: v1 -> v2 through a trial boot and a commit; then v3, whose
# image never comes up (the boot counter runs out, the bootloader falls
# back: ATTACKS.md F05), and whose rollback the agent on the good slot
# finalizes and reports to the server after reconnecting; then v4 whose
# health check fails (a rollback by the agent itself).
. "$(dirname "$0")/lib.sh"
BOOT=${AIRLOCK_BOOT:-}
[ -n "$BOOT" ] && [ -x "$BOOT" ] || { echo "skipped: no airlock-boot (set AIRLOCK_BOOT)"; exit 77; }
init_server
start_server_pub
enroll dev1 board-a
make_device "$PORT"
# the sim device directory as airlock-boot knows it (docs/boot.md)
sed -i "s|^state_dir = .*|state_dir = $WORK/dev|; s|^root = .*|root = $WORK/dev/root.cbor|; s|^backend = file|backend = sim|" \
	dev/airlockd.conf
cp srv/root.cbor dev/root.cbor
echo board-a >dev/hardware
for v in 1 2 3 4; do head -c $((1000000 + v * 100000)) /dev/urandom >v$v.img; make_release v$v $v.0 $v v$v.img; done
"$AIRLOCKD" --config dev/airlockd.conf provision --release rel/v1/r.cbor --image v1.img >/dev/null || adie "provision"

# boot: one power-on through airlock-boot, running the agent's check-in
boot() {
	"$BOOT" --device dev -- "$AIRLOCKD" --config dev/airlockd.conf checkin >agent.out 2>&1
	RC=$?
}
decide() { "$BOOT" --device dev; }

boot; [ "$RC" = 0 ] || adie "first boot: $RC $(cat agent.out)"
decide | grep -q 'slot=a version=1.0 reason=normal' || adie "boot decision: $(decide)"; pass

# ---- v2: installed, trial boot, health check, commit ----
push_release v2; deploy "$DIGEST" dev1; DEP2=$DEP
boot; [ "$RC" = 10 ] || adie "install v2: $RC $(cat agent.out)"
boot; [ "$RC" = 0 ] || adie "trial of v2: $RC $(cat agent.out)"
grep -q 'trial boot of slot b: health check passed' dev/agent.log || adie "no trial"; pass
decide | grep -q 'slot=b version=2.0 reason=normal.*secver=2' || adie "after commit: $(decide)"; pass
[ "$(sqlite3 srv/data/airlock.db "SELECT state FROM device_deployments WHERE deployment_id = $DEP2")" = succeeded ] ||
	adie "server not told of v2's success"; pass

# ---- v3: its image never starts the agent; the boot counter runs out ----
push_release v3; deploy "$DIGEST" dev1; DEP3=$DEP
boot; [ "$RC" = 10 ] || adie "install v3: $RC $(cat agent.out)"
for i in 1 2 3; do decide | grep -q "slot=a .*reason=trial bootcount=$i" || adie "trial boot $i: $(decide)"; done; pass
decide | grep -q 'slot=b .*reason=trial-exhausted' || adie "no fallback: $(decide)"; pass
boot; [ "$RC" = 0 ] || adie "back on b: $RC $(cat agent.out)"
expect_log HEALTH_CHECK
grep -q 'rolled back from slot a (boot-limit)' dev/agent.log || adie "no boot-limit rollback logged"; pass
[ "$(sqlite3 srv/data/airlock.db "SELECT state FROM device_deployments WHERE deployment_id = $DEP3")" = rolled-back ] ||
	adie "server not told of v3's rollback"; pass
decide | grep -q 'slot=b version=2.0 reason=normal.*pending=0 secver=2' || adie "after rollback: $(decide)"; pass

# ---- v4: the health check fails on the trial boot ----
push_release v4; deploy "$DIGEST" dev1; DEP4=$DEP
boot; [ "$RC" = 10 ] || adie "install v4: $RC $(cat agent.out)"
sed -i 's|^command = .*|command = exit 1|' dev/airlockd.conf
boot; [ "$RC" = 10 ] || adie "failed health check: $RC $(cat agent.out)"
sed -i 's|^command = .*|command = true|' dev/airlockd.conf
boot; [ "$RC" = 0 ] || adie "after the rollback: $RC $(cat agent.out)"
[ "$(sqlite3 srv/data/airlock.db "SELECT state FROM device_deployments WHERE deployment_id = $DEP4")" = rolled-back ] ||
	adie "server not told of v4's rollback"; pass
decide | grep -q 'slot=b version=2.0 reason=normal.*secver=2' || adie "not back on v2: $(decide)"; pass
done_ok
