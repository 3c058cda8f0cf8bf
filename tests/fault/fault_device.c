/*
 * fault-device: the device side of an update, as a test driver for the
 * power-cut sweep. It does what the agent does on a `sim` device directory
 * (docs/boot.md), through the real libairlock code: the install pipeline
 * into the inactive sim slot, the state machine, the sim boot record. It
 * runs unmodified under the fault-injection environment (AIRLOCK_FAULT_*).
 *
 *   fault-device provision DIR --root R --release REL --image IMG --hardware H --capacity N
 *   fault-device update DIR --release REL --image IMG --chunks LIST
 *   fault-device agent DIR [--health CMD]
 *
 * update and agent run "on" the slot named by AIRLOCK_BOOT_SLOT (what
 * airlock-boot hands the booted system). Each prints one line per event:
 *   event=NAME slot=S version=V secver=N reboot=0|1 detail=...
 * Exit: 0 done, 1 an error (printed), 2 usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "airlock/bootctl.h"
#include "airlock/bootstate.h"
#include "airlock/fault.h"
#include "airlock/install.h"
#include "airlock/meta.h"
#include "airlock/slot.h"

#define FEED_BUF (64u * 1024u)
#define CHECKPOINT_CHUNKS 64u   /* persist progress every 64 chunks (256 KiB at 4 KiB) */

struct args {
	const char *dir, *root, *release, *image, *chunks, *hardware, *health;
	uint64_t capacity;
};

static char path_buf[8][4096];
static unsigned path_next;

/* DIR/name in one of a few rotating static buffers. */
static const char *dpath(const char *dir, const char *name)
{
	char *p = path_buf[path_next++ % 8];
	snprintf(p, sizeof path_buf[0], "%s/%s", dir, name);
	return p;
}

static int fail(const char *what, airlock_err err)
{
	fprintf(stderr, "fault-device: %s: %s (%s)\n", what, airlock_err_name(err), airlock_strerror(err));
	return 1;
}

static void print_event(const struct airlock_event *ev)
{
	printf("event=%s slot=%s version=%s secver=%llu reboot=%d err=%s detail=%s\n", airlock_event_name(ev->kind),
	       airlock_slot_name(ev->slot), ev->version, (unsigned long long)ev->security_version, ev->reboot ? 1 : 0,
	       airlock_err_name(ev->err), ev->detail);
	fflush(stdout);
}

/* Reads a whole file into a malloc'd buffer (test driver: host side). */
static airlock_err slurp(const char *path, uint8_t **out, size_t *len, size_t max)
{
	uint8_t *buf = malloc(max);
	if (!buf)
		return AIRLOCK_ERR_NOMEM;
	airlock_err err = airlock_file_read_small(path, buf, max, len);
	if (err != AIRLOCK_OK) {
		free(buf);
		return err;
	}
	*out = buf;
	return AIRLOCK_OK;
}

/* Verifies REL against DIR/root.cbor and DIR/hardware at the counter. */
struct verified {
	uint8_t *root_buf, *rel_buf;
	size_t rel_len;
	struct airlock_root root;
	struct airlock_release rel;
	uint8_t digest[AIRLOCK_SHA256_LEN];
	char version[AIRLOCK_MAX_NAME_LEN + 1];
};

static airlock_err verify_release(const struct args *a, const char *rel_path, uint64_t secver, struct verified *v)
{
	size_t root_len, hw_len;
	char hw[AIRLOCK_MAX_NAME_LEN + 2];
	memset(v, 0, sizeof *v);
	airlock_err err = airlock_file_read_small(dpath(a->dir, "hardware"), hw, sizeof hw - 1, &hw_len);
	if (err != AIRLOCK_OK)
		return err;
	hw[hw_len] = '\0';
	hw[strcspn(hw, "\n")] = '\0';
	if ((err = slurp(dpath(a->dir, "root.cbor"), &v->root_buf, &root_len, AIRLOCK_ROOT_MAX_LEN)) != AIRLOCK_OK)
		return err;
	if ((err = airlock_root_load_trusted(v->root_buf, root_len, &v->root, NULL)) != AIRLOCK_OK)
		return err;
	if ((err = slurp(rel_path, &v->rel_buf, &v->rel_len, AIRLOCK_RELEASE_MAX_LEN)) != AIRLOCK_OK)
		return err;
	struct airlock_release_policy policy = { .hardware = hw, .min_security_version = secver, .now = 0 };
	err = airlock_release_verify(&v->root, v->rel_buf, v->rel_len, &policy, &v->rel, v->digest, NULL);
	if (err == AIRLOCK_OK && v->rel.n_payloads != 1)
		err = AIRLOCK_ERR_NOT_FOUND;
	if (err == AIRLOCK_OK) {
		memcpy(v->version, v->rel.version.ptr, v->rel.version.len);
		v->version[v->rel.version.len] = '\0';
	}
	return err;
}

static void verified_free(struct verified *v)
{
	free(v->root_buf);
	free(v->rel_buf);
}

static airlock_err copy_into_slot(const char *img_path, struct airlock_slot *s)
{
	FILE *f = fopen(img_path, "rb");
	if (!f)
		return AIRLOCK_ERR_IO_OPEN;
	static uint8_t buf[FEED_BUF];
	airlock_err err = AIRLOCK_OK;
	uint64_t off = 0;
	size_t n;
	while (err == AIRLOCK_OK && (n = fread(buf, 1, sizeof buf, f)) > 0) {
		err = airlock_slot_write(s, off, buf, n);
		off += n;
	}
	fclose(f);
	return err == AIRLOCK_OK ? airlock_slot_sync(s) : err;
}

/* The factory: slot a holds REL's image, the record says a is good. */
static int cmd_provision(const struct args *a)
{
	if (!a->root || !a->release || !a->image || !a->hardware || !a->capacity)
		return 2;
	uint8_t *buf;
	size_t len;
	airlock_err err = slurp(a->root, &buf, &len, AIRLOCK_ROOT_MAX_LEN);
	if (err == AIRLOCK_OK) {
		err = airlock_file_write_atomic(dpath(a->dir, "root.cbor"), buf, len);
		free(buf);
	}
	if (err == AIRLOCK_OK)
		err = airlock_file_write_atomic(dpath(a->dir, "hardware"), a->hardware, strlen(a->hardware));
	struct verified v;
	if (err == AIRLOCK_OK)
		err = verify_release(a, a->release, 0, &v);
	if (err != AIRLOCK_OK)
		return fail("provision: release", err);
	struct airlock_slot s;
	for (unsigned i = 0; i < AIRLOCK_SLOT_COUNT && err == AIRLOCK_OK; i++) {
		char name[32];
		snprintf(name, sizeof name, "slot-%s.img", airlock_slot_name(i));
		err = airlock_slot_open(&s, "sim", dpath(a->dir, name), a->capacity, AIRLOCK_SLOT_CREATE);
		if (err == AIRLOCK_OK && i == 0)
			err = copy_into_slot(a->image, &s);
		airlock_slot_close(&s);
	}
	if (err == AIRLOCK_OK)
		err = airlock_file_write_atomic(dpath(a->dir, "slot-a.release.cbor"), v.rel_buf, v.rel_len);
	struct airlock_bootctl ctl;
	struct airlock_updater u;
	bool created;
	if (err == AIRLOCK_OK)
		err = airlock_bootctl_open(&ctl, "sim", dpath(a->dir, "boot.rec"));
	if (err == AIRLOCK_OK)
		err = airlock_bootctl_provision(&ctl, 0, AIRLOCK_BOOTLIMIT_DEFAULT, &created);
	/* the factory sets the counter to the factory image's security version */
	if (err == AIRLOCK_OK)
		err = airlock_bootctl_mark_good(&ctl, 0, v.rel.security_version);
	if (err == AIRLOCK_OK)
		err = airlock_updater_open(&u, dpath(a->dir, "state"), &ctl);
	if (err == AIRLOCK_OK)
		err = airlock_updater_set_slot(&u, 0, v.version, v.digest, v.rel.security_version);
	verified_free(&v);
	return err == AIRLOCK_OK ? 0 : fail("provision", err);
}

static airlock_err open_device(const struct args *a, struct airlock_bootctl *ctl, struct airlock_updater *u,
			       unsigned *booted)
{
	airlock_err err = airlock_bootctl_booted_slot(booted);
	if (err != AIRLOCK_OK)
		return err;
	err = airlock_bootctl_open(ctl, "sim", dpath(a->dir, "boot.rec"));
	if (err == AIRLOCK_OK)
		err = airlock_updater_open(u, dpath(a->dir, "state"), ctl);
	return err;
}

/* Loads the persisted progress record if it belongs to this payload. */
static bool load_progress(const char *dir, struct airlock_install_progress *rec)
{
	uint8_t buf[AIRLOCK_INSTALL_PROGRESS_LEN];
	size_t len;
	return airlock_file_read_small(dpath(dir, "progress"), buf, sizeof buf, &len) == AIRLOCK_OK &&
	       airlock_install_progress_decode(buf, len, rec) == AIRLOCK_OK;
}

static airlock_err checkpoint(struct airlock_install *in, const char *dir)
{
	struct airlock_install_progress rec;
	uint8_t buf[AIRLOCK_INSTALL_PROGRESS_LEN];
	airlock_err err = airlock_install_checkpoint(in, &rec);
	if (err != AIRLOCK_OK)
		return err;
	airlock_install_progress_encode(&rec, buf);
	return airlock_file_write_atomic(dpath(dir, "progress"), buf, sizeof buf);
}

/* Streams IMG from the resume point through the pipeline into the slot. */
static airlock_err stream(struct airlock_install *in, const struct args *a)
{
	FILE *f = fopen(a->image, "rb");
	if (!f)
		return AIRLOCK_ERR_IO_OPEN;
	static uint8_t buf[FEED_BUF];
	airlock_err err = fseeko(f, (off_t)airlock_install_stream_offset(in), SEEK_SET) == 0 ? AIRLOCK_OK
											    : AIRLOCK_ERR_IO_READ;
	uint64_t last_cp = airlock_install_position(in);
	size_t n;
	while (err == AIRLOCK_OK && (n = fread(buf, 1, 16384, f)) > 0) {
		err = airlock_install_feed(in, buf, n);
		uint64_t pos = airlock_install_position(in);
		if (err == AIRLOCK_OK && pos - last_cp >= CHECKPOINT_CHUNKS) {
			err = checkpoint(in, a->dir);
			last_cp = pos;
		}
	}
	fclose(f);
	return err == AIRLOCK_OK ? airlock_install_finish(in) : err;
}

static airlock_err install(const struct args *a, struct airlock_updater *u, const struct verified *v,
			   struct airlock_event *ev)
{
	const struct airlock_payload *p = &v->rel.payloads[0];
	struct airlock_install_progress rec;
	bool resume = u->st.state == AIRLOCK_UPDATE_INSTALLING &&
		      memcmp(u->st.slots[u->st.target].release_digest, v->digest, AIRLOCK_SHA256_LEN) == 0 &&
		      load_progress(a->dir, &rec);
	unsigned target;
	airlock_err err = airlock_updater_install_begin(u, v->version, v->digest, v->rel.security_version, &target, ev);
	if (err != AIRLOCK_OK)
		return err;
	print_event(ev);
	uint8_t *list;
	size_t list_len;
	if ((err = slurp(a->chunks, &list, &list_len, 4u << 20)) != AIRLOCK_OK)
		return err;
	char name[32];
	snprintf(name, sizeof name, "slot-%s.img", airlock_slot_name(target));
	struct airlock_slot s;
	struct airlock_install in;
	memset(&in, 0, sizeof in);
	err = airlock_slot_open(&s, "sim", dpath(a->dir, name), 0, 0);
	if (err == AIRLOCK_OK)
		err = airlock_install_init(&in, p, list, list_len, NULL, &s);
	struct airlock_install_resumed why;
	if (err == AIRLOCK_OK && resume) {
		err = airlock_install_resume(&in, &rec, &why);
		if (err == AIRLOCK_OK)
			printf("update: resumed at chunk %llu (%s)\n", (unsigned long long)why.chunk,
			       airlock_err_name(why.restart));
	}
	if (err == AIRLOCK_OK)
		err = stream(&in, a);
	airlock_install_free(&in);
	airlock_slot_close(&s);
	free(list);
	/* The slot's release, stored before the slot may be armed. */
	snprintf(name, sizeof name, "slot-%s.release.cbor", airlock_slot_name(target));
	if (err == AIRLOCK_OK)
		err = airlock_file_write_atomic(dpath(a->dir, name), v->rel_buf, v->rel_len);
	if (err == AIRLOCK_OK)
		err = airlock_updater_install_done(u, ev);
	return err;
}

static int cmd_update(const struct args *a)
{
	if (!a->release || !a->image || !a->chunks)
		return 2;
	struct airlock_bootctl ctl;
	struct airlock_updater u;
	struct airlock_event ev;
	unsigned booted;
	airlock_err err = open_device(a, &ctl, &u, &booted);
	if (err == AIRLOCK_OK)
		err = airlock_updater_recover(&u, booted, &ev);
	if (err != AIRLOCK_OK)
		return fail("update: recover", err);
	print_event(&ev);
	if (ev.kind == AIRLOCK_EVENT_TRIAL_BOOT || ev.reboot) {
		printf("update: not now (%s)\n", ev.reboot ? "reboot pending" : "trial in progress");
		return 0;
	}
	struct verified v;
	err = verify_release(a, a->release, u.rec.secver, &v);
	if (err == AIRLOCK_OK && u.st.slots[u.rec.good].valid &&
	    memcmp(u.st.slots[u.rec.good].release_digest, v.digest, AIRLOCK_SHA256_LEN) == 0) {
		printf("update: %s already installed and committed\n", v.version);
		verified_free(&v);
		return 0;
	}
	if (err == AIRLOCK_OK)
		err = install(a, &u, &v, &ev);
	verified_free(&v);
	if (err != AIRLOCK_OK)
		return fail("update: install", err);
	print_event(&ev);
	return 0;
}

static int cmd_agent(const struct args *a)
{
	struct airlock_bootctl ctl;
	struct airlock_updater u;
	struct airlock_event ev;
	unsigned booted;
	airlock_err err = open_device(a, &ctl, &u, &booted);
	if (err == AIRLOCK_OK)
		err = airlock_updater_recover(&u, booted, &ev);
	if (err != AIRLOCK_OK)
		return fail("agent: recover", err);
	print_event(&ev);
	if (ev.kind != AIRLOCK_EVENT_TRIAL_BOOT)
		return 0;
	struct airlock_health_result res;
	airlock_err health = airlock_health_check_run(a->health ? a->health : "true", 10000, &res);
	char detail[64];
	snprintf(detail, sizeof detail, "health check: exit %d%s", res.exit_status, res.timed_out ? ", timed out" : "");
	err = airlock_updater_trial_result(&u, booted, health, detail, &ev);
	if (err != AIRLOCK_OK)
		return fail("agent: trial result", err);
	print_event(&ev);
	return 0;
}

static int parse(int argc, char **argv, struct args *a)
{
	memset(a, 0, sizeof *a);
	if (argc < 3)
		return -1;
	a->dir = argv[2];
	for (int i = 3; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];
		if (strcmp(k, "--root") == 0)
			a->root = v;
		else if (strcmp(k, "--release") == 0)
			a->release = v;
		else if (strcmp(k, "--image") == 0)
			a->image = v;
		else if (strcmp(k, "--chunks") == 0)
			a->chunks = v;
		else if (strcmp(k, "--hardware") == 0)
			a->hardware = v;
		else if (strcmp(k, "--health") == 0)
			a->health = v;
		else if (strcmp(k, "--capacity") == 0)
			a->capacity = strtoull(v, NULL, 10);
		else
			return -1;
	}
	return argc % 2 == 1 ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct args a;
	int rc = 2;
	if (parse(argc, argv, &a) == 0) {
		if (strcmp(argv[1], "provision") == 0)
			rc = cmd_provision(&a);
		else if (strcmp(argv[1], "update") == 0)
			rc = cmd_update(&a);
		else if (strcmp(argv[1], "agent") == 0)
			rc = cmd_agent(&a);
	}
	if (rc == 2)
		fprintf(stderr, "usage: fault-device provision|update|agent DIR [options] (see the source)\n");
	return rc;
}
