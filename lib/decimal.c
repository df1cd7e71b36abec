/* SPDX-License-Identifier: MIT */
/* Decimal text of numbers with integer arithmetic; see pard/decimal.h. */
#include "pard/decimal.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const uint64_t pow10_64[] = {
	1u,
	10u,
	100u,
	1000u,
	10000u,
	100000u,
	1000000u,
	10000000u,
	100000000u,
	1000000000u,
	10000000000u,
	100000000000u,
	1000000000000u,
	10000000000000u,
	100000000000000u,
	1000000000000000u,
	10000000000000000u,
	100000000000000000u,
	1000000000000000000u,
	10000000000000000000u,
};

/* "00".."99": two digits per division, which halves the divisions of a number (every small job's
 * reply carries a dozen numbers). */
static const char digit_pairs[201] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
				     "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
				     "8081828384858687888990919293949596979899";

/* Writes x in decimal, at least width digits (zeros in front; width <= 20); returns the digits
 * written. */
static size_t put_digits(char *out, uint64_t x, unsigned width)
{
	/* The digits of x from its bits: log10(2) ~ 1233 / 4096, off by at most one. */
	unsigned t = (unsigned)(64 - __builtin_clzll(x | 1u)) * 1233u >> 12;
	size_t n = t + (x >= pow10_64[t]);
	n += !n;
	if (n < width)
		n = width;
	char *p = out + n;
	while (x >= 100u) {
		unsigned pair = (unsigned)(x % 100u) * 2u;
		x /= 100u;
		*--p = digit_pairs[pair + 1];
		*--p = digit_pairs[pair];
	}
	if (x >= 10u) {
		*--p = digit_pairs[x * 2u + 1];
		*--p = digit_pairs[x * 2u];
	} else {
		*--p = (char)('0' + x);
	}
	while (p > out)
		*--p = '0';
	return n;
}

size_t pard_put_u64(char *out, uint64_t v)
{
	return put_digits(out, v, 1);
}

int pard_format_seconds(char *buf, size_t len, uint64_t ns)
{
	uint64_t us = ns / 1000u + (ns % 1000u >= 500u);
	char text[32];
	size_t n = put_digits(text, us / 1000000u, 1);
	text[n++] = '.';
	n += put_digits(text + n, us % 1000000u, 6);
	if (n >= len)
		return -1;
	memcpy(buf, text, n);
	buf[n] = '\0';
	return (int)n;
}

/* Copies text (NUL-terminated, n bytes) into buf as snprintf would. */
static int emit(char *buf, size_t len, const char *text, size_t n)
{
	if (len) {
		size_t c = n < len - 1 ? n : len - 1;
		memcpy(buf, text, c);
		buf[c] = '\0';
	}
	return (int)n;
}

#ifdef __SIZEOF_INT128__
__extension__ typedef unsigned __int128 u128;

/* round(v * 10^k), the exact product rounded half to even, for 0 <= v < 2^63 and 0 <= k <= 19;
 * false when the result does not fit 64 bits. */
static bool scaled_round(double v, unsigned k, uint64_t *out)
{
	if (v == 0.0) {
		*out = 0;
		return true;
	}
	/* v = m * 2^q exactly, from the bits (IEEE 754 binary64; subnormals have no hidden bit). */
	uint64_t bits;
	memcpy(&bits, &v, sizeof(bits));
	int biased = (int)(bits >> 52 & 0x7ffu);
	uint64_t m = bits & ((UINT64_C(1) << 52) - 1u);
	int q = -1074;
	if (biased) {
		m |= UINT64_C(1) << 52;
		q = biased - 1075;
	}
	u128 x = (u128)m * pow10_64[k]; /* < 2^53 * 2^64 */
	if (q >= 0) {
		if (q > 10 || x >> (64 - q))
			return false;
		*out = (uint64_t)(x << q);
		return true;
	}
	unsigned s = (unsigned)-q;
	if (s >= 128) {
		*out = 0; /* x < 2^117, so x / 2^s < 1/2 */
		return true;
	}
	u128 n = x >> s, rem = x - (n << s), half = (u128)1 << (s - 1);
	if (rem > half || (rem == half && (n & 1u)))
		n++;
	if (n >> 64)
		return false;
	*out = (uint64_t)n;
	return true;
}
#endif

int pard_format_fixed(char *buf, size_t len, double v, unsigned decimals)
{
#ifdef __SIZEOF_INT128__
	uint64_t n;
	if (v >= 0.0 && v < 1e9 && decimals <= 10 && !signbit(v) && scaled_round(v, decimals, &n)) {
		char text[40];
		size_t used = put_digits(text, n / pow10_64[decimals], 1);
		if (decimals) {
			text[used++] = '.';
			used += put_digits(text + used, n % pow10_64[decimals], decimals);
		}
		text[used] = '\0';
		return emit(buf, len, text, used);
	}
#endif
	return snprintf(buf, len, "%.*f", (int)decimals, v);
}

int pard_format_exp(char *buf, size_t len, double v, unsigned digits)
{
#ifdef __SIZEOF_INT128__
	if (v > 0.0 && v < 1e4 && digits <= 6 && isfinite(v)) {
		/* The exponent E of the first digit: 10^digits <= round(v * 10^(digits - E)) < 10^(digits + 1). */
		int exp10 = (int)floor(log10(v));
		uint64_t n = 0;
		bool ok = false;
		for (int tries = 0; tries < 3; tries++) {
			int k = (int)digits - exp10;
			if (k < 0 || k > 19 || !scaled_round(v, (unsigned)k, &n))
				break;
			if (n >= pow10_64[digits + 1])
				exp10++;
			else if (n < pow10_64[digits])
				exp10--;
			else {
				ok = true;
				break;
			}
		}
		if (ok) {
			char text[40];
			size_t used = put_digits(text, n / pow10_64[digits], 1);
			if (digits) {
				text[used++] = '.';
				used += put_digits(text + used, n % pow10_64[digits], digits);
			}
			text[used++] = 'e';
			text[used++] = exp10 < 0 ? '-' : '+';
			used += put_digits(text + used, (uint64_t)(exp10 < 0 ? -exp10 : exp10), 2);
			text[used] = '\0';
			return emit(buf, len, text, used);
		}
	}
#endif
	return snprintf(buf, len, "%.*e", (int)digits, v);
}
