/* fuzz_ckpt: any bytes as a checkpoint.  The first byte picks the reader:
 * even, safetensors (the format, then the GPT-2 tensors in it); odd,
 * llm.c's gpt2_*.bin.  Each must refuse with a message or give a model
 * whose forward pass runs. */
#include <stdint.h>
#include <string.h>

#include "ckpt.h"
#include "model.h"
#include "safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	char err[512];
	err[0] = '\0';
	ckpt_info info;
	memset(&info, 0, sizeof(info));
	model *m;
	if (data[0] % 2 == 0) {
		st_file *f = st_parse(data + 1, size - 1, err, sizeof(err));
		if (!f && !err[0])
			__builtin_trap();
		for (size_t i = 0; f && i < st_count(f); i++) {
			const st_tensor *t = st_at(f, i);
			if (t->end > size || t->begin > t->end || st_data(f, t) + (t->end - t->begin) > data + size)
				__builtin_trap();
		}
		st_free(f);
		err[0] = '\0';
		m = ckpt_parse(data + 1, size - 1, &kern_cpu, &info, err, sizeof(err));
	} else {
		m = ckpt_parse_llmc(data + 1, size - 1, &kern_cpu, &info, err, sizeof(err));
	}
	if (!m) {
		if (!err[0])
			__builtin_trap();
		return 0;
	}
	/* Small models only: the fuzzer's inputs are at most 64K. */
	const model_config *c = model_cfg(m);
	uint32_t tok[2] = { 0, (uint32_t)(c->n_vocab - 1) };
	if (c->n_ctx >= 2 && (size_t)c->n_vocab * c->n_embd < 1u << 16)
		model_forward(m, tok, tok, NULL, 1, 2);
	model_free(m);
	return 0;
}
