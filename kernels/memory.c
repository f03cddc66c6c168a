/* memory: the CPU backend's memory is the host's, so its operations are the
 * C library's. */
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

void *mem_alloc_cpu(size_t bytes)
{
	return calloc(bytes ? bytes : 1, 1);
}

void mem_free_cpu(void *dev)
{
	free(dev);
}

void mem_zero_cpu(void *dev, size_t bytes)
{
	if (bytes)
		memset(dev, 0, bytes);
}

/* One copy for the three directions: the host addresses this memory. */
void copy_cpu(void *dst, const void *src, size_t bytes)
{
	if (bytes)
		memcpy(dst, src, bytes);
}
