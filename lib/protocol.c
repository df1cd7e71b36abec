/* SPDX-License-Identifier: MIT */
/* Reply parsing for the text-line protocol, shared by parctl, the tests and the load generator. */
#include "pard/protocol.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pard/parse.h"

int pard_reply_parse(char *line, struct pard_reply *r)
{
	memset(r, 0, sizeof(*r));
	char *words[PARD_MAX_REPLY_KEYS + 1];
	if (strncmp(line, "ERR ", 4) == 0) {
		char *code = line + 4;
		char *sp = strchr(code, ' ');
		if (sp) {
			*sp = '\0';
			r->message = sp + 1;
		} else {
			r->message = "";
		}
		if (!*code)
			return -EINVAL;
		r->code = code;
		return 0;
	}
	int n = pard_split_words(line, words, PARD_MAX_REPLY_KEYS + 1);
	if (n < 0)
		return -E2BIG;
	if (n == 0)
		return -EINVAL;
	if (strcmp(words[0], "OK") == 0)
		r->ok = true;
	else
		r->word = words[0];
	for (int i = 1; i < n; i++) {
		char *k, *v;
		if (!pard_split_option(words[i], &k, &v))
			return -EINVAL;
		r->keys[r->nkeys] = k;
		r->values[r->nkeys] = v;
		r->nkeys++;
	}
	return 0;
}

const char *pard_reply_get(const struct pard_reply *r, const char *key)
{
	for (int i = 0; i < r->nkeys; i++)
		if (strcmp(r->keys[i], key) == 0)
			return r->values[i];
	return NULL;
}

bool pard_value_is_safe(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s <= ' ' || *s == 0x7f)
			return false;
	return true;
}

const char *pard_reply_get_or(const struct pard_reply *r, const char *key, const char *dflt)
{
	const char *v = pard_reply_get(r, key);
	return v ? v : dflt;
}

const char *pard_escape(const char *s, char *buf, size_t len)
{
	size_t n = 0;
	if (!len)
		return "";
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		char tmp[5];
		if (*c == '\n')
			snprintf(tmp, sizeof(tmp), "\\n");
		else if (*c == '\t')
			snprintf(tmp, sizeof(tmp), "\\t");
		else if (*c == '\\' || *c == '"')
			snprintf(tmp, sizeof(tmp), "\\%c", *c);
		else if (*c < 0x20 || *c == 0x7f)
			snprintf(tmp, sizeof(tmp), "\\x%02x", *c);
		else
			snprintf(tmp, sizeof(tmp), "%c", *c);
		size_t tl = strlen(tmp);
		if (n + tl + 4 >= len) {
			/* Cut with an ellipsis rather than mid-escape. */
			memcpy(buf + n, "...", 4);
			return buf;
		}
		memcpy(buf + n, tmp, tl);
		n += tl;
	}
	buf[n] = '\0';
	return buf;
}
