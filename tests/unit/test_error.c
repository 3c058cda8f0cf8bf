/* The error table: every code has a stable name and a description. */
#include "testutil.h"

#include <string.h>

static void test_every_code_named(void **state)
{
	(void)state;
	unsigned named = 0;
	for (int e = 0; e < AIRLOCK_ERR__COUNT; e++) {
		const char *name = airlock_err_name((airlock_err)e);
		const char *text = airlock_strerror((airlock_err)e);
		assert_non_null(name);
		assert_non_null(text);
		if (strcmp(name, "AIRLOCK_ERR_UNKNOWN") == 0)
			continue;  /* a gap in the numbering */
		assert_true(strncmp(name, e == 0 ? "AIRLOCK_OK" : "AIRLOCK_ERR_", e == 0 ? 10 : 12) == 0);
		assert_true(strlen(text) > 0);
		named++;
	}
	/* Every enumerator declared in error.h is in the table. */
	assert_int_equal(named, 61);  /* update when a code is added */
}

static void test_pinned_numbers(void **state)
{
	(void)state;
	/* Numbers are ABI and appear in logs: they never change. */
	assert_int_equal(AIRLOCK_ERR_BAD_SIGNATURE, 41);
	assert_int_equal(AIRLOCK_ERR_THRESHOLD, 44);
	assert_int_equal(AIRLOCK_ERR_ROLLBACK, 47);
	assert_int_equal(AIRLOCK_ERR_DIGEST_MISMATCH, 60);
	assert_string_equal(airlock_err_name(AIRLOCK_ERR_ROLLBACK), "AIRLOCK_ERR_ROLLBACK");
}

static void test_out_of_range(void **state)
{
	(void)state;
	assert_string_equal(airlock_err_name((airlock_err)-1), "AIRLOCK_ERR_UNKNOWN");
	assert_string_equal(airlock_err_name(AIRLOCK_ERR__COUNT), "AIRLOCK_ERR_UNKNOWN");
	assert_string_equal(airlock_strerror((airlock_err)1000), "unknown error");
	assert_string_equal(airlock_err_name((airlock_err)13), "AIRLOCK_ERR_UNKNOWN");  /* gap */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_code_named),
		cmocka_unit_test(test_pinned_numbers),
		cmocka_unit_test(test_out_of_range),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
