/* SPDX-License-Identifier: MIT */
/* Fair-share weights per user (pard.conf user_weights): parsed and resolved to uids when the
 * config is loaded, looked up when a job is published. */
#ifndef PARD_WEIGHTS_H
#define PARD_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define WEIGHTS_MAX_ENTRIES 256
#define WEIGHTS_MAX 1000 /* largest weight; 1 is the default of every uid */

struct weights {
	unsigned n;
	struct {
		uint32_t uid, weight;
	} entry[WEIGHTS_MAX_ENTRIES];
};

/* Parses "NAME:W,@GROUP:W,UID:W" (blanks around items allowed; "" = every uid weighs 1). A user
 * is a name or a uid; a group's weight goes to each member the group database lists, and to each
 * user whose primary group it is, as they are now (a reload looks again). A uid named twice takes
 * the last weight given for it, so a user can be set apart from their group by naming them after
 * it. Returns 0, or -EINVAL with the reason in err. */
int weights_parse(const char *text, struct weights *out, char *err, size_t errlen);
/* The weight of uid: 1 unless the table gives another. */
uint32_t weights_of(const struct weights *w, uid_t uid);

#endif
