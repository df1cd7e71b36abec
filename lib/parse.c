/* SPDX-License-Identifier: MIT */
/* Strict number and argument parsing: reject anything that is not exactly a number in range. */
#include "pard/parse.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int pard_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	/* Plain digits, the common case (every small job's trials and seed), without strtoull's
	 * locale-aware generality: 19 digits always fit 64 bits. */
	uint64_t fast = 0;
	size_t nd = 0;
	while (nd < 19 && s[nd] >= '0' && s[nd] <= '9')
		fast = fast * 10u + (uint64_t)(s[nd++] - '0');
	if (!s[nd]) {
		if (fast < min || fast > max)
			return -ERANGE;
		*out = fast;
		return 0;
	}
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (*end == 'e' || *end == 'E') {
		/* 1e9 style: only exact integers below 2^64 are accepted. */
		char *eend;
		if (!isdigit((unsigned char)end[1]))
			return -EINVAL;
		errno = 0;
		long exp = strtol(end + 1, &eend, 10);
		if (*eend || eend == end + 1 || exp < 0 || errno)
			return -EINVAL;
		if (exp > 19)
			return -ERANGE;
		for (long i = 0; i < exp; i++) {
			if (v > UINT64_MAX / 10)
				return -ERANGE;
			v *= 10;
		}
		end = eend;
	} else if (errno == ERANGE) {
		return -ERANGE;
	}
	if (*end || end == s)
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static const char *skip_digits(const char *p)
{
	while (is_digit(*p))
		p++;
	return p;
}

/* The protocol's decimal grammar, -?D+(.D+)?([eE][+-]?D+)?, checked before strtod sees the text:
 * strtod alone also reads hex (0x1p3), inf, nan, leading blanks and a plus sign. */
static bool is_decimal(const char *s)
{
	const char *p = s + (*s == '-');
	const char *q = skip_digits(p);
	if (q == p)
		return false;
	if (*q == '.') {
		p = q + 1;
		q = skip_digits(p);
		if (q == p)
			return false;
	}
	if (*q == 'e' || *q == 'E') {
		p = q + 1;
		p += *p == '+' || *p == '-';
		q = skip_digits(p);
		if (q == p)
			return false;
	}
	return *q == '\0';
}

int pard_parse_double(const char *s, double *out)
{
	if (!s || !is_decimal(s))
		return -EINVAL;
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (*end || end == s || errno || !isfinite(v))
		return -EINVAL;
	*out = v;
	return 0;
}

bool pard_split_option(char *arg, char **key, char **value)
{
	char *eq = strchr(arg, '=');
	if (!eq || eq == arg)
		return false;
	*eq = '\0';
	*key = arg;
	*value = eq + 1;
	return true;
}

int pard_split_words(char *line, char **words, int max)
{
	int n = 0;
	char *p = line;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			return n;
		if (n == max)
			return -E2BIG;
		words[n++] = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		if (*p)
			*p++ = '\0';
	}
}
