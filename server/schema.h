/* Versioned schema migrations (server/schema.c), applied by db_migrate(). */
#ifndef AIRLOCK_SERVER_SCHEMA_H
#define AIRLOCK_SERVER_SCHEMA_H

#include <stddef.h>

struct schema_migration {
	int version;                        /* 1, 2, ...: the version it produces */
	const char *const *sqlite;          /* NULL-terminated statements */
	const char *const *postgres;
};

extern const struct schema_migration schema_migrations[];
extern const size_t schema_migration_count;

#endif
