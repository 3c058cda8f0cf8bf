/*
 * fault-sweep: the power-cut harness (ATTACKS.md F01-F04; docs/boot.md).
 *
 * A sequence is a list of steps, each a real process on a sim device
 * directory: `fault-device update` (install v2 into the inactive slot
 * through the install pipeline, arm it), `airlock-boot` (the boot stage:
 * boot count, verification), `fault-device agent` (recovery, health check,
 * commit or roll back). A clean run tells how many durable ops each step
 * performs (AIRLOCK_FAULT_COUNT_FILE). Then for every op index i of the
 * whole sequence the device is reset, the sequence runs with
 * AIRLOCK_FAULT_CUT at i (optionally torn), and the device "reboots"
 * through airlock-boot and the agent's recovery until the update is done
 * (redoing it where the cut left nothing to resume). Checked at the cut
 * and at every boot:
 *  - airlock-boot boots (exit 0), and the booted slot holds, byte for
 *    byte, the image of the version it reports (old or new);
 *  - the boot record loads (a legal record);
 *  - the anti-rollback counter is never lowered, and is raised only when
 *    the record commits the slot that holds the new image;
 *  - the sequence reaches its goal (new image committed, or the trial
 *    rolled back to the old image and stable over 3 boots) within a bounded
 *    number of boots, and the next update then succeeds.
 *
 *   fault-sweep --data DIR --work DIR --boot PATH --device-tool PATH
 *               --sequence commit|rollback [--torn 1|half] [--random RUNS --seed S]
 *
 * DIR holds root.cbor, v1.cbor, v1.img, v2.cbor, v2.img, v2.chunks, hardware.
 * Prints "<name>: N cut points, F failures" and exits 0 iff F == 0.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "airlock/bootctl.h"
#include "airlock/bootstate.h"
#include "airlock/fault.h"

#define MAX_STEPS 8
#define MAX_BOOTS 16
#define OUT_MAX 8192

enum step_kind { STEP_UPDATE, STEP_BOOT, STEP_AGENT };

struct blob {
	uint8_t *data;
	size_t len;
};

static struct {
	const char *data, *work, *boot, *tool, *torn;
	bool rollback;       /* the trial's health check fails */
	unsigned random_runs;
	unsigned long seed;
	char dev[4096], tmpl[4096], errlog[4096];
	struct blob v1, v2;
	enum step_kind steps[MAX_STEPS];
	unsigned n_steps;
	uint64_t ops[MAX_STEPS];
	/* per cut point */
	char booted[2];      /* slot of the last boot: "a"/"b" */
	uint64_t max_secver;
	unsigned failures;
	uint64_t cut_points;
	char where[256];     /* what the current run is, for messages */
	/* F04: cuts left to spend on recovery steps */
	unsigned cuts_left;
	uint64_t rng;
	/* F09: a failing record area: AIRLOCK_FAULT_FAIL for every process */
	const char *fail;        /* CLASS:RATE, or NULL */
	unsigned fail_runs;
	unsigned long fail_seed; /* advanced per process, so each draws anew */
	unsigned kept_old, completed;
	unsigned cuts_made;      /* F04: cuts spent in recovery, in all */
} H;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "fault-sweep: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(2);
}

/* A failed check: reported with the run it belongs to; the run stops. */
static bool check(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool check(bool ok, const char *fmt, ...)
{
	if (ok)
		return true;
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "FAIL [%s]: ", H.where);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	FILE *f = fopen(H.errlog, "r");
	if (f) {
		char line[512];
		fprintf(stderr, "  last stderr:\n");
		while (fgets(line, sizeof line, f))
			fprintf(stderr, "    %s", line);
		fclose(f);
	}
	return false;
}

static const char *path(const char *dir, const char *name)
{
	static char buf[8][4096];
	static unsigned i;
	char *p = buf[i++ % 8];
	int n = snprintf(p, sizeof buf[0], "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= sizeof buf[0])
		die("path too long: %s/%s", dir, name);
	return p;
}

static struct blob slurp(const char *p)
{
	struct blob b = { NULL, 0 };
	FILE *f = fopen(p, "rb");
	if (!f)
		die("cannot read %s", p);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	b.data = malloc((size_t)n + 1);
	if (!b.data || fread(b.data, 1, (size_t)n, f) != (size_t)n)
		die("cannot read %s", p);
	b.len = (size_t)n;
	fclose(f);
	return b;
}

static void spit(const char *p, const uint8_t *d, size_t n)
{
	FILE *f = fopen(p, "wb");
	if (!f || fwrite(d, 1, n, f) != n || fclose(f) != 0)
		die("cannot write %s", p);
}

/* ---- processes ---- */

struct proc {
	int status;          /* exit status, or -1 if killed by a signal */
	char out[OUT_MAX];
};

/* Runs argv with extra NAME=VALUE environment entries; stdout captured,
 * stderr to H.errlog. Fault variables are never inherited. */
static void run(char *const argv[], const char *const env[], struct proc *p)
{
	int fds[2];
	if (pipe(fds) != 0)
		die("pipe: %s", strerror(errno));
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		close(fds[0]);
		dup2(fds[1], 1);
		int e = open(H.errlog, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (e >= 0)
			dup2(e, 2);
		unsetenv("AIRLOCK_FAULT_CUT");
		unsetenv("AIRLOCK_FAULT_TORN");
		unsetenv("AIRLOCK_FAULT_FAIL");
		unsetenv("AIRLOCK_FAULT_COUNT_FILE");
		for (size_t i = 0; env && env[i]; i++) {
			char kv[4400];
			snprintf(kv, sizeof kv, "%s", env[i]);
			char *eq = strchr(kv, '=');
			if (eq) {
				*eq = '\0';
				setenv(kv, eq + 1, 1);
			}
		}
		execv(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	size_t got = 0;
	for (;;) {
		ssize_t n = read(fds[0], p->out + got, sizeof p->out - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got == sizeof p->out - 1)
			got = 0;  /* keep reading; the tail is what matters */
	}
	p->out[got] = '\0';
	close(fds[0]);
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	p->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The value of KEY=... in the last line of out that has it. */
static const char *field(const char *out, const char *key, char *buf, size_t cap)
{
	char pat[64];
	snprintf(pat, sizeof pat, "%s=", key);
	const char *hit = NULL;
	for (const char *q = out; (q = strstr(q, pat)) != NULL; q++)
		if (q == out || q[-1] == ' ' || q[-1] == '\n')
			hit = q;
	if (!hit)
		return NULL;
	hit += strlen(pat);
	size_t n = strcspn(hit, " \n");
	if (n >= cap)
		n = cap - 1;
	memcpy(buf, hit, n);
	buf[n] = '\0';
	return buf;
}

/* Runs one step; fault_env (may be NULL) holds the fault variables. */
static void run_step(enum step_kind k, const char *const fault_env[], struct proc *p)
{
	const char *env[8];
	size_t n = 0;
	char slot_env[32];
	snprintf(slot_env, sizeof slot_env, "AIRLOCK_BOOT_SLOT=%s", H.booted);
	char fail_env[96];
	if (k != STEP_BOOT)
		env[n++] = slot_env;
	if (H.fail) {
		snprintf(fail_env, sizeof fail_env, "AIRLOCK_FAULT_FAIL=%s:%lu", H.fail, ++H.fail_seed);
		env[n++] = fail_env;
	}
	for (size_t i = 0; fault_env && fault_env[i] && n < 7; i++)
		env[n++] = fault_env[i];
	env[n] = NULL;
	if (k == STEP_BOOT) {
		char *argv[] = { (char *)H.boot, "--device", H.dev, NULL };
		run(argv, env, p);
		char slot[8];
		if (p->status == 0 && field(p->out, "slot", slot, sizeof slot))
			H.booted[0] = slot[0], H.booted[1] = '\0';
	} else if (k == STEP_UPDATE) {
		char *argv[] = { (char *)H.tool, "update", H.dev, "--release", (char *)path(H.data, "v2.cbor"),
				 "--image", (char *)path(H.data, "v2.img"), "--chunks",
				 (char *)path(H.data, "v2.chunks"), NULL };
		run(argv, env, p);
	} else {
		char *argv[] = { (char *)H.tool, "agent", H.dev, "--health", H.rollback ? "false" : "true", NULL };
		run(argv, env, p);
	}
}

/* ---- the device ---- */

static void rm_dir_files(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			unlink(path(dir, e->d_name));
	closedir(d);
}

static const char *const device_files[] = { "root.cbor", "hardware", "boot.rec", "state", "slot-a.img",
					    "slot-b.img", "slot-a.release.cbor" };
static struct blob tmpl_files[sizeof device_files / sizeof device_files[0]];

static void reset_device(void)
{
	rm_dir_files(H.dev);
	for (size_t i = 0; i < sizeof device_files / sizeof device_files[0]; i++)
		spit(path(H.dev, device_files[i]), tmpl_files[i].data, tmpl_files[i].len);
	snprintf(H.booted, sizeof H.booted, "a");
	H.max_secver = 1;
}

static bool file_prefix_equals(const char *p, const struct blob *img)
{
	FILE *f = fopen(p, "rb");
	if (!f)
		return false;
	static uint8_t buf[1 << 16];
	bool same = true;
	for (size_t off = 0; same && off < img->len;) {
		size_t want = img->len - off < sizeof buf ? img->len - off : sizeof buf;
		same = fread(buf, 1, want, f) == want && memcmp(buf, img->data + off, want) == 0;
		off += want;
	}
	fclose(f);
	return same;
}

static const char *slot_img(unsigned s)
{
	return path(H.dev, s == 0 ? "slot-a.img" : "slot-b.img");
}

/* The record is legal and the counter rules hold. */
static bool check_record(struct airlock_boot_record *r)
{
	struct airlock_bootctl ctl;
	if (!check(airlock_bootctl_open(&ctl, "sim", path(H.dev, "boot.rec")) == AIRLOCK_OK, "open record"))
		return false;
	airlock_err err = airlock_bootctl_load(&ctl, r);
	airlock_bootctl_close(&ctl);
	if (!check(err == AIRLOCK_OK, "boot record not legal: %s", airlock_err_name(err)))
		return false;
	if (!check(r->secver >= H.max_secver, "anti-rollback counter lowered: %llu < %llu",
		   (unsigned long long)r->secver, (unsigned long long)H.max_secver))
		return false;
	if (!check(r->secver <= 2, "counter beyond any release: %llu", (unsigned long long)r->secver))
		return false;
	H.max_secver = r->secver;
	if (r->secver == 2) {
		/* raised: only together with the commit of the slot holding v2 */
		if (!check(!r->pending, "counter raised while a trial is pending"))
			return false;
		if (!check(file_prefix_equals(slot_img(r->good), &H.v2), "counter raised but good slot %s is not v2",
			   airlock_slot_name(r->good)))
			return false;
	}
	return true;
}

/* One power-on: airlock-boot must boot a verified image, byte-compared. */
static bool boot_and_check(struct proc *p)
{
	run_step(STEP_BOOT, NULL, p);
	if (!check(p->status == 0, "airlock-boot exit %d: %s", p->status, p->out))
		return false;
	char version[80];
	if (!check(field(p->out, "version", version, sizeof version) != NULL, "no version in '%s'", p->out))
		return false;
	unsigned s = H.booted[0] == 'b' ? 1u : 0u;
	const struct blob *img = strcmp(version, "1.0") == 0 ? &H.v1 : strcmp(version, "2.0") == 0 ? &H.v2 : NULL;
	if (!check(img != NULL, "booted unknown version %s", version))
		return false;
	if (!check(file_prefix_equals(slot_img(s), img), "slot %s booted as %s but its bytes differ", H.booted,
		   version))
		return false;
	struct airlock_boot_record r;
	return check_record(&r);
}

static bool load_state(struct airlock_bootstate *st)
{
	return airlock_bootstate_load(path(H.dev, "state"), st) == AIRLOCK_OK;
}

/* The goal of the sequence, on a record and state at rest: 1 reached,
 * 0 not yet, -1 a check failed. */
static int goal_reached(void)
{
	struct airlock_boot_record r;
	struct airlock_bootstate st;
	if (!check_record(&r) || !check(load_state(&st), "state file unreadable"))
		return -1;
	if (r.pending || st.state != AIRLOCK_UPDATE_IDLE)
		return 0;
	if (!H.rollback)
		return r.secver == 2 && file_prefix_equals(slot_img(r.good), &H.v2);
	return r.secver == 1 && r.good == 0 && st.slots[1].bad && file_prefix_equals(slot_img(0), &H.v1);
}

/* F04: maybe a random cut for this recovery step. */
static const char *const *maybe_cut(enum step_kind k, char *buf, size_t cap, const char **env)
{
	if (!H.cuts_left)
		return NULL;
	H.rng ^= H.rng << 13;
	H.rng ^= H.rng >> 7;
	H.rng ^= H.rng << 17;
	if (H.rng % 3 != 0)
		return NULL;
	uint64_t span = k == STEP_UPDATE ? H.ops[0] : 16;
	H.cuts_left--;
	H.cuts_made++;
	snprintf(buf, cap, "AIRLOCK_FAULT_CUT=%llu", (unsigned long long)(1 + (H.rng >> 8) % span));
	env[0] = buf;
	env[1] = NULL;
	return env;
}

/*
 * Reboots until the goal: boot, agent (recovery, health check), and an
 * update where the agent has nothing to finish. Every boot is checked.
 */
static bool recover_to_goal(void)
{
	struct proc p;
	unsigned redo = 0;
	char cutbuf[64];
	const char *env[2];
	unsigned max_boots = H.fail ? 3 * MAX_BOOTS : MAX_BOOTS;
	for (unsigned boot = 0; boot < max_boots; boot++) {
		if (!boot_and_check(&p))
			return false;
		run_step(STEP_AGENT, maybe_cut(STEP_AGENT, cutbuf, sizeof cutbuf, env), &p);
		if (p.status == AIRLOCK_FAULT_EXIT || (H.fail && p.status == 1))
			continue;  /* F04: cut again during recovery; F09: a write failed */
		if (!check(p.status == 0, "agent exit %d: %s", p.status, p.out))
			return false;
		char kind[32] = "", reboot[4] = "0";
		field(p.out, "event", kind, sizeof kind);
		field(p.out, "reboot", reboot, sizeof reboot);
		if (strcmp(reboot, "1") == 0 || strcmp(kind, "INSTALLED") == 0)
			continue;
		int goal = goal_reached();
		if (goal < 0)
			return false;
		if (goal) {
			/* stable: more power-ons change nothing (F02: the old image
			 * still there on the 3rd boot after the rollback) */
			for (int i = 0; i < (H.rollback ? 2 : 1); i++) {
				char before = H.booted[0];
				if (!boot_and_check(&p))
					return false;
				if (!check(H.booted[0] == before, "not stable: booted %s after %c", H.booted, before))
					return false;
				run_step(STEP_AGENT, NULL, &p);
				if (!check(p.status == 0 && strstr(p.out, "event=NONE"), "not at rest: %s", p.out))
					return false;
			}
			H.completed++;
			return true;
		}
		/* nothing in flight and the goal not reached: finish or redo the update */
		redo++;
		if (!check(redo <= (H.fail ? 16u : 4u), "update not done after %u attempts", redo - 1))
			return false;
		run_step(STEP_UPDATE, maybe_cut(STEP_UPDATE, cutbuf, sizeof cutbuf, env), &p);
		if (p.status == AIRLOCK_FAULT_EXIT || (H.fail && p.status == 1))
			continue;
		if (!check(p.status == 0, "update exit %d: %s", p.status, p.out))
			return false;
	}
	if (H.fail) {
		/* F09: a record that cannot be written may keep the old image, as
		 * long as every boot above booted a verified one (no boot loop
		 * into an unverified image) and the good slot is intact. */
		struct airlock_boot_record r;
		if (!check_record(&r) || !check(file_prefix_equals(slot_img(r.good), &H.v1) ||
						    file_prefix_equals(slot_img(r.good), &H.v2),
						"good slot %s holds no verified image", airlock_slot_name(r.good)))
			return false;
		H.kept_old++;
		return true;
	}
	return check(false, "no goal after %u boots", max_boots);
}

/* Runs the sequence with a cut at global op `cut` (0: none). */
static bool run_sequence(uint64_t cut, bool count)
{
	struct proc p;
	uint64_t base = 0;
	for (unsigned j = 0; j < H.n_steps; j++) {
		char cut_env[64], count_env[4200];
		const char *env[4] = { NULL };
		size_t n = 0;
		bool cut_here = cut > base && cut <= base + H.ops[j];
		if (cut_here) {
			snprintf(cut_env, sizeof cut_env, "AIRLOCK_FAULT_CUT=%llu", (unsigned long long)(cut - base));
			env[n++] = cut_env;
			if (H.torn)
				env[n++] = H.torn;
		}
		if (count) {
			snprintf(count_env, sizeof count_env, "AIRLOCK_FAULT_COUNT_FILE=%s", path(H.work, "count"));
			env[n++] = count_env;
			unlink(path(H.work, "count"));
		}
		run_step(H.steps[j], env, &p);
		if (H.fail && p.status == 1)
			return true;  /* the step reported an injected failure: reboot */
		if (cut_here)
			return check(p.status == AIRLOCK_FAULT_EXIT, "step %u was not cut at %llu (exit %d)", j,
				     (unsigned long long)(cut - base), p.status);
		if (!check(p.status == 0, "step %u exit %d: %s", j, p.status, p.out))
			return false;
		if (count) {
			/* no file: the step did no durable op at all */
			H.ops[j] = 0;
			if (access(path(H.work, "count"), F_OK) == 0) {
				struct blob c = slurp(path(H.work, "count"));
				c.data[c.len] = '\0';
				H.ops[j] = strtoull((char *)c.data, NULL, 10);
				free(c.data);
			}
		}
		base += H.ops[j];
	}
	return true;
}

static void one_cut(uint64_t cut)
{
	reset_device();
	snprintf(H.where, sizeof H.where, "%s%s%s cut %llu", H.rollback ? "rollback" : "commit",
		 H.torn ? " torn" : "", H.fail ? " failing record" : "", (unsigned long long)cut);
	H.cut_points++;
	struct airlock_boot_record r;
	if (!run_sequence(cut, false) || !check_record(&r) || !recover_to_goal())
		H.failures++;
}

static void setup(int argc, char **argv)
{
	const char *seq = NULL;
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];
		if (!strcmp(k, "--data")) H.data = v;
		else if (!strcmp(k, "--work")) H.work = v;
		else if (!strcmp(k, "--boot")) H.boot = v;
		else if (!strcmp(k, "--device-tool")) H.tool = v;
		else if (!strcmp(k, "--sequence")) seq = v;
		else if (!strcmp(k, "--torn")) H.torn = !strcmp(v, "half") ? "AIRLOCK_FAULT_TORN=half" : "AIRLOCK_FAULT_TORN=1";
		else if (!strcmp(k, "--random")) H.random_runs = (unsigned)strtoul(v, NULL, 10);
		else if (!strcmp(k, "--seed")) H.seed = strtoul(v, NULL, 10);
		else if (!strcmp(k, "--fail")) H.fail = v;
		else if (!strcmp(k, "--fail-runs")) H.fail_runs = (unsigned)strtoul(v, NULL, 10);
		else die("unknown option %s", k);
	}
	if (!H.data || !H.work || !H.boot || !H.tool || !seq)
		die("usage: fault-sweep --data DIR --work DIR --boot PATH --device-tool PATH --sequence commit|rollback");
	H.rollback = !strcmp(seq, "rollback");
	snprintf(H.dev, sizeof H.dev, "%s/dev", H.work);
	snprintf(H.tmpl, sizeof H.tmpl, "%s/template", H.work);
	snprintf(H.errlog, sizeof H.errlog, "%s/stderr.log", H.work);
	mkdir(H.dev, 0700);
	mkdir(H.tmpl, 0700);
	H.v1 = slurp(path(H.data, "v1.img"));
	H.v2 = slurp(path(H.data, "v2.img"));
	struct blob hw = slurp(path(H.data, "hardware"));
	hw.data[hw.len] = '\0';
	char cap[32];
	snprintf(cap, sizeof cap, "%zu", (H.v1.len > H.v2.len ? H.v1.len : H.v2.len) + 4096);
	char *argv_p[] = { (char *)H.tool, "provision", H.tmpl, "--root", (char *)path(H.data, "root.cbor"),
			   "--release", (char *)path(H.data, "v1.cbor"), "--image", (char *)path(H.data, "v1.img"),
			   "--hardware", (char *)hw.data, "--capacity", cap, NULL };
	struct proc p;
	run(argv_p, NULL, &p);
	if (p.status != 0)
		die("provision failed (exit %d), see %s", p.status, H.errlog);
	for (size_t i = 0; i < sizeof device_files / sizeof device_files[0]; i++)
		tmpl_files[i] = slurp(path(H.tmpl, device_files[i]));
	free(hw.data);

	enum step_kind commit[] = { STEP_UPDATE, STEP_BOOT, STEP_AGENT };
	enum step_kind rollback[] = { STEP_UPDATE, STEP_BOOT, STEP_AGENT, STEP_BOOT, STEP_AGENT };
	H.n_steps = H.rollback ? 5 : 3;
	memcpy(H.steps, H.rollback ? rollback : commit, H.n_steps * sizeof H.steps[0]);
}

int main(int argc, char **argv)
{
	setup(argc, argv);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	const char *name = H.fail ? "F09 boot-record-write-fails" : H.random_runs ? "F04 random-multi-reset"
			   : H.torn ? "F03 torn-write"
						      : H.rollback ? "F02 powercut-sweep-rollback"
								   : "F01 powercut-sweep-install";

	/* The clean run: op counts per step, and the goal without any cut. */
	const char *fail = H.fail;
	H.fail = NULL;
	reset_device();
	snprintf(H.where, sizeof H.where, "clean run");
	if (!run_sequence(0, true) || !recover_to_goal())
		die("the sequence fails without any cut");
	H.fail = fail;
	H.completed = 0;
	uint64_t total = 0;
	printf("%s: ops per step:", name);
	for (unsigned j = 0; j < H.n_steps; j++) {
		printf(" %llu", (unsigned long long)H.ops[j]);
		total += H.ops[j];
	}
	printf(" (total %llu)\n", (unsigned long long)total);
	fflush(stdout);

	if (H.fail) {
		/* each run: the whole update with the failing region, without a
		 * cut and with a cut at N/2 */
		H.fail_seed = H.seed;
		for (unsigned r = 0; r < (H.fail_runs ? H.fail_runs : 1); r++) {
			one_cut(0);
			one_cut(total / 2);
		}
		printf("%s (%s): %u runs completed the update, %u kept the old image\n", name, H.fail,
		       H.completed, H.kept_old);
	} else if (H.random_runs) {
		H.rng = H.seed ? H.seed : 1;
		printf("%s: seed %lu\n", name, H.seed);
		for (unsigned r = 0; r < H.random_runs; r++) {
			H.rng ^= H.rng << 13;
			H.rng ^= H.rng >> 7;
			H.rng ^= H.rng << 17;
			H.cuts_left = 4;  /* plus the first: up to 5 cuts in one update */
			one_cut(1 + H.rng % total);
		}
		printf("%s: %u runs, %u further cut points armed during recovery (at most 5 cuts per run)\n", name,
		       H.random_runs, H.cuts_made);
	} else {
		for (uint64_t i = 1; i <= total; i++)
			one_cut(i);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("%s: %llu cut points, %u failures (%.1f s)\n", name, (unsigned long long)H.cut_points, H.failures, secs);
	return H.failures ? 1 : 0;
}
