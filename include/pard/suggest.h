/* SPDX-License-Identifier: MIT */
/* "Did you mean": the known name closest to a mistyped one, and what is wrong with a word that
 * cannot go into a request, in words a person can act on. */
#ifndef PARD_SUGGEST_H
#define PARD_SUGGEST_H

#include <stddef.h>

/* The i-th candidate name (i < n). */
typedef const char *pard_name_at_fn(size_t i, const void *ctx);

/* The candidate closest to word by edit distance (insert, delete, replace, swap two neighbours),
 * when it is close enough to be a likely typo (at most 1 edit for words up to 4 letters, 2 for
 * longer ones) or starts with word (an abbreviation of at least 2 letters); the first of equals.
 * NULL when none is, or when word is a candidate itself. */
const char *pard_suggest(const char *word, pard_name_at_fn *name_at, size_t n, const void *ctx);
/* The same over a NULL-terminated array of names. */
const char *pard_suggest_among(const char *word, const char *const *names);

/* Why word cannot be a request word (see pard_request_word_ok), into buf: "is empty", "contains
 * a space", "contains the control character \x1b", "contains U+2212 MINUS SIGN, which looks like
 * the ASCII hyphen-minus '-' but is not", "contains the non-ASCII character U+00E9". Returns buf. */
const char *pard_word_problem(const char *word, char *buf, size_t len);

#endif
