/*
 * Deterministic CBOR decoder and encoder (see include/airlock/cbor.h).
 *
 * Every byte handed to the decoder is hostile. The decoder keeps one
 * invariant, d->p <= d->end, and every read is preceded by a check of the
 * bytes that remain, written as "need <= remaining" with both sides as
 * uint64_t so that no length taken from the input is ever added to a pointer
 * or a size_t before it is known to fit (this holds on 32-bit size_t too).
 * Nothing is committed to the cursor until the whole item was accepted, so
 * every reader leaves the cursor where it was on error.
 *
 * Error policy, applied the same way by every reader:
 *   AIRLOCK_ERR_MALFORMED     not well-formed CBOR (RFC 8949, section 3 and
 *                             appendix F): truncated head or payload, additional
 *                             information 28..30, indefinite length on major
 *                             0, 1 or 6, a lone break byte 0xff, a two-byte
 *                             simple value below 32, a length or count beyond
 *                             the remaining input, invalid UTF-8 in a text
 *                             string.
 *   AIRLOCK_ERR_NONCANONICAL  well-formed but outside the deterministic subset
 *                             we accept: an argument not in its shortest form,
 *                             indefinite-length strings, arrays and maps, every
 *                             tag (major 6), every float (major 7, ai 25..27)
 *                             and every simple value except false and true
 *                             (null and undefined included). We pick this one
 *                             code for "valid CBOR we refuse" so callers can
 *                             tell a truncated file from a foreign encoder.
 *   AIRLOCK_ERR_WRONG_TYPE    the item is in the subset but is not the type
 *                             the caller asked for. The head is validated
 *                             first, so a reader that meets a float or a tag
 *                             reports NONCANONICAL, not WRONG_TYPE.
 */
#include "airlock/cbor.h"

#include <string.h>

/* Initial bytes with a meaning of their own in major type 7. */
#define CBOR_FALSE 0xf4u
#define CBOR_TRUE 0xf5u

#define AI_1BYTE 24u
#define AI_2BYTE 25u
#define AI_4BYTE 26u
#define AI_8BYTE 27u
#define AI_INDEFINITE 31u

_Static_assert(AIRLOCK_CBOR_MAX_DEPTH > 0 && AIRLOCK_CBOR_MAX_DEPTH <= 64,
	"skip() keeps one frame per nesting level on the stack");
_Static_assert(CBOR_FALSE == ((7u << 5) | 20u) && CBOR_TRUE == ((7u << 5) | 21u),
	"false and true are simple values 20 and 21");

/* One decoded head: major type, argument and where the item's payload starts. */
struct head {
	uint8_t major;
	uint8_t ib;            /* the initial byte, kept for simple values */
	uint64_t arg;
	const uint8_t *next;   /* first byte after the head (start of a string payload) */
};

/* Bytes left between p and end; p <= end is the decoder's invariant. */
static uint64_t left_bytes(const uint8_t *p, const uint8_t *end)
{
	return p < end ? (uint64_t)(size_t)(end - p) : 0;
}

/*
 * Decodes and validates the head at p. On success the head is in the subset
 * and, for strings, arrays and maps, the length or count fits the input that
 * follows the head (a string needs arg bytes, an array element at least one
 * byte, a map pair at least two). The payload itself (string bytes, UTF-8,
 * nested items) is not looked at.
 */
AIRLOCK_MUST_USE static airlock_err decode_head(const uint8_t *p, const uint8_t *end, struct head *h)
{
	if (left_bytes(p, end) < 1)
		return AIRLOCK_ERR_MALFORMED;
	uint8_t ib = p[0];
	uint8_t major = (uint8_t)(ib >> 5);
	uint8_t ai = (uint8_t)(ib & 0x1fu);
	const uint8_t *q = p + 1;
	uint64_t arg;

	if (ai < AI_1BYTE) {
		arg = ai;
	} else if (ai <= AI_8BYTE) {
		/* 1, 2, 4 or 8 argument bytes; checked against what remains before
		 * any of them is read. */
		size_t n = (size_t)1 << (ai - AI_1BYTE);
		if (left_bytes(q, end) < n)
			return AIRLOCK_ERR_MALFORMED;
		arg = 0;
		for (size_t i = 0; i < n; i++)
			arg = (arg << 8) | q[i];
		q += n;
		if (major == AIRLOCK_CBOR_SIMPLE) {
			/* ai 24: a one-byte simple value; values below 32 must use
			 * the one-byte form and are not well-formed here (RFC 8949,
			 * section 3.3). ai 25..27 are floats: never deterministic
			 * for Airlock. */
			if (ai == AI_1BYTE && arg < 32)
				return AIRLOCK_ERR_MALFORMED;
			return AIRLOCK_ERR_NONCANONICAL;
		}
		/* Shortest form: each wider encoding is only allowed for values
		 * that do not fit the narrower one. */
		static const uint64_t min_arg[4] = { 24, 0x100, 0x10000, 0x100000000 };
		if (arg < min_arg[ai - AI_1BYTE])
			return AIRLOCK_ERR_NONCANONICAL;
	} else if (ai < AI_INDEFINITE) {
		return AIRLOCK_ERR_MALFORMED;   /* 28..30 are reserved */
	} else {
		/* Indefinite length is well-formed for strings, arrays and maps
		 * but never deterministic; for integers and tags it is not
		 * well-formed, and in major 7 it is a break with nothing to end. */
		if (major >= AIRLOCK_CBOR_BSTR && major <= AIRLOCK_CBOR_MAP)
			return AIRLOCK_ERR_NONCANONICAL;
		return AIRLOCK_ERR_MALFORMED;
	}

	uint64_t rest = left_bytes(q, end);
	switch (major) {
	case AIRLOCK_CBOR_UINT:
	case AIRLOCK_CBOR_NINT:
		break;
	case AIRLOCK_CBOR_BSTR:
	case AIRLOCK_CBOR_TSTR:
	case AIRLOCK_CBOR_ARRAY:
		/* A string needs arg bytes, an array at least one per element:
		 * either way arg may not exceed what remains. This also bounds
		 * arg by SIZE_MAX, so later casts to size_t are exact. */
		if (arg > rest)
			return AIRLOCK_ERR_MALFORMED;
		break;
	case AIRLOCK_CBOR_MAP:
		/* Each pair is at least two bytes; dividing avoids computing
		 * 2 * arg, which could wrap for arg >= 2^63. */
		if (arg > rest / 2)
			return AIRLOCK_ERR_MALFORMED;
		break;
	case AIRLOCK_CBOR_TAG:
		/* Tags are refused without looking at the tagged item. */
		return AIRLOCK_ERR_NONCANONICAL;
	default:   /* AIRLOCK_CBOR_SIMPLE with ai < 24 */
		if (ib != CBOR_FALSE && ib != CBOR_TRUE)
			return AIRLOCK_ERR_NONCANONICAL;
		break;
	}
	h->major = major;
	h->ib = ib;
	h->arg = arg;
	h->next = q;
	return AIRLOCK_OK;
}

/*
 * UTF-8 as in RFC 3629 / Unicode table 3-7: the second byte's range depends
 * on the lead byte, which excludes overlongs (C0, C1, E0 80..9F, F0 80..8F),
 * surrogates (ED A0..BF) and code points above U+10FFFF (F4 90.., F5..FF).
 * NUL bytes are valid characters; nothing here assumes a terminator.
 */
static bool utf8_valid(const uint8_t *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint8_t c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t more;
		uint8_t lo = 0x80, hi = 0xbf;
		if (c >= 0xc2 && c <= 0xdf) {
			more = 1;
		} else if (c == 0xe0) {
			more = 2;
			lo = 0xa0;
		} else if (c == 0xed) {
			more = 2;
			hi = 0x9f;
		} else if (c >= 0xe1 && c <= 0xef) {
			more = 2;
		} else if (c == 0xf0) {
			more = 3;
			lo = 0x90;
		} else if (c >= 0xf1 && c <= 0xf3) {
			more = 3;
		} else if (c == 0xf4) {
			more = 3;
			hi = 0x8f;
		} else {
			return false;   /* 80..C1 as lead byte, F5..FF */
		}
		/* i < n, so n - i - 1 does not wrap. */
		if (more > n - i - 1)
			return false;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (size_t k = 2; k <= more; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
		i += more + 1;
	}
	return true;
}

/* Deterministic order of integer keys: all of major 0 before major 1, and
 * within a major by argument, which is the bytewise order of shortest-form
 * heads (a longer head starts with a larger initial byte). */
static bool key_after(uint8_t major, uint64_t arg, uint8_t prev_major, uint64_t prev_arg)
{
	if (major != prev_major)
		return major > prev_major;
	return arg > prev_arg;
}

/* An integer head as int64_t, or AIRLOCK_ERR_BAD_VALUE. */
AIRLOCK_MUST_USE static airlock_err head_to_int(const struct head *h, int64_t *v)
{
	/* uint: at most INT64_MAX. nint: the value is -1 - arg, which is at
	 * least INT64_MIN exactly when arg <= INT64_MAX; computing it in
	 * int64_t after that check cannot overflow. */
	if (h->arg > (uint64_t)INT64_MAX)
		return AIRLOCK_ERR_BAD_VALUE;
	int64_t a = (int64_t)h->arg;
	*v = h->major == AIRLOCK_CBOR_UINT ? a : -1 - a;
	return AIRLOCK_OK;
}

void airlock_cbor_dec_init(struct airlock_cbor_dec *d, const uint8_t *buf, size_t len)
{
	d->p = buf;
	/* NULL + 0 is undefined in C; an empty buffer is p == end either way. */
	d->end = len ? buf + len : buf;
}

airlock_err airlock_cbor_peek(const struct airlock_cbor_dec *d, enum airlock_cbor_major *major)
{
	if (left_bytes(d->p, d->end) < 1)
		return AIRLOCK_ERR_MALFORMED;
	*major = (enum airlock_cbor_major)(d->p[0] >> 5);
	return AIRLOCK_OK;
}

/* Decodes the next head and requires the given major type. */
AIRLOCK_MUST_USE static airlock_err expect(const struct airlock_cbor_dec *d, uint8_t major, struct head *h)
{
	airlock_err err = decode_head(d->p, d->end, h);
	if (err != AIRLOCK_OK)
		return err;
	if (h->major != major)
		return AIRLOCK_ERR_WRONG_TYPE;
	return AIRLOCK_OK;
}

airlock_err airlock_cbor_read_uint(struct airlock_cbor_dec *d, uint64_t *v)
{
	struct head h;
	airlock_err err = expect(d, AIRLOCK_CBOR_UINT, &h);
	if (err != AIRLOCK_OK)
		return err;
	*v = h.arg;
	d->p = h.next;
	return AIRLOCK_OK;
}

airlock_err airlock_cbor_read_int(struct airlock_cbor_dec *d, int64_t *v)
{
	struct head h;
	airlock_err err = decode_head(d->p, d->end, &h);
	if (err != AIRLOCK_OK)
		return err;
	if (h.major != AIRLOCK_CBOR_UINT && h.major != AIRLOCK_CBOR_NINT)
		return AIRLOCK_ERR_WRONG_TYPE;
	int64_t x;
	err = head_to_int(&h, &x);
	if (err != AIRLOCK_OK)
		return err;
	*v = x;
	d->p = h.next;
	return AIRLOCK_OK;
}

airlock_err airlock_cbor_read_bstr(struct airlock_cbor_dec *d, const uint8_t **p, size_t *len)
{
	struct head h;
	airlock_err err = expect(d, AIRLOCK_CBOR_BSTR, &h);
	if (err != AIRLOCK_OK)
		return err;
	/* decode_head checked arg <= bytes after the head, so it fits size_t
	 * and h.next + arg stays within the buffer. */
	*p = h.next;
	*len = (size_t)h.arg;
	d->p = h.next + (size_t)h.arg;
	return AIRLOCK_OK;
}

airlock_err airlock_cbor_read_tstr(struct airlock_cbor_dec *d, const char **p, size_t *len)
{
	struct head h;
	airlock_err err = expect(d, AIRLOCK_CBOR_TSTR, &h);
	if (err != AIRLOCK_OK)
		return err;
	/* Length bounded by the input as in read_bstr. */
	if (!utf8_valid(h.next, (size_t)h.arg))
		return AIRLOCK_ERR_MALFORMED;
	*p = (const char *)h.next;
	*len = (size_t)h.arg;
	d->p = h.next + (size_t)h.arg;
	return AIRLOCK_OK;
}

airlock_err airlock_cbor_read_bool(struct airlock_cbor_dec *d, bool *v)
{
	struct head h;
	airlock_err err = expect(d, AIRLOCK_CBOR_SIMPLE, &h);
	if (err != AIRLOCK_OK)
		return err;
	/* decode_head lets only false and true through in major 7. */
	*v = h.ib == CBOR_TRUE;
	d->p = h.next;
	return AIRLOCK_OK;
}

airlock_err airlock_cbor_read_array(struct airlock_cbor_dec *d, size_t *count)
{
	struct head h;
	airlock_err err = expect(d, AIRLOCK_CBOR_ARRAY, &h);
	if (err != AIRLOCK_OK)
		return err;
	/* arg <= remaining bytes (decode_head), so the cast is exact. */
	*count = (size_t)h.arg;
	d->p = h.next;
	return AIRLOCK_OK;
}

airlock_err airlock_cbor_read_map(struct airlock_cbor_dec *d, size_t *count)
{
	struct head h;
	airlock_err err = expect(d, AIRLOCK_CBOR_MAP, &h);
	if (err != AIRLOCK_OK)
		return err;
	/* arg <= remaining / 2 (decode_head), so the cast is exact. */
	*count = (size_t)h.arg;
	d->p = h.next;
	return AIRLOCK_OK;
}

airlock_err airlock_cbor_map_begin(struct airlock_cbor_dec *d, struct airlock_cbor_map *m)
{
	size_t count;
	airlock_err err = airlock_cbor_read_map(d, &count);
	if (err != AIRLOCK_OK)
		return err;
	m->left = count;
	m->have_prev = false;
	m->done = count == 0;
	m->prev_major = 0;
	m->prev_arg = 0;
	return AIRLOCK_OK;
}

/*
 * Reads the next key. Keys must be integers (WRONG_TYPE), strictly after the
 * previous key (DUPLICATE_KEY) and representable as int64_t (BAD_VALUE: a key
 * such as 2^64 - 1 is canonical CBOR but no caller could name it). Neither the
 * cursor nor *m changes on error.
 */
airlock_err airlock_cbor_map_next(struct airlock_cbor_dec *d, struct airlock_cbor_map *m, int64_t *key)
{
	if (m->done || m->left == 0) {
		m->done = true;
		return AIRLOCK_OK;
	}
	struct head h;
	airlock_err err = decode_head(d->p, d->end, &h);
	if (err != AIRLOCK_OK)
		return err;
	if (h.major != AIRLOCK_CBOR_UINT && h.major != AIRLOCK_CBOR_NINT)
		return AIRLOCK_ERR_WRONG_TYPE;
	if (m->have_prev && !key_after(h.major, h.arg, m->prev_major, m->prev_arg))
		return AIRLOCK_ERR_DUPLICATE_KEY;
	int64_t k;
	err = head_to_int(&h, &k);
	if (err != AIRLOCK_OK)
		return err;
	*key = k;
	d->p = h.next;
	m->left--;
	m->have_prev = true;
	m->prev_major = h.major;
	m->prev_arg = h.arg;
	return AIRLOCK_OK;
}

/* One open array or map while skipping. */
struct skip_frame {
	uint64_t left;        /* items still to read; for a map 2 * pairs */
	uint64_t prev_arg;    /* last map key, when have_prev */
	uint8_t prev_major;
	bool is_map;
	bool have_prev;
};

/*
 * Iterative, with one frame per open container on the stack, so depth is
 * bounded by AIRLOCK_CBOR_MAX_DEPTH and not by the input. Every container
 * head counts as one level, empty or not: AIRLOCK_CBOR_MAX_DEPTH nested
 * arrays are accepted, one more is AIRLOCK_ERR_LIMIT. Map keys obey the same
 * rules as airlock_cbor_map_next(), so whatever skip() accepts, the typed
 * readers can walk. Integers outside map keys are not range-checked: a
 * negative integer below INT64_MIN is canonical CBOR and may be skipped.
 * Each iteration consumes at least one byte, so the loop is linear in the
 * input.
 */
airlock_err airlock_cbor_skip(struct airlock_cbor_dec *d)
{
	struct skip_frame stack[AIRLOCK_CBOR_MAX_DEPTH];
	size_t depth = 0;
	const uint8_t *p = d->p;

	for (;;) {
		struct head h;
		airlock_err err = decode_head(p, d->end, &h);
		if (err != AIRLOCK_OK)
			return err;

		struct skip_frame *top = depth ? &stack[depth - 1] : NULL;
		/* A map's left starts even and drops by one per completed item,
		 * so an even count means the next item is a key. */
		if (top && top->is_map && top->left % 2 == 0) {
			if (h.major != AIRLOCK_CBOR_UINT && h.major != AIRLOCK_CBOR_NINT)
				return AIRLOCK_ERR_WRONG_TYPE;
			if (top->have_prev && !key_after(h.major, h.arg, top->prev_major, top->prev_arg))
				return AIRLOCK_ERR_DUPLICATE_KEY;
			if (h.arg > (uint64_t)INT64_MAX)
				return AIRLOCK_ERR_BAD_VALUE;
			top->have_prev = true;
			top->prev_major = h.major;
			top->prev_arg = h.arg;
		}

		p = h.next;
		switch (h.major) {
		case AIRLOCK_CBOR_TSTR:
			if (!utf8_valid(p, (size_t)h.arg))
				return AIRLOCK_ERR_MALFORMED;
			/* fall through */
		case AIRLOCK_CBOR_BSTR:
			/* arg <= bytes after the head (decode_head). */
			p += (size_t)h.arg;
			break;
		case AIRLOCK_CBOR_ARRAY:
		case AIRLOCK_CBOR_MAP:
			if (depth == AIRLOCK_CBOR_MAX_DEPTH)
				return AIRLOCK_ERR_LIMIT;
			if (h.arg == 0)
				break;   /* complete already; no frame needed */
			/* For a map arg <= remaining / 2 < 2^63, so 2 * arg fits. */
			stack[depth].left = h.major == AIRLOCK_CBOR_MAP ? 2 * h.arg : h.arg;
			stack[depth].is_map = h.major == AIRLOCK_CBOR_MAP;
			stack[depth].have_prev = false;
			stack[depth].prev_major = 0;
			stack[depth].prev_arg = 0;
			depth++;
			continue;
		default:
			break;   /* integers and booleans: the head is the item */
		}

		/* One item is complete: count it in its container, and close
		 * every container that it completes in turn. */
		while (depth > 0) {
			if (--stack[depth - 1].left > 0)
				break;
			depth--;
		}
		if (depth == 0)
			break;
	}
	d->p = p;
	return AIRLOCK_OK;
}

airlock_err airlock_cbor_dec_finish(const struct airlock_cbor_dec *d)
{
	if (d->p != d->end)
		return AIRLOCK_ERR_TRAILING_DATA;
	return AIRLOCK_OK;
}

void airlock_cbor_enc_init(struct airlock_cbor_enc *e, uint8_t *buf, size_t cap)
{
	e->buf = buf;
	/* Without a buffer nothing can be written: a NULL buffer only measures. */
	e->cap = buf ? cap : 0;
	e->len = 0;
	e->overflow = false;
}

/*
 * Appends n bytes if all of them fit, otherwise writes nothing and records
 * the overflow. len keeps counting (saturating at SIZE_MAX) so that the
 * caller learns the size needed. Once an append failed, len > cap, so no
 * later item is written after the gap.
 */
static void append(struct airlock_cbor_enc *e, const void *src, size_t n)
{
	if (!e->overflow && e->len <= e->cap && n <= e->cap - e->len) {
		if (n > 0)
			memcpy(e->buf + e->len, src, n);
	} else {
		e->overflow = true;
	}
	e->len = n <= SIZE_MAX - e->len ? e->len + n : SIZE_MAX;
}

/* Shortest-form head: the argument in the fewest of 0, 1, 2, 4 or 8 bytes. */
static void put_head(struct airlock_cbor_enc *e, uint8_t major, uint64_t arg)
{
	uint8_t h[9];
	size_t n;
	uint8_t mt = (uint8_t)(major << 5);

	if (arg < AI_1BYTE) {
		h[0] = (uint8_t)(mt | arg);
		n = 1;
	} else if (arg <= 0xff) {
		h[0] = (uint8_t)(mt | AI_1BYTE);
		n = 2;
	} else if (arg <= 0xffff) {
		h[0] = (uint8_t)(mt | AI_2BYTE);
		n = 3;
	} else if (arg <= 0xffffffff) {
		h[0] = (uint8_t)(mt | AI_4BYTE);
		n = 5;
	} else {
		h[0] = (uint8_t)(mt | AI_8BYTE);
		n = 9;
	}
	for (size_t i = n - 1; i >= 1; i--) {
		h[i] = (uint8_t)(arg & 0xff);
		arg >>= 8;
	}
	append(e, h, n);
}

void airlock_cbor_put_uint(struct airlock_cbor_enc *e, uint64_t v)
{
	put_head(e, AIRLOCK_CBOR_UINT, v);
}

void airlock_cbor_put_int(struct airlock_cbor_enc *e, int64_t v)
{
	if (v >= 0) {
		put_head(e, AIRLOCK_CBOR_UINT, (uint64_t)v);
	} else {
		/* -1 - v is in [0, INT64_MAX] for every negative v, INT64_MIN
		 * included, so it neither overflows nor goes negative. */
		put_head(e, AIRLOCK_CBOR_NINT, (uint64_t)(-1 - v));
	}
}

void airlock_cbor_put_bstr(struct airlock_cbor_enc *e, const void *p, size_t len)
{
	put_head(e, AIRLOCK_CBOR_BSTR, (uint64_t)len);
	append(e, p, len);
}

void airlock_cbor_put_tstr(struct airlock_cbor_enc *e, const char *p, size_t len)
{
	put_head(e, AIRLOCK_CBOR_TSTR, (uint64_t)len);
	append(e, p, len);
}

void airlock_cbor_put_bool(struct airlock_cbor_enc *e, bool v)
{
	uint8_t b = v ? CBOR_TRUE : CBOR_FALSE;
	append(e, &b, 1);
}

void airlock_cbor_put_array(struct airlock_cbor_enc *e, size_t count)
{
	put_head(e, AIRLOCK_CBOR_ARRAY, (uint64_t)count);
}

void airlock_cbor_put_map(struct airlock_cbor_enc *e, size_t count)
{
	put_head(e, AIRLOCK_CBOR_MAP, (uint64_t)count);
}

void airlock_cbor_put_raw(struct airlock_cbor_enc *e, const void *p, size_t len)
{
	append(e, p, len);
}

airlock_err airlock_cbor_enc_finish(const struct airlock_cbor_enc *e, size_t *len)
{
	*len = e->len;
	return e->overflow ? AIRLOCK_ERR_BUFFER_TOO_SMALL : AIRLOCK_OK;
}
