/*
 * Metadata verification cost, in process: a trusted root (2-of-3 root keys)
 * and a release (2-of-3 release keys, 4 payloads) verified N times each.
 * Prints the median and the 99th percentile per verification. Usage:
 *   bench_meta ROOT REL [iterations]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "airlock/meta.h"

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	uint8_t *buf = malloc(AIRLOCK_RELEASE_MAX_LEN);
	*len = buf ? fread(buf, 1, AIRLOCK_RELEASE_MAX_LEN, f) : 0;
	fclose(f);
	return buf;
}

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: bench_meta ROOT REL [iterations]\n");
		return 2;
	}
	size_t root_len, rel_len, n = argc > 3 ? (size_t)strtoul(argv[3], NULL, 10) : 2000;
	uint8_t *root_buf = slurp(argv[1], &root_len), *rel_buf = slurp(argv[2], &rel_len);
	double *t_root = calloc(n, sizeof *t_root), *t_rel = calloc(n, sizeof *t_rel);
	if (!root_buf || !rel_buf || !t_root || !t_rel || n == 0)
		return 1;
	for (size_t i = 0; i < n; i++) {
		struct airlock_root root;
		struct airlock_release rel;
		struct airlock_release_policy policy = { .hardware = NULL, .min_security_version = 0, .now = 0 };
		double t0 = now_us();
		if (airlock_root_load_trusted(root_buf, root_len, &root, NULL) != AIRLOCK_OK)
			return 1;
		double t1 = now_us();
		if (airlock_release_verify(&root, rel_buf, rel_len, &policy, &rel, NULL, NULL) != AIRLOCK_OK)
			return 1;
		double t2 = now_us();
		t_root[i] = t1 - t0;
		t_rel[i] = t2 - t1;
	}
	qsort(t_root, n, sizeof *t_root, cmp_double);
	qsort(t_rel, n, sizeof *t_rel, cmp_double);
	printf("root_verify_us_median %.1f\nroot_verify_us_p99 %.1f\n", t_root[n / 2], t_root[n * 99 / 100]);
	printf("release_verify_us_median %.1f\nrelease_verify_us_p99 %.1f\n", t_rel[n / 2], t_rel[n * 99 / 100]);
	free(root_buf);
	free(rel_buf);
	free(t_root);
	free(t_rel);
	return 0;
}
