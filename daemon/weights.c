/* SPDX-License-Identifier: MIT */
/* Fair-share weights per user: "NAME:W,@GROUP:W,UID:W" resolved to a table of uids. */
#include "weights.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pard/parse.h"

/* Sets uid's weight in the table (a uid given again takes the later weight). */
static int set(struct weights *w, uint32_t uid, uint32_t weight, char *err, size_t errlen)
{
	for (unsigned i = 0; i < w->n; i++)
		if (w->entry[i].uid == uid) {
			w->entry[i].weight = weight;
			return 0;
		}
	if (w->n == WEIGHTS_MAX_ENTRIES) {
		snprintf(err, errlen, "more than %d users (groups count each member)", WEIGHTS_MAX_ENTRIES);
		return -EINVAL;
	}
	w->entry[w->n].uid = uid;
	w->entry[w->n].weight = weight;
	w->n++;
	return 0;
}

static int set_group(struct weights *w, const char *name, uint32_t weight, char *err, size_t errlen)
{
	struct group *g = getgrnam(name);
	if (!g) {
		snprintf(err, errlen, "no group \"%.64s\"", name);
		return -EINVAL;
	}
	gid_t gid = g->gr_gid;
	/* getgrnam's and getpwnam's results are overwritten by the next call: copy the names first. */
	size_t nmem = 0;
	while (g->gr_mem[nmem])
		nmem++;
	char **mem = calloc(nmem + 1, sizeof(*mem));
	if (!mem) {
		snprintf(err, errlen, "out of memory");
		return -EINVAL;
	}
	int r = 0;
	for (size_t i = 0; i < nmem && r == 0; i++)
		if (!(mem[i] = strdup(g->gr_mem[i]))) {
			snprintf(err, errlen, "out of memory");
			r = -EINVAL;
		}
	for (size_t i = 0; i < nmem && r == 0; i++) {
		struct passwd *pw = getpwnam(mem[i]);
		if (pw)
			r = set(w, (uint32_t)pw->pw_uid, weight, err, errlen);
	}
	for (size_t i = 0; i < nmem; i++)
		free(mem[i]);
	free(mem);
	/* Users whose primary group it is are not listed as its members. */
	setpwent();
	for (struct passwd *pw; r == 0 && (pw = getpwent());)
		if (pw->pw_gid == gid)
			r = set(w, (uint32_t)pw->pw_uid, weight, err, errlen);
	endpwent();
	return r;
}

static int parse_item(const char *item, struct weights *w, char *err, size_t errlen)
{
	const char *colon = strrchr(item, ':');
	if (!colon || colon == item || (item[0] == '@' && colon == item + 1)) {
		snprintf(err, errlen, "\"%.64s\" is not USER:WEIGHT or @GROUP:WEIGHT", item);
		return -EINVAL;
	}
	uint64_t weight;
	if (pard_parse_u64(colon + 1, 1, WEIGHTS_MAX, &weight) < 0) {
		snprintf(err, errlen, "\"%.64s\": the weight must be a whole number from 1 to %d", item, WEIGHTS_MAX);
		return -EINVAL;
	}
	char name[256];
	size_t len = (size_t)(colon - item);
	if (len >= sizeof(name)) {
		snprintf(err, errlen, "\"%.64s...\": the name is too long", item);
		return -EINVAL;
	}
	memcpy(name, item, len);
	name[len] = '\0';
	if (name[0] == '@')
		return set_group(w, name + 1, (uint32_t)weight, err, errlen);
	uint64_t uid;
	if (pard_parse_u64(name, 0, UINT32_MAX - 1, &uid) == 0)
		return set(w, (uint32_t)uid, (uint32_t)weight, err, errlen);
	struct passwd *pw = getpwnam(name);
	if (!pw) {
		snprintf(err, errlen, "no user \"%.64s\"", name);
		return -EINVAL;
	}
	return set(w, (uint32_t)pw->pw_uid, (uint32_t)weight, err, errlen);
}

int weights_parse(const char *text, struct weights *out, char *err, size_t errlen)
{
	struct weights w = {.n = 0};
	const char *p = text;
	while (*p) {
		while (*p == ' ' || *p == '\t')
			p++;
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		char item[300];
		if (len >= sizeof(item)) {
			snprintf(err, errlen, "an item is longer than %zu bytes", sizeof(item) - 1);
			return -EINVAL;
		}
		memcpy(item, p, len);
		item[len] = '\0';
		if (!len && (end || p != text)) {
			snprintf(err, errlen, "an empty item (two commas, or a comma at an end)");
			return -EINVAL;
		}
		if (len && parse_item(item, &w, err, errlen) < 0)
			return -EINVAL;
		if (!end)
			break;
		p = end + 1;
		if (!*p) {
			snprintf(err, errlen, "an empty item (two commas, or a comma at an end)");
			return -EINVAL;
		}
	}
	*out = w;
	return 0;
}

uint32_t weights_of(const struct weights *w, uid_t uid)
{
	for (unsigned i = 0; i < w->n; i++)
		if (w->entry[i].uid == (uint32_t)uid)
			return w->entry[i].weight;
	return 1;
}
