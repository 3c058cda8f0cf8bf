/* airlockd's configuration: what is accepted, and the exact refusals. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "testutil.h"

static char dir[512], root[600], cfgpath[600], keypath[600], certpath[600], capath[600];

static void write_text(const char *path, const char *text)
{
	test_write_file(path, text, strlen(text));
}

/* The [device] and [slots] every config needs, plus `extra`. */
static bool load(const char *extra, bool need_server, struct agent_config *c, char *err, size_t cap)
{
	char text[4096];
	snprintf(text, sizeof text,
		 "[device]\nhardware = board-a\nroot = %s\nstate_dir = %s/state\n\n"
		 "[slots]\na = %s/a.img\nb = %s/b.img\n\n[boot]\nrecord = %s/boot.rec\n%s",
		 root, dir, dir, dir, dir, extra);
	write_text(cfgpath, text);
	return agent_config_load(cfgpath, need_server, c, err, cap);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "%s", test_tmpdir());
	snprintf(root, sizeof root, "%s/vectors/root-v1.cbor", AIRLOCK_TEST_DATA);
	snprintf(cfgpath, sizeof cfgpath, "%s/airlockd.conf", dir);
	snprintf(keypath, sizeof keypath, "%s/dev.key", dir);
	snprintf(certpath, sizeof certpath, "%s/dev.crt", dir);
	snprintf(capath, sizeof capath, "%s/ca.crt", dir);
	char cmd[4096];
	snprintf(cmd, sizeof cmd,
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout %s -out %s "
		 "-subj /CN=gateway-0042 -days 1 2>/dev/null && cp %s %s",
		 keypath, certpath, certpath, capath);
	assert_int_equal(system(cmd), 0);
	chmod(keypath, 0600);
	return 0;
}

static void test_minimal_defaults(void **state)
{
	struct agent_config c;
	char err[1024] = "";
	(void)state;
	assert_true(load("", false, &c, err, sizeof err));
	assert_string_equal(c.slot_backend, "file");
	assert_string_equal(c.boot_backend, "sim");
	assert_int_equal(c.checkin_interval, 300);
	assert_int_equal(c.boot_limit, 3);
	assert_int_equal(c.min_rate, 1024);
	assert_int_equal(c.rate_window, 60);
}

static void test_values_and_sizes(void **state)
{
	struct agent_config c;
	char err[1024] = "";
	(void)state;
	assert_true(load("[agent]\ncheckin_interval = 60\nlog_max = 64K\nsyslog = no\n[slots]\ncapacity = 32M\n"
			 "[health]\ncommand = /usr/bin/true\ntimeout = 10\n",
			 false, &c, err, sizeof err));
	assert_int_equal(c.checkin_interval, 60);
	assert_int_equal(c.log_max, 65536);
	assert_false(c.syslog);
	assert_int_equal(c.slot_capacity, 32u * 1024u * 1024u);
	assert_string_equal(c.health_command, "/usr/bin/true");
	assert_int_equal(c.health_timeout, 10);
}

static void expect_refused(const char *extra, bool need_server, const char *needle)
{
	struct agent_config c;
	char err[1024] = "";
	assert_false(load(extra, need_server, &c, err, sizeof err));
	if (!strstr(err, needle))
		fail_msg("expected '%s' in: %s", needle, err);
}

static void test_refusals(void **state)
{
	(void)state;
	expect_refused("[agent]\npinn = x\n", false, "[agent] pinn: unknown key");
	expect_refused("[bogus]\nx = 1\n", false, "[bogus] x: unknown section");
	expect_refused("[agent]\ncheckin_interval = 0\n", false, "must be between 1 and");
	expect_refused("[agent]\ncheckin_interval = 12x\n", false, "not a number");
	expect_refused("[agent]\nsyslog = maybe\n", false, "true or false");
	expect_refused("[slots]\nbackend = floppy\n", false, "[slots] backend must be");
	expect_refused("[boot]\nbackend = lilo\n", false, "[boot] backend must be");
	expect_refused("[slots]\nb = same\na = same\n", false, "must differ");
	expect_refused("[device]\nhardware = has space\n", false, "[device] hardware");
	expect_refused("[device]\nstate_dir = relative\n", false, "absolute");
	expect_refused("[device]\nroot = /nonexistent/root.cbor\n", false, "[device] root");
	expect_refused("garbage line\n", false, "syntax error");
}

static void test_server_section(void **state)
{
	struct agent_config c;
	char err[1024] = "", extra[2048];
	(void)state;
	/* http:// is refused: https only. */
	snprintf(extra, sizeof extra, "[server]\nurl = http://127.0.0.1:8443\nca = %s\ncert = %s\nkey = %s\n", capath,
		 certpath, keypath);
	expect_refused(extra, true, "https://");
	/* Complete: the device id comes from the certificate's CN, the trailing slash goes. */
	snprintf(extra, sizeof extra, "[server]\nurl = https://127.0.0.1:8443/\nca = %s\ncert = %s\nkey = %s\n", capath,
		 certpath, keypath);
	assert_true(load(extra, true, &c, err, sizeof err));
	assert_string_equal(c.device_id, "gateway-0042");
	assert_string_equal(c.url, "https://127.0.0.1:8443");
	/* Without need_server the section is not required at all. */
	assert_true(load("", false, &c, err, sizeof err));
	expect_refused("", true, "https://");
	/* A pin must be sha256//<44 base64>. */
	snprintf(extra, sizeof extra, "[server]\nurl = https://h\nca = %s\ncert = %s\nkey = %s\npin = md5//abc\n", capath,
		 certpath, keypath);
	expect_refused(extra, true, "pin must be sha256//");
}

static void test_key_permissions(void **state)
{
	char extra[2048];
	(void)state;
	chmod(keypath, 0644);
	snprintf(extra, sizeof extra, "[server]\nurl = https://h\nca = %s\ncert = %s\nkey = %s\n", capath, certpath,
		 keypath);
	expect_refused(extra, true, "chmod 600");
	chmod(keypath, 0600);
	snprintf(extra, sizeof extra, "[device]\nwrap_key = %s\n", certpath);
	chmod(certpath, 0640);
	expect_refused(extra, false, "readable by group or others");
	chmod(certpath, 0644);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minimal_defaults),
		cmocka_unit_test(test_values_and_sizes),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_server_section),
		cmocka_unit_test(test_key_permissions),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
