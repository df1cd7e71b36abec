/* SPDX-License-Identifier: MIT */
/* "Did you mean" and the reasons a word is refused. */
#include "pard/suggest.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Names longer than this are never typos of a command or kind. */
#define SUGGEST_MAX 64

/* Optimal string alignment distance: Levenshtein plus the swap of two neighbours ("sumbit"). */
static unsigned distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > SUGGEST_MAX || lb > SUGGEST_MAX)
		return UINT32_MAX;
	unsigned d[SUGGEST_MAX + 1][SUGGEST_MAX + 1];
	for (size_t i = 0; i <= la; i++)
		d[i][0] = (unsigned)i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			unsigned cost = a[i - 1] != b[j - 1];
			unsigned best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < best)
				best = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[la][lb];
}

const char *pard_suggest(const char *word, pard_name_at_fn *name_at, size_t n, const void *ctx)
{
	size_t wl = strlen(word);
	unsigned limit = wl <= 4 ? 1 : 2;
	const char *best = NULL;
	unsigned best_d = UINT32_MAX;
	for (size_t i = 0; i < n; i++) {
		const char *name = name_at(i, ctx);
		if (!strcmp(name, word))
			return NULL;
		unsigned d = distance(word, name);
		/* An abbreviation ("sub") counts as one edit, ahead of any farther typo. */
		if (wl >= 2 && !strncmp(name, word, wl) && d > 1)
			d = 1;
		if (d <= limit && d < best_d) {
			best = name;
			best_d = d;
		}
	}
	return best;
}

static const char *array_at(size_t i, const void *ctx)
{
	return ((const char *const *)ctx)[i];
}

const char *pard_suggest_among(const char *word, const char *const *names)
{
	size_t n = 0;
	while (names[n])
		n++;
	return pard_suggest(word, array_at, n, names);
}

/* Characters pasted from web pages, PDFs and word processors that look like ASCII ones. */
static const struct {
	uint32_t code;
	const char *name, *instead;
} lookalikes[] = {
	{0x2212, "MINUS SIGN", "hyphen-minus '-'"},
	{0x2010, "HYPHEN", "hyphen-minus '-'"},
	{0x2011, "NON-BREAKING HYPHEN", "hyphen-minus '-'"},
	{0x2013, "EN DASH", "hyphen-minus '-'"},
	{0x2014, "EM DASH", "hyphen-minus '-'"},
	{0x00a0, "NO-BREAK SPACE", "space"},
	{0x202f, "NARROW NO-BREAK SPACE", "space"},
	{0x2018, "LEFT SINGLE QUOTATION MARK", "quote \"'\""},
	{0x2019, "RIGHT SINGLE QUOTATION MARK", "quote \"'\""},
	{0x201c, "LEFT DOUBLE QUOTATION MARK", "quote '\"'"},
	{0x201d, "RIGHT DOUBLE QUOTATION MARK", "quote '\"'"},
	{0x00d7, "MULTIPLICATION SIGN", "letter 'x'"},
};

/* Decodes the UTF-8 sequence at p; 0 with *len 1 when it is not valid UTF-8. */
static uint32_t utf8_at(const unsigned char *p, size_t *len)
{
	uint32_t c;
	size_t n;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		c = p[0] & 0x1f;
		n = 2;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		c = p[0] & 0x0f;
		n = 3;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		c = p[0] & 0x07;
		n = 4;
	} else {
		*len = 1;
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80) {
			*len = 1;
			return 0;
		}
		c = c << 6 | (p[i] & 0x3f);
	}
	*len = n;
	return c;
}

const char *pard_word_problem(const char *word, char *buf, size_t len)
{
	if (!*word) {
		snprintf(buf, len, "is empty");
		return buf;
	}
	for (const unsigned char *p = (const unsigned char *)word; *p;) {
		if (*p == ' ') {
			snprintf(buf, len, "contains a space");
			return buf;
		}
		if (*p == '\t' || *p == '\n' || *p == '\r') {
			snprintf(buf, len, "contains a %s", *p == '\t' ? "tab" : "line break");
			return buf;
		}
		if (*p < 0x20 || *p == 0x7f) {
			snprintf(buf, len, "contains the control character \\x%02x", *p);
			return buf;
		}
		if (*p < 0x80) {
			p++;
			continue;
		}
		size_t n;
		uint32_t c = utf8_at(p, &n);
		if (!c) {
			snprintf(buf, len, "contains the byte \\x%02x, which is not ASCII (nor UTF-8)", *p);
			return buf;
		}
		for (size_t i = 0; i < sizeof(lookalikes) / sizeof(lookalikes[0]); i++) {
			if (lookalikes[i].code == c) {
				snprintf(buf, len, "contains U+%04X %s, which looks like the ASCII %s but is not",
					 (unsigned)c, lookalikes[i].name, lookalikes[i].instead);
				return buf;
			}
		}
		snprintf(buf, len, "contains the non-ASCII character U+%04X (requests are ASCII)", (unsigned)c);
		return buf;
	}
	snprintf(buf, len, "is fine");
	return buf;
}
