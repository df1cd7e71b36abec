/* SPDX-License-Identifier: MIT */
/* libpard's reply objects: key=value pairs, results with their images, job lists. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "pard/parse.h"

int info_fill(struct pard_info *i, const struct pard_reply *r)
{
	info_clear(i);
	/* One copy of the pairs, laid out key\0value\0...: they outlive the connection's buffer. */
	size_t len = 0;
	for (int k = 0; k < r->nkeys; k++)
		len += strlen(r->keys[k]) + strlen(r->values[k]) + 2;
	char *p = malloc(len ? len : 1);
	if (!p)
		return -ENOMEM;
	i->line = p;
	for (int k = 0; k < r->nkeys; k++) {
		size_t kl = strlen(r->keys[k]) + 1, vl = strlen(r->values[k]) + 1;
		memcpy(p, r->keys[k], kl);
		i->keys[k] = p;
		p += kl;
		memcpy(p, r->values[k], vl);
		i->values[k] = p;
		p += vl;
	}
	i->n = (unsigned)r->nkeys;
	return 0;
}

void info_clear(struct pard_info *i)
{
	free(i->line);
	i->line = NULL;
	i->n = 0;
}

unsigned pard_info_count(const struct pard_info *i)
{
	return i->n;
}

const char *pard_info_key(const struct pard_info *i, unsigned n)
{
	return n < i->n ? i->keys[n] : NULL;
}

const char *pard_info_value(const struct pard_info *i, unsigned n)
{
	return n < i->n ? i->values[n] : NULL;
}

const char *pard_info_get(const struct pard_info *i, const char *key)
{
	for (unsigned n = 0; n < i->n; n++)
		if (!strcmp(i->keys[n], key))
			return i->values[n];
	return NULL;
}

bool pard_info_get_u64(const struct pard_info *i, const char *key, uint64_t *out)
{
	const char *v = pard_info_get(i, key);
	return v && pard_parse_u64(v, 0, UINT64_MAX, out) == 0;
}

bool pard_info_get_double(const struct pard_info *i, const char *key, double *out)
{
	const char *v = pard_info_get(i, key);
	return v && pard_parse_double(v, out) == 0;
}

void pard_info_free(struct pard_info *i)
{
	if (!i)
		return;
	info_clear(i);
	free(i);
}

struct pard_result *pard_result_new(void)
{
	struct pard_result *r = calloc(1, sizeof(struct pard_result));
	if (r)
		r->image_fd = -1;
	return r;
}

void result_clear(struct pard_result *r)
{
	info_clear(&r->info);
	if (r->owned)
		free(r->image);
	r->image = NULL;
	r->owned = false;
	r->width = r->height = 0;
	r->id = 0;
	r->image_written = 0;
}

void pard_result_free(struct pard_result *r)
{
	if (!r)
		return;
	result_clear(r);
	free(r);
}

void pard_result_set_buffer(struct pard_result *r, void *buffer, size_t size)
{
	r->buffer = buffer;
	r->buffer_size = buffer ? size : 0;
}

void pard_result_set_image_fd(struct pard_result *r, int fd)
{
	r->image_fd = fd < 0 ? -1 : fd;
}

uint64_t pard_result_get_image_written(const struct pard_result *r)
{
	return r->image_written;
}

void pard_result_set_keep_image(struct pard_result *r, bool keep)
{
	r->keep_image = keep;
}

uint64_t pard_result_get_id(const struct pard_result *r)
{
	return r->id;
}

const char *pard_result_get_kind(const struct pard_result *r)
{
	return pard_info_get(&r->info, "kind");
}

const struct pard_info *pard_result_get_info(const struct pard_result *r)
{
	return &r->info;
}

const int32_t *pard_result_get_image(const struct pard_result *r, uint32_t *width, uint32_t *height)
{
	if (width)
		*width = r->image ? r->width : 0;
	if (height)
		*height = r->image ? r->height : 0;
	return r->image;
}

int32_t *pard_result_take_image(struct pard_result *r, uint32_t *width, uint32_t *height)
{
	/* Only memory the library allocated can be handed over; the caller's buffer is theirs. */
	if (!r->owned)
		return NULL;
	int32_t *img = (int32_t *)pard_result_get_image(r, width, height);
	r->image = NULL;
	r->owned = false;
	return img;
}

size_t pard_job_list_count(const struct pard_job_list *l)
{
	return l->n;
}

const struct pard_info *pard_job_list_get(const struct pard_job_list *l, size_t n)
{
	return n < l->n ? l->jobs[n] : NULL;
}

void pard_job_list_free(struct pard_job_list *l)
{
	if (!l)
		return;
	for (size_t n = 0; n < l->n; n++)
		pard_info_free(l->jobs[n]);
	free(l->jobs);
	free(l);
}
