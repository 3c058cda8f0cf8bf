/* Small helpers shared by the unit tests (cmocka). */
#ifndef AIRLOCK_TESTUTIL_H
#define AIRLOCK_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "airlock/error.h"

/* Asserts an exact airlock_err, printing both names on failure. */
#define assert_err(expr, expected) \
	_assert_airlock_err((expr), (expected), #expr, __FILE__, __LINE__)
void _assert_airlock_err(airlock_err got, airlock_err want, const char *expr, const char *file, int line);

/* Decodes hex (no separators) into out; returns the byte count; fails the test on bad hex. */
size_t test_hex(const char *hex, uint8_t *out, size_t cap);
/* Creates a fresh private temporary directory; returns a static path. */
const char *test_tmpdir(void);
/* Reads a whole file (malloc'd, NUL-terminated for convenience); fails the test on error. */
uint8_t *test_read_file(const char *path, size_t *len);
void test_write_file(const char *path, const void *data, size_t len);

#endif
