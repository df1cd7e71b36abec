/* SPDX-License-Identifier: MIT */
/* Loading the libconfig file: every setting is checked, and every error names file and line. */
#include "config.h"

#include <errno.h>
#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pard/log.h"
#include "pard/segment.h"

void config_defaults(struct pard_config *c)
{
	memset(c, 0, sizeof(*c));
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	c->workers = n > 0 ? (unsigned)n : 1;
	snprintf(c->strategy, sizeof(c->strategy), "fork");
	snprintf(c->socket, sizeof(c->socket), "/run/pard/pard.sock");
	snprintf(c->shm_name, sizeof(c->shm_name), "/pard");
	c->max_jobs = 1024;
	c->queue_depth = 256;
	c->result_retention = 600;
	c->chunk_retries = 3;
	c->chunk_timeout = 300;
	c->max_chunks_per_worker = 0;
	c->stop_grace = 10;
	c->arena_wait = 16;
	c->log_level = PARD_LOG_INFO;
	c->limits.max_trials = UINT64_C(1000000000000);
	c->limits.max_pixels = UINT64_C(100000000);
	c->limits.max_iterations = 100000;
	c->limits.arena_size = UINT64_C(1) << 30;
}

int config_expand(const char *in, char *out, size_t outlen)
{
	size_t o = 0;
	for (const char *p = in; *p; p++) {
		char tmp[256];
		const char *add = NULL;
		if (p[0] == '%' && p[1] == 't') {
			const char *rt = getenv("XDG_RUNTIME_DIR");
			add = rt && *rt ? rt : (geteuid() == 0 ? "/run" : "/tmp");
			p++;
		} else if (p[0] == '%' && p[1] == 'u') {
			snprintf(tmp, sizeof(tmp), "%u", (unsigned)geteuid());
			add = tmp;
			p++;
		} else if (p[0] == '%' && p[1] == '%') {
			add = "%";
			p++;
		} else {
			tmp[0] = *p;
			tmp[1] = '\0';
			add = tmp;
		}
		size_t n = strlen(add);
		if (o + n >= outlen)
			return -ENAMETOOLONG;
		memcpy(out + o, add, n);
		o += n;
	}
	out[o] = '\0';
	return 0;
}

struct setting_rule {
	const char *name;
	int type; /* CONFIG_TYPE_INT (int or int64 accepted) or CONFIG_TYPE_STRING */
	long long min, max;
};

static const struct setting_rule rules[] = {
	{"workers", CONFIG_TYPE_INT, 1, PARD_MAX_WORKERS},
	{"strategy", CONFIG_TYPE_STRING, 0, 0},
	{"socket", CONFIG_TYPE_STRING, 0, 0},
	{"shm_name", CONFIG_TYPE_STRING, 0, 0},
	{"max_jobs", CONFIG_TYPE_INT, 1, 65536},
	{"queue_depth", CONFIG_TYPE_INT, 1, 65536},
	{"max_trials", CONFIG_TYPE_INT, 1, INT64_MAX},
	{"max_pixels", CONFIG_TYPE_INT, 1, INT64_MAX},
	{"max_iterations", CONFIG_TYPE_INT, 1, 100000000},
	{"arena_size", CONFIG_TYPE_INT, 0, (long long)1 << 40},
	{"result_retention", CONFIG_TYPE_INT, 0, 365LL * 86400},
	{"chunk_retries", CONFIG_TYPE_INT, 0, 1000},
	{"chunk_timeout", CONFIG_TYPE_INT, 0, 30 * 86400},
	{"max_chunks_per_worker", CONFIG_TYPE_INT, 0, INT32_MAX},
	{"stop_grace", CONFIG_TYPE_INT, 0, 3600},
	{"arena_wait", CONFIG_TYPE_INT, 0, 65536},
	{"log_level", CONFIG_TYPE_STRING, 0, 0},
	{"worker_binary", CONFIG_TYPE_STRING, 0, 0},
};

static int fail(char *err, size_t errlen, const config_setting_t *s, const char *path, const char *fmt,
		const char *name, const char *detail)
{
	int line = s ? config_setting_source_line(s) : 0;
	char what[512];
	snprintf(what, sizeof(what), fmt, name, detail);
	snprintf(err, errlen, "%s:%d: %s", path, line, what);
	return -EINVAL;
}

/* libconfig 1.5 keeps only the low 32 bits of an integer written without an L suffix. Reads the
 * literal from the file itself so such a value is refused instead of silently changed.
 * Returns true when the text agrees with the loaded value (or cannot be found). */
static bool int_literal_matches(const char *path, const config_setting_t *s, long long loaded)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return true;
	char line[1024];
	int want = config_setting_source_line(s), n = 0;
	bool ok = true;
	while (fgets(line, sizeof(line), f)) {
		if (++n != want)
			continue;
		const char *p = strstr(line, config_setting_name(s));
		if (p)
			p = strpbrk(p + strlen(config_setting_name(s)), "=:");
		if (p) {
			errno = 0;
			long long v = strtoll(p + 1, NULL, 0);
			ok = errno == ERANGE || v == loaded;
		}
		break;
	}
	fclose(f);
	return ok;
}

/* Checks one setting against its rule and stores it. */
static int apply_setting(struct pard_config *c, const config_setting_t *s, const struct setting_rule *r,
			 const char *path, char *err, size_t errlen)
{
	const char *name = r->name;
	if (r->type == CONFIG_TYPE_INT) {
		int t = config_setting_type(s);
		if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64)
			return fail(err, errlen, s, path, "%s must be a whole number%s", name, "");
		long long v = config_setting_get_int64(s);
		if (t == CONFIG_TYPE_INT && !int_literal_matches(path, s, v))
			return fail(err, errlen, s, path, "%s does not fit in 32 bits%s: write it with an L suffix, e.g. 2000000000000L",
				    name, "");
		if (v < r->min || v > r->max) {
			char range[96];
			snprintf(range, sizeof(range), " from %lld to %lld (got %lld)", r->min, r->max, v);
			return fail(err, errlen, s, path, "%s must be%s", name, range);
		}
		if (!strcmp(name, "workers"))
			c->workers = (unsigned)v;
		else if (!strcmp(name, "max_jobs"))
			c->max_jobs = (unsigned)v;
		else if (!strcmp(name, "queue_depth"))
			c->queue_depth = (unsigned)v;
		else if (!strcmp(name, "max_trials"))
			c->limits.max_trials = (uint64_t)v;
		else if (!strcmp(name, "max_pixels"))
			c->limits.max_pixels = (uint64_t)v;
		else if (!strcmp(name, "max_iterations"))
			c->limits.max_iterations = (uint32_t)v;
		else if (!strcmp(name, "arena_size"))
			c->limits.arena_size = (uint64_t)v;
		else if (!strcmp(name, "result_retention"))
			c->result_retention = (unsigned)v;
		else if (!strcmp(name, "chunk_retries"))
			c->chunk_retries = (unsigned)v;
		else if (!strcmp(name, "chunk_timeout"))
			c->chunk_timeout = (unsigned)v;
		else if (!strcmp(name, "max_chunks_per_worker"))
			c->max_chunks_per_worker = (unsigned)v;
		else if (!strcmp(name, "stop_grace"))
			c->stop_grace = (unsigned)v;
		else if (!strcmp(name, "arena_wait"))
			c->arena_wait = (unsigned)v;
		return 0;
	}
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return fail(err, errlen, s, path, "%s must be a string%s", name, "");
	const char *v = config_setting_get_string(s);
	if (!strcmp(name, "strategy")) {
		if (strcmp(v, "fork") && strcmp(v, "spawn") && strcmp(v, "forkserver"))
			return fail(err, errlen, s, path, "%s must be \"fork\", \"spawn\" or \"forkserver\" (got \"%s\")",
				    name, v);
		snprintf(c->strategy, sizeof(c->strategy), "%s", v);
	} else if (!strcmp(name, "socket")) {
		char out[sizeof(c->socket)];
		if (v[0] == '\0' || config_expand(v, out, sizeof(out)) < 0)
			return fail(err, errlen, s, path, "%s must be a path shorter than 108 bytes (got \"%s\")",
				    name, v);
		snprintf(c->socket, sizeof(c->socket), "%s", out);
	} else if (!strcmp(name, "shm_name")) {
		char out[sizeof(c->shm_name)];
		if (config_expand(v, out, sizeof(out)) < 0 || out[0] != '/' || out[1] == '\0' ||
		    strchr(out + 1, '/'))
			return fail(err, errlen, s, path,
				    "%s must be \"/name\" with no other slash, up to 199 bytes (got \"%s\")", name, v);
		snprintf(c->shm_name, sizeof(c->shm_name), "%s", out);
	} else if (!strcmp(name, "worker_binary")) {
		if (v[0] != '/' || strlen(v) >= sizeof(c->worker_binary))
			return fail(err, errlen, s, path, "%s must be an absolute path (got \"%s\")", name, v);
		snprintf(c->worker_binary, sizeof(c->worker_binary), "%s", v);
	} else if (!strcmp(name, "log_level")) {
		int lvl = pard_log_level_from_name(v);
		if (lvl < 0)
			return fail(err, errlen, s, path,
				    "%s must be one of error, warning, notice, info, debug (got \"%s\")", name, v);
		c->log_level = lvl;
	}
	return 0;
}

int config_load(struct pard_config *c, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	config_t cf;
	config_init(&cf);
	int ok = config_read(&cf, f);
	fclose(f);
	int r = 0;
	if (!ok) {
		snprintf(err, errlen, "%s:%d: %s", path, config_error_line(&cf), config_error_text(&cf));
		r = -EINVAL;
		goto out;
	}
	struct pard_config n = *c;
	config_setting_t *root = config_root_setting(&cf);
	for (int i = 0; i < config_setting_length(root); i++) {
		config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
		const char *name = config_setting_name(s);
		const struct setting_rule *rule = NULL;
		for (size_t k = 0; k < sizeof(rules) / sizeof(rules[0]); k++)
			if (!strcmp(rules[k].name, name))
				rule = &rules[k];
		if (!rule) {
			r = fail(err, errlen, s, path, "unknown setting %s%s", name, "");
			goto out;
		}
		r = apply_setting(&n, s, rule, path, err, errlen);
		if (r < 0)
			goto out;
	}
	if (n.queue_depth > n.max_jobs) {
		config_setting_t *s = config_lookup(&cf, "queue_depth");
		r = fail(err, errlen, s, path, "%s must not exceed max_jobs%s", "queue_depth", "");
		goto out;
	}
	*c = n;
out:
	config_destroy(&cf);
	return r;
}
