#!/usr/bin/env bash
# airlockd under attack (ATTACKS.md A01, A02, A05, A10-A13, A17, with the
# pass rule): a man in the middle on 127.0.0.1 holding the server's TLS key
# sits between the device and the real airlock-server. Each case ends with
# a clear error in the device's log, the device still on its working image
# (running slot, boot record and update state byte-identical), and the
# server told; and the next legitimate update still succeeds.
. "$(dirname "$0")/lib.sh"
init_server
MITM_PORT=$(free_port)
start_server_pub "$MITM_PORT"
# The server thinks dev1 is a board-z; the device knows it is a board-a
# (so a compromised or misconfigured server can offer it a board-z release).
enroll dev1 board-z
enroll dev2 board-z
start_mitm
make_device "$MITM_PORT"
head -c 2000000 /dev/urandom >v1.img
head -c 3000000 /dev/urandom >good.img
HW="board-a board-z" make_release v1 1.0 5 v1.img
"$AIRLOCKD" --config dev/airlockd.conf provision --release rel/v1/r.cbor --image v1.img >/dev/null || adie "provision"
snapshot

refused() {  # refused NAME EXIT: the check-in ended with that error, state unchanged
	[ "$RC" = "$2" ] || adie "$1: expected exit $2, got $RC: $(cat agent.out)"
	grep -q "AIRLOCK_ERR_$1" agent.out || adie "$1 not reported on stderr: $(cat agent.out)"
	expect_log "$1"
	unchanged
}

# ---- A01 rollback: a release below the device's security version (5) ----
HW="board-a board-z" make_release low 0.9 3 good.img
push_release low; deploy "$DIGEST" dev1
: >mitm.log; mitm lie-sv
agent a checkin; refused ROLLBACK 1
grep -q /artifacts/ mitm.log && adie "a payload byte was requested for a rollback"; pass
server_told ROLLBACK

# ---- A02 replay: a recorded answer for a new nonce; dev1's answer to dev2 ----
mitm replay
agent a checkin          # recorded: "nothing to do" (the rollback's deployment failed)
[ "$RC" = 0 ] || adie "replay setup: $RC $(cat agent.out)"
agent a checkin; refused NONCE_MISMATCH 1
server_told NONCE_MISMATCH
chmod 600 dev2.key dev2-wrap.key
sed -i "s|$WORK/dev1|$WORK/dev2|" dev/airlockd.conf
mitm pass; agent a checkin; refused DEVICE_MISMATCH 1
sed -i "s|$WORK/dev2|$WORK/dev1|" dev/airlockd.conf

# ---- A13 wrong hardware: validly signed, for board-z only ----
HW="board-z" make_release hwz 3.0 6 good.img
push_release hwz; deploy "$DIGEST" dev1
mitm pass; agent a checkin; refused HARDWARE_MISMATCH 1
server_told HARDWARE_MISMATCH

# ---- a release below threshold (unsigned), and A05 another release than
# the directive names: the MITM swaps the release in the answer ----
HW="board-a board-z" make_release good 4.0 6 good.img
push_release good; GOOD=$DIGEST
deploy "$GOOD" dev1
mitm "subst:$WORK/rel/good/unsigned.cbor"; agent a checkin; refused THRESHOLD 1
deploy "$GOOD" dev1
mitm "subst:$WORK/rel/v1/r.cbor"; agent a checkin; refused RELEASE_MISMATCH 1

# ---- A10 endless data: a 1 MiB check-in answer; a payload that goes on ----
deploy "$GOOD" dev1
mitm oversize; agent a checkin; refused TOO_LARGE 1
mitm endless; agent a checkin; refused TOO_LARGE 1
grep -q 'longer than the 3000000 bytes allowed' dev/agent.log || adie "cap not at the signed size"; pass
[ "$(stat -c %s dev/slot-b.img)" -le $((32 * 1024 * 1024)) ] || adie "slot grew"; pass
server_told TOO_LARGE

# ---- A12 a substituted payload byte (same length): refused at its chunk ----
deploy "$GOOD" dev1
mitm tamper; agent a checkin; refused DIGEST_MISMATCH 1
grep -q 'at chunk 15' dev/agent.log || adie "tampered chunk not named: $(grep DIGEST dev/agent.log)"; pass
server_told DIGEST_MISMATCH

# ---- A17 a flipped ciphertext byte of an encrypted release ----
HW="board-a board-z" make_release enc 5.0 7 good.img --encrypt --recipient srv/content.pub
push_release enc; ENC=$DIGEST; deploy "$ENC" dev1
mitm tamper; agent a checkin; refused AEAD_TAG 1
server_told AEAD_TAG

# ---- A11 slow retrieval: headers, 1000 bytes, then silence ----
deploy "$ENC" dev1
mitm stall
t0=$(date +%s); agent a checkin; t1=$(date +%s)
[ "$RC" = 5 ] || adie "stall: expected exit 5, got $RC: $(cat agent.out)"
expect_log TOO_SLOW
# three tries of a 3 s window with 1 s and 2 s pauses: about 12 s, never the 30 s stall
[ $((t1 - t0)) -lt 25 ] || adie "TOO_SLOW took $((t1 - t0)) s"; pass
server_told TOO_SLOW
"$AIRLOCKD" --config dev/airlockd.conf status --json >st.json
python3 -c "import json; d=json.load(open('st.json')); assert d['update_state']=='INSTALLING' and not d['boot']['pending'], d" ||
	adie "slow retrieval should leave a resumable install: $(cat st.json)"; pass

# ---- and the next legitimate update succeeds (pass rule N) ----
mitm pass
agent a checkin
[ "$RC" = 10 ] || adie "legitimate update after the attacks: $RC $(cat agent.out)"
cmp -n 3000000 dev/slot-b.img good.img || adie "slot b does not hold the good image"; pass
agent b checkin
[ "$RC" = 0 ] || adie "trial: $RC $(cat agent.out)"
"$AIRLOCKD" --config dev/airlockd.conf status --json >st.json
python3 -c "import json; d=json.load(open('st.json')); assert d['boot']['good']=='b' and d['security_version']==7, d" ||
	adie "not committed: $(cat st.json)"; pass
done_ok
