/* tokname: the names tokenizers go by (tok_canonical_name, tokenizer.h),
 * apart from the tokenizer itself so that tools that only compare names
 * (sluice-shard) need not link PCRE2. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tokenizer.h"

int tok_hf_path(const char *name_or_path, int *dir)
{
	struct stat st;
	size_t n = strlen(name_or_path);
	*dir = stat(name_or_path, &st) == 0 && S_ISDIR(st.st_mode);
	return *dir || (n > 5 && strcmp(name_or_path + n - 5, ".json") == 0);
}

int tok_canonical_name(const char *name_or_path, char *out, size_t size)
{
	int dir;
	char real[PATH_MAX], parent[PATH_MAX];
	const char *name = name_or_path;
	size_t len = strlen(name);
	if (tok_hf_path(name_or_path, &dir)) {
		/* A file by its directory's real path and its own name: the
		 * file itself may be a link (the Hugging Face cache links each
		 * file of a snapshot to a blob named by its hash). */
		const char *slash = dir ? NULL : strrchr(name_or_path, '/');
		const char *file = dir ? NULL : slash ? slash + 1 : name_or_path;
		if (dir)
			snprintf(parent, sizeof(parent), "%s", name_or_path);
		else if (!slash || slash == name_or_path)
			snprintf(parent, sizeof(parent), "%s", slash ? "/" : ".");
		else
			snprintf(parent, sizeof(parent), "%.*s", (int)(slash - name_or_path), name_or_path);
		if (realpath(parent, real)) {
			len = strlen(real);
			if (file && strcmp(file, "tokenizer.json") != 0) {
				int n = snprintf(real + len, sizeof(real) - len, "%s%s", len > 1 ? "/" : "", file);
				if (n < 0 || (size_t)n >= sizeof(real) - len) {
					errno = ENAMETOOLONG;
					return -1;
				}
				len += (size_t)n;
			}
			name = real;
		}
	} else if (strchr(name_or_path, '/') || strstr(name_or_path, ".tiktoken")) {
		const char *base = strrchr(name_or_path, '/');
		name = base ? base + 1 : name_or_path;
		const char *suffix = strstr(name, ".tiktoken");
		len = suffix ? (size_t)(suffix - name) : strlen(name);
	}
	if (len >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(out, name, len);
	out[len] = 0;
	return 0;
}
