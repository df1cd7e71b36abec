/* SPDX-License-Identifier: MIT */
/* submit's arguments: parctl's --NAME VALUE becomes the protocol's NAME=VALUE; the kind's option
 * table (and parctl_job_options) says which names are flags and which take a value. */
#include <errno.h>
#include <string.h>

#include "pard/suggest.h"
#include "parctl.h"

const struct pard_kernel_option parctl_job_options[] = {
	{.name = "timeout", .value = "SECONDS", .help = "fail the job when it is unfinished after this long"},
	{.name = "priority",
	 .value = "N",
	 .help = "serve it before lower priorities (-20..20, default 0; above 0: root or pard's user)"},
	{.name = PARCTL_WAIT_OPTION, .help = "wait and print the result (as wait does)"},
	{0},
};

static bool in_table(const struct pard_kernel_option *o, const char *name, size_t len, bool *flag)
{
	for (; o && o->name; o++)
		if (strlen(o->name) == len && !strncmp(o->name, name, len)) {
			*flag = !o->value;
			return true;
		}
	return false;
}

static int add(struct pard_request *req, const char *word, char *err, size_t errlen)
{
	int r = pard_request_add(req, word);
	if (r == -EINVAL) {
		char shown[200], why[160];
		snprintf(err, errlen, "argument \"%s\" %s", parctl_escape(word, shown, sizeof(shown)),
			 pard_word_problem(word, why, sizeof(why)));
	} else if (r < 0) {
		snprintf(err, errlen, "arguments too long (a request is at most %d bytes)", PARD_MAX_LINE - 1);
	}
	return r < 0 ? -EINVAL : 0;
}

int parctl_job_words(int argc, char **argv, struct pard_request *req, bool *wait, char *err, size_t errlen)
{
	pard_request_init(req);
	*wait = false;
	if (argc < 1) {
		snprintf(err, errlen, "submit needs a job kind");
		return -EINVAL;
	}
	const struct pard_kernel *k = pard_kernel_find(argv[0]);
	if (add(req, argv[0], err, errlen) < 0)
		return -EINVAL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strncmp(a, "--", 2) != 0 || !a[2]) {
			if (add(req, a, err, errlen) < 0)
				return -EINVAL;
			continue;
		}
		const char *name = a + 2, *eq = strchr(name, '=');
		size_t nl = eq ? (size_t)(eq - name) : strlen(name);
		/* Whether --NAME takes a value is the tables' word; a name no table has is still sent
		 * as NAME=VALUE, so the daemon (which may know more kinds and options) judges it. */
		bool flag = false;
		if (!in_table(parctl_job_options, name, nl, &flag) && k)
			in_table(k->options, name, nl, &flag);
		if (flag) {
			if (eq) {
				snprintf(err, errlen, "option --%.*s takes no value", (int)nl, name);
				return -EINVAL;
			}
			*wait = true;
			continue;
		}
		char word[PARD_MAX_LINE];
		if (eq)
			snprintf(word, sizeof(word), "%s", name);
		else if (i + 1 < argc)
			snprintf(word, sizeof(word), "%s=%s", name, argv[++i]);
		else {
			snprintf(err, errlen, "option %s needs a value", a);
			return -EINVAL;
		}
		if (add(req, word, err, errlen) < 0)
			return -EINVAL;
	}
	return 0;
}
