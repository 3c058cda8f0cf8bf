/* Readable output of admin answers: aligned tables and "key: value" lines. */
#include <stdio.h>
#include <string.h>

#include "admin_client.h"

#define CELL_MAX 160
#define TABLE_COLS_MAX 12

void admin_format_value(json_t *v, enum admin_col_kind kind, char *out, size_t cap)
{
	const char *s = NULL;
	char tmp[CELL_MAX];
	if (!v || json_is_null(v)) {
		snprintf(out, cap, "-");
		return;
	}
	if (json_is_integer(v)) {
		long long i = (long long)json_integer_value(v);
		if (kind == COL_TIME && i > 0)
			cli_format_time((uint64_t)i, out, cap);
		else if (kind == COL_TIME)
			snprintf(out, cap, "-");
		else if (kind == COL_BOOL)
			snprintf(out, cap, "%s", i ? "yes" : "no");
		else
			snprintf(out, cap, "%lld", i);
		return;
	}
	if (json_is_boolean(v)) {
		snprintf(out, cap, "%s", json_is_true(v) ? "yes" : "no");
		return;
	}
	if (json_is_string(v)) {
		s = json_string_value(v);
	} else {
		snprintf(tmp, sizeof tmp, "(%s)", json_is_array(v) ? "list" : json_is_object(v) ? "object" : "number");
		s = tmp;
	}
	/* Control bytes from the server never reach the terminal. */
	size_t n = 0;
	for (; *s && n + 1 < cap; s++)
		out[n++] = ((unsigned char)*s < 0x20 || *s == 0x7f) ? '?' : *s;
	out[n] = '\0';
	if (n == 0)
		snprintf(out, cap, "-");
}

void admin_print_table(json_t *array, const struct admin_col *cols, size_t n_cols)
{
	size_t width[TABLE_COLS_MAX], i;
	json_t *row;
	char cell[CELL_MAX];
	if (n_cols > TABLE_COLS_MAX)
		n_cols = TABLE_COLS_MAX;
	for (size_t c = 0; c < n_cols; c++)
		width[c] = strlen(cols[c].header);
	json_array_foreach(array, i, row) {
		for (size_t c = 0; c < n_cols; c++) {
			admin_format_value(json_object_get(row, cols[c].key), cols[c].kind, cell, sizeof cell);
			if (strlen(cell) > width[c])
				width[c] = strlen(cell);
		}
	}
	for (size_t c = 0; c < n_cols; c++)
		printf("%-*s%s", c + 1 < n_cols ? (int)width[c] : 0, cols[c].header, c + 1 < n_cols ? "  " : "\n");
	json_array_foreach(array, i, row) {
		for (size_t c = 0; c < n_cols; c++) {
			admin_format_value(json_object_get(row, cols[c].key), cols[c].kind, cell, sizeof cell);
			printf("%-*s%s", c + 1 < n_cols ? (int)width[c] : 0, cell, c + 1 < n_cols ? "  " : "\n");
		}
	}
}

void admin_print_object(json_t *obj, const struct admin_col *cols, size_t n_cols)
{
	char cell[CELL_MAX];
	size_t w = 0;
	for (size_t c = 0; c < n_cols; c++)
		if (strlen(cols[c].header) > w)
			w = strlen(cols[c].header);
	for (size_t c = 0; c < n_cols; c++) {
		char h[64];
		admin_format_value(json_object_get(obj, cols[c].key), cols[c].kind, cell, sizeof cell);
		snprintf(h, sizeof h, "%s:", cols[c].header);
		printf("%-*s %s\n", (int)w + 1, h, cell);
	}
}
