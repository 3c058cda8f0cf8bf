/*
 * The device's update state machine (DESIGN.md, "The device pipeline"):
 *
 *   IDLE --install_begin--> INSTALLING --install_done--> INSTALLED
 *        --(arm: bootctl set_trial)--> TRIAL --reboot, health check-->
 *        commit (bootctl mark_good + anti-rollback counter, one write) -> IDLE
 *      | roll back (health check failed, boot limit exceeded, explicit)
 *        ROLLING_BACK --(bootctl rollback)--> IDLE
 *
 * Two durable objects carry it: the state file below (the agent's intent
 * and what each slot holds, written atomically with
 * airlock_file_write_atomic()), and the boot record (bootctl.h), whose
 * atomic store is the commit point. The rule that makes every power cut
 * recoverable: the state file records an intent BEFORE the boot record
 * acts on it, and airlock_bootstate_recover(), run at every start, rolls
 * each intent forward from what the boot record says. docs/boot.md lists
 * every (state, record) pair and what recovery does with it.
 *
 * The anti-rollback counter is the boot record's `secver`, raised in the
 * same atomic store that commits the trial slot (never before it, never
 * lowered); the state file's security_version mirrors it for status.
 *
 * Every transition fills a struct airlock_event the agent reports to the
 * server and logs. Functions return airlock_err; the caller owns every
 * struct; nothing here allocates (the health check forks).
 */
#ifndef AIRLOCK_BOOTSTATE_H
#define AIRLOCK_BOOTSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "airlock/bootctl.h"
#include "airlock/crypto.h"
#include "airlock/error.h"
#include "airlock/meta.h"

enum airlock_update_state {
	AIRLOCK_UPDATE_IDLE = 0,         /* nothing in progress */
	AIRLOCK_UPDATE_INSTALLING = 1,   /* target slot being written: its contents are not an image */
	AIRLOCK_UPDATE_INSTALLED = 2,    /* target holds the verified image, synced: arm it next */
	AIRLOCK_UPDATE_TRIAL = 3,        /* armed: boot it on trial, then health check */
	AIRLOCK_UPDATE_ROLLING_BACK = 4, /* decided to roll back: reset the boot record next */
};
/* "IDLE", "INSTALLING", ...; "?" for an unknown value. */
const char *airlock_update_state_name(unsigned state);

enum airlock_rollback_reason {
	AIRLOCK_ROLLBACK_NONE = 0,
	AIRLOCK_ROLLBACK_HEALTH_CHECK = 1, /* the trial's health check failed or timed out */
	AIRLOCK_ROLLBACK_BOOT_LIMIT = 2,   /* the bootloader fell back: boot limit exceeded
	                                    * or the trial image failed verification */
	AIRLOCK_ROLLBACK_EXPLICIT = 3,     /* an operator or the server asked */
};
const char *airlock_rollback_reason_name(unsigned reason);

#define AIRLOCK_STATE_DETAIL_LEN 128

/* What the state file knows about one slot. */
struct airlock_slot_state {
	bool valid;                 /* holds the complete, verified image of this release */
	bool bad;                   /* this release failed its trial: do not retry it */
	uint64_t security_version;  /* of the release */
	uint8_t release_digest[AIRLOCK_SHA256_LEN];
	char version[AIRLOCK_MAX_NAME_LEN + 1];  /* NUL-terminated; "" if unknown */
};

struct airlock_bootstate {
	uint8_t state;              /* enum airlock_update_state */
	uint8_t target;             /* slot of the update in progress (the inactive one) */
	uint8_t reason;             /* enum airlock_rollback_reason of the last rollback */
	uint32_t trial_boots;       /* bootcount seen at the last trial boot */
	uint64_t security_version;  /* mirror of the boot record's anti-rollback counter */
	uint64_t generation;        /* incremented by every save */
	int32_t last_error;         /* airlock_err of the last failure, 0 if none */
	char last_detail[AIRLOCK_STATE_DETAIL_LEN]; /* NUL-terminated */
	struct airlock_slot_state slots[AIRLOCK_SLOT_COUNT];
};

/* ---- the state file ---- */

/*
 * Fixed binary layout (big-endian; docs/boot.md): "ALST" | format u32 = 1 |
 * generation u64 | state u8 | target u8 | reason u8 | 0 u8 |
 * trial_boots u32 | security_version u64 | last_error i32 |
 * last_detail[128] | 2 x slot { flags u8 (1 valid, 2 bad) | 0 u8[7] |
 * security_version u64 | release_digest[32] | version[72] } |
 * SHA-256 of everything before it. Torn or altered: AIRLOCK_ERR_STATE.
 */
#define AIRLOCK_BOOTSTATE_LEN 436

void airlock_bootstate_init(struct airlock_bootstate *st);
void airlock_bootstate_encode(const struct airlock_bootstate *st, uint8_t out[AIRLOCK_BOOTSTATE_LEN]);
/* AIRLOCK_ERR_STATE for a wrong length, magic, format, digest or value. */
AIRLOCK_MUST_USE airlock_err airlock_bootstate_decode(const uint8_t *buf, size_t len, struct airlock_bootstate *st);
/* NOT_FOUND if the file does not exist; STATE if corrupt; IO_*. */
AIRLOCK_MUST_USE airlock_err airlock_bootstate_load(const char *path, struct airlock_bootstate *st);
/* generation += 1, then an atomic replace of the file (four counted ops). */
AIRLOCK_MUST_USE airlock_err airlock_bootstate_save(const char *path, struct airlock_bootstate *st);

/* ---- events ---- */

enum airlock_event_kind {
	AIRLOCK_EVENT_NONE = 0,             /* nothing happened or nothing to do */
	AIRLOCK_EVENT_INSTALL_STARTED = 1,  /* target slot invalidated, install may write */
	AIRLOCK_EVENT_INSTALL_RESUMABLE = 2,/* recovery: an install was cut short: resume or redo it */
	AIRLOCK_EVENT_INSTALL_FAILED = 3,   /* install abandoned; the active slot is untouched */
	AIRLOCK_EVENT_INSTALLED = 4,        /* verified and armed for a trial: reboot now */
	AIRLOCK_EVENT_TRIAL_BOOT = 5,       /* running the trial slot: run the health check */
	AIRLOCK_EVENT_COMMITTED = 6,        /* trial slot good, anti-rollback counter raised */
	AIRLOCK_EVENT_ROLLED_BACK = 7,      /* back on the good slot (see reason) */
};
/* "NONE", "INSTALL_STARTED", ..., "ROLLED_BACK"; "?" for an unknown value. */
const char *airlock_event_name(unsigned kind);

struct airlock_event {
	enum airlock_event_kind kind;
	airlock_err err;                  /* the failure behind it, AIRLOCK_OK if none */
	enum airlock_rollback_reason reason;
	unsigned slot;                    /* the slot concerned (the update's target) */
	uint64_t security_version;        /* the anti-rollback counter after the event */
	bool reboot;                      /* the agent should reboot now */
	char version[AIRLOCK_MAX_NAME_LEN + 1];
	char detail[AIRLOCK_STATE_DETAIL_LEN];
};

/* ---- the machine ---- */

/* The state file's path, the boot control, and the state as last saved. */
struct airlock_updater {
	char state_path[AIRLOCK_BOOTCTL_PATH_MAX]; /* copied by airlock_updater_open() */
	struct airlock_bootctl *ctl;    /* opened by the caller */
	struct airlock_bootstate st;
	struct airlock_boot_record rec; /* as last loaded or stored */
};

/*
 * Loads the state file (a missing file is a fresh IDLE state; a corrupt one
 * is AIRLOCK_ERR_STATE: the agent reports it and re-provisions) and the boot
 * record (NOT_FOUND: not provisioned). Writes nothing. INVALID_ARG for a
 * path of AIRLOCK_BOOTCTL_PATH_MAX bytes or more.
 */
AIRLOCK_MUST_USE airlock_err airlock_updater_open(struct airlock_updater *u, const char *state_path,
						  struct airlock_bootctl *ctl);

/*
 * Records what the factory put in `slot` (the good slot of a provisioned
 * device): valid, version, digest, security version. Saves the state file.
 */
AIRLOCK_MUST_USE airlock_err airlock_updater_set_slot(struct airlock_updater *u, unsigned slot, const char *version,
						      const uint8_t digest[AIRLOCK_SHA256_LEN],
						      uint64_t security_version);

/*
 * Run at every start of the agent, before anything else: finishes whatever
 * a power cut interrupted (arming, committing, rolling back) and says what
 * the agent must do next. `booted` is the slot this system runs from
 * (airlock_bootctl_booted_slot()). Typical events: NONE (idle),
 * INSTALL_RESUMABLE, INSTALLED (reboot), TRIAL_BOOT (run the health check,
 * then airlock_updater_trial_result()), COMMITTED, ROLLED_BACK.
 */
AIRLOCK_MUST_USE airlock_err airlock_updater_recover(struct airlock_updater *u, unsigned booted,
						     struct airlock_event *ev);

/*
 * Starts an install of a verified release into the inactive slot (the one
 * that is not the boot record's good slot): STATE unless IDLE (or
 * INSTALLING the same release: a redo) and nothing pending; ROLLBACK if
 * security_version is below the anti-rollback counter. Saves INSTALLING
 * with the target invalidated before any byte of it may be written.
 * *target gets the slot to write.
 */
AIRLOCK_MUST_USE airlock_err airlock_updater_install_begin(struct airlock_updater *u, const char *version,
							   const uint8_t digest[AIRLOCK_SHA256_LEN],
							   uint64_t security_version, unsigned *target,
							   struct airlock_event *ev);

/*
 * The install pipeline finished (airlock_install_finish() returned OK: the
 * target holds the verified image, synced) and the slot's release file is
 * stored: saves INSTALLED, arms the trial (the commit point of the
 * install), saves TRIAL. Event INSTALLED with reboot = true.
 */
AIRLOCK_MUST_USE airlock_err airlock_updater_install_done(struct airlock_updater *u, struct airlock_event *ev);

/* The install failed (err, detail): back to IDLE with the target invalid. */
AIRLOCK_MUST_USE airlock_err airlock_updater_install_failed(struct airlock_updater *u, airlock_err err,
							    const char *detail, struct airlock_event *ev);

/*
 * After a TRIAL_BOOT event, with the health check's result (AIRLOCK_OK or
 * the failure, e.g. HEALTH_CHECK): commits (bootctl mark_good with the
 * release's security version, then saves IDLE: event COMMITTED) or rolls
 * back (event ROLLED_BACK, reason HEALTH_CHECK, reboot = true). `booted`
 * must be the trial slot (STATE otherwise).
 */
AIRLOCK_MUST_USE airlock_err airlock_updater_trial_result(struct airlock_updater *u, unsigned booted,
							  airlock_err health, const char *detail,
							  struct airlock_event *ev);

/*
 * Rolls back a pending trial (explicit command, or any reason above):
 * saves ROLLING_BACK, resets the boot record to the good slot, saves IDLE
 * with the target marked bad. STATE if no trial is armed or in progress.
 */
AIRLOCK_MUST_USE airlock_err airlock_updater_rollback(struct airlock_updater *u, enum airlock_rollback_reason reason,
						      airlock_err err, const char *detail, struct airlock_event *ev);

/* ---- health check ---- */

struct airlock_health_result {
	bool timed_out;
	int exit_status;   /* when exited normally, else -1 */
	int signal;        /* when killed by a signal, else 0 */
};

/*
 * Runs `command` with /bin/sh -c in its own process group and waits at most
 * timeout_ms; on timeout the whole group is killed (SIGKILL). AIRLOCK_OK iff
 * it exited with status 0; AIRLOCK_ERR_HEALTH_CHECK otherwise (non-zero,
 * signal, timeout, or not executable: sh's 126/127). INVALID_ARG for an
 * empty command, IO_OPEN if fork fails. res may be NULL.
 */
AIRLOCK_MUST_USE airlock_err airlock_health_check_run(const char *command, unsigned timeout_ms,
						      struct airlock_health_result *res);

#endif
