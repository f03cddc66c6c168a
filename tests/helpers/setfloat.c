/* setfloat: copy a record stream with one float field of one record set to
 * a value no tool writes (nan, inf), for the tests of what readers make of
 * it.  The stream header is passed on.
 *
 *   setfloat FIELD VALUE N [IN]    record N (from 1; 0: every record) of IN
 *                                  (stdin if none), to stdout as records */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "input.h"
#include "output.h"
#include "record.h"

int main(int argc, char **argv)
{
	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: setfloat FIELD VALUE N [IN]\n");
		return 2;
	}
	const char *field = argv[1];
	double v = strtod(argv[2], NULL);
	unsigned long long which = strtoull(argv[3], NULL, 10);
	input *in = cli_input_open(argc == 5 ? argv[4] : NULL, INPUT_RECORDS);
	if (!in)
		return 1;
	int status = 0;
	output *out = output_open(NULL, OUTPUT_RECORDS, NULL, 1, &status);
	if (!out) {
		input_close(in);
		return status;
	}
	rec *r = rec_new(), *w = rec_new();
	int got, meta_done = 0;
	while ((got = input_read(in, r)) == 1) {
		if (!meta_done) {
			size_t len;
			const char *meta = input_meta(in, &len);
			if (len && output_set_meta(out, meta, len) < 0) {
				got = -2;
				break;
			}
			meta_done = 1;
		}
		rec_copy(w, r);
		if ((!which || input_records(in) == which) && rec_set_float(w, field, v) < 0) {
			fprintf(stderr, "setfloat: record %llu: cannot set %s\n", (unsigned long long)input_records(in),
				field);
			got = -2;
			break;
		}
		if (output_write(out, w, "setfloat") < 0) {
			got = -2;
			break;
		}
	}
	if (got == -1)
		fprintf(stderr, "setfloat: %s\n", input_error(in));
	status = got == 0 ? 0 : 1;
	if (output_close(out, status) < 0)
		status = 1;
	rec_free(r);
	rec_free(w);
	input_close(in);
	return status;
}
