/* sluice: run sluice-NAME, as git runs git-NAME. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "util.h"

/* The tools, from tools/list (the build writes tools.h from it). */
static const struct {
	const char *name, *what;
} tools[] = {
#include "tools.h"
};

/* The directory this executable lives in, so a build tree works uninstalled. */
static int self_dir(char *dir, size_t cap)
{
	ssize_t n = readlink("/proc/self/exe", dir, cap - 1);
	if (n <= 0)
		return -1;
	dir[n] = '\0';
	char *slash = strrchr(dir, '/');
	if (!slash)
		return -1;
	*slash = '\0';
	return 0;
}

static int have_tool(const char *dir, const char *name)
{
	char path[PATH_MAX];
	if (dir[0] && snprintf(path, sizeof(path), "%s/sluice-%s", dir, name) < (int)sizeof(path) &&
	    access(path, X_OK) == 0)
		return 1;
	const char *p = getenv("PATH");
	while (p && *p) {
		const char *end = strchr(p, ':');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len && snprintf(path, sizeof(path), "%.*s/sluice-%s", (int)len, p, name) < (int)sizeof(path) &&
		    access(path, X_OK) == 0)
			return 1;
		p = end ? end + 1 : NULL;
	}
	return 0;
}

static void usage(FILE *f, const char *dir)
{
	fprintf(f,
"Usage: sluice NAME [ARG]...\n"
"Run the sluice tool NAME (the program sluice-NAME) with ARGs.\n"
"\n"
"Tools:\n");
	for (size_t i = 0; i < sizeof(tools) / sizeof(tools[0]); i++)
		if (have_tool(dir, tools[i].name))
			fprintf(f, "  %-14s %s\n", tools[i].name, tools[i].what);
	fprintf(f,
"\n"
"  -h, --help      show this help and exit\n"
"  -V, --version   show the version and exit\n"
"\n"
"'sluice NAME --help' and sluice-NAME(1) describe each tool; sluice-stream(5)\n"
"the record stream they pass.\n");
}

int main(int argc, char **argv)
{
	char dir[PATH_MAX] = "";
	cli_init("sluice");
	self_dir(dir, sizeof(dir));
	if (argc < 2) {
		usage(stderr, dir);
		return EXIT_USAGE;
	}
	const char *name = argv[1];
	if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "help") == 0) {
		usage(stdout, dir);
		return cli_close_stdout();
	}
	if (strcmp(name, "-V") == 0 || strcmp(name, "--version") == 0) {
		cli_version();
		return cli_close_stdout();
	}
	if (name[0] == '-' || strchr(name, '/'))
		return cli_usage_error("unknown option '%s'", name);

	char prog[PATH_MAX];
	if (snprintf(prog, sizeof(prog), "sluice-%s", name) >= (int)sizeof(prog))
		return cli_usage_error("'%s' is not a sluice tool", name);
	argv[1] = prog;
	/* Prefer the tool beside this executable, then PATH. */
	char path[PATH_MAX];
	if (dir[0] && snprintf(path, sizeof(path), "%s/%s", dir, prog) < (int)sizeof(path) && access(path, X_OK) == 0)
		execv(path, argv + 1);
	execvp(prog, argv + 1);
	if (errno == ENOENT)
		return cli_usage_error("'%s' is not a sluice tool (no %s found)", name, prog);
	cli_error(prog, "cannot run: %s", strerror(errno));
	return 126;
}
