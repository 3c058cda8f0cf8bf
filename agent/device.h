/*
 * The device side of airlockd's start: boot control and the update state
 * machine (bootstate.h) opened on the configured backends, the slot this
 * system booted from, and recovery: whatever a power cut or a reboot left
 * (an armed trial to health-check, a fallback to report) finished first.
 */
#ifndef AGENT_DEVICE_H
#define AGENT_DEVICE_H

#include "agent.h"
#include "airlock/bootstate.h"
#include "checkin.h"

struct agent_device {
	struct airlock_bootctl ctl;
	struct airlock_updater u;
	char state_path[AGENT_PATH_MAX + 32];
	unsigned booted;            /* the slot this system runs from */
	bool booted_known;          /* told by the boot stage, not assumed */
	/* for check-in bodies */
	char release_hex[2 * AIRLOCK_SHA256_LEN + 1];
	char slot_state[16];
};

/* Opens boot control (provisioning a fresh record on the booted slot) and
 * the state machine. */
AIRLOCK_MUST_USE airlock_err agent_device_open(struct agent *a, struct agent_device *d);
void agent_device_close(struct agent_device *d);

/*
 * Runs recovery and the trial-boot decision: on a trial boot, the health
 * check, then commit or roll back; reports the outcome (succeeded, failed,
 * rolled-back) for the deployment on trial. *reboot when the device must
 * reboot now (armed trial not yet booted, or a rollback to perform).
 */
AIRLOCK_MUST_USE airlock_err agent_device_recover(struct agent *a, struct agent_device *d, bool *reboot);

/* What the device says about itself at check-in. */
void agent_device_self(struct agent_device *d, struct agent_self *self);

/* Reboots as configured ([boot] reboot_command), else returns AGENT_EXIT_REBOOT
 * for the supervisor (airlock-boot, systemd) to act on. */
int agent_device_reboot(struct agent *a);

#endif
