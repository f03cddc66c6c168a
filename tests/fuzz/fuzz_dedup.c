/* fuzz_dedup: any bytes as a sluice-dedup signature file or index, and as a
 * drop list.  Must never crash, hang or leak; a refusal must say why; a
 * set that loads must cluster. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "dedup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	dedup_params p;
	dedup_params_default(&p);
	char err[512] = "";
	for (int indexed = 0; indexed <= 1; indexed++) {
		dedup_set *s = dedup_set_new(&p);
		if (dedup_sigfile_read_mem(s, data, size, indexed, err, sizeof(err)) == 0) {
			dedup_cluster_opts o = { indexed, 1, 1, 0.8 };
			dedup_stats st;
			dedup_set_cluster(s, &o, &st);
			for (size_t i = 0; i < dedup_set_count(s); i++)
				dedup_set_doc_name(s, (uint32_t)i);
		} else if (!err[0]) {
			__builtin_trap();
		}
		dedup_set_free(s);
	}
	err[0] = 0;
	dedup_drops *d = dedup_drops_read_mem(data, size, err, sizeof(err));
	if (!d && !err[0])
		__builtin_trap();
	uint64_t records;
	const dedup_drop *first;
	if (d)
		dedup_drops_shard(d, "a", &records, &first);
	dedup_drops_free(d);
	return 0;
}
