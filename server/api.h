/* The HTTP API: routes requests to the services (server/api.c); docs/api.md documents it. */
#ifndef AIRLOCK_SERVER_API_H
#define AIRLOCK_SERVER_API_H

#include "app.h"
#include "http.h"

/* Starts the HTTP layer with the API on it; *srv is the running server. */
AIRLOCK_MUST_USE airlock_err api_start(struct app *app, struct http_server **srv, char *why, size_t why_cap);
void api_stop(struct http_server *srv);

#endif
