/* airlockd's local event log: JSON lines, mode 0600, rotated at its limit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "log.h"
#include "testutil.h"

static void test_lines_mode_rotation(void **state)
{
	char path[600], old[700], tail[256];
	struct stat st;
	(void)state;
	snprintf(path, sizeof path, "%s/agent.log", test_tmpdir());
	snprintf(old, sizeof old, "%s.1", path);
	agent_log_open(path, 4096, false, false);
	agent_log(AGENT_ERROR, "install", AIRLOCK_ERR_DIGEST_MISMATCH, "chunk %d", 15);
	size_t len;
	char *text = (char *)test_read_file(path, &len);
	json_t *o = json_loads(text, 0, NULL);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "error")), "AIRLOCK_ERR_DIGEST_MISMATCH");
	assert_string_equal(json_string_value(json_object_get(o, "msg")), "chunk 15");
	assert_string_equal(json_string_value(json_object_get(o, "level")), "error");
	json_decref(o);
	free(text);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* Past 4 KiB the log moves to .1 and starts again. */
	for (int i = 0; i < 100; i++)
		agent_log(AGENT_INFO, "download", AIRLOCK_OK, "progress %d with \"quotes\" and a\nnewline", i);
	assert_int_equal(stat(old, &st), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_size < 4096 + 512);
	agent_log_tail(tail, sizeof tail);
	assert_non_null(strstr(tail, "progress 99"));
	agent_log_close();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines_mode_rotation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
