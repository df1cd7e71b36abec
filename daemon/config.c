/* SPDX-License-Identifier: MIT */
/* The settings table, and loading the libconfig file against it: every setting is checked, every
 * problem is reported with file and line, and a file with any problem changes nothing. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pard/segment.h"

extern char **environ;

#define FIELD(m) offsetof(struct pard_config, m), sizeof(((struct pard_config *)0)->m)

static const struct config_setting_info settings[] = {
	{.name = "workers",
	 .kind = CONFIG_NUMBER,
	 FIELD(workers),
	 .min = 1,
	 .max = PARD_MAX_WORKERS,
	 .def_doc = "the number of online CPUs",
	 .example = "2",
	 .desc = "Worker processes; a reload grows or shrinks the pool."},
	{.name = "strategy",
	 .kind = CONFIG_STRATEGY,
	 FIELD(strategy),
	 .def_str = "fork",
	 .desc = "How workers start: \"fork\", \"spawn\" (fresh pard-worker processes) or \"forkserver\"."},
	{.name = "worker_binary",
	 .kind = CONFIG_PATH,
	 FIELD(worker_binary),
	 .def_str = "",
	 .def_doc = "pard-worker beside pard, else the installed one",
	 .example = "/usr/libexec/pard-worker",
	 .desc = "The pard-worker executable of the spawn and forkserver strategies."},
	{.name = "socket",
	 .kind = CONFIG_PATH,
	 FIELD(socket),
	 .def_str = "/run/pard/pard.sock",
	 .expand = true,
	 .restart = true,
	 .desc = "The UNIX socket parctl talks to (unused under socket activation)."},
	{.name = "socket_mode",
	 .kind = CONFIG_MODE,
	 FIELD(socket_mode),
	 .min = 0,
	 .max = 0777,
	 .def = 0660,
	 .restart = true,
	 .desc = "Permissions of that socket; 0660 lets the daemon's group submit."},
	{.name = "shm_name",
	 .kind = CONFIG_SHM_NAME,
	 FIELD(shm_name),
	 .def_str = "/pard",
	 .expand = true,
	 .restart = true,
	 .desc = "Name of the POSIX shared-memory segment (appears in /dev/shm)."},
	{.name = "max_jobs",
	 .kind = CONFIG_NUMBER,
	 FIELD(max_jobs),
	 .min = 1,
	 .max = 65536,
	 .def = 1024,
	 .restart = true,
	 .desc = "Job slots, including finished jobs whose results are kept."},
	{.name = "queue_depth",
	 .kind = CONFIG_NUMBER,
	 FIELD(queue_depth),
	 .min = 1,
	 .max = 65536,
	 .def = 256,
	 .desc = "Jobs queued or running at once (at most max_jobs); one more is answered \"ERR busy\"."},
	{.name = "max_trials",
	 .kind = CONFIG_NUMBER,
	 FIELD(limits.max_trials),
	 .min = 1,
	 .max = INT64_MAX,
	 .def = 1000000000000LL,
	 .desc = "Largest pi TRIALS accepted."},
	{.name = "max_pixels",
	 .kind = CONFIG_NUMBER,
	 FIELD(limits.max_pixels),
	 .min = 1,
	 .max = INT64_MAX,
	 .def = 100000000,
	 .desc = "Largest fractal image, in pixels."},
	{.name = "max_iterations",
	 .kind = CONFIG_NUMBER,
	 FIELD(limits.max_iterations),
	 .min = 1,
	 .max = 100000000,
	 .def = 100000,
	 .desc = "Largest fractal iteration count."},
	{.name = "arena_size",
	 .kind = CONFIG_NUMBER,
	 FIELD(limits.arena_size),
	 .min = 0,
	 .max = 1LL << 40,
	 .def = 1LL << 30,
	 .restart = true,
	 .desc = "Bytes of the shared-memory arena that holds fractal images (/dev/shm must hold it)."},
	{.name = "arena_wait",
	 .kind = CONFIG_NUMBER,
	 FIELD(arena_wait),
	 .min = 0,
	 .max = 65536,
	 .def = 16,
	 .desc = "Jobs that may wait for arena space while it is full; one more is answered \"ERR busy\"."},
	{.name = "max_clients_per_user",
	 .kind = CONFIG_NUMBER,
	 FIELD(max_clients_per_user),
	 .min = 0,
	 .max = PARD_MAX_CLIENTS,
	 .def = 0,
	 .desc = "Connections one uid may hold open; one more is answered \"ERR limit\" and closed. 0: a quarter "
		 "of the clients pard can serve (4096, or fewer under a low RLIMIT_NOFILE). Root and pard's own user "
		 "are exempt."},
	{.name = "max_jobs_per_user",
	 .kind = CONFIG_NUMBER,
	 FIELD(max_jobs_per_user),
	 .min = 0,
	 .max = 65536,
	 .def = 0,
	 .desc = "Jobs one uid may have queued or running (waiting for arena space included); one more is "
		 "answered \"ERR limit\". 0: a quarter of queue_depth. Root and pard's own user are exempt."},
	{.name = "max_arena_bytes_per_user",
	 .kind = CONFIG_NUMBER,
	 FIELD(max_arena_bytes_per_user),
	 .min = 0,
	 .max = 1LL << 40,
	 .def = 0,
	 .desc = "Arena bytes one uid's results may hold, counting the images its waiting jobs need; a job "
		 "that would pass it is answered \"ERR limit\". 0: half of arena_size. Root and pard's own user "
		 "are exempt."},
	{.name = "monitor_group",
	 .kind = CONFIG_GROUP,
	 FIELD(monitor_group),
	 .def_str = "pard-monitor",
	 .desc = "Members of this group (primary or supplementary) see every uid's usage in parctl stats and "
		 "metrics, as root and pard's own user do, and nothing more: the metrics exporter runs in it. A "
		 "missing group means nobody (logged); \"\" disables it. Applies to new connections."},
	{.name = "arena_prefault",
	 .kind = CONFIG_NUMBER,
	 FIELD(arena_prefault),
	 .min = 0,
	 .max = 1LL << 40,
	 .def = 64LL << 20,
	 .desc = "Free arena bytes kept resident for the next fractal images (memory used even while idle; 0: none)."},
	{.name = "result_retention",
	 .kind = CONFIG_NUMBER,
	 FIELD(result_retention),
	 .min = 0,
	 .max = 365LL * 86400,
	 .def = 600,
	 .desc = "Seconds a finished job's result is kept (each fetch restarts the count)."},
	{.name = "chunk_retries",
	 .kind = CONFIG_NUMBER,
	 FIELD(chunk_retries),
	 .min = 0,
	 .max = 1000,
	 .def = 3,
	 .desc = "Times a chunk may be lost to a dying worker before its job fails."},
	{.name = "chunk_timeout",
	 .kind = CONFIG_NUMBER,
	 FIELD(chunk_timeout),
	 .min = 0,
	 .max = 30 * 86400,
	 .def = 300,
	 .desc = "Seconds one chunk may run before its worker counts as hung and is killed (0: never)."},
	{.name = "max_chunks_per_worker",
	 .kind = CONFIG_NUMBER,
	 FIELD(max_chunks_per_worker),
	 .min = 0,
	 .max = INT32_MAX,
	 .def = 0,
	 .desc = "Replace a worker after about this many chunks, up to 25% later (0: never)."},
	{.name = "send_timeout",
	 .kind = CONFIG_NUMBER,
	 FIELD(send_timeout),
	 .min = 0,
	 .max = 86400,
	 .def = 60,
	 .desc = "Seconds a client may leave its answers (or a result buffer) unread before it is dropped (0: never)."},
	{.name = "inline_work",
	 .kind = CONFIG_NUMBER,
	 FIELD(inline_work),
	 .min = 0,
	 .max = 1 << 20,
	 .def = 16384,
	 .desc = "Jobs of at most this much work (pi: trials) run in the daemon, waking no worker (0: never)."},
	{.name = "stop_grace",
	 .kind = CONFIG_NUMBER,
	 FIELD(stop_grace),
	 .min = 0,
	 .max = 3600,
	 .def = 10,
	 .desc = "Seconds SIGTERM lets running chunks finish before their workers are killed."},
	{.name = "user_weights",
	 .kind = CONFIG_WEIGHTS,
	 FIELD(user_weights),
	 .def_str = "",
	 .desc = "Fair-share weights per user or @group; users of one priority share the workers in proportion (unnamed: 1)."},
	{.name = "log_level",
	 .kind = CONFIG_LOG_LEVEL,
	 FIELD(log_level),
	 .def_str = "info",
	 .desc = "The most detailed messages logged: error, warning, notice, info or debug."},
	{.name = "log_job_min_duration",
	 .kind = CONFIG_NUMBER,
	 FIELD(log_job_min_duration),
	 .min = -1,
	 .max = 86400000,
	 .def = 1000,
	 .desc = "A done job is logged at info if it took this many ms (0: every job, -1: none; failures: always)."},
};

#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

size_t config_settings_count(void)
{
	return NSETTINGS;
}

const struct config_setting_info *config_setting_at(size_t i)
{
	return i < NSETTINGS ? &settings[i] : NULL;
}

const struct config_setting_info *config_setting_find(const char *name)
{
	for (size_t i = 0; i < NSETTINGS; i++)
		if (!strcmp(settings[i].name, name))
			return &settings[i];
	return NULL;
}

static void *field(struct pard_config *c, const struct config_setting_info *s)
{
	return (char *)c + s->offset;
}

static const void *cfield(const struct pard_config *c, const struct config_setting_info *s)
{
	return (const char *)c + s->offset;
}

static void store_number(struct pard_config *c, const struct config_setting_info *s, unsigned long long v)
{
	if (s->size == sizeof(uint64_t)) {
		uint64_t x = v;
		memcpy(field(c, s), &x, sizeof(x));
	} else {
		uint32_t x = (uint32_t)v;
		memcpy(field(c, s), &x, sizeof(x));
	}
}

static void store_string(struct pard_config *c, const struct config_setting_info *s, const char *v)
{
	snprintf(field(c, s), s->size, "%s", v);
}

void config_defaults(struct pard_config *c)
{
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < NSETTINGS; i++) {
		const struct config_setting_info *s = &settings[i];
		switch (s->kind) {
		case CONFIG_NUMBER:
		case CONFIG_MODE:
			store_number(c, s, (unsigned long long)s->def);
			break;
		case CONFIG_LOG_LEVEL:
			c->log_level = pard_log_level_from_name(s->def_str);
			break;
		default:
			store_string(c, s, s->def_str);
			break;
		}
	}
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	c->workers = n > 0 ? (unsigned)(n < PARD_MAX_WORKERS ? n : PARD_MAX_WORKERS) : 1;
}

int config_user_runtime_dir(const char *base, char *out, size_t outlen, char *why, size_t whylen)
{
	uid_t uid = geteuid();
	if ((size_t)snprintf(out, outlen, "%s/pard-%u", base, (unsigned)uid) >= outlen) {
		snprintf(why, whylen, "%s/pard-%u is too long", base, (unsigned)uid);
		return -ENAMETOOLONG;
	}
	if (mkdir(out, 0700) < 0 && errno != EEXIST) {
		int e = errno;
		snprintf(why, whylen, "cannot create %s: %s", out, strerror(e));
		return -e;
	}
	/* Made by us or found: either way it must be ours alone (lstat: a symlink is refused), since
	 * anyone may create names in base before us. */
	struct stat st;
	if (lstat(out, &st) < 0) {
		int e = errno;
		snprintf(why, whylen, "%s: %s", out, strerror(e));
		return -e;
	}
	if (!S_ISDIR(st.st_mode) || st.st_uid != uid || (st.st_mode & 07777) != 0700) {
		snprintf(why, whylen,
			 "%s is not a directory of uid %u with mode 0700 (%s, uid %u, mode %04o): another user may "
			 "have made it; set XDG_RUNTIME_DIR or remove it",
			 out, (unsigned)uid,
			 S_ISDIR(st.st_mode)   ? "directory"
			 : S_ISLNK(st.st_mode) ? "symlink"
					       : "not a directory",
			 (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

int config_expand(const char *in, char *out, size_t outlen, char *why, size_t whylen)
{
	size_t o = 0;
	for (const char *p = in; *p; p++) {
		char tmp[4096];
		const char *add = tmp;
		if (p[0] == '%' && p[1] == 't') {
			const char *rt = getenv("XDG_RUNTIME_DIR");
			if (rt && *rt) {
				add = rt;
			} else if (geteuid() == 0) {
				add = "/run";
			} else {
				/* Not /tmp itself: another user could take the name there first. */
				int r = config_user_runtime_dir("/tmp", tmp, sizeof(tmp), why, whylen);
				if (r < 0)
					return r;
			}
			p++;
		} else if (p[0] == '%' && p[1] == 'u') {
			snprintf(tmp, sizeof(tmp), "%u", (unsigned)geteuid());
			p++;
		} else if (p[0] == '%' && p[1] == '%') {
			add = "%";
			p++;
		} else {
			tmp[0] = *p;
			tmp[1] = '\0';
		}
		size_t n = strlen(add);
		if (o + n >= outlen) {
			snprintf(why, whylen, "longer than %zu bytes once expanded", outlen - 1);
			return -ENAMETOOLONG;
		}
		memcpy(out + o, add, n);
		o += n;
	}
	out[o] = '\0';
	return 0;
}

/* One load: where problems go and how many there were. */
struct load {
	const char *path;
	config_report_fn *report;
	void *ctx;
	unsigned errors;
};

static void problem(struct load *l, const config_setting_t *s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void note(config_report_fn *report, void *ctx, enum pard_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void problem(struct load *l, const config_setting_t *s, const char *fmt, ...)
{
	char what[1024], msg[1400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(msg, sizeof(msg), "%s:%d: %s", l->path, s ? config_setting_source_line(s) : 0, what);
	l->errors++;
	l->report(l->ctx, PARD_LOG_ERROR, msg);
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

/* A value as messages show it: control bytes escaped (a message is one log line) and long ones cut. */
static const char *shown(const char *v, char *out, size_t len)
{
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)v; *p && o + 8 < len; p++) {
		if (*p < 0x20 || *p == 0x7f || *p == '\\')
			o += (size_t)snprintf(out + o, len - o, "\\x%02x", *p);
		else
			out[o++] = (char)*p;
		if (o + 8 >= len && p[1]) {
			snprintf(out + o, len - o, "...");
			return out;
		}
	}
	out[o] = '\0';
	return out;
}

static int apply_number(struct load *l, struct pard_config *c, const config_setting_t *s,
			const struct config_setting_info *r)
{
	int t = config_setting_type(s);
	if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64) {
		problem(l, s, "%s must be a whole number", r->name);
		return -1;
	}
	long long v = config_setting_get_int64(s);
	if (t == CONFIG_TYPE_INT && !int_literal_matches(l->path, s, v)) {
		problem(l, s, "%s does not fit in 32 bits: write it with an L suffix, e.g. 2000000000000L", r->name);
		return -1;
	}
	if (v < r->min || v > r->max) {
		problem(l, s, "%s must be from %lld to %lld (got %lld)", r->name, r->min, r->max, v);
		return -1;
	}
	store_number(c, r, (unsigned long long)v);
	return 0;
}

static int apply_string(struct load *l, struct pard_config *c, const config_setting_t *s,
			const struct config_setting_info *r)
{
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		if (r->kind == CONFIG_MODE && config_setting_type(s) == CONFIG_TYPE_INT)
			/* libconfig reads 0660 as decimal 660: only a string keeps octal unambiguous. */
			problem(l, s, "%s must be an octal mode in quotes, e.g. \"0660\"", r->name);
		else
			problem(l, s, "%s must be a string", r->name);
		return -1;
	}
	const char *v = config_setting_get_string(s);
	char out[4096], why[512] = "", vs[160];
	if (r->expand) {
		int e = config_expand(v, out, r->size < sizeof(out) ? r->size : sizeof(out), why, sizeof(why));
		if (e < 0) {
			problem(l, s, "%s \"%s\": %s", r->name, shown(v, vs, sizeof(vs)), why);
			return -1;
		}
	} else if ((size_t)snprintf(out, sizeof(out), "%s", v) >= sizeof(out)) {
		problem(l, s, "%s is longer than %zu bytes", r->name, sizeof(out) - 1);
		return -1;
	}
	switch (r->kind) {
	case CONFIG_STRATEGY:
		if (strcmp(out, "fork") && strcmp(out, "spawn") && strcmp(out, "forkserver")) {
			problem(l, s, "%s must be \"fork\", \"spawn\" or \"forkserver\" (got \"%s\")", r->name,
				shown(v, vs, sizeof(vs)));
			return -1;
		}
		break;
	case CONFIG_PATH:
		/* A relative path would depend on the directory pard happens to start in. */
		if (out[0] != '/' || strlen(out) >= r->size) {
			problem(l, s,
				"%s must be a path starting with \"/\" (absolute), shorter than %zu bytes (got \"%s\")",
				r->name, r->size, shown(v, vs, sizeof(vs)));
			return -1;
		}
		break;
	case CONFIG_SHM_NAME:
		if (out[0] != '/' || out[1] == '\0' || strchr(out + 1, '/') || strlen(out) >= r->size) {
			problem(l, s, "%s must be \"/name\" with no other slash, up to %zu bytes (got \"%s\")", r->name,
				r->size - 1, shown(v, vs, sizeof(vs)));
			return -1;
		}
		break;
	case CONFIG_GROUP:
		/* What useradd and systemd-sysusers accept, so a typo is told at once, not as a missing group. */
		if (strlen(out) >= r->size || out[0] == '-' ||
		    strspn(out, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != strlen(out)) {
			problem(l, s,
				"%s must be a group name (letters, digits, \"_\", \".\", \"-\", not first), up to %zu "
				"bytes, or \"\" for none (got \"%s\")",
				r->name, r->size - 1, shown(v, vs, sizeof(vs)));
			return -1;
		}
		break;
	case CONFIG_LOG_LEVEL: {
		int lvl = pard_log_level_from_name(out);
		if (lvl < 0) {
			problem(l, s, "%s must be one of error, warning, notice, info, debug (got \"%s\")", r->name,
				shown(v, vs, sizeof(vs)));
			return -1;
		}
		c->log_level = lvl;
		return 0;
	}
	case CONFIG_WEIGHTS: {
		char why2[256];
		if (weights_parse(out, &c->weights, why2, sizeof(why2)) < 0) {
			problem(l, s, "%s: %s", r->name, why2);
			return -1;
		}
		break;
	}
	case CONFIG_MODE: {
		char *end;
		errno = 0;
		unsigned long m = strtoul(out, &end, 8);
		if (!out[0] || *end || errno || out[0] == '-' || out[0] == '+' || m > (unsigned long)r->max) {
			problem(l, s, "%s must be an octal mode from %04llo to %04llo, e.g. \"0660\" (got \"%s\")",
				r->name, (unsigned long long)r->min, (unsigned long long)r->max,
				shown(v, vs, sizeof(vs)));
			return -1;
		}
		store_number(c, r, m);
		return 0;
	}
	case CONFIG_NUMBER:
		break;
	}
	store_string(c, r, out);
	return 0;
}

/* Where each setting was last given, for messages about two settings together. */
struct origin {
	char file[4096];
	int line;
};

/* Reads one file's settings over n. Returns 0 when the file could be read (its problems are in l),
 * or -errno when it could not be opened (not reported here). */
static int load_file(struct load *l, struct pard_config *n, bool bad[], struct origin where[])
{
	FILE *f = fopen(l->path, "r");
	if (!f)
		return -errno;
	config_t cf;
	config_init(&cf);
	int ok = config_read(&cf, f);
	fclose(f);
	if (!ok) {
		/* libconfig stops at the first syntax error: nothing after it can be checked. */
		char msg[1400];
		snprintf(msg, sizeof(msg), "%s:%d: %s", l->path, config_error_line(&cf), config_error_text(&cf));
		l->errors++;
		l->report(l->ctx, PARD_LOG_ERROR, msg);
		config_destroy(&cf);
		return 0;
	}
	config_setting_t *root = config_root_setting(&cf);
	for (int i = 0; i < config_setting_length(root); i++) {
		config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
		const char *name = config_setting_name(s);
		const struct config_setting_info *r = config_setting_find(name);
		if (!r) {
			problem(l, s, "unknown setting %s", name);
			continue;
		}
		int e = r->kind == CONFIG_NUMBER ? apply_number(l, n, s, r) : apply_string(l, n, s, r);
		if (e < 0)
			bad[r - settings] = true;
		snprintf(where[r - settings].file, sizeof(where[0].file), "%s", l->path);
		where[r - settings].line = config_setting_source_line(s);
	}
	config_destroy(&cf);
	return 0;
}

/* Drop-ins: files named *.conf, not hidden, sorted by the bytes of their names (as LC_ALL=C ls). */
static int dropin_filter(const struct dirent *e)
{
	size_t n = strlen(e->d_name);
	return e->d_name[0] != '.' && n > 5 && !strcmp(e->d_name + n - 5, ".conf");
}

static int byte_order(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

int config_dropin_dir(const char *path, char *out, size_t len)
{
	return (size_t)snprintf(out, len, "%s.d", path) < len ? 0 : -ENAMETOOLONG;
}

int config_load_report(struct pard_config *c, const char *path, config_report_fn *report, void *ctx)
{
	struct pard_config n = *c;
	bool bad[NSETTINGS] = {false};
	struct origin *where = calloc(NSETTINGS, sizeof(*where));
	if (!where)
		return -ENOMEM;
	struct load l = {.path = path, .report = report, .ctx = ctx};
	int main_r = load_file(&l, &n, bad, where);
	if (main_r < 0 && main_r != -ENOENT) {
		free(where);
		return main_r;
	}
	/* Then the drop-ins in name order, each over what came before (a later file wins). */
	char dir[4096];
	struct dirent **names = NULL;
	int count = 0;
	if (config_dropin_dir(path, dir, sizeof(dir)) == 0) {
		count = scandir(dir, &names, dropin_filter, byte_order);
		if (count < 0) {
			if (errno != ENOENT) {
				note(report, ctx, PARD_LOG_ERROR, "%s: cannot read the drop-in directory: %s", dir,
				     strerror(errno));
				l.errors++;
			}
			count = 0;
		}
	}
	for (int i = 0; i < count; i++) {
		char file[4096 + 256];
		snprintf(file, sizeof(file), "%s/%s", dir, names[i]->d_name);
		struct stat st;
		/* A directory or a dangling link named x.conf is a mistake worth naming, not skipping. */
		if (stat(file, &st) < 0 || !S_ISREG(st.st_mode)) {
			note(report, ctx, PARD_LOG_ERROR, "%s: not a readable regular file", file);
			l.errors++;
		} else {
			l.path = file;
			int r = load_file(&l, &n, bad, where);
			if (r < 0) {
				note(report, ctx, PARD_LOG_ERROR, "%s: %s", file, strerror(-r));
				l.errors++;
			}
		}
		free(names[i]);
	}
	free(names);
	/* Only between values that were themselves good: a refused max_jobs says nothing. */
	size_t qd = (size_t)(config_setting_find("queue_depth") - settings);
	size_t mj = (size_t)(config_setting_find("max_jobs") - settings);
	if (!bad[qd] && !bad[mj] && n.queue_depth > n.max_jobs) {
		const struct origin *o = where[qd].line ? &where[qd] : &where[mj];
		note(report, ctx, PARD_LOG_ERROR, "%s:%d: queue_depth must not exceed max_jobs (%u > %u)", o->file,
		     o->line, n.queue_depth, n.max_jobs);
		l.errors++;
	}
	free(where);
	if (l.errors)
		return -EINVAL;
	*c = n;
	return main_r;
}

struct collect {
	char *buf;
	size_t len, used;
	bool full;
};

static void collect(void *ctx, enum pard_log_level level, const char *msg)
{
	(void)level;
	struct collect *k = ctx;
	size_t n = strlen(msg) + (k->used ? 1 : 0);
	if (k->full || !k->len)
		return;
	if (k->used + n >= k->len) {
		/* Whole messages only, but the first one even cut short: it still names file and line. */
		if (!k->used)
			snprintf(k->buf, k->len, "%s", msg);
		k->full = true;
		return;
	}
	snprintf(k->buf + k->used, k->len - k->used, "%s%s", k->used ? "\n" : "", msg);
	k->used += n;
}

int config_load(struct pard_config *c, const char *path, char *err, size_t errlen)
{
	struct collect k = {.buf = err, .len = errlen};
	if (errlen)
		err[0] = '\0';
	int r = config_load_report(c, path, collect, &k);
	if (r < 0 && r != -EINVAL)
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
	return r;
}

/* The value as pard.conf writes it. */
static void format_default(const struct config_setting_info *s, char *out, size_t len)
{
	switch (s->kind) {
	case CONFIG_NUMBER:
		/* L wherever the range passes 32 bits, so an edited value keeps it. */
		snprintf(out, len, "%lld%s", s->def, s->max > INT32_MAX ? "L" : "");
		break;
	case CONFIG_MODE:
		snprintf(out, len, "\"%04llo\"", (unsigned long long)s->def);
		break;
	default:
		snprintf(out, len, "\"%s\"", s->def_str);
		break;
	}
}

static void format_range(const struct config_setting_info *s, char *out, size_t len)
{
	switch (s->kind) {
	case CONFIG_NUMBER:
		if (s->max == INT64_MAX)
			snprintf(out, len, "Whole number from %lld to 2^63-1", s->min);
		else
			snprintf(out, len, "Whole number from %lld to %lld", s->min, s->max);
		break;
	case CONFIG_MODE:
		snprintf(out, len, "Octal mode in quotes, %04llo to %04llo", (unsigned long long)s->min,
			 (unsigned long long)s->max);
		break;
	case CONFIG_PATH:
		snprintf(out, len, "Absolute path%s", s->expand ? "; %t and %u are expanded" : "");
		break;
	case CONFIG_SHM_NAME:
		snprintf(out, len, "A \"/name\" with no other slash%s", s->expand ? "; %t and %u are expanded" : "");
		break;
	case CONFIG_GROUP:
		snprintf(out, len, "A group name, or \"\" for none");
		break;
	case CONFIG_STRATEGY:
		snprintf(out, len, "One of \"fork\", \"spawn\", \"forkserver\"");
		break;
	case CONFIG_LOG_LEVEL:
		snprintf(out, len, "A level name");
		break;
	case CONFIG_WEIGHTS:
		snprintf(out, len, "\"USER:WEIGHT, @GROUP:WEIGHT, ...\", weights from 1 to %d", WEIGHTS_MAX);
		break;
	}
}

void config_write_annotated(FILE *f)
{
	fputs("# /etc/pard/pard.conf — settings of the pard daemon (libconfig syntax). Every value is checked\n"
	      "# at start-up and on reload (SIGHUP); each bad one is reported with file, line and reason, and\n"
	      "# `pard --check-config` also checks /dev/shm's size and the worker binary.\n"
	      "# Whole numbers above 2147483647 need the L suffix. Paths may use %t (runtime directory:\n"
	      "# $XDG_RUNTIME_DIR, else /run for root and a private /tmp/pard-UID for a user) and %u (uid).\n"
	      "# Then every *.conf in /etc/pard/pard.conf.d/ is read, in name order, each over the one before:\n"
	      "# put local changes there and package upgrades of this file never touch them.\n"
	      "# Written from the settings table in daemon/config.c: change the table, not this file\n"
	      "# (build/tests/unit/test_config --write-conf > etc/pard.conf).\n",
	      f);
	for (size_t i = 0; i < NSETTINGS; i++) {
		const struct config_setting_info *s = &settings[i];
		char range[128], def[64];
		format_range(s, range, sizeof(range));
		format_default(s, def, sizeof(def));
		fprintf(f, "\n# %s\n# %s. Default: %s. %s.\n", s->desc, range, s->def_doc ? s->def_doc : def,
			s->restart ? "Takes effect at restart" : "A reload applies it");
		if (s->def_doc)
			fprintf(f, "#%s = %s%s%s;\n", s->name, s->kind == CONFIG_NUMBER ? "" : "\"", s->example,
				s->kind == CONFIG_NUMBER ? "" : "\"");
		else
			fprintf(f, "%s = %s;\n", s->name, def);
	}
}

unsigned config_keep_restart_only(struct pard_config *next, const struct pard_config *running, char *changed,
				  size_t len)
{
	unsigned n = 0;
	size_t used = 0;
	if (len)
		changed[0] = '\0';
	for (size_t i = 0; i < NSETTINGS; i++) {
		const struct config_setting_info *s = &settings[i];
		if (!s->restart)
			continue;
		bool differ = s->kind == CONFIG_NUMBER || s->kind == CONFIG_MODE
				      ? memcmp(cfield(next, s), cfield(running, s), s->size) != 0
				      : strncmp(cfield(next, s), cfield(running, s), s->size) != 0;
		if (!differ)
			continue;
		if (used < len) {
			int w = snprintf(changed + used, len - used, "%s%s", n ? ", " : "", s->name);
			used += w > 0 ? (size_t)w : 0;
		}
		memcpy(field(next, s), cfield(running, s), s->size);
		n++;
	}
	return n;
}

static void note(config_report_fn *report, void *ctx, enum pard_log_level level, const char *fmt, ...)
{
	char msg[1400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	report(ctx, level, msg);
}

int config_check_shm_fit(uint64_t need, uint64_t total, uint64_t avail, const char *shm_dir, const char *label,
			 config_report_fn *report, void *ctx)
{
	if (need > total) {
		note(report, ctx, PARD_LOG_ERROR,
		     "%s: the segment needs %llu bytes (arena_size plus the job tables) but %s holds only %llu bytes "
		     "in all: it cannot fit; lower arena_size or enlarge %s",
		     label, (unsigned long long)need, shm_dir, (unsigned long long)total, shm_dir);
		return 1;
	}
	/* The segment is sparse: pages are used as images are written, so this is a warning. */
	if (need > avail)
		note(report, ctx, PARD_LOG_WARNING,
		     "%s: the segment needs %llu bytes but %s has only %llu bytes free now: a worker writing an "
		     "image past that is killed (SIGBUS)",
		     label, (unsigned long long)need, shm_dir, (unsigned long long)avail);
	return 0;
}

int config_check_shm_space(const struct pard_config *c, const char *shm_dir, const char *label,
			   config_report_fn *report, void *ctx)
{
	struct statvfs v;
	if (statvfs(shm_dir, &v) < 0) {
		note(report, ctx, PARD_LOG_ERROR, "%s: cannot check %s for the segment: %s", label, shm_dir,
		     strerror(errno));
		return 1;
	}
	struct pard_segment_geometry g = {
		.max_jobs = c->max_jobs,
		.max_workers = PARD_MAX_WORKERS,
		.runq_len = c->max_jobs,
		.arena_size = c->limits.arena_size,
	};
	return config_check_shm_fit(pard_segment_size(&g), (uint64_t)v.f_blocks * v.f_frsize,
				    (uint64_t)v.f_bavail * v.f_frsize, shm_dir, label, report, ctx);
}

/* Runs path --version; out gets its first line. Returns 0, or -errno (-ETIMEDOUT after 5 s). */
static int run_version(const char *path, char *out, size_t len, int *status)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], STDOUT_FILENO);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	char *argv[] = {(char *)path, (char *)"--version", NULL};
	pid_t pid;
	int e = posix_spawn(&pid, path, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	if (e) {
		close(p[0]);
		return -e;
	}
	size_t got = 0;
	int r = 0;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		long left = 5000 - (long)((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000);
		struct pollfd pf = {.fd = p[0], .events = POLLIN};
		if (left <= 0 || poll(&pf, 1, (int)left) == 0) {
			r = -ETIMEDOUT;
			kill(pid, SIGKILL);
			break;
		}
		ssize_t n = read(p[0], out + got, len - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got == len - 1)
			break; /* enough to compare; the rest is not wanted */
	}
	close(p[0]);
	out[got] = '\0';
	out[strcspn(out, "\n")] = '\0';
	while (waitpid(pid, status, 0) < 0 && errno == EINTR)
		;
	return r;
}

int config_check_worker_binary(const char *path, bool needed, const char *label, config_report_fn *report, void *ctx)
{
	enum pard_log_level lvl = needed ? PARD_LOG_ERROR : PARD_LOG_WARNING;
	const char *unless = needed ? "" : " (only the spawn and forkserver strategies run it)";
	struct stat st;
	if (stat(path, &st) < 0) {
		note(report, ctx, lvl, "%s: worker binary %s: %s%s", label, path, strerror(errno), unless);
		return needed;
	}
	if (!S_ISREG(st.st_mode) || access(path, X_OK) < 0) {
		note(report, ctx, lvl, "%s: worker binary %s is not an executable file%s", label, path, unless);
		return needed;
	}
	char line[128];
	int status = 0;
	int r = run_version(path, line, sizeof(line), &status);
	static const char want[] = "pard-worker " PARD_VERSION;
	if (r < 0) {
		note(report, ctx, lvl, "%s: worker binary %s --version: %s%s", label, path, strerror(-r), unless);
		return needed;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || strcmp(line, want)) {
		note(report, ctx, lvl, "%s: worker binary %s is not %s (its --version said \"%s\", status %d)%s", label,
		     path, want, line, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), unless);
		return needed;
	}
	return 0;
}
