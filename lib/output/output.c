/* SPDX-License-Identifier: MIT */
/* Reply output: aligned text for people or one JSON object for programs. */
#include "output.h"

#include <ctype.h>
#include <string.h>

static bool is_json_number(const char *v)
{
	/* JSON numbers: -?digits(.digits)?(e[+-]digits)?, no leading '+', no "inf"/"nan". */
	const char *p = v;
	if (*p == '-')
		p++;
	if (!isdigit((unsigned char)*p))
		return false;
	if (*p == '0' && isdigit((unsigned char)p[1]))
		return false;
	while (isdigit((unsigned char)*p))
		p++;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return false;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!isdigit((unsigned char)*p))
			return false;
		while (isdigit((unsigned char)*p))
			p++;
	}
	return *p == '\0';
}

void output_json_value(FILE *f, const char *v)
{
	if (is_json_number(v)) {
		fputs(v, f);
		return;
	}
	fputc('"', f);
	for (const unsigned char *s = (const unsigned char *)v; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if (*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

void output_json_object(FILE *f, const struct pard_reply *r)
{
	fputc('{', f);
	for (int i = 0; i < r->nkeys; i++) {
		if (i)
			fputs(", ", f);
		output_json_value(f, r->keys[i]);
		fputs(": ", f);
		output_json_value(f, r->values[i]);
	}
	fputc('}', f);
}

void output_pairs(FILE *f, bool json, const struct pard_reply *r)
{
	if (json) {
		output_json_object(f, r);
		fputc('\n', f);
		return;
	}
	int width = 0;
	for (int i = 0; i < r->nkeys; i++)
		if ((int)strlen(r->keys[i]) > width)
			width = (int)strlen(r->keys[i]);
	for (int i = 0; i < r->nkeys; i++)
		fprintf(f, "%-*s  %s\n", width, r->keys[i], r->values[i]);
}
