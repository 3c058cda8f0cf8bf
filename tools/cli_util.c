#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "airlock/hex.h"
#include "cli.h"

const char *cli_cmd = "airlock";

int cli_exit_code(airlock_err err)
{
	switch (err) {
	case AIRLOCK_OK:
		return EXIT_OK;
	case AIRLOCK_ERR_INVALID_ARG:
		return EXIT_USAGE;
	case AIRLOCK_ERR_IO_OPEN:
	case AIRLOCK_ERR_IO_READ:
	case AIRLOCK_ERR_IO_WRITE:
	case AIRLOCK_ERR_IO_SYNC:
	case AIRLOCK_ERR_EXISTS:
	case AIRLOCK_ERR_BAD_KEY_FILE:
	case AIRLOCK_ERR_KEY_PERMS:
		return EXIT_IO;
	case AIRLOCK_ERR_NOMEM:
	case AIRLOCK_ERR_CRYPTO:
	case AIRLOCK_ERR_BUFFER_TOO_SMALL:
		return EXIT_INTERNAL;
	default:
		return EXIT_REFUSED;
	}
}

int cli_fail(airlock_err err, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", cli_cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s (%s)\n", airlock_err_name(err), airlock_strerror(err));
	return cli_exit_code(err);
}

int cli_usage_error(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", cli_cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see '%s --help')\n", cli_cmd);
	return EXIT_USAGE;
}

void cli_note(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: note: ", cli_cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

airlock_err cli_read_file(const char *path, size_t max, uint8_t **buf, size_t *len)
{
	airlock_err err = AIRLOCK_OK;
	uint8_t *p = NULL;
	size_t n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return AIRLOCK_ERR_IO_OPEN;
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		err = AIRLOCK_ERR_IO_READ;
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		err = AIRLOCK_ERR_TOO_LARGE;
		goto out;
	}
	/* One byte more than allowed, so a file that grew since fstat is caught too. */
	p = malloc((size_t)st.st_size + 1);
	if (!p) {
		err = AIRLOCK_ERR_NOMEM;
		goto out;
	}
	for (;;) {
		ssize_t r = read(fd, p + n, (size_t)st.st_size + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = AIRLOCK_ERR_IO_READ;
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > (size_t)st.st_size) {
			err = AIRLOCK_ERR_IO_READ;  /* changed while reading */
			goto out;
		}
	}
out:
	close(fd);
	if (err != AIRLOCK_OK) {
		free(p);
		return err;
	}
	*buf = p;
	*len = n;
	return AIRLOCK_OK;
}

airlock_err cli_out_open(struct cli_out *o, const char *path, bool replace)
{
	struct stat st;
	o->fd = -1;
	o->replace = replace;
	if (!replace && lstat(path, &st) == 0)
		return AIRLOCK_ERR_EXISTS;
	if ((size_t)snprintf(o->path, sizeof o->path, "%s", path) >= sizeof o->path ||
	    (size_t)snprintf(o->tmp, sizeof o->tmp, "%s.tmp-XXXXXX", path) >= sizeof o->tmp)
		return AIRLOCK_ERR_INVALID_ARG;
	o->fd = mkstemp(o->tmp);
	if (o->fd < 0)
		return AIRLOCK_ERR_IO_OPEN;
	if (fchmod(o->fd, 0644) != 0) {
		cli_out_abort(o);
		return AIRLOCK_ERR_IO_WRITE;
	}
	return AIRLOCK_OK;
}

airlock_err cli_out_write(struct cli_out *o, const void *data, size_t len)
{
	const uint8_t *p = data;
	while (len > 0) {
		ssize_t w = write(o->fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return AIRLOCK_ERR_IO_WRITE;
		p += w;
		len -= (size_t)w;
	}
	return AIRLOCK_OK;
}

void cli_out_abort(struct cli_out *o)
{
	if (o->fd >= 0) {
		close(o->fd);
		unlink(o->tmp);
		o->fd = -1;
	}
}

airlock_err cli_out_commit(struct cli_out *o)
{
	airlock_err err = AIRLOCK_OK;
	char dir[PATH_MAX];

	if (fsync(o->fd) != 0)
		err = AIRLOCK_ERR_IO_SYNC;
	if (close(o->fd) != 0 && err == AIRLOCK_OK)
		err = AIRLOCK_ERR_IO_WRITE;
	o->fd = -1;
	if (err == AIRLOCK_OK) {
		/* link() refuses an existing target, closing the race with the
		 * lstat() in cli_out_open(); rename() replaces atomically. */
		if (o->replace ? rename(o->tmp, o->path) != 0 : link(o->tmp, o->path) != 0)
			err = (!o->replace && errno == EEXIST) ? AIRLOCK_ERR_EXISTS : AIRLOCK_ERR_IO_WRITE;
	}
	unlink(o->tmp);  /* after link(): drops the temporary name; after rename(): no-op */
	if (err != AIRLOCK_OK)
		return err;
	/* Make the new directory entry durable. */
	snprintf(dir, sizeof dir, "%s", o->path);
	char *slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		snprintf(dir, sizeof dir, ".");
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		if (fsync(dfd) != 0)
			err = AIRLOCK_ERR_IO_SYNC;
		close(dfd);
	}
	return err;
}

airlock_err cli_write_file(const char *path, const void *data, size_t len, bool replace)
{
	struct cli_out o;
	airlock_err err = cli_out_open(&o, path, replace);
	if (err != AIRLOCK_OK)
		return err;
	err = cli_out_write(&o, data, len);
	if (err != AIRLOCK_OK) {
		cli_out_abort(&o);
		return err;
	}
	return cli_out_commit(&o);
}

void cli_hex(const uint8_t *p, size_t n, char *out)
{
	airlock_hex_encode(p, n, out);
}

const char *cli_keyid_short(const uint8_t keyid[AIRLOCK_KEYID_LEN])
{
	/* A small ring so that one printf may show several ids. */
	static char ring[4][17];
	static unsigned next;
	char *s = ring[next++ % 4];
	cli_hex(keyid, 8, s);
	return s;
}

bool cli_parse_u64(const char *s, uint64_t *out)
{
	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return false;
	*out = v;
	return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static bool valid_date(int y, int m, int d)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (y < 1970 || y > 9999 || m < 1 || m > 12 || d < 1)
		return false;
	int max = mdays[m - 1] + (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
	return d <= max;
}

bool cli_parse_time(const char *s, uint64_t now, uint64_t *out)
{
	int y, mo, d, h = 0, mi = 0, sec = 0, n = 0;
	if (!s || !*s)
		return false;
	if (s[0] == '@')
		return cli_parse_u64(s + 1, out);
	if (s[0] == '+') {
		size_t len = strlen(s);
		char unit = s[len - 1];
		uint64_t mult = unit == 'd' ? 86400 : unit == 'h' ? 3600 : unit == 'm' ? 60 : 0;
		char num[32];
		if (!mult || len < 3 || len - 2 >= sizeof num)
			return false;
		memcpy(num, s + 1, len - 2);
		num[len - 2] = '\0';
		uint64_t v;
		if (!cli_parse_u64(num, &v) || v > (UINT64_MAX - now) / mult)
			return false;
		*out = now + v * mult;
		return true;
	}
	if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3)
		return false;
	if (s[n] == 'T') {
		int m2 = 0;
		if (sscanf(s + n, "T%2d:%2d:%2dZ%n", &h, &mi, &sec, &m2) != 3 || m2 == 0)
			return false;
		n += m2;
	}
	if (s[n] != '\0' || !valid_date(y, mo, d) || h > 23 || mi > 59 || sec > 59 || h < 0 || mi < 0 || sec < 0)
		return false;
	int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
	*out = (uint64_t)(days * 86400 + h * 3600 + mi * 60 + sec);
	return true;
}

void cli_format_time(uint64_t t, char *out, size_t cap)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if ((uint64_t)tt != t || !gmtime_r(&tt, &tm) || strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, cap, "@%llu", (unsigned long long)t);
}

uint64_t cli_now(void)
{
	time_t t = time(NULL);
	return t > 0 ? (uint64_t)t : 0;
}

airlock_err cli_encode_envelope(const struct airlock_envelope *env, uint8_t **out, size_t *len)
{
	return airlock_envelope_encode_alloc(env, out, len);
}

void cli_describe_sigs(const struct airlock_sig_report *rep, enum airlock_role role, airlock_err err,
		       char *msg, size_t cap)
{
	int n = snprintf(msg, cap, "%u of %u required %s signatures valid", rep->valid, rep->threshold,
			 airlock_role_name(role));
	/* Name the first signature whose verdict is the reason given. */
	for (size_t i = 0; i < rep->n && n >= 0 && (size_t)n < cap; i++) {
		if (rep->sigs[i].verdict == err) {
			snprintf(msg + n, cap - (size_t)n, "; signature %zu by key %s", i + 1,
				 cli_keyid_short(rep->sigs[i].keyid));
			return;
		}
	}
	if (rep->n == 0 && n >= 0 && (size_t)n < cap)
		snprintf(msg + n, cap - (size_t)n, "; the file carries no signature");
}
