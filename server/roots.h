/*
 * The root chain the server keeps and serves (DESIGN.md, "Trust"): every
 * root version it has ever been started with, so that a device that lags
 * behind can walk from the root it trusts to the current one, one version
 * at a time, each step checked by the device itself.
 *
 * Roots enter the chain only at start: the config file names the current
 * root; if it is newer than the newest stored one it must be exactly the
 * next version and carry a threshold of the stored root's root keys (the
 * same rule devices apply), and a config root older than the stored chain,
 * or a different file with a stored version number, stops the server: a
 * server must never hand devices a root chain with a fork or a rollback.
 */
#ifndef AIRLOCK_SERVER_ROOTS_H
#define AIRLOCK_SERVER_ROOTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct app;

/* Reconciles app->root (from the config) with the stored chain, adding it
 * when it is the next version. false with a message in err on a refusal. */
bool roots_sync(struct app *app, char *err, size_t err_cap);

/* The stored root of that version: 1 found (*buf malloc'ed), 0 not found,
 * -1 database error. */
int roots_get(struct app *app, uint64_t version, uint8_t **buf, size_t *len);

#endif
