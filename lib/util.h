/* Private helpers shared by libairlock's modules. */
#ifndef AIRLOCK_UTIL_H
#define AIRLOCK_UTIL_H

#include "airlock/error.h"

/* Returns from the enclosing function with the first error. */
#define TRY(expr)                                   \
	do {                                        \
		airlock_err try_err_ = (expr);      \
		if (try_err_ != AIRLOCK_OK)         \
			return try_err_;            \
	} while (0)

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
