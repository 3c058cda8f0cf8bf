/*
 * Deterministic CBOR decoder and encoder: RFC 8949 appendix A vectors in
 * the accepted subset, every non-canonical and malformed variant we know of,
 * truncation at every length, map key order, limits, UTF-8 and the encoder's
 * overflow accounting. Inputs are copied into heap buffers of their exact size
 * so that the sanitizer build catches any read past the end.
 */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "airlock/cbor.h"

#define MAXHEX 512

/* An exact-size heap copy of hex-decoded bytes (free with free()). */
static uint8_t *hexdup(const char *hex, size_t *len)
{
	uint8_t tmp[MAXHEX];
	size_t n = test_hex(hex, tmp, sizeof tmp);
	uint8_t *p = malloc(n ? n : 1);
	assert_non_null(p);
	memcpy(p, tmp, n);
	*len = n;
	return p;
}

static uint8_t *bytesdup(const uint8_t *src, size_t n)
{
	uint8_t *p = malloc(n ? n : 1);
	assert_non_null(p);
	if (n)
		memcpy(p, src, n);
	return p;
}

/*
 * Re-encodes one item by walking it with the typed readers only. Any error
 * from a reader is returned; AIRLOCK_ERR_LIMIT if the test nests too deep.
 */
static airlock_err walk(struct airlock_cbor_dec *d, struct airlock_cbor_enc *e, unsigned depth)
{
	enum airlock_cbor_major major;
	airlock_err err = airlock_cbor_peek(d, &major);
	if (err != AIRLOCK_OK)
		return err;
	if (depth > AIRLOCK_CBOR_MAX_DEPTH)
		return AIRLOCK_ERR_LIMIT;
	switch (major) {
	case AIRLOCK_CBOR_UINT: {
		uint64_t v;
		if ((err = airlock_cbor_read_uint(d, &v)) != AIRLOCK_OK)
			return err;
		airlock_cbor_put_uint(e, v);
		return AIRLOCK_OK;
	}
	case AIRLOCK_CBOR_NINT: {
		int64_t v;
		if ((err = airlock_cbor_read_int(d, &v)) != AIRLOCK_OK)
			return err;
		airlock_cbor_put_int(e, v);
		return AIRLOCK_OK;
	}
	case AIRLOCK_CBOR_BSTR: {
		const uint8_t *p;
		size_t n;
		if ((err = airlock_cbor_read_bstr(d, &p, &n)) != AIRLOCK_OK)
			return err;
		airlock_cbor_put_bstr(e, p, n);
		return AIRLOCK_OK;
	}
	case AIRLOCK_CBOR_TSTR: {
		const char *p;
		size_t n;
		if ((err = airlock_cbor_read_tstr(d, &p, &n)) != AIRLOCK_OK)
			return err;
		airlock_cbor_put_tstr(e, p, n);
		return AIRLOCK_OK;
	}
	case AIRLOCK_CBOR_ARRAY: {
		size_t n;
		if ((err = airlock_cbor_read_array(d, &n)) != AIRLOCK_OK)
			return err;
		airlock_cbor_put_array(e, n);
		for (size_t i = 0; i < n; i++)
			if ((err = walk(d, e, depth + 1)) != AIRLOCK_OK)
				return err;
		return AIRLOCK_OK;
	}
	case AIRLOCK_CBOR_MAP: {
		struct airlock_cbor_map m;
		int64_t key;
		if ((err = airlock_cbor_map_begin(d, &m)) != AIRLOCK_OK)
			return err;
		airlock_cbor_put_map(e, m.left);
		for (;;) {
			if ((err = airlock_cbor_map_next(d, &m, &key)) != AIRLOCK_OK)
				return err;
			if (m.done)
				return AIRLOCK_OK;
			airlock_cbor_put_int(e, key);
			if ((err = walk(d, e, depth + 1)) != AIRLOCK_OK)
				return err;
		}
	}
	case AIRLOCK_CBOR_SIMPLE: {
		bool v;
		if ((err = airlock_cbor_read_bool(d, &v)) != AIRLOCK_OK)
			return err;
		airlock_cbor_put_bool(e, v);
		return AIRLOCK_OK;
	}
	default:
		return AIRLOCK_ERR_WRONG_TYPE;
	}
}

/* RFC 8949 appendix A examples inside the deterministic subset, plus booleans. */
static const char *const valid_vectors[] = {
	"00", "01", "0a", "17", "1818", "1819", "1864", "1903e8", "1a000f4240",
	"1b000000e8d4a51000", "1bffffffffffffffff",
	"20", "29", "3863", "3903e7",
	"40", "4401020304",
	"60", "6161", "6449455446", "62225c", "62c3bc", "63e6b0b4", "64f0908591",
	"80", "83010203", "8301820203820405",
	"98190102030405060708090a0b0c0d0e0f101112131415161718181819",
	"a0", "a201020304",
	"f4", "f5",
	/* not in appendix A but in the subset: int64 extremes, keys both signs */
	"1b7fffffffffffffff", "3b7fffffffffffffff", "a3000020002100",
	"a401f402f503a0048102",
};
#define N_VALID (sizeof valid_vectors / sizeof valid_vectors[0])

/* Decodes with skip(), then re-encodes through the typed readers: byte-identical. */
static void test_rfc_vectors_round_trip(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_VALID; i++) {
		size_t n;
		uint8_t *in = hexdup(valid_vectors[i], &n);
		struct airlock_cbor_dec d;

		airlock_cbor_dec_init(&d, in, n);
		assert_err(airlock_cbor_skip(&d), AIRLOCK_OK);
		assert_err(airlock_cbor_dec_finish(&d), AIRLOCK_OK);

		uint8_t out[MAXHEX];
		struct airlock_cbor_enc e;
		airlock_cbor_dec_init(&d, in, n);
		airlock_cbor_enc_init(&e, out, sizeof out);
		assert_err(walk(&d, &e, 0), AIRLOCK_OK);
		assert_err(airlock_cbor_dec_finish(&d), AIRLOCK_OK);
		size_t len;
		assert_err(airlock_cbor_enc_finish(&e, &len), AIRLOCK_OK);
		assert_int_equal(len, n);
		assert_memory_equal(out, in, n);

		/* Measuring with a NULL buffer gives the same length. */
		airlock_cbor_dec_init(&d, in, n);
		airlock_cbor_enc_init(&e, NULL, 0);
		assert_err(walk(&d, &e, 0), AIRLOCK_OK);
		assert_err(airlock_cbor_enc_finish(&e, &len), AIRLOCK_ERR_BUFFER_TOO_SMALL);
		assert_int_equal(len, n);
		free(in);
	}
}

static void test_rfc_integer_values(void **state)
{
	(void)state;
	static const struct {
		const char *hex;
		uint64_t v;
	} uints[] = {
		{ "00", 0 }, { "01", 1 }, { "0a", 10 }, { "17", 23 }, { "1818", 24 },
		{ "1819", 25 }, { "1864", 100 }, { "1903e8", 1000 },
		{ "1a000f4240", 1000000 }, { "1b000000e8d4a51000", 1000000000000ull },
		{ "1bffffffffffffffff", UINT64_MAX },
	};
	static const struct {
		const char *hex;
		int64_t v;
	} ints[] = {
		{ "20", -1 }, { "29", -10 }, { "3863", -100 }, { "3903e7", -1000 },
		{ "1864", 100 }, { "1b7fffffffffffffff", INT64_MAX },
		{ "3b7fffffffffffffff", INT64_MIN }, { "37", -24 }, { "3818", -25 },
	};
	for (size_t i = 0; i < sizeof uints / sizeof uints[0]; i++) {
		size_t n;
		uint8_t *in = hexdup(uints[i].hex, &n);
		struct airlock_cbor_dec d;
		uint64_t v = 0;
		airlock_cbor_dec_init(&d, in, n);
		assert_err(airlock_cbor_read_uint(&d, &v), AIRLOCK_OK);
		assert_true(v == uints[i].v);
		assert_err(airlock_cbor_dec_finish(&d), AIRLOCK_OK);
		free(in);
	}
	for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
		size_t n;
		uint8_t *in = hexdup(ints[i].hex, &n);
		struct airlock_cbor_dec d;
		int64_t v = 0;
		airlock_cbor_dec_init(&d, in, n);
		assert_err(airlock_cbor_read_int(&d, &v), AIRLOCK_OK);
		assert_true(v == ints[i].v);
		assert_err(airlock_cbor_dec_finish(&d), AIRLOCK_OK);
		free(in);
	}
}

static void test_rfc_string_values(void **state)
{
	(void)state;
	static const struct {
		const char *hex;
		const char *text;
		size_t len;
	} tstrs[] = {
		{ "60", "", 0 }, { "6161", "a", 1 }, { "6449455446", "IETF", 4 },
		{ "62225c", "\"\\", 2 }, { "62c3bc", "\xc3\xbc", 2 },
		{ "63e6b0b4", "\xe6\xb0\xb4", 3 }, { "64f0908591", "\xf0\x90\x85\x91", 4 },
		{ "63610062", "a\0b", 3 },   /* NUL is a character; not a terminator */
	};
	for (size_t i = 0; i < sizeof tstrs / sizeof tstrs[0]; i++) {
		size_t n;
		uint8_t *in = hexdup(tstrs[i].hex, &n);
		struct airlock_cbor_dec d;
		const char *p = NULL;
		size_t len = 99;
		airlock_cbor_dec_init(&d, in, n);
		assert_err(airlock_cbor_read_tstr(&d, &p, &len), AIRLOCK_OK);
		assert_int_equal(len, tstrs[i].len);
		if (len)
			assert_memory_equal(p, tstrs[i].text, len);
		assert_ptr_equal(p, (const char *)in + 1);
		assert_err(airlock_cbor_dec_finish(&d), AIRLOCK_OK);
		free(in);
	}

	size_t n;
	uint8_t *in = hexdup("40" "4401020304", &n);
	struct airlock_cbor_dec d;
	const uint8_t *p;
	size_t len;
	airlock_cbor_dec_init(&d, in, n);
	assert_err(airlock_cbor_read_bstr(&d, &p, &len), AIRLOCK_OK);
	assert_int_equal(len, 0);
	assert_err(airlock_cbor_read_bstr(&d, &p, &len), AIRLOCK_OK);
	assert_int_equal(len, 4);
	assert_memory_equal(p, "\x01\x02\x03\x04", 4);
	assert_err(airlock_cbor_dec_finish(&d), AIRLOCK_OK);
	free(in);
}

static void test_rfc_containers(void **state)
{
	(void)state;
	size_t n, count;
	uint64_t v;
	struct airlock_cbor_dec d;

	/* [1, [2, 3], [4, 5]] */
	uint8_t *in = hexdup("8301820203820405", &n);
	airlock_cbor_dec_init(&d, in, n);
	assert_err(airlock_cbor_read_array(&d, &count), AIRLOCK_OK);
	assert_int_equal(count, 3);
	assert_err(airlock_cbor_read_uint(&d, &v), AIRLOCK_OK);
	assert_true(v == 1);
	for (uint64_t k = 2; k <= 4; k += 2) {
		assert_err(airlock_cbor_read_array(&d, &count), AIRLOCK_OK);
		assert_int_equal(count, 2);
		assert_err(airlock_cbor_read_uint(&d, &v), AIRLOCK_OK);
		assert_true(v == k);
		assert_err(airlock_cbor_read_uint(&d, &v), AIRLOCK_OK);
		assert_true(v == k + 1);
	}
	assert_err(airlock_cbor_dec_finish(&d), AIRLOCK_OK);
	free(in);

	/* 25 elements: the count takes the one-byte form */
	in = hexdup("98190102030405060708090a0b0c0d0e0f101112131415161718181819", &n);
	airlock_cbor_dec_init(&d, in, n);
	assert_err(airlock_cbor_read_array(&d, &count), AIRLOCK_OK);
	assert_int_equal(count, 25);
	for (uint64_t k = 1; k <= 25; k++) {
		assert_err(airlock_cbor_read_uint(&d, &v), AIRLOCK_OK);
		assert_true(v == k);
	}
	assert_err(airlock_cbor_dec_finish(&d), AIRLOCK_OK);
	free(in);

	/* {1: 2, 3: 4} through the map iterator */
	in = hexdup("a201020304", &n);
	airlock_cbor_dec_init(&d, in, n);
	struct airlock_cbor_map m;
	int64_t key;
	assert_err(airlock_cbor_map_begin(&d, &m), AIRLOCK_OK);
	assert_false(m.done);
	assert_err(airlock_cbor_map_next(&d, &m, &key), AIRLOCK_OK);
	assert_false(m.done);
	assert_true(key == 1);
	assert_err(airlock_cbor_read_uint(&d, &v), AIRLOCK_OK);
	assert_true(v == 2);
	assert_err(airlock_cbor_map_next(&d, &m, &key), AIRLOCK_OK);
	assert_true(key == 3);
	assert_err(airlock_cbor_read_uint(&d, &v), AIRLOCK_OK);
	assert_true(v == 4);
	assert_err(airlock_cbor_map_next(&d, &m, &key), AIRLOCK_OK);
	assert_true(m.done);
	/* Calling again once done stays done and reads nothing. */
	assert_err(airlock_cbor_map_next(&d, &m, &key), AIRLOCK_OK);
	assert_true(m.done);
	assert_err(airlock_cbor_dec_finish(&d), AIRLOCK_OK);
	free(in);

	/* {} and [] */
	in = hexdup("a080", &n);
	airlock_cbor_dec_init(&d, in, n);
	assert_err(airlock_cbor_map_begin(&d, &m), AIRLOCK_OK);
	assert_err(airlock_cbor_map_next(&d, &m, &key), AIRLOCK_OK);
	assert_true(m.done);
	assert_err(airlock_cbor_read_array(&d, &count), AIRLOCK_OK);
	assert_int_equal(count, 0);
	assert_err(airlock_cbor_dec_finish(&d), AIRLOCK_OK);
	free(in);
}

/* Every reader that fits the first byte's major type, and skip(). */
static airlock_err read_as_head_says(struct airlock_cbor_dec *d)
{
	enum airlock_cbor_major major;
	airlock_err err = airlock_cbor_peek(d, &major);
	if (err != AIRLOCK_OK)
		return err;
	switch (major) {
	case AIRLOCK_CBOR_UINT: {
		uint64_t v;
		return airlock_cbor_read_uint(d, &v);
	}
	case AIRLOCK_CBOR_NINT: {
		int64_t v;
		return airlock_cbor_read_int(d, &v);
	}
	case AIRLOCK_CBOR_BSTR: {
		const uint8_t *p;
		size_t n;
		return airlock_cbor_read_bstr(d, &p, &n);
	}
	case AIRLOCK_CBOR_TSTR: {
		const char *p;
		size_t n;
		return airlock_cbor_read_tstr(d, &p, &n);
	}
	case AIRLOCK_CBOR_ARRAY: {
		size_t n;
		return airlock_cbor_read_array(d, &n);
	}
	case AIRLOCK_CBOR_MAP: {
		size_t n;
		return airlock_cbor_read_map(d, &n);
	}
	case AIRLOCK_CBOR_SIMPLE:
	case AIRLOCK_CBOR_TAG:
	default: {
		bool v;
		return airlock_cbor_read_bool(d, &v);
	}
	}
}

/* skip() and the matching reader both fail with want, cursor untouched. */
static void check_rejected(const char *hex, airlock_err want)
{
	size_t n;
	uint8_t *in = hexdup(hex, &n);
	struct airlock_cbor_dec d;

	airlock_cbor_dec_init(&d, in, n);
	airlock_err got = airlock_cbor_skip(&d);
	if (got != want)
		print_error("input %s\n", hex);
	assert_err(got, want);
	assert_ptr_equal(d.p, in);

	/* A typed reader may accept a container head whose content is bad. */
	uint8_t major = n ? (uint8_t)(in[0] >> 5) : 0;
	if (major != AIRLOCK_CBOR_ARRAY && major != AIRLOCK_CBOR_MAP) {
		got = read_as_head_says(&d);
		if (got != want)
			print_error("input %s (typed reader)\n", hex);
		assert_err(got, want);
		assert_ptr_equal(d.p, in);
	}
	free(in);
}

static void test_noncanonical_arguments(void **state)
{
	(void)state;
	static const char *const cases[] = {
		"1800", "1817", "190017", "1900ff", "1a000000ff", "1a0000ffff",
		"1b00000000000000ff", "1b00000000ffffffff", "1b0000000000000001",
		"3800", "390010", "3a0000ffff", "3b00000000ffffffff",
		"5800", "58020102", "590001ff",
		"7800", "780161",
		"9800", "980100",
		"b800", "b8010000",
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		check_rejected(cases[i], AIRLOCK_ERR_NONCANONICAL);
}

/* Well-formed but outside the subset: indefinite lengths, floats, tags,
 * simple values other than false/true. All NONCANONICAL. */
static void test_noncanonical_items(void **state)
{
	(void)state;
	static const char *const cases[] = {
		/* indefinite byte/text strings, arrays, maps */
		"5f42010243030405ff", "5fff", "7f657374726561646d696e67ff", "7fff",
		"9fff", "9f018202039f0405ffff", "bfff", "bf61610161629f0203ffff",
		/* floats: half, single, double */
		"f90000", "f93c00", "f97c00", "fa47c35000", "fa7f800000",
		"fb3ff199999999999a", "fb0000000000000000",
		/* tags */
		"c074323031332d30332d32315432303a30343a30305a", "c11a514b67b0",
		"d74401020304", "d818456449455446", "d82076687474703a2f2f7777772e6578616d706c652e636f6d",
		"c0",
		/* simple values: null, undefined, unassigned, one-byte form */
		"f6", "f7", "f0", "f3", "e0", "f820", "f8ff",
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		check_rejected(cases[i], AIRLOCK_ERR_NONCANONICAL);
}

/* Not well-formed at all. */
static void test_malformed(void **state)
{
	(void)state;
	static const char *const cases[] = {
		"",                         /* nothing */
		"ff",                       /* lone break */
		"1c", "1d", "1e", "3c", "5d", "7e", "9c", "bd", "dc", "fc", "fd", "fe",
		"1f", "3f", "df",           /* indefinite integers and tags */
		"f800", "f813", "f81f",     /* two-byte simple value below 32 */
		"18", "19", "1901", "1a000102", "1b00010203040506", "38", "f8", "f9", "f900",
		"fa000000", "fb00000000000000", "d8",
		"41", "44010203", "5a00010000", "61", "6261", "7a00010000",
		"81", "8201", "a1", "a101", "a20102",
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		check_rejected(cases[i], AIRLOCK_ERR_MALFORMED);
}

/* Every proper prefix of every valid vector fails, and leaves the cursor alone. */
static void test_truncation(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_VALID; i++) {
		uint8_t full[MAXHEX];
		size_t n = test_hex(valid_vectors[i], full, sizeof full);
		for (size_t cut = 0; cut < n; cut++) {
			uint8_t *in = bytesdup(full, cut);
			struct airlock_cbor_dec d;
			airlock_cbor_dec_init(&d, in, cut);
			assert_err(airlock_cbor_skip(&d), AIRLOCK_ERR_MALFORMED);
			assert_ptr_equal(d.p, in);

			/* The typed walk fails too, and the reader that fails
			 * leaves its cursor in place. */
			uint8_t out[MAXHEX];
			struct airlock_cbor_enc e;
			airlock_cbor_enc_init(&e, out, sizeof out);
			airlock_cbor_dec_init(&d, in, cut);
			const uint8_t *before;
			airlock_err err;
			do {
				before = d.p;
				err = read_as_head_says(&d);
			} while (err == AIRLOCK_OK);
			assert_err(err, AIRLOCK_ERR_MALFORMED);
			assert_ptr_equal(d.p, before);
			airlock_cbor_dec_init(&d, in, cut);
			assert_err(walk(&d, &e, 0), AIRLOCK_ERR_MALFORMED);
			free(in);
		}
	}
}

/* One map decoded both with skip() and with the map iterator. */
static void check_map(const char *hex, airlock_err want)
{
	size_t n;
	uint8_t *in = hexdup(hex, &n);
	struct airlock_cbor_dec d;

	airlock_cbor_dec_init(&d, in, n);
	airlock_err got = airlock_cbor_skip(&d);
	if (got != want)
		print_error("input %s (skip)\n", hex);
	assert_err(got, want);
	assert_ptr_equal(d.p, want == AIRLOCK_OK ? in + n : in);

	uint8_t out[MAXHEX];
	struct airlock_cbor_enc e;
	airlock_cbor_enc_init(&e, out, sizeof out);
	airlock_cbor_dec_init(&d, in, n);
	got = walk(&d, &e, 0);
	if (got != want)
		print_error("input %s (map iterator)\n", hex);
	assert_err(got, want);
	if (want == AIRLOCK_OK) {
		size_t len;
		assert_err(airlock_cbor_enc_finish(&e, &len), AIRLOCK_OK);
		assert_int_equal(len, n);
		assert_memory_equal(out, in, n);
	}
	free(in);
}

static void test_map_key_order(void **state)
{
	(void)state;
	check_map("a201000100", AIRLOCK_ERR_DUPLICATE_KEY);   /* {1:0, 1:0} */
	check_map("a202000100", AIRLOCK_ERR_DUPLICATE_KEY);   /* {2:0, 1:0} */
	check_map("a220000000", AIRLOCK_ERR_DUPLICATE_KEY);   /* {-1:0, 0:0} */
	check_map("a220002000", AIRLOCK_ERR_DUPLICATE_KEY);   /* {-1:0, -1:0} */
	check_map("a221002000", AIRLOCK_ERR_DUPLICATE_KEY);   /* {-2:0, -1:0} */
	check_map("a21818001700", AIRLOCK_ERR_DUPLICATE_KEY); /* {24:0, 23:0} */
	check_map("a3000020002100", AIRLOCK_OK);              /* {0:0, -1:0, -2:0} */
	check_map("a21700181800", AIRLOCK_OK);                /* {23:0, 24:0} */
	check_map("a2370038180a", AIRLOCK_OK);                /* {-24:0, -25:10} */
	check_map("a21b7fffffffffffffff003b7fffffffffffffff00", AIRLOCK_OK); /* INT64_MAX, INT64_MIN */
	check_map("a401f402f503a0048102", AIRLOCK_OK);        /* values of every kind */
	/* Order is checked inside nested maps too, and per map. */
	check_map("a201a2010002000200", AIRLOCK_OK);
	check_map("a201a2020001000200", AIRLOCK_ERR_DUPLICATE_KEY);
	check_map("81a201000100", AIRLOCK_ERR_DUPLICATE_KEY);
}

static void test_map_key_type_and_range(void **state)
{
	(void)state;
	check_map("a1616100", AIRLOCK_ERR_WRONG_TYPE);        /* {"a": 0} */
	check_map("a14000", AIRLOCK_ERR_WRONG_TYPE);          /* {h'': 0} */
	check_map("a18000", AIRLOCK_ERR_WRONG_TYPE);          /* {[]: 0} */
	check_map("a1a000", AIRLOCK_ERR_WRONG_TYPE);          /* {{}: 0} */
	check_map("a1f500", AIRLOCK_ERR_WRONG_TYPE);          /* {true: 0} */
	check_map("a2616101616202", AIRLOCK_ERR_WRONG_TYPE);  /* {"a": 1, "b": 2} */
	/* Keys that are canonical but not int64_t: 2^63 and -2^63 - 1. */
	check_map("a11b800000000000000000", AIRLOCK_ERR_BAD_VALUE);
	check_map("a13b800000000000000000", AIRLOCK_ERR_BAD_VALUE);
	/* A non-canonical key is reported as such, before its type matters. */
	check_map("a1f600", AIRLOCK_ERR_NONCANONICAL);
	check_map("a1180100", AIRLOCK_ERR_NONCANONICAL);
}

/* Errors in map_next leave the decoder and the iterator as they were. */
static void test_map_next_error_keeps_state(void **state)
{
	(void)state;
	size_t n;
	uint8_t *in = hexdup("a3020001000300", &n);   /* {2:0, 1:0, 3:0} */
	struct airlock_cbor_dec d;
	struct airlock_cbor_map m;
	int64_t key = 77;
	uint64_t v;

	airlock_cbor_dec_init(&d, in, n);
	assert_err(airlock_cbor_map_begin(&d, &m), AIRLOCK_OK);
	assert_int_equal(m.left, 3);
	assert_err(airlock_cbor_map_next(&d, &m, &key), AIRLOCK_OK);
	assert_true(key == 2);
	assert_err(airlock_cbor_read_uint(&d, &v), AIRLOCK_OK);
	struct airlock_cbor_map saved = m;
	const uint8_t *p = d.p;
	key = 77;
	assert_err(airlock_cbor_map_next(&d, &m, &key), AIRLOCK_ERR_DUPLICATE_KEY);
	assert_ptr_equal(d.p, p);
	assert_true(key == 77);
	assert_int_equal(m.left, saved.left);
	assert_true(m.have_prev == saved.have_prev && m.done == saved.done);
	assert_true(m.prev_major == saved.prev_major && m.prev_arg == saved.prev_arg);
	free(in);
}

/* A count that cannot fit the remaining bytes fails at once, without looping. */
static void test_huge_counts(void **state)
{
	(void)state;
	static const char *const cases[] = {
		"9b8000000000000000",       /* array of 2^63 in a 9-byte input */
		"9b800000000000000000",     /* ... in 10 bytes */
		"9bffffffffffffffff00",
		"9a7fffffff00",
		"bb800000000000000000",     /* map of 2^63 pairs: 2 * count wraps */
		"bbffffffffffffffff0000",
		"bb4000000000000000000000", /* 2^62 pairs */
		"a30000000000",             /* 3 pairs in 5 bytes */
		"5bffffffffffffffff00",     /* byte string of 2^64 - 1 bytes */
		"5b800000000000000000",
		"7b800000000000000000",
		"5a8000000000",
		"840000",
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		check_rejected(cases[i], AIRLOCK_ERR_MALFORMED);

	/* The bound is exact: n elements in n bytes, n pairs in 2n bytes. */
	check_map("a3000001000200", AIRLOCK_OK);
	size_t n;
	uint8_t *in = hexdup("a3000001000200", &n);
	struct airlock_cbor_dec d;
	size_t count;
	airlock_cbor_dec_init(&d, in, n - 1);
	assert_err(airlock_cbor_read_map(&d, &count), AIRLOCK_ERR_MALFORMED);
	assert_ptr_equal(d.p, in);
	free(in);
}

/* n nested arrays around 0, or n nested maps {0: ...} around 0. */
static size_t nest(uint8_t *buf, size_t depth, bool maps, bool empty_inner)
{
	size_t n = 0;
	for (size_t i = 0; i < depth; i++) {
		bool last = i + 1 == depth;
		if (maps) {
			buf[n++] = last && empty_inner ? 0xa0 : 0xa1;
			if (!(last && empty_inner))
				buf[n++] = 0x00;
		} else {
			buf[n++] = last && empty_inner ? 0x80 : 0x81;
		}
	}
	if (!empty_inner || depth == 0)
		buf[n++] = 0x00;
	return n;
}

static void test_depth_limit(void **state)
{
	(void)state;
	for (int maps = 0; maps <= 1; maps++) {
		for (int empty = 0; empty <= 1; empty++) {
			for (size_t depth = 0; depth <= AIRLOCK_CBOR_MAX_DEPTH + 2; depth++) {
				uint8_t tmp[128];
				size_t n = nest(tmp, depth, maps, empty);
				uint8_t *in = bytesdup(tmp, n);
				struct airlock_cbor_dec d;
				airlock_cbor_dec_init(&d, in, n);
				if (depth <= AIRLOCK_CBOR_MAX_DEPTH) {
					assert_err(airlock_cbor_skip(&d), AIRLOCK_OK);
					assert_err(airlock_cbor_dec_finish(&d), AIRLOCK_OK);
				} else {
					assert_err(airlock_cbor_skip(&d), AIRLOCK_ERR_LIMIT);
					assert_ptr_equal(d.p, in);
				}
				free(in);
			}
		}
	}

	/* Depth is nesting, not the number of containers: 100 siblings are fine. */
	uint8_t tmp[256];
	size_t n = 0;
	tmp[n++] = 0x98;
	tmp[n++] = 100;
	for (int i = 0; i < 100; i++)
		tmp[n++] = 0x80;
	uint8_t *in = bytesdup(tmp, n);
	struct airlock_cbor_dec d;
	airlock_cbor_dec_init(&d, in, n);
	assert_err(airlock_cbor_skip(&d), AIRLOCK_OK);
	assert_err(airlock_cbor_dec_finish(&d), AIRLOCK_OK);
	free(in);

	/* 17 levels of indefinite arrays are refused for being indefinite. */
	check_rejected("9f9f9f9f9f9f9f9f9f9f9f9f9f9f9f9f9f", AIRLOCK_ERR_NONCANONICAL);
}

static void check_tstr(const char *payload_hex, airlock_err want)
{
	uint8_t payload[64], tmp[80];
	size_t plen = test_hex(payload_hex, payload, sizeof payload);
	assert_true(plen < 24);
	tmp[0] = (uint8_t)(0x60 | plen);
	memcpy(tmp + 1, payload, plen);
	uint8_t *in = bytesdup(tmp, plen + 1);
	struct airlock_cbor_dec d;
	const char *p;
	size_t len;

	airlock_cbor_dec_init(&d, in, plen + 1);
	airlock_err got = airlock_cbor_read_tstr(&d, &p, &len);
	if (got != want)
		print_error("text payload %s\n", payload_hex);
	assert_err(got, want);
	assert_ptr_equal(d.p, want == AIRLOCK_OK ? in + plen + 1 : in);
	airlock_cbor_dec_init(&d, in, plen + 1);
	assert_err(airlock_cbor_skip(&d), want);
	/* The same bytes as a byte string are always fine. */
	in[0] = (uint8_t)(0x40 | plen);
	airlock_cbor_dec_init(&d, in, plen + 1);
	assert_err(airlock_cbor_skip(&d), AIRLOCK_OK);
	free(in);
}

static void test_utf8(void **state)
{
	(void)state;
	static const char *const good[] = {
		"", "00", "610062", "7f", "c280", "dfbf", "e0a080", "e0bfbf",
		"e18080", "ec8080", "ed9fbf", "ee8080",
		"efbfbf", "f0908080", "f48fbfbf", "f3bfbfbf", "f1808080",
		"e6b0b4f0908591c3bc41",
	};
	static const char *const bad[] = {
		"80", "bf", "c0", "c080", "c1bf", "c2", "c241", "c2c2",
		"e0", "e080", "e08080", "e09fbf", "e0a0", "e0a041",
		"eda080", "edbfbf", "edb080", "eda0", "ed",
		"f08080", "f0808080", "f08fbfbf", "f09080", "f0908041",
		"f4908080", "f4bfbfbf", "f5808080", "f7bfbfbf", "f8", "fc", "fe", "ff",
		"41c0", "41e6b0",
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		check_tstr(good[i], AIRLOCK_OK);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		check_tstr(bad[i], AIRLOCK_ERR_MALFORMED);
}

static void test_finish_and_trailing(void **state)
{
	(void)state;
	size_t n;
	uint8_t *in = hexdup("0082010220", &n);
	struct airlock_cbor_dec d;
	enum airlock_cbor_major major;

	airlock_cbor_dec_init(&d, in, n);
	assert_err(airlock_cbor_skip(&d), AIRLOCK_OK);
	assert_err(airlock_cbor_dec_finish(&d), AIRLOCK_ERR_TRAILING_DATA);
	assert_err(airlock_cbor_peek(&d, &major), AIRLOCK_OK);
	assert_int_equal(major, AIRLOCK_CBOR_ARRAY);
	assert_err(airlock_cbor_skip(&d), AIRLOCK_OK);
	assert_err(airlock_cbor_dec_finish(&d), AIRLOCK_ERR_TRAILING_DATA);
	assert_err(airlock_cbor_peek(&d, &major), AIRLOCK_OK);
	assert_int_equal(major, AIRLOCK_CBOR_NINT);
	assert_err(airlock_cbor_skip(&d), AIRLOCK_OK);
	assert_err(airlock_cbor_dec_finish(&d), AIRLOCK_OK);
	assert_err(airlock_cbor_peek(&d, &major), AIRLOCK_ERR_MALFORMED);
	assert_err(airlock_cbor_skip(&d), AIRLOCK_ERR_MALFORMED);
	free(in);

	/* An empty input is finished; a NULL one too. */
	airlock_cbor_dec_init(&d, NULL, 0);
	assert_err(airlock_cbor_dec_finish(&d), AIRLOCK_OK);
	assert_err(airlock_cbor_peek(&d, &major), AIRLOCK_ERR_MALFORMED);
	assert_err(airlock_cbor_skip(&d), AIRLOCK_ERR_MALFORMED);

	/* A complete byte string followed by one stray byte. */
	in = hexdup("4401020304ff", &n);
	airlock_cbor_dec_init(&d, in, n);
	assert_err(airlock_cbor_skip(&d), AIRLOCK_OK);
	assert_err(airlock_cbor_dec_finish(&d), AIRLOCK_ERR_TRAILING_DATA);
	assert_err(airlock_cbor_skip(&d), AIRLOCK_ERR_MALFORMED);
	free(in);
}

static void test_wrong_type(void **state)
{
	(void)state;
	size_t n;
	uint8_t *in = hexdup("20", &n);
	struct airlock_cbor_dec d;
	uint64_t u;
	int64_t i;
	bool b;
	size_t count;
	const uint8_t *bp;
	const char *tp;

	airlock_cbor_dec_init(&d, in, n);
	assert_err(airlock_cbor_read_uint(&d, &u), AIRLOCK_ERR_WRONG_TYPE);
	assert_err(airlock_cbor_read_bstr(&d, &bp, &count), AIRLOCK_ERR_WRONG_TYPE);
	assert_err(airlock_cbor_read_tstr(&d, &tp, &count), AIRLOCK_ERR_WRONG_TYPE);
	assert_err(airlock_cbor_read_bool(&d, &b), AIRLOCK_ERR_WRONG_TYPE);
	assert_err(airlock_cbor_read_array(&d, &count), AIRLOCK_ERR_WRONG_TYPE);
	assert_err(airlock_cbor_read_map(&d, &count), AIRLOCK_ERR_WRONG_TYPE);
	assert_ptr_equal(d.p, in);
	assert_err(airlock_cbor_read_int(&d, &i), AIRLOCK_OK);
	assert_true(i == -1);
	free(in);

	in = hexdup("40", &n);
	airlock_cbor_dec_init(&d, in, n);
	assert_err(airlock_cbor_read_int(&d, &i), AIRLOCK_ERR_WRONG_TYPE);
	assert_err(airlock_cbor_read_tstr(&d, &tp, &count), AIRLOCK_ERR_WRONG_TYPE);
	assert_ptr_equal(d.p, in);
	free(in);

	in = hexdup("f4f5", &n);
	airlock_cbor_dec_init(&d, in, n);
	assert_err(airlock_cbor_read_uint(&d, &u), AIRLOCK_ERR_WRONG_TYPE);
	assert_err(airlock_cbor_read_bool(&d, &b), AIRLOCK_OK);
	assert_false(b);
	assert_err(airlock_cbor_read_bool(&d, &b), AIRLOCK_OK);
	assert_true(b);
	assert_err(airlock_cbor_dec_finish(&d), AIRLOCK_OK);
	free(in);

	/* The head is judged before the type: a float is NONCANONICAL for
	 * every reader, not WRONG_TYPE. */
	in = hexdup("f93c00", &n);
	airlock_cbor_dec_init(&d, in, n);
	assert_err(airlock_cbor_read_uint(&d, &u), AIRLOCK_ERR_NONCANONICAL);
	assert_err(airlock_cbor_read_bool(&d, &b), AIRLOCK_ERR_NONCANONICAL);
	assert_ptr_equal(d.p, in);
	free(in);
}

static void test_read_int_range(void **state)
{
	(void)state;
	size_t n;
	struct airlock_cbor_dec d;
	int64_t i = 5;
	uint64_t u;

	uint8_t *in = hexdup("1b8000000000000000", &n);
	airlock_cbor_dec_init(&d, in, n);
	assert_err(airlock_cbor_read_int(&d, &i), AIRLOCK_ERR_BAD_VALUE);
	assert_ptr_equal(d.p, in);
	assert_true(i == 5);
	assert_err(airlock_cbor_read_uint(&d, &u), AIRLOCK_OK);
	assert_true(u == (uint64_t)INT64_MAX + 1);
	free(in);

	/* -2^63 - 1 and -2^64: canonical, skippable, not readable as int64_t. */
	in = hexdup("3b80000000000000003bffffffffffffffff", &n);
	airlock_cbor_dec_init(&d, in, n);
	assert_err(airlock_cbor_read_int(&d, &i), AIRLOCK_ERR_BAD_VALUE);
	assert_ptr_equal(d.p, in);
	assert_err(airlock_cbor_skip(&d), AIRLOCK_OK);
	assert_err(airlock_cbor_read_int(&d, &i), AIRLOCK_ERR_BAD_VALUE);
	assert_err(airlock_cbor_skip(&d), AIRLOCK_OK);
	assert_err(airlock_cbor_dec_finish(&d), AIRLOCK_OK);
	free(in);
}

static void test_encoder_heads(void **state)
{
	(void)state;
	static const struct {
		int64_t v;
		const char *hex;
	} ints[] = {
		{ 0, "00" }, { 23, "17" }, { 24, "1818" }, { 255, "18ff" }, { 256, "190100" },
		{ 65535, "19ffff" }, { 65536, "1a00010000" }, { 4294967295, "1affffffff" },
		{ 4294967296, "1b0000000100000000" }, { INT64_MAX, "1b7fffffffffffffff" },
		{ -1, "20" }, { -24, "37" }, { -25, "3818" }, { -256, "38ff" }, { -257, "390100" },
		{ -65537, "3a00010000" }, { -4294967297, "3b0000000100000000" },
		{ INT64_MIN, "3b7fffffffffffffff" }, { INT64_MIN + 1, "3b7ffffffffffffffe" },
	};
	for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
		uint8_t want[16], out[16];
		size_t n = test_hex(ints[i].hex, want, sizeof want), len;
		struct airlock_cbor_enc e;
		airlock_cbor_enc_init(&e, out, sizeof out);
		airlock_cbor_put_int(&e, ints[i].v);
		assert_err(airlock_cbor_enc_finish(&e, &len), AIRLOCK_OK);
		assert_int_equal(len, n);
		assert_memory_equal(out, want, n);
		if (ints[i].v >= 0) {
			airlock_cbor_enc_init(&e, out, sizeof out);
			airlock_cbor_put_uint(&e, (uint64_t)ints[i].v);
			assert_err(airlock_cbor_enc_finish(&e, &len), AIRLOCK_OK);
			assert_int_equal(len, n);
			assert_memory_equal(out, want, n);
		}
	}

	uint8_t want[64], out[64];
	size_t n = test_hex("1bffffffffffffffff" "f4f5" "4201ff" "6161" "60" "40"
		"83" "a2" "9819" "b818" "0102", want, sizeof want), len;
	struct airlock_cbor_enc e;
	airlock_cbor_enc_init(&e, out, sizeof out);
	airlock_cbor_put_uint(&e, UINT64_MAX);
	airlock_cbor_put_bool(&e, false);
	airlock_cbor_put_bool(&e, true);
	airlock_cbor_put_bstr(&e, "\x01\xff", 2);
	airlock_cbor_put_tstr(&e, "a", 1);
	airlock_cbor_put_tstr(&e, NULL, 0);
	airlock_cbor_put_bstr(&e, NULL, 0);
	airlock_cbor_put_array(&e, 3);
	airlock_cbor_put_map(&e, 2);
	airlock_cbor_put_array(&e, 25);
	airlock_cbor_put_map(&e, 24);
	airlock_cbor_put_raw(&e, "\x01\x02", 2);
	airlock_cbor_put_raw(&e, NULL, 0);
	assert_err(airlock_cbor_enc_finish(&e, &len), AIRLOCK_OK);
	assert_int_equal(len, n);
	assert_memory_equal(out, want, n);
}

static void test_encoder_overflow(void **state)
{
	(void)state;
	uint8_t buf[16];
	struct airlock_cbor_enc e;
	size_t len;

	/* cap 4 inside a larger buffer: nothing may land past the cap. */
	memset(buf, 0xee, sizeof buf);
	airlock_cbor_enc_init(&e, buf, 4);
	airlock_cbor_put_uint(&e, 1000);        /* 3 bytes: fits */
	airlock_cbor_put_uint(&e, 1000);        /* 3 more: does not */
	airlock_cbor_put_uint(&e, 1);           /* would fit in the gap; not written */
	airlock_cbor_put_bstr(&e, "abcdefgh", 8);
	assert_err(airlock_cbor_enc_finish(&e, &len), AIRLOCK_ERR_BUFFER_TOO_SMALL);
	assert_int_equal(len, 3 + 3 + 1 + 9);
	assert_memory_equal(buf, "\x19\x03\xe8", 3);
	for (size_t i = 3; i < sizeof buf; i++)
		assert_int_equal(buf[i], 0xee);

	/* Exactly full is not an overflow. */
	airlock_cbor_enc_init(&e, buf, 4);
	airlock_cbor_put_bstr(&e, "abc", 3);
	assert_err(airlock_cbor_enc_finish(&e, &len), AIRLOCK_OK);
	assert_int_equal(len, 4);
	airlock_cbor_put_bool(&e, true);
	assert_err(airlock_cbor_enc_finish(&e, &len), AIRLOCK_ERR_BUFFER_TOO_SMALL);
	assert_int_equal(len, 5);

	/* Measuring: NULL buffer, cap 0. */
	airlock_cbor_enc_init(&e, NULL, 0);
	assert_err(airlock_cbor_enc_finish(&e, &len), AIRLOCK_OK);
	assert_int_equal(len, 0);
	airlock_cbor_put_map(&e, 1);
	airlock_cbor_put_int(&e, INT64_MIN);
	airlock_cbor_put_tstr(&e, "hello", 5);
	assert_err(airlock_cbor_enc_finish(&e, &len), AIRLOCK_ERR_BUFFER_TOO_SMALL);
	assert_int_equal(len, 1 + 9 + 6);

	/* A NULL buffer with a non-zero cap still writes nothing. */
	airlock_cbor_enc_init(&e, NULL, 100);
	airlock_cbor_put_uint(&e, 0);
	assert_err(airlock_cbor_enc_finish(&e, &len), AIRLOCK_ERR_BUFFER_TOO_SMALL);
	assert_int_equal(len, 1);

	/* len saturates instead of wrapping. */
	airlock_cbor_enc_init(&e, NULL, 0);
	airlock_cbor_put_raw(&e, buf, SIZE_MAX);
	airlock_cbor_put_raw(&e, buf, SIZE_MAX);
	assert_err(airlock_cbor_enc_finish(&e, &len), AIRLOCK_ERR_BUFFER_TOO_SMALL);
	assert_true(len == SIZE_MAX);
}

static void test_int64_extremes_round_trip(void **state)
{
	(void)state;
	static const int64_t vals[] = {
		INT64_MIN, INT64_MIN + 1, -4294967297, -4294967296, -65537, -65536,
		-257, -256, -25, -24, -1, 0, 23, 24, 255, 256, 65535, 65536,
		4294967295, 4294967296, INT64_MAX - 1, INT64_MAX,
	};
	uint8_t buf[sizeof vals / sizeof vals[0] * 9 + 2];
	struct airlock_cbor_enc e;
	airlock_cbor_enc_init(&e, buf, sizeof buf);
	airlock_cbor_put_array(&e, sizeof vals / sizeof vals[0]);
	for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
		airlock_cbor_put_int(&e, vals[i]);
	size_t len;
	assert_err(airlock_cbor_enc_finish(&e, &len), AIRLOCK_OK);

	struct airlock_cbor_dec d;
	size_t count;
	airlock_cbor_dec_init(&d, buf, len);
	assert_err(airlock_cbor_skip(&d), AIRLOCK_OK);
	assert_err(airlock_cbor_dec_finish(&d), AIRLOCK_OK);
	airlock_cbor_dec_init(&d, buf, len);
	assert_err(airlock_cbor_read_array(&d, &count), AIRLOCK_OK);
	assert_int_equal(count, sizeof vals / sizeof vals[0]);
	for (size_t i = 0; i < count; i++) {
		int64_t v;
		assert_err(airlock_cbor_read_int(&d, &v), AIRLOCK_OK);
		assert_true(v == vals[i]);
	}
	assert_err(airlock_cbor_dec_finish(&d), AIRLOCK_OK);

	/* UINT64_MAX as well, through read_uint. */
	airlock_cbor_enc_init(&e, buf, sizeof buf);
	airlock_cbor_put_uint(&e, UINT64_MAX);
	assert_err(airlock_cbor_enc_finish(&e, &len), AIRLOCK_OK);
	uint64_t u;
	airlock_cbor_dec_init(&d, buf, len);
	assert_err(airlock_cbor_read_uint(&d, &u), AIRLOCK_OK);
	assert_true(u == UINT64_MAX);
}

/* An error deep inside a container leaves skip()'s cursor at the container. */
static void test_skip_error_inside(void **state)
{
	(void)state;
	check_rejected("830102f6", AIRLOCK_ERR_NONCANONICAL);
	check_rejected("8301821800", AIRLOCK_ERR_NONCANONICAL);
	check_rejected("a10181c0", AIRLOCK_ERR_NONCANONICAL);
	check_rejected("82616161c0", AIRLOCK_ERR_MALFORMED);
	check_rejected("8261618262eda0", AIRLOCK_ERR_MALFORMED);
	check_rejected("8201ff", AIRLOCK_ERR_MALFORMED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc_vectors_round_trip),
		cmocka_unit_test(test_rfc_integer_values),
		cmocka_unit_test(test_rfc_string_values),
		cmocka_unit_test(test_rfc_containers),
		cmocka_unit_test(test_noncanonical_arguments),
		cmocka_unit_test(test_noncanonical_items),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_map_key_order),
		cmocka_unit_test(test_map_key_type_and_range),
		cmocka_unit_test(test_map_next_error_keeps_state),
		cmocka_unit_test(test_huge_counts),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_finish_and_trailing),
		cmocka_unit_test(test_wrong_type),
		cmocka_unit_test(test_read_int_range),
		cmocka_unit_test(test_encoder_heads),
		cmocka_unit_test(test_encoder_overflow),
		cmocka_unit_test(test_int64_extremes_round_trip),
		cmocka_unit_test(test_skip_error_inside),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
