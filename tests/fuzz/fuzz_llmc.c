/* fuzz_llmc: any bytes as an llm.c token file.  The reader must refuse it
 * with a message, or, once the header agrees with the size, read every
 * token and cut documents from them without an error. */
#define _GNU_SOURCE /* memfd_create */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "llmc.h"
#include "shard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	if (fd < 0) {
		fd = memfd_create("fuzz_llmc", 0);
		if (fd < 0)
			__builtin_trap();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		__builtin_trap();
	char err[512];
	err[0] = '\0';
	llmc_reader *r = llmc_open(path, err, sizeof(err));
	if (!r) {
		if (!err[0])
			__builtin_trap();
		return 0;
	}
	/* A small end-of-text id so that the fuzzer finds it often. */
	shard_opts o = { .seq_len = 9, .shuffle = 1, .shard_tokens = 64, .mem = 1 << 20 };
	shard *s = shard_new(&o, "/tmp", err, sizeof(err));
	if (!s || shard_vocab(s, NULL, 0, 7, err, sizeof(err)) < 0 || shard_source(s, -1, err, sizeof(err)) < 0)
		__builtin_trap();
	if (shard_add_llmc(s, r, err, sizeof(err)) < 0)
		__builtin_trap(); /* the header matched the size: every token is there */
	llmc_close(r);
	shard_free(s);
	return 0;
}
