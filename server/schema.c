/*
 * Versioned schema migrations. Migration N moves the schema from version
 * N-1 to N; db_migrate() applies the missing ones in order, each in one
 * transaction with the schema_version row, so a crash leaves either the old
 * or the new version. Never edit a released migration: add one.
 *
 * Each migration has a SQLite and a PostgreSQL form; they differ only in
 * types (BLOB/BYTEA, INTEGER PRIMARY KEY/BIGSERIAL).
 */
#include "schema.h"

static const char *const m1_sqlite[] = {
	"CREATE TABLE devices ("
	" id TEXT PRIMARY KEY, hardware TEXT NOT NULL, grp TEXT, tags TEXT NOT NULL DEFAULT '',"
	" cert_sha256 TEXT, cert_serial TEXT, cert_not_after INTEGER,"
	" status TEXT NOT NULL DEFAULT 'active', created INTEGER NOT NULL, last_seen INTEGER,"
	" current_version TEXT, current_release TEXT, security_version INTEGER NOT NULL DEFAULT 0,"
	" slot_state TEXT, last_error TEXT, wrap_pub BLOB)",
	"CREATE UNIQUE INDEX devices_cert ON devices(cert_sha256)",
	"CREATE TABLE enroll_tokens ("
	" id TEXT PRIMARY KEY, token_sha256 BLOB NOT NULL UNIQUE, hardware TEXT NOT NULL, grp TEXT,"
	" tags TEXT NOT NULL DEFAULT '', created INTEGER NOT NULL, expires INTEGER NOT NULL,"
	" used INTEGER, device_id TEXT, created_by TEXT NOT NULL)",
	"CREATE TABLE admin_tokens ("
	" id TEXT PRIMARY KEY, name TEXT NOT NULL, token_sha256 BLOB NOT NULL UNIQUE, scopes TEXT NOT NULL,"
	" created INTEGER NOT NULL, expires INTEGER NOT NULL, revoked INTEGER, created_by TEXT NOT NULL)",
	"CREATE TABLE releases ("
	" digest TEXT PRIMARY KEY, product TEXT NOT NULL, version TEXT NOT NULL,"
	" security_version INTEGER NOT NULL, hardware TEXT NOT NULL, envelope BLOB NOT NULL,"
	" content_key BLOB, created INTEGER NOT NULL, created_by TEXT NOT NULL)",
	"CREATE TABLE payloads ("
	" release_digest TEXT NOT NULL REFERENCES releases(digest), name TEXT NOT NULL, idx INTEGER NOT NULL,"
	" artifact_sha256 TEXT, artifact_size INTEGER NOT NULL, chunks_sha256 TEXT NOT NULL,"
	" chunks_size INTEGER NOT NULL, artifact_done INTEGER NOT NULL DEFAULT 0,"
	" chunks_done INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (release_digest, name))",
	"CREATE TABLE artifacts ("
	" sha256 TEXT PRIMARY KEY, size INTEGER NOT NULL, created INTEGER NOT NULL)",
	"CREATE TABLE deployments ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT, release_digest TEXT NOT NULL REFERENCES releases(digest),"
	" target_kind TEXT NOT NULL, target TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'active',"
	" created INTEGER NOT NULL, created_by TEXT NOT NULL)",
	"CREATE TABLE device_deployments ("
	" device_id TEXT NOT NULL REFERENCES devices(id), deployment_id INTEGER NOT NULL REFERENCES deployments(id),"
	" state TEXT NOT NULL, updated INTEGER NOT NULL, detail TEXT, PRIMARY KEY (device_id, deployment_id))",
	"CREATE TABLE events ("
	" device_id TEXT NOT NULL REFERENCES devices(id), event_id TEXT NOT NULL, time INTEGER NOT NULL,"
	" deployment_id INTEGER, state TEXT NOT NULL, progress INTEGER, error TEXT, log_tail TEXT,"
	" PRIMARY KEY (device_id, event_id))",
	"CREATE TABLE audit ("
	" seq INTEGER PRIMARY KEY, time INTEGER NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,"
	" detail TEXT NOT NULL, prev BLOB NOT NULL, hash BLOB NOT NULL)",
	"CREATE TABLE audit_checkpoints ("
	" seq INTEGER PRIMARY KEY, head BLOB NOT NULL, time INTEGER NOT NULL, keyid BLOB NOT NULL,"
	" signature BLOB NOT NULL)",
	NULL,
};

static const char *const m1_postgres[] = {
	"CREATE TABLE devices ("
	" id TEXT PRIMARY KEY, hardware TEXT NOT NULL, grp TEXT, tags TEXT NOT NULL DEFAULT '',"
	" cert_sha256 TEXT, cert_serial TEXT, cert_not_after BIGINT,"
	" status TEXT NOT NULL DEFAULT 'active', created BIGINT NOT NULL, last_seen BIGINT,"
	" current_version TEXT, current_release TEXT, security_version BIGINT NOT NULL DEFAULT 0,"
	" slot_state TEXT, last_error TEXT, wrap_pub BYTEA)",
	"CREATE UNIQUE INDEX devices_cert ON devices(cert_sha256)",
	"CREATE TABLE enroll_tokens ("
	" id TEXT PRIMARY KEY, token_sha256 BYTEA NOT NULL UNIQUE, hardware TEXT NOT NULL, grp TEXT,"
	" tags TEXT NOT NULL DEFAULT '', created BIGINT NOT NULL, expires BIGINT NOT NULL,"
	" used BIGINT, device_id TEXT, created_by TEXT NOT NULL)",
	"CREATE TABLE admin_tokens ("
	" id TEXT PRIMARY KEY, name TEXT NOT NULL, token_sha256 BYTEA NOT NULL UNIQUE, scopes TEXT NOT NULL,"
	" created BIGINT NOT NULL, expires BIGINT NOT NULL, revoked BIGINT, created_by TEXT NOT NULL)",
	"CREATE TABLE releases ("
	" digest TEXT PRIMARY KEY, product TEXT NOT NULL, version TEXT NOT NULL,"
	" security_version BIGINT NOT NULL, hardware TEXT NOT NULL, envelope BYTEA NOT NULL,"
	" content_key BYTEA, created BIGINT NOT NULL, created_by TEXT NOT NULL)",
	"CREATE TABLE payloads ("
	" release_digest TEXT NOT NULL REFERENCES releases(digest), name TEXT NOT NULL, idx BIGINT NOT NULL,"
	" artifact_sha256 TEXT, artifact_size BIGINT NOT NULL, chunks_sha256 TEXT NOT NULL,"
	" chunks_size BIGINT NOT NULL, artifact_done BIGINT NOT NULL DEFAULT 0,"
	" chunks_done BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (release_digest, name))",
	"CREATE TABLE artifacts ("
	" sha256 TEXT PRIMARY KEY, size BIGINT NOT NULL, created BIGINT NOT NULL)",
	"CREATE TABLE deployments ("
	" id BIGSERIAL PRIMARY KEY, release_digest TEXT NOT NULL REFERENCES releases(digest),"
	" target_kind TEXT NOT NULL, target TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'active',"
	" created BIGINT NOT NULL, created_by TEXT NOT NULL)",
	"CREATE TABLE device_deployments ("
	" device_id TEXT NOT NULL REFERENCES devices(id), deployment_id BIGINT NOT NULL REFERENCES deployments(id),"
	" state TEXT NOT NULL, updated BIGINT NOT NULL, detail TEXT, PRIMARY KEY (device_id, deployment_id))",
	"CREATE TABLE events ("
	" device_id TEXT NOT NULL REFERENCES devices(id), event_id TEXT NOT NULL, time BIGINT NOT NULL,"
	" deployment_id BIGINT, state TEXT NOT NULL, progress BIGINT, error TEXT, log_tail TEXT,"
	" PRIMARY KEY (device_id, event_id))",
	"CREATE TABLE audit ("
	" seq BIGINT PRIMARY KEY, time BIGINT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,"
	" detail TEXT NOT NULL, prev BYTEA NOT NULL, hash BYTEA NOT NULL)",
	"CREATE TABLE audit_checkpoints ("
	" seq BIGINT PRIMARY KEY, head BYTEA NOT NULL, time BIGINT NOT NULL, keyid BYTEA NOT NULL,"
	" signature BYTEA NOT NULL)",
	NULL,
};

/* 2: the root chain served to devices that lag behind (server/roots.c). */
static const char *const m2_sqlite[] = {
	"CREATE TABLE roots (version INTEGER PRIMARY KEY, envelope BLOB NOT NULL, sha256 BLOB NOT NULL,"
	" added INTEGER NOT NULL)",
	NULL,
};

static const char *const m2_postgres[] = {
	"CREATE TABLE roots (version BIGINT PRIMARY KEY, envelope BYTEA NOT NULL, sha256 BYTEA NOT NULL,"
	" added BIGINT NOT NULL)",
	NULL,
};

/* 3: devices pre-registered for a manufacturer-CA certificate (status
 * 'registered', no certificate until it is bound on first use), and which
 * CA a device's certificate chains to. */
static const char *const m3_sqlite[] = {
	"ALTER TABLE devices ADD COLUMN cert_ca TEXT",
	"UPDATE devices SET cert_ca = 'fleet' WHERE cert_sha256 IS NOT NULL",
	NULL,
};

static const char *const m3_postgres[] = {
	"ALTER TABLE devices ADD COLUMN cert_ca TEXT",
	"UPDATE devices SET cert_ca = 'fleet' WHERE cert_sha256 IS NOT NULL",
	NULL,
};

const struct schema_migration schema_migrations[] = {
	{ 1, m1_sqlite, m1_postgres },
	{ 2, m2_sqlite, m2_postgres },
	{ 3, m3_sqlite, m3_postgres },
};

const size_t schema_migration_count = sizeof schema_migrations / sizeof schema_migrations[0];
