/* SPDX-License-Identifier: MIT */
/* The option scanner every job kind shares: one grammar, one set of messages. */
#include "pard/options.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pard/parse.h"
#include "pard/suggest.h"

void pard_options_error(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int pard_options_usage(const struct pard_kernel *k, char *buf, size_t len)
{
	int used = snprintf(buf, len, "usage: %s %s", k->name, k->positional);
	for (const struct pard_kernel_option *o = k->options; used >= 0 && (size_t)used < len && o && o->name; o++) {
		int n = snprintf(buf + used, len - (size_t)used, " [%s=%s]", o->name, o->value ? o->value : "VALUE");
		used = n < 0 ? n : used + n;
	}
	return used < 0 || (size_t)used >= len ? -ENOSPC : used;
}

/* Reads a PARD_OPT_COUNT value: outside min..max is malformed, above a config cap is -ERANGE. */
static int scan_count(const struct pard_kernel_option *o, const char *name, const char *text,
		      const struct pard_limits *lim, uint64_t *out, char *err, size_t errlen)
{
	uint64_t hi = o->max;
	if (o->cap_of) {
		uint64_t cap = o->cap_of(lim);
		hi = cap < hi ? cap : hi;
	}
	uint64_t v;
	int rc = pard_parse_u64(text, 0, UINT64_MAX, &v);
	/* A number too big for 64 bits is over any cap, so it counts as above hi. */
	bool above = rc == -ERANGE || (rc == 0 && v > hi);
	if (above && o->cap_of) {
		pard_options_error(err, errlen, "%s %.40s exceeds %s %" PRIu64, name, text, o->cap, hi);
		return -ERANGE;
	}
	if (rc != 0 || above || v < o->min) {
		pard_options_error(err, errlen,
				   "%s must be a whole number from %" PRIu64 " to %" PRIu64 ", got '%.40s'", name,
				   o->min, hi, text);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int scan_value(const struct pard_kernel_option *o, const char *name, const char *text,
		      const struct pard_limits *lim, struct pard_option_value *out, char *err, size_t errlen)
{
	if (o->type == PARD_OPT_COUNT) {
		int rc = scan_count(o, name, text, lim, &out->count, err, errlen);
		if (rc < 0)
			return rc;
	}
	out->given = true;
	out->text = text;
	return 0;
}

static const char *option_name_at(size_t i, const void *ctx)
{
	return ((const struct pard_kernel_option *)ctx)[i].name;
}

/* The usage text errors end with; written only when there is an error (a request that parses
 * must not pay for it: every small job is parsed). */
static const char *usage_of(const struct pard_kernel *k, char *usage, size_t len)
{
	if (pard_options_usage(k, usage, len) < 0)
		snprintf(usage, len, "see help for %s", k->name);
	return usage;
}

int pard_options_scan(const struct pard_kernel *k, int argc, char *const argv[], const struct pard_limits *lim,
		      struct pard_options *out, char *err, size_t errlen)
{
	char usage[256];
	size_t nopts = 0;
	while (k->options && k->options[nopts].name)
		nopts++;
	if (nopts > PARD_MAX_KIND_OPTIONS || !k->positional_value) {
		pard_options_error(err, errlen, "%s declares its arguments wrongly (at most %d options)", k->name,
				   PARD_MAX_KIND_OPTIONS);
		return -EINVAL;
	}
	memset(out, 0, sizeof(*out));

	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i];
		if (!arg)
			continue;
		const char *eq = strchr(arg, '=');
		int rc;
		if (!eq) {
			if (out->positional.given) {
				pard_options_error(err, errlen,
						   "unexpected extra argument '%.40s': %s already given (%s)", arg,
						   k->positional, usage_of(k, usage, sizeof(usage)));
				return -EINVAL;
			}
			rc = scan_value(k->positional_value, k->positional, arg, lim, &out->positional, err, errlen);
			if (rc < 0)
				return rc;
			continue;
		}
		size_t keylen = (size_t)(eq - arg);
		if (keylen == 0) {
			pard_options_error(err, errlen, "malformed option '%.40s' (%s)", arg,
					   usage_of(k, usage, sizeof(usage)));
			return -EINVAL;
		}
		size_t j = 0;
		while (j < nopts &&
		       !(strncmp(k->options[j].name, arg, keylen) == 0 && k->options[j].name[keylen] == '\0'))
			j++;
		if (j == nopts) {
			char key[48], hint[64] = "";
			snprintf(key, sizeof(key), "%.*s", keylen > 40 ? 40 : (int)keylen, arg);
			const char *near = pard_suggest(key, option_name_at, nopts, k->options);
			if (near)
				snprintf(hint, sizeof(hint), "; did you mean '%s'?", near);
			pard_options_error(err, errlen, "unknown option '%s'%s (%s)", key, hint,
					   usage_of(k, usage, sizeof(usage)));
			return -EINVAL;
		}
		if (out->opt[j].given) {
			pard_options_error(err, errlen, "%s given twice", k->options[j].name);
			return -EINVAL;
		}
		rc = scan_value(&k->options[j], k->options[j].name, eq + 1, lim, &out->opt[j], err, errlen);
		if (rc < 0)
			return rc;
	}
	if (!out->positional.given) {
		pard_options_error(err, errlen, "missing %s (%s)", k->positional, usage_of(k, usage, sizeof(usage)));
		return -EINVAL;
	}
	return 0;
}
