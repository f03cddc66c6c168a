/* fuzz_rules: any bytes as a rules file.  A file that parses must give
 * rules that apply to a record without fault; one that does not must say
 * why, with a line number.  The same bytes also go through the answer
 * verifier and the word splitter. */
#include <stdint.h>
#include <string.h>

#include "record.h"
#include "rules.h"
#include "verify.h"
#include "words.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	rules *rs = rules_new();
	char err[1024];
	err[0] = '\0';
	if (rules_parse(rs, (const char *)data, size, err, sizeof(err)) == 0) {
		rec *r = rec_new();
		rec_set_str(r, "text", (const char *)data, size);
		rec_set_str(r, "completion", (const char *)data, size);
		rules_eval *e = rules_eval_new(rs);
		rules_apply(e, r, RULES_EVAL_ALL | RULES_REWARD);
		rules_eval_free(e);
		rec_free(r);
	} else if (strncmp(err, "line ", 5) != 0) {
		__builtin_trap();
	}
	rules_free(rs);
	double v;
	verify_final_answer(data, size, &v);
	words w = { 0 };
	words_split(&w, data, size);
	words_release(&w);
	return 0;
}
