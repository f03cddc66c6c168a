/* test_cli.c: number parsing and the end-of-run counts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "cli.h"

static void test_parse_u64(void)
{
	uint64_t v;
	CHECK(cli_parse_u64("42", 0, 100, 0, &v) == 0 && v == 42);
	CHECK(cli_parse_u64("0", 0, 100, 0, &v) == 0 && v == 0);
	CHECK(cli_parse_u64("101", 0, 100, 0, &v) == -1);
	CHECK(cli_parse_u64("-1", 0, 100, 0, &v) == -1);
	CHECK(cli_parse_u64("+1", 0, 100, 0, &v) == -1);
	CHECK(cli_parse_u64("", 0, 100, 0, &v) == -1);
	CHECK(cli_parse_u64("12x", 0, 100, 0, &v) == -1);
	CHECK(cli_parse_u64("4K", 0, UINT64_MAX, 0, &v) == -1);
	CHECK(cli_parse_u64("4K", 0, UINT64_MAX, 1, &v) == 0 && v == 4096);
	CHECK(cli_parse_u64("3m", 0, UINT64_MAX, 1, &v) == 0 && v == 3u << 20);
	CHECK(cli_parse_u64("2G", 0, UINT64_MAX, 1, &v) == 0 && v == 2ull << 30);
	CHECK(cli_parse_u64("4KB", 0, UINT64_MAX, 1, &v) == -1);
	CHECK(cli_parse_u64("99999999999999999999", 0, UINT64_MAX, 0, &v) == -1);
	CHECK(cli_parse_u64("17179869184G", 0, UINT64_MAX, 1, &v) == -1); /* overflows */
	int i;
	CHECK(cli_parse_int("-5", -10, 10, &i) == 0 && i == -5);
	CHECK(cli_parse_int("11", -10, 10, &i) == -1);
	CHECK(cli_parse_int("1.5", -10, 10, &i) == -1);
}

static void test_counts(void)
{
	cli_counts *c = cli_counts_new();
	cli_counts_add(c, "records", 10);
	cli_counts_add(c, "dropped", 2);
	cli_counts_add(c, "records", 5);
	CHECK(cli_counts_get(c, "records") == 15);
	CHECK(cli_counts_get(c, "dropped") == 2);
	CHECK(cli_counts_get(c, "none") == 0);
	char path[64];
	snprintf(path, sizeof(path), "/tmp/sluice-test-counts-%ld.json", (long)getpid());
	CHECK(cli_counts_write_json(c, path) == 0);
	FILE *f = fopen(path, "r");
	char line[256] = "";
	CHECK(f && fgets(line, sizeof(line), f));
	if (f)
		fclose(f);
	CHECK(strcmp(line, "{\"records\": 15, \"dropped\": 2}\n") == 0);
	unlink(path);
	CHECK(cli_counts_write_json(c, "/nonexistent-dir/x.json") == -1);
	cli_counts_free(c);
}

int main(void)
{
	cli_init("test_cli");
	RUN(test_parse_u64);
	RUN(test_counts);
	CHECK_EXIT();
}
