/* SPDX-License-Identifier: MIT */
/* Strict number and argument parsing shared by the daemon, the CLI and the kernels. */
#ifndef PARD_PARSE_H
#define PARD_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Parses a whole decimal unsigned integer in [min, max]. Accepts an exponent form such as 1e9
 * when it is an exact integer. Returns 0, -EINVAL (not a number) or -ERANGE (out of range). */
int pard_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* Parses a whole finite double written in decimal, -?D+(.D+)?([eE][+-]?D+)? (no hex, inf, nan,
 * blanks or plus sign, the same grammar as pard_parse_u64 plus sign and fraction).
 * Returns 0 or -EINVAL. */
int pard_parse_double(const char *s, double *out);
/* Splits "key=value" in place: returns true and sets *key and *value, or false if there is no '='. */
bool pard_split_option(char *arg, char **key, char **value);
/* Splits a line into at most max whitespace-separated words in place.
 * Returns the count, or -E2BIG when there are more than max. */
int pard_split_words(char *line, char **words, int max);

#endif
