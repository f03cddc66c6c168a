# hf.mk: post-train a local Hugging Face checkpoint directory (Qwen3,
# Qwen2, Llama, GPT-2: config.json, model*.safetensors, tokenizer.json) on
# verified arithmetic problems, SFT then GRPO, and write the result as a
# model directory that transformers' from_pretrained loads.
#
#   make -f pipelines/hf.mk BASE=path/to/Qwen3-0.6B-Base        # from the top directory
#
# The stages, each a file under HF_OUT (default pipelines/out/hf):
#   problems      pipelines/arith: teacher solutions (verified by
#                 sluice-synth-filter's answer rule, decontaminated against
#                 the held-out questions), held-out problems, RL prompts
#   teacher/      the teacher's conversations tokenized with the directory's
#                 own tokenizer.json (sluice-tokenize -v BASE --chat: its
#                 <|im_start|> and <|im_end|>), packed as SFT sequences
#   sft.safetensors   SFT from the directory (--from BASE)
#   grpo/         HF_RL_ITERS iterations of GRPO from the SFT model: rollouts
#                 (sluice-sample --chat), rewards (the verifier), a step
#                 (--grpo, the KL to the SFT model measured and penalised by
#                 HF_KL); one stamp per iteration, so that a stopped run
#                 resumes where it was
#   final/        the GRPO model as a Hugging Face directory (--export-hf,
#                 HF_DTYPE f32 or bf16), with BASE's tokenizer.json
#   em-sft.json, em-grpo.json   held-out exact match (HF_EVAL problems)
#
# The tokenizer must have the chat tokens (<|im_start|>, <|im_end|>), as
# Qwen's have.  The model's context is its max_position_embeddings up to
# 4096; sequences here are HF_T tokens.  The defaults are sized for a small
# model on a few cores; raise the counts for a real run.
# tests/cli/hf-pipeline.sh runs it on the tiny tests/data/hf-qwen3.

O ?= build
BASE ?= $(error give BASE=path/to/model-directory)
HF_OUT ?= pipelines/out/hf
HF_TRAIN ?= 2000
HF_EVAL ?= 200
HF_T ?= 128
HF_SFT_STEPS ?= 200
HF_SFT_FLAGS ?= -B 16 --lr 1e-4 --warmup 10
HF_RL_ITERS ?= 20
HF_RL_PROMPTS ?= 16
HF_G ?= 8
HF_KL ?= 0.1
HF_RL_FLAGS ?= -B 64 --lr 1e-5 --schedule constant
HF_MAX_NEW ?= 48
HF_SLOTS ?= 16
HF_DTYPE ?= bf16
HF_ARITH_ARGS ?= --digits 1 --steps 2 --ops '+-'

ARITH = $(O)/pipelines/arith
export PATH := $(abspath $(O))/bin:$(PATH)
H = $(HF_OUT)
HF_ITS := $(shell seq 0 $(HF_RL_ITERS))
HF_EM = sluice-eval --gsm8k $(H)/test.jsonl --chat -B $(HF_SLOTS) --max-new $(HF_MAX_NEW) --limit $(HF_EVAL)

.PHONY: hf
.SECONDARY:
hf: $(H)/final/config.json $(H)/em-sft.json $(H)/em-grpo.json
	@printf 'held-out exact match: SFT %s, GRPO %s; the model: %s\n' \
		"$$(sed -n 's/.*"exact_match": \([0-9.e-]*\).*/\1/p' $(H)/em-sft.json)" \
		"$$(sed -n 's/.*"exact_match": \([0-9.e-]*\).*/\1/p' $(H)/em-grpo.json)" $(H)/final

$(ARITH):
	$(MAKE) --no-print-directory O=$(O) $@

# Problems: teacher data, held-out, RL prompts (each its own seed).
$(H)/train-raw.jsonl: $(ARITH)
	@mkdir -p $(H)
	$(ARITH) -n $(HF_TRAIN) -s 1 $(HF_ARITH_ARGS) >$@.tmp && mv $@.tmp $@
$(H)/test.jsonl: $(ARITH)
	@mkdir -p $(H)
	$(ARITH) -n $(HF_EVAL) -s 2 --split test $(HF_ARITH_ARGS) >$@.tmp && mv $@.tmp $@
$(H)/prompts.jsonl: $(ARITH)
	@mkdir -p $(H)
	$(ARITH) -n $$(($(HF_RL_ITERS) * $(HF_RL_PROMPTS))) -s 5 $(HF_ARITH_ARGS) >$@.tmp && mv $@.tmp $@
$(H)/verify.rules:
	@mkdir -p $(H)
	printf 'wrong drop solution wrong_answer answer\n' >$@
$(H)/reward.rules:
	@mkdir -p $(H)
	printf 'correct score=1 completion answer answer\n' >$@
$(H)/test-questions.jsonl: $(H)/test.jsonl
	sed 's/^{"id": "[^"]*", "question": \("[^"]*"\).*/{"question": \1}/' $< >$@
$(H)/teacher.jsonl: $(H)/train-raw.jsonl $(H)/verify.rules $(H)/test-questions.jsonl
	sluice-synth-filter -R $(H)/verify.rules --decon $(H)/test-questions.jsonl --decon-field question \
		--quiet -o $@.tmp $< && mv $@.tmp $@

# The directory's tokenizer, its chat tokens; loss on the assistant's only.
$(H)/teacher/manifest.json: $(H)/teacher.jsonl $(BASE)/tokenizer.json
	sluice-tokenize -v $(BASE) --chat --drop-text -o $(H)/teacher.slc $< 2>/dev/null
	rm -rf $(H)/teacher && sluice-shard --quiet --sft -T $(HF_T) -o $(H)/teacher $(H)/teacher.slc

# SFT from the directory as it is on disk.
$(H)/sft.safetensors: $(H)/teacher/manifest.json $(BASE)/config.json
	rm -f $@ $@.optim
	sluice-train-step -m $@ --from $(BASE) $(HF_SFT_FLAGS) --steps $(HF_SFT_STEPS) --quiet --log $(H)/sft.log \
		$(H)/teacher/train-00000.slc

# GRPO: iteration $(1) after $(2).
define hf_grpo
$(H)/grpo/scored-$(1).slc: $(H)/grpo/it-$(2).done $(H)/prompts.jsonl $(H)/reward.rules
	sed -n "$$$$(( ($(1) - 1) * $(HF_RL_PROMPTS) + 1 )),$$$$(( $(1) * $(HF_RL_PROMPTS) ))p" $(H)/prompts.jsonl | \
		sluice-sample -m $(H)/grpo/policy.safetensors --chat -n $(HF_G) -t 1 -N $(HF_MAX_NEW) -B $(HF_SLOTS) \
			-s $(1) --quiet | sluice-synth-filter --reward -R $(H)/reward.rules --quiet -o $$@.tmp && mv $$@.tmp $$@
$(H)/grpo/it-$(1).done: $(H)/grpo/scored-$(1).slc
	sluice-train-step -m $(H)/grpo/policy.safetensors --grpo --ref $(H)/sft.safetensors --kl $(HF_KL) \
		$(HF_RL_FLAGS) --quiet --log $(H)/grpo/log-$(1).jsonl $$<
	touch $$@
endef
$(H)/grpo/it-0.done: $(H)/sft.safetensors
	@mkdir -p $(H)/grpo
	rm -f $(H)/grpo/policy.safetensors.optim
	cp $< $(H)/grpo/policy.safetensors.tmp && mv $(H)/grpo/policy.safetensors.tmp $(H)/grpo/policy.safetensors
	touch $@
$(foreach i,$(wordlist 2,$(words $(HF_ITS)),$(HF_ITS)),$(eval $(call hf_grpo,$(i),$(word $(i),$(HF_ITS)))))
$(H)/grpo.safetensors: $(H)/grpo/it-$(HF_RL_ITERS).done
	cp $(H)/grpo/policy.safetensors $@.tmp && mv $@.tmp $@

# The result as a Hugging Face model directory.
$(H)/final/config.json: $(H)/grpo.safetensors
	sluice-train-step -m $< --steps 0 --quiet --export-hf $(H)/final --export-dtype $(HF_DTYPE)

$(H)/em-%.json: $(H)/%.safetensors $(H)/test.jsonl
	$(HF_EM) -m $< -o $@
