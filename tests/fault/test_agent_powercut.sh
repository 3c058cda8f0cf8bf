#!/usr/bin/env bash
# Power cuts at every durable op of a whole network update, with the real
# programs (ATTACKS.md F01, F02, F03; issue 4 item 8): the real airlockd
# against the real airlock-server over mutual TLS on 127.0.0.1, booted by
# the real airlock-boot on a sim device directory (docs/boot.md).
#
# A "sequence" is the chain of processes a device runs through an update,
# one power-on after another: airlock-boot (process 1), the airlockd it
# execs (process 2: check-in, chunk-digest list, download, decrypt, verify,
# install, arm, reboot), airlock-boot (3: the trial boot step), airlockd (4:
# health check, commit or rollback, reports, check-in), and so on until the
# update has converged. Each process counts its own durable ops
# (AIRLOCK_FAULT_COUNT_FILE), so a cut point is a pair (process p, op i).
# A clean run learns N_p for each process; then, for every cut point, the
# device is reset to its factory state (v1 committed), a fresh deployment
# of v2 is made on the server, processes 1..p-1 run as in the clean run,
# process p is cut at op i (AIRLOCK_FAULT_CUT: _exit at once, nothing
# flushed), and the device "reboots" through airlock-boot and the agent
# again and again (at most MAX_BOOTS power-ons) until the update converges.
#
# Checked at every power-on: airlock-boot boots (exit 0 or the agent's own
# status) a slot whose bytes equal, byte for byte, the release image of the
# version it announces (AIRLOCK_BOOT_VERSION); after every process the
# boot record loads (airlockd status --json; illegal records are refused
# on load) and the anti-rollback counter is 1 or 2, never lowered, and 2
# exactly when slot b (v2) is committed with nothing pending (never raised
# before the commit, never a commit without it). At the end: the device
# boots v2 committed (secver 2) and the server shows the deployment
# succeeded; in the rollback sequence (the health check fails on the trial
# boot) it boots v1 committed (secver 1) and the server shows the
# deployment rolled-back.
#
# The download's chunk writes are alike (one sim page program per 4 KiB
# chunk): by default every op of every process is cut, except that, of the
# ops inside the download (the run of slot page programs between its first
# and last one, see below), a deterministic sample is cut (seed logged,
# POWERCUT_DOWNLOAD_SAMPLE of them; "all" cuts every one).
#
# Environment: AIRLOCK, AIRLOCK_SERVER, AIRLOCKD, AIRLOCK_SRC, AIRLOCK_BOOT
# (set by CTest). Optional: POWERCUT_SEQUENCES ("commit rollback"),
# POWERCUT_BACKEND (slot backend: sim, file or block; default sim),
# POWERCUT_TORN (unset, 1 or half: AIRLOCK_FAULT_TORN for the cut op),
# POWERCUT_DOWNLOAD_SAMPLE (default 12, or "all"), POWERCUT_SEED,
# POWERCUT_ONLY="P:I ..." (only these cut points, for debugging),
# POWERCUT_KIB (image size, default 256).
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
	# tmpfs: the power-cut model needs no real fsync (the process dies,
	# the kernel does not), and hundreds of runs of fsyncs on a disk are slow.
	export TMPDIR=/dev/shm
fi
. "$AIRLOCK_SRC/tests/agent/lib.sh"
BOOT=${AIRLOCK_BOOT:-}
[ -n "$BOOT" ] && [ -x "$BOOT" ] || { echo "skipped: no airlock-boot (set AIRLOCK_BOOT)"; exit 77; }
command -v jq >/dev/null || { echo "skipped: no jq"; exit 77; }
SEQUENCES=${POWERCUT_SEQUENCES:-commit rollback}
SLOT_BACKEND=${POWERCUT_BACKEND:-sim}
SAMPLE=${POWERCUT_DOWNLOAD_SAMPLE:-12}
SEED=${POWERCUT_SEED:-20261130}
KIB=${POWERCUT_KIB:-256}
MAX_BOOTS=8
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }'; }
T0=$(date +%s.%N)

# ---- the fleet: server, enrolled device, v1 (factory) and v2 (encrypted) ----
init_server
start_server_pub
enroll dev1 board-a
make_device "$PORT"
sed -i "s|^state_dir = .*|state_dir = $WORK/dev|; s|^root = .*|root = $WORK/dev/root.cbor|;
	s|^backend = file|backend = $SLOT_BACKEND|; s|^capacity = .*|capacity = $((KIB + 64))K|" dev/airlockd.conf
for mode in commit rollback; do
	health=true
	[ "$mode" = rollback ] && health='exit 1'
	sed "s|^command = .*|command = $health|" dev/airlockd.conf >"conf-$mode"
done
cp srv/root.cbor dev/root.cbor
echo board-a >dev/hardware
python3 - "$KIB" <<'PY'
import random, sys
r = random.Random(20261130)
for v in (1, 2):
    open(f"v{v}.img", "wb").write(bytes(r.getrandbits(8) for _ in range(int(sys.argv[1]) * 1024)))
PY
release() { # NAME VERSION SV [extra]
	local n=$1 v=$2 sv=$3
	shift 3
	mkdir -p "rel/$n"
	"$AIRLOCK" release create --out "rel/$n/r.cbor" --product gw --hardware board-a --version "$v" \
		--security-version "$sv" --payload "rootfs=$n.img" --chunk-size 4096 "$@" >/dev/null || die "create $n"
	"$AIRLOCK" release sign "rel/$n/r.cbor" --key srv/dev-keys/release.key >/dev/null || die "sign $n"
	cp "$n.img" "rel/$n/rootfs.img"
}
release v1 1.0 1
release v2 2.0 2 --encrypt --recipient srv/content.pub
push_release v2
V2_DIGEST=$DIGEST
SIZE=$((KIB * 1024))
CHUNKS=$(((SIZE + 4095) / 4096))
# The block backend needs its device to exist at its size (it never creates).
if [ "$SLOT_BACKEND" = block ]; then
	for s in a b; do head -c $(((KIB + 64) * 1024)) /dev/zero >"dev/slot-$s.img"; done
fi
"$AIRLOCKD" --config conf-commit provision --release rel/v1/r.cbor --image v1.img >/dev/null || adie "provision"
# the first power-on of the factory device: v1 runs, nothing deployed
"$BOOT" --device dev -- "$AIRLOCKD" --config conf-commit checkin >agent.out 2>&1 || adie "first boot: $(cat agent.out)"
cp -a dev factory

# ---- one power-on, one process, the checks ----
FAIL=0
fail() { # a failed cut point: say which and why, keep going
	echo "FAIL [$SEQ p$CUT_P:$CUT_I]: $*" >&2
	[ -f dev/agent.log ] && tail -4 dev/agent.log | cut -c1-300 >&2
	FAIL=$((FAIL + 1))
	BAD=1
}

# What the boot stage execs: checks the slot it booted against the release
# image of the version it announced, then starts the agent (with the fault
# variables of this process, which airlock-boot itself strips).
cat >booted.sh <<'EOF'
#!/bin/sh
echo "$AIRLOCK_BOOT_SLOT $AIRLOCK_BOOT_VERSION" >"$PC_WORK/booted"
img="$PC_WORK/v${AIRLOCK_BOOT_VERSION%%.*}.img"
cmp -s -n "$PC_SIZE" "$PC_WORK/dev/slot-$AIRLOCK_BOOT_SLOT.img" "$img" || { echo mismatch >"$PC_WORK/booted"; exit 99; }
[ -n "$PC_FAULT" ] && export $PC_FAULT
exec "$PC_AGENT" --config "$PC_CONF" checkin
EOF
chmod +x booted.sh
export PC_WORK=$WORK PC_SIZE=$SIZE PC_AGENT=$AIRLOCKD

# fault_env P: the AIRLOCK_FAULT_* assignments for process P of this run
fault_env() {
	local env=""
	[ -n "${COUNTING:-}" ] && env="AIRLOCK_FAULT_COUNT_FILE=$WORK/count.$1"
	if [ "$1" = "$CUT_P" ]; then
		env="AIRLOCK_FAULT_CUT=$CUT_I"
		[ -n "${POWERCUT_TORN:-}" ] && env="$env AIRLOCK_FAULT_TORN=$POWERCUT_TORN"
	fi
	echo "$env"
}

# check_state: the boot record loads and the counter is where it must be.
# Sets STATE to "good pending secver update_state".
check_state() {
	"$AIRLOCKD" --config "$CONF" status --json >st.json 2>st.err || { fail "status: $(cat st.err)"; return; }
	STATE=$(jq -r '"\(.boot.good) \(.boot.pending) \(.security_version) \(.update_state)"' st.json)
	local good pending sv
	read -r good pending sv _ <<<"$STATE"
	case "$sv" in
	1) [ "$good $pending" != "b false" ] || fail "v2 committed with the counter still 1: $STATE" ;;
	2) [ "$SEQ" = commit ] && [ "$good $pending" = "b false" ] || fail "counter 2 before the commit: $STATE" ;;
	*) fail "anti-rollback counter $sv: $STATE" ;;
	esac
	[ "$sv" -ge "$SV_SEEN" ] || fail "anti-rollback counter lowered from $SV_SEEN to $sv"
	SV_SEEN=$sv
}

# power_on: process pair P (airlock-boot) and P+1 (the agent it starts)
power_on() {
	local pb=$PROC pa=$((PROC + 1)) rc
	PROC=$((PROC + 2))
	rm -f booted
	# shellcheck disable=SC2046
	env $(fault_env $pb) PC_FAULT="$(fault_env $pa)" PC_CONF="$CONF" "$BOOT" --device dev -- "$WORK/booted.sh" \
		>>agent.out 2>&1
	rc=$?
	if [ "$pb" = "$CUT_P" ]; then
		[ "$rc" = 86 ] || fail "airlock-boot was not cut at op $CUT_I (exit $rc)"
		return
	fi
	[ -f booted ] || { fail "airlock-boot booted nothing (exit $rc): $(tail -3 agent.out)"; return; }
	[ "$(cat booted)" != mismatch ] || { fail "booted slot does not hold the announced image"; return; }
	read -r BOOTED_SLOT _ <booted
	if [ "$pa" = "$CUT_P" ]; then
		[ "$rc" = 86 ] || fail "airlockd was not cut at op $CUT_I (exit $rc)"
		# The first cut that finds the download's first page in slot b
		# locates the download: op CUT_I - 1 was that page's program.
		if [ -z "$DL_START" ] && [ "$BOOTED_SLOT" = a ] && cmp -s -n 4096 dev/slot-b.img v2.img; then
			DL_PROC=$pa DL_START=$((CUT_I - 1))
		fi
		# The sample rests on the download's page programs being one
		# contiguous run of CHUNKS ops: a cut at its last op finds all
		# but the last page written, a cut right after it finds all.
		if [ -n "$DL_START" ] && [ -z "${POWERCUT_ONLY:-}" ] && [ "$pa" = "$DL_PROC" ]; then
			if [ "$CUT_I" = $((DL_START + CHUNKS - 1)) ]; then
				cmp -s -n $((SIZE - 4096)) dev/slot-b.img v2.img && ! cmp -s -n "$SIZE" dev/slot-b.img v2.img ||
					die "$SEQ: the download is not ops $DL_START..$((DL_START + CHUNKS - 1)) (cut at $CUT_I)"
			elif [ "$CUT_I" = $((DL_START + CHUNKS)) ]; then
				cmp -s -n "$SIZE" dev/slot-b.img v2.img ||
					die "$SEQ: the download is not ops $DL_START..$((DL_START + CHUNKS - 1)) (cut at $CUT_I)"
			fi
		fi
	elif [ "$rc" != 0 ] && [ "$rc" != 10 ]; then
		fail "airlockd exit $rc: $(tail -3 agent.out)"
	fi
	check_state
}

# converged: the goal of the sequence is reached (device and server)
converged() {
	local want dstate
	if [ "$SEQ" = commit ]; then want="b false 2 IDLE succeeded"; else want="a false 1 IDLE rolled-back"; fi
	dstate=$(sqlite3 srv/data/airlock.db "SELECT state FROM device_deployments WHERE deployment_id = $DEP")
	[ "$STATE $dstate" = "$want" ]
}

# run P I: one whole sequence with a cut at op I of process P (P=0: none)
run() {
	CUT_P=$1 CUT_I=$2 PROC=1 SV_SEEN=1 BAD=
	rm -rf dev && cp -a factory dev
	: >agent.out
	[ -n "${DEP:-}" ] && api POST "/api/v1/deployments/$DEP/cancel"
	deploy "$V2_DIGEST" dev1
	local boots=0
	while [ $boots -lt $MAX_BOOTS ] && [ -z "$BAD" ]; do
		power_on
		boots=$((boots + 1))
		[ $PROC -gt "$CUT_P" ] && [ -z "$BAD" ] && converged && break
	done
	[ -n "$BAD" ] && return
	converged || { fail "not converged after $MAX_BOOTS power-ons: device $STATE, server $(sqlite3 srv/data/airlock.db \
		"SELECT state FROM device_deployments WHERE deployment_id = $DEP")"; return; }
	# and it stays there: the next power-on boots the goal, normally
	local want="slot=b version=2.0 reason=normal.*pending=0 secver=2"
	[ "$SEQ" = rollback ] && want="slot=a version=1.0 reason=normal.*pending=0 secver=1"
	"$BOOT" --device dev 2>&1 | grep -q "$want" || fail "final boot: $("$BOOT" --device dev 2>&1)"
	BOOTS=$boots
}

TOTAL=0
for SEQ in $SEQUENCES; do
	CONF=$WORK/conf-$SEQ
	# the clean run: how many ops each process does
	rm -f count.*
	COUNTING=1 run 0 0
	COUNTING=
	[ "$FAIL" = 0 ] || die "$SEQ: the clean run failed"
	procs=$((PROC - 1))
	counts=""
	for p in $(seq 1 $procs); do counts="$counts $(cat count.$p 2>/dev/null || echo 0)"; done
	echo "$SEQ: clean run: $BOOTS power-ons, $procs processes, durable ops per process:$counts"
	[ -n "${POWERCUT_CLEAN:-}" ] && continue
	done_here=0 skipped=0 DL_START= DL_PROC= sample=
	t1=$(date +%s.%N)
	p=0
	for n in $counts; do
		p=$((p + 1))
		for i in $(seq 1 "$n"); do
			if [ -n "${POWERCUT_ONLY:-}" ]; then
				case " $POWERCUT_ONLY " in *" $p:$i "*) ;; *) continue ;; esac
			elif [ -n "$DL_START" ] && [ "$p" = "$DL_PROC" ] && [ "$SAMPLE" != all ] &&
				[ "$i" -gt $((DL_START + 1)) ] && [ "$i" -lt $((DL_START + CHUNKS - 1)) ]; then
				# inside the download: ops DL_START+2 .. DL_START+CHUNKS-2
				# are the page programs of chunks 2..CHUNKS-2, cut by sample
				[ -n "$sample" ] || sample=" $(python3 -c "import random; r = random.Random($SEED)
print(' '.join(map(str, sorted(r.sample(range($((DL_START + 2)), $((DL_START + CHUNKS - 1))), min($SAMPLE, $((CHUNKS - 3))))))))") "
				case "$sample" in *" $i "*) ;; *) skipped=$((skipped + 1)); continue ;; esac
			fi
			run "$p" "$i"
			[ -n "$BAD" ] || pass
			done_here=$((done_here + 1))
		done
	done
	[ -n "$DL_START" ] || [ -n "${POWERCUT_ONLY:-}" ] || die "$SEQ: the download was never located"
	[ -z "$DL_START" ] || [ -n "${POWERCUT_ONLY:-}" ] || echo "$SEQ: the download's $CHUNKS page programs are ops $DL_START..$((DL_START + CHUNKS - 1)) of process $DL_PROC;" \
		"cut at every one of the first two and the last, and at $(($(wc -w <<<"$sample"))) of the $((CHUNKS - 3)) between" \
		"(seed $SEED${sample:+:$sample}); $skipped not cut"
	echo "$SEQ: $done_here cut points in $(since "$t1") s"
	TOTAL=$((TOTAL + done_here))
done
echo "$SLOT_BACKEND slots${POWERCUT_TORN:+, torn writes ($POWERCUT_TORN)}: $TOTAL cut points, $FAIL failures," \
	"$(since "$T0") s in all"
[ "$FAIL" = 0 ] || die "$FAIL of $TOTAL cut points failed"
done_ok
