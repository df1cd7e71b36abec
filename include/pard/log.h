/* SPDX-License-Identifier: MIT */
/* Levelled logging to stderr, with journald priority prefixes when stderr is the journal. */
#ifndef PARD_LOG_H
#define PARD_LOG_H

#include <stdbool.h>

enum pard_log_level {
	PARD_LOG_ERROR = 3,
	PARD_LOG_WARNING = 4,
	PARD_LOG_NOTICE = 5,
	PARD_LOG_INFO = 6,
	PARD_LOG_DEBUG = 7,
};

/* Sets the program name and the most verbose level printed. */
void pard_log_init(const char *ident, enum pard_log_level max);
void pard_log_set_level(enum pard_log_level max);
/* True when stderr is the journal (systemd's $JOURNAL_STREAM names this very stderr). */
bool pard_log_stderr_is_journal(void);
/* True when messages of level are printed. */
bool pard_log_enabled(enum pard_log_level level);
/* The program name given to pard_log_init. */
const char *pard_log_ident(void);
/* Returns the level named name ("error", "warning", "notice", "info", "debug"), or -1. */
int pard_log_level_from_name(const char *name);
void pard_log(enum pard_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) pard_log(PARD_LOG_ERROR, __VA_ARGS__)
#define log_warning(...) pard_log(PARD_LOG_WARNING, __VA_ARGS__)
#define log_notice(...) pard_log(PARD_LOG_NOTICE, __VA_ARGS__)
#define log_info(...) pard_log(PARD_LOG_INFO, __VA_ARGS__)
#define log_debug(...) pard_log(PARD_LOG_DEBUG, __VA_ARGS__)

#endif
