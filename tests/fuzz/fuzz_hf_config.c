/* fuzz_hf_config: any bytes as a Hugging Face model directory's JSON.  The
 * first byte picks the parser: 0 mod 3 config.json, 1 generation_config.json,
 * 2 model.safetensors.index.json.  Each must refuse with a message or give
 * what it promises: a config model_config_check() accepts, token ids in the
 * vocabulary's range, index entries naming plain files. */
#include <stdint.h>
#include <string.h>

#include "hf.h"
#include "model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void entry(void *ctx, const char *tensor, const char *file)
{
	(void)ctx;
	(void)tensor;
	if (!file[0] || strchr(file, '/') || !strcmp(file, ".") || !strcmp(file, ".."))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *js = (const char *)data + 1;
	size_t n = size - 1;
	char err[512], arch[64], why[256];
	err[0] = 0;
	model_config c;
	hf_ids ids;
	memset(&ids, 0, sizeof(ids));
	int rc;
	switch (data[0] % 3) {
	case 0:
		rc = hf_parse_config(js, n, &c, &ids, arch, err, sizeof(err));
		if (rc == 0 && (model_config_check(&c, why, sizeof(why)) < 0 || !arch[0]))
			__builtin_trap();
		break;
	case 1:
		rc = hf_parse_generation(js, n, &ids, err, sizeof(err));
		break;
	default:
		rc = hf_parse_index(js, n, entry, NULL, err, sizeof(err));
		break;
	}
	if (rc < 0 && !err[0])
		__builtin_trap();
	if (ids.n_eos < 0 || ids.n_eos > HF_EOS_MAX || (ids.has_bos && ids.bos >= MODEL_VOCAB_MAX))
		__builtin_trap();
	for (int i = 0; i < ids.n_eos; i++)
		if (ids.eos[i] >= MODEL_VOCAB_MAX)
			__builtin_trap();
	return 0;
}
