/* rules.h: named rules over record fields, and their verdict on a record.
 *
 * A rule reads one field, measures or matches it, and "fires" or not.  Its
 * action says what firing means: drop (the record goes to the rejects),
 * keep (the record stays whatever the drop rules say), flag (the rule's
 * name goes into the record's "flags" field), or score=W (W times the
 * firing, 0 or 1, goes into the reward).  Rules come from the built-in
 * presets (gopher, c4, fineweb, synth), from rules files (syntax in
 * sluice-synth-filter(1)) and from decontamination sets.
 *
 * Ownership: the caller owns a rules set and frees it with rules_free();
 * decontamination sets handed to it stay the caller's.  A built set is
 * read-only, so several threads may apply it at once, each with its own
 * rules_eval. */
#ifndef SLUICE_RULES_H
#define SLUICE_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "decon.h"
#include "record.h"
#include "util.h"

enum { RULE_DROP, RULE_KEEP, RULE_FLAG, RULE_SCORE };

typedef struct rules rules;

rules *rules_new(void);
void rules_free(rules *rs);                       /* accepts NULL */

/* Add a preset's rules reading field.  Returns 0, or -1 with err set. */
int rules_add_preset(rules *rs, const char *name, const char *field, char *err, size_t errlen);
/* Parse a rules file's text.  Returns 0, or -1 with "line N: problem" in
 * err (a pattern error also names the pattern and the offset). */
int rules_parse(rules *rs, const char *text, size_t len, char *err, size_t errlen);
/* Add a decontamination rule named "decontam" (action drop or flag). */
int rules_add_decon(rules *rs, const decon *d, const char *field, int action, char *err, size_t errlen);
/* "NAME=VALUE": a rule's threshold, a C4 line setting, or "off".
 * Returns 0, or -1 with err set. */
int rules_set(rules *rs, const char *assignment, char *err, size_t errlen);

size_t rules_count(const rules *rs);
const char *rules_name(const rules *rs, size_t i);
int rules_action(const rules *rs, size_t i);
double rules_weight(const rules *rs, size_t i);
int rules_enabled(const rules *rs, size_t i);

/* Per-thread state for applying rules. */
typedef struct rules_eval rules_eval;
rules_eval *rules_eval_new(const rules *rs);
void rules_eval_free(rules_eval *e);              /* accepts NULL */

enum { RULES_EVAL_ALL = 1, RULES_REWARD = 2 };

/* Apply the rules to r.  Returns 1 if r is to be dropped, 0 if kept (with
 * RULES_REWARD never dropped).  Stops at the first drop unless
 * RULES_EVAL_ALL.  A kept record is updated in place: C4's line filter
 * rewrites its field; "flags" lists the flag rules that fired; with
 * RULES_REWARD, "reward" holds the weighted sum of the score rules and
 * "reward_NAME" each one's part. */
int rules_apply(rules_eval *e, rec *r, int mode);
/* After rules_apply: the rule that dropped the record (or -1) and what it
 * measured; whether rule i was evaluated, fired, and its value. */
long rules_eval_dropped_by(const rules_eval *e, double *value);
int rules_eval_fired(const rules_eval *e, size_t i, double *value);
int rules_eval_done(const rules_eval *e, size_t i);

#endif
