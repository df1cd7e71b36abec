/* SPDX-License-Identifier: MIT */
/* The daemon's settings: one table (name, type, range, place, default, reload or restart, description)
 * from which defaults, loading, --check-config, reload and the annotated pard.conf all come. */
#ifndef PARD_CONFIG_H
#define PARD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pard/kernel.h"
#include "pard/log.h"
#include "weights.h"

#define PARD_DEFAULT_CONFIG "/etc/pard/pard.conf"
/* Connections the daemon serves at once (fewer when RLIMIT_NOFILE is lower); one more is refused. */
#define PARD_MAX_CLIENTS 4096

struct pard_config {
	unsigned workers;
	char strategy[16];
	char socket[108];
	unsigned socket_mode; /* permissions of the socket pard creates */
	char shm_name[200];
	char worker_binary[4096];       /* pard-worker for spawn/forkserver; empty: next to pard, else libexecdir */
	unsigned max_jobs;              /* job slots, finished ones awaiting retention included */
	unsigned queue_depth;           /* jobs queued or running at once */
	unsigned result_retention;      /* seconds a finished job's result is kept */
	unsigned chunk_retries;         /* times a chunk may be lost to a dying worker before its job fails */
	unsigned chunk_timeout;         /* seconds one chunk may run before its worker is killed (0: never) */
	unsigned send_timeout;          /* seconds a client may leave its answers unread (0: never) */
	unsigned max_chunks_per_worker; /* recycle a worker after about this many chunks (0: never) */
	unsigned stop_grace;            /* seconds SIGTERM waits for running chunks */
	unsigned arena_wait;            /* jobs that may wait for arena space; beyond it: ERR busy */
	/* Per-user limits (usage.h); 0: derived from the global ones. */
	unsigned max_clients_per_user;
	unsigned max_jobs_per_user;
	uint64_t max_arena_bytes_per_user;
	char monitor_group[64];  /* its members see every uid's usage (monitor_group.h); empty: none */
	uint64_t arena_prefault; /* free arena bytes kept resident for the next results (0: none) */
	int log_level;
	char user_weights[1024];  /* fair-share weights as written (CONFIG_WEIGHTS) */
	struct weights weights;   /* ...resolved to uids when loaded */
	int log_job_min_duration; /* ms: a done job that took this long is logged at info (0: all, -1: none) */
	unsigned inline_work;     /* a job of at most this much work (pi: trials) runs in the daemon (0: never) */
	struct pard_limits limits;
};

enum config_kind {
	CONFIG_NUMBER,    /* whole number in [min, max]; stored in 4 or 8 bytes (a negative min: an int field) */
	CONFIG_MODE,      /* octal permissions in a string ("0660"); stored as unsigned */
	CONFIG_STRATEGY,  /* "fork", "spawn" or "forkserver"; stored as the string */
	CONFIG_PATH,      /* absolute file path; stored as the string */
	CONFIG_SHM_NAME,  /* "/name", no other slash; stored as the string */
	CONFIG_GROUP,     /* a group name, or empty for none; stored as the string */
	CONFIG_LOG_LEVEL, /* a level name; stored as enum pard_log_level */
	CONFIG_WEIGHTS,   /* "USER:W,@GROUP:W" (weights.h); stored as the string and resolved in weights */
};

struct config_setting_info {
	const char *name;
	enum config_kind kind;
	size_t offset, size; /* the field in struct pard_config */
	long long min, max;  /* CONFIG_NUMBER and CONFIG_MODE */
	long long def;       /* default of CONFIG_NUMBER and CONFIG_MODE */
	const char *def_str; /* default of the string kinds */
	const char *def_doc; /* a default pard works out at start-up, in words; else NULL */
	const char *example; /* with def_doc: the value pard.conf shows, commented out */
	bool expand;         /* %t, %u and %% are expanded */
	bool restart;        /* a reload keeps the running value; it changes at restart */
	const char *desc;    /* one line for pard.conf */
};

size_t config_settings_count(void);
const struct config_setting_info *config_setting_at(size_t i);
/* NULL when name is no setting. */
const struct config_setting_info *config_setting_find(const char *name);

/* Receives each problem found, as "file:line: reason" (or "file: reason"), with its level. */
typedef void config_report_fn(void *ctx, enum pard_log_level level, const char *msg);

/* Fills c with the built-in defaults (workers = number of CPUs). */
void config_defaults(struct pard_config *c);
/* Loads path, then every *.conf in path.d (the drop-in directory, see config_dropin_dir) in name
 * order, over c, each over the one before, reporting every bad setting of every file, not just the
 * first. Returns 0; -ENOENT when path is missing (not reported: a missing default file is no error)
 * with c holding the drop-ins' settings; another -errno when path cannot be opened; or -EINVAL
 * (any problem in any file), leaving c untouched. */
int config_load_report(struct pard_config *c, const char *path, config_report_fn *report, void *ctx);
/* The drop-in directory of the config file path: path + ".d". Returns 0 or -ENAMETOOLONG. */
int config_dropin_dir(const char *path, char *out, size_t len);
/* The same, with the messages in err, one per line (as many as fit); "file: reason" when the file
 * cannot be opened. */
int config_load(struct pard_config *c, const char *path, char *err, size_t errlen);
/* Expands %t (runtime directory), %u (uid) and %% in a path setting. Without $XDG_RUNTIME_DIR, %t
 * is /run for root and the private directory /tmp/pard-UID (created 0700 if missing) for a user.
 * Returns 0, or -errno with the reason in why. */
int config_expand(const char *in, char *out, size_t outlen, char *why, size_t whylen);
/* base/pard-UID for the effective uid: created 0700 when missing, refused when it is anything else
 * than a directory of that uid with mode 0700 (a symlink included). Returns 0 or -errno with why. */
int config_user_runtime_dir(const char *base, char *out, size_t outlen, char *why, size_t whylen);

/* Writes the annotated pard.conf: every setting with its description, range and default. */
void config_write_annotated(FILE *f);

/* Reload: for each restart-only setting that differs, adds its name to changed (", "-separated)
 * and puts the running value back into next. Returns how many differed. */
unsigned config_keep_restart_only(struct pard_config *next, const struct pard_config *running, char *changed,
				  size_t len);

/* Environment checks for --check-config; each reports what it finds and returns the errors.
 * The segment c describes against the filesystem at shm_dir (statvfs). */
int config_check_shm_space(const struct pard_config *c, const char *shm_dir, const char *label,
			   config_report_fn *report, void *ctx);
/* The same comparison with the sizes given: need, the filesystem's total and available bytes. */
int config_check_shm_fit(uint64_t need, uint64_t total, uint64_t avail, const char *shm_dir, const char *label,
			 config_report_fn *report, void *ctx);
/* path must be an executable pard-worker of this version ("pard-worker --version"). When needed is
 * false (the fork strategy does not run it) a problem is a warning. */
int config_check_worker_binary(const char *path, bool needed, const char *label, config_report_fn *report, void *ctx);

#endif
