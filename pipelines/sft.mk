# sft.mk: supervised fine-tuning on verified synthetic data, two ways, with
# exact match on held-out problems after each stage.  Included by Makefile.
#
#   make sft     problems from pipelines/arith (teacher solutions), verified
#                by sluice-synth-filter's answer rule and decontaminated
#                against the held-out questions; a small vocabulary that
#                keeps one token per digit; a base model pretrained on tiny
#                Shakespeare; SFT on the teacher's conversations; then
#                rejection sampling: the SFT model answers fresh problems,
#                the verifier keeps the right answers, and the model is
#                fine-tuned on them -- and, for comparison, on the same
#                answers unverified.  Ends with a table of held-out exact
#                match (95% intervals), pass@k, training FLOPs and points
#                gained per PFLOP, and a few conversations.
#
# Knobs: SFT_DIGITS, SFT_STEPS (operations a problem), SFT_OPS, counts and
# training steps below.  Every stage is a file; make rebuilds what changed.

SFT = $(OUT)/sft
ARITH = $(O)/pipelines/arith
SFT_DIGITS ?= 1
SFT_STEPS ?= 2
SFT_OPS ?= +-
SFT_WORK ?= plain
SFT_TRAIN ?= 20000
SFT_TEST ?= 1000
SFT_RS ?= 1500
SFT_RS_SAMPLES ?= 4
SFT_VOCAB ?= 512
SFT_SHAPE ?= -L 4 -C 128 -H 4
SFT_T ?= 96
BASE_STEPS ?= 100
TEACHER_STEPS ?= 800
RS_STEPS ?= 150
PASS_K ?= 8
PASS_ITEMS ?= 300
ARITH_ARGS = --digits $(SFT_DIGITS) --steps $(SFT_STEPS) --ops '$(SFT_OPS)' --work $(SFT_WORK)
# GPT-2's pre-tokenization, but one digit a piece: numbers are read and
# written digit by digit.
DIGIT_PATTERN = 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
SFT_TRAIN_FLAGS = -B 16 --lr 3e-3 --warmup 20 --quiet
# Greedy exact match, then pass@k at temperature 1.
EM = sluice-eval --gsm8k $(SFT)/test.jsonl --chat -B 64 --max-new 48
export SLUICE_VOCAB_DIR := $(abspath $(SFT))

.PHONY: sft
# Every stage's file is kept, so that make redoes only what changed.
.SECONDARY:
sft: $(SFT)/table.txt
	@cat $(SFT)/table.txt

# Problems: teacher data, held-out, harder held-out (one more operation),
# and fresh prompts for rejection sampling (other seeds: other problems).
$(SFT)/train-raw.jsonl: $(ARITH)
	@mkdir -p $(SFT)
	$(ARITH) -n $(SFT_TRAIN) -s 1 $(ARITH_ARGS) >$@.tmp && mv $@.tmp $@
$(SFT)/test.jsonl: $(ARITH)
	@mkdir -p $(SFT)
	$(ARITH) -n $(SFT_TEST) -s 2 --split test $(ARITH_ARGS) >$@.tmp && mv $@.tmp $@
$(SFT)/harder.jsonl: $(ARITH)
	@mkdir -p $(SFT)
	$(ARITH) -n $(SFT_TEST) -s 3 --split test --digits $(SFT_DIGITS) --steps $$(($(SFT_STEPS) + 1)) \
		--ops '$(SFT_OPS)' --work $(SFT_WORK) >$@.tmp && mv $@.tmp $@
$(SFT)/rs-prompts.jsonl: $(ARITH)
	@mkdir -p $(SFT)
	$(ARITH) -n $(SFT_RS) -s 4 $(ARITH_ARGS) >$@.tmp && mv $@.tmp $@

# Teacher data: the solutions the verifier accepts, minus any problem that
# shares a 13-word run with a held-out question.
$(SFT)/verify.rules:
	@mkdir -p $(SFT)
	printf 'wrong drop solution wrong_answer answer\n' >$@
$(SFT)/test-questions.jsonl: $(SFT)/test.jsonl $(SFT)/harder.jsonl
	sed 's/^{"id": "[^"]*", "question": \("[^"]*"\).*/{"question": \1}/' $^ >$@
$(SFT)/teacher.jsonl: $(SFT)/train-raw.jsonl $(SFT)/verify.rules $(SFT)/test-questions.jsonl
	sluice-synth-filter -R $(SFT)/verify.rules --decon $(SFT)/test-questions.jsonl --decon-field question \
		--stats $(SFT)/teacher-filter.json -o $@.tmp $< && mv $@.tmp $@

# The vocabulary: learned from tiny Shakespeare and the teacher's text.
$(SFT)/task.tiktoken: $(SFT)/teacher.jsonl $(DATA)/tinyshakespeare.txt
	{ cat $(DATA)/tinyshakespeare.txt; sed 's/.*"question": "\([^"]*\)", "solution": "\([^"]*\)".*/\1\n\2/; s/\\n/\n/g' \
		$(SFT)/teacher.jsonl; } >$(SFT)/vocab-text.txt
	sluice-tokenize --train --vocab-size $(SFT_VOCAB) --pattern "$(DIGIT_PATTERN)" -o $(SFT)/task \
		$(SFT)/vocab-text.txt 2>/dev/null

# The base model: tiny Shakespeare, no chat tokens.
$(SFT)/base.safetensors: $(SFT)/task.tiktoken
	awk -f ../scripts/paragraphs.awk $(DATA)/tinyshakespeare.txt | \
		sluice-tokenize -v $(SFT)/task.tiktoken --drop-text -o $(SFT)/shk.slc 2>/dev/null
	rm -rf $(SFT)/shk && sluice-shard --quiet -T $(SFT_T) -o $(SFT)/shk $(SFT)/shk.slc
	rm -f $@ $@.optim
	sluice-train-step -m $@ --init custom $(SFT_SHAPE) --ctx $(SFT_T) $(SFT_TRAIN_FLAGS) --steps $(BASE_STEPS) \
		--log $(SFT)/base.log $(SFT)/shk/train-00000.slc

# Chat data into SFT shards: loss on the assistant's tokens only.
$(SFT)/%/manifest.json: $(SFT)/%.jsonl $(SFT)/task.tiktoken
	sluice-tokenize -v $(SFT)/task.tiktoken --chat --drop-text -o $(SFT)/$*.slc $< 2>/dev/null
	rm -rf $(SFT)/$* && sluice-shard --quiet --sft -T $(SFT_T) -o $(SFT)/$* $(SFT)/$*.slc

# 1. Teacher SFT from the base (its embedding grows by the chat tokens).
$(SFT)/sft.safetensors: $(SFT)/base.safetensors $(SFT)/teacher/manifest.json
	rm -f $@ $@.optim
	sluice-train-step -m $@ --from $< $(SFT_TRAIN_FLAGS) --steps $(TEACHER_STEPS) --log $(SFT)/sft.log \
		$(SFT)/teacher/train-00000.slc

# 2. Rejection sampling: the SFT model answers fresh problems; the verifier
# keeps the right answers (rs-verified) -- or keeps them all (rs-unverified).
$(SFT)/rs-samples.jsonl: $(SFT)/sft.safetensors $(SFT)/rs-prompts.jsonl
	sluice-sample -m $< --chat -n $(SFT_RS_SAMPLES) -t 1 -N 48 -B 64 -J --quiet -o $@.tmp $(SFT)/rs-prompts.jsonl && \
		mv $@.tmp $@
$(SFT)/rs.rules:
	@mkdir -p $(SFT)
	printf 'wrong drop completion wrong_answer answer\n' >$@
$(SFT)/rs-verified.jsonl: $(SFT)/rs-samples.jsonl $(SFT)/rs.rules
	sluice-synth-filter -R $(SFT)/rs.rules --stats $(SFT)/rs-filter.json -o $@.tmp $< && mv $@.tmp $@
$(SFT)/rs-unverified.jsonl: $(SFT)/rs-samples.jsonl
	cp $< $@
$(SFT)/rs-%.safetensors: $(SFT)/sft.safetensors $(SFT)/rs-%/manifest.json
	rm -f $@ $@.optim
	sluice-train-step -m $@ --from $< $(SFT_TRAIN_FLAGS) --lr 1e-3 --steps $(RS_STEPS) --log $(SFT)/rs-$*.log \
		$(SFT)/rs-$*/train-00000.slc

# Exact match of each model on the held-out problems.  The base model has no
# chat tokens: it is asked in plain form ("Question: ...\nAnswer:").
$(SFT)/em-base.json: $(SFT)/base.safetensors $(SFT)/test.jsonl
	sluice-eval --gsm8k $(SFT)/test.jsonl -B 64 --max-new 48 -m $< -o $@
$(SFT)/em-%.json: $(SFT)/%.safetensors $(SFT)/test.jsonl
	$(EM) -m $< -o $@
$(SFT)/pass-%.json: $(SFT)/%.safetensors $(SFT)/test.jsonl
	$(EM) -m $< --samples $(PASS_K) --temperature 1 --limit $(PASS_ITEMS) -o $@
$(SFT)/harder-%.json: $(SFT)/%.safetensors $(SFT)/harder.jsonl
	sluice-eval --gsm8k $(SFT)/harder.jsonl --chat -B 64 --max-new 64 --limit 500 -m $< -o $@

SFT_REPORTS = $(SFT)/em-base.json $(SFT)/em-sft.json $(SFT)/em-rs-verified.json $(SFT)/em-rs-unverified.json \
	$(SFT)/pass-sft.json $(SFT)/pass-rs-verified.json $(SFT)/harder-sft.json $(SFT)/harder-rs-verified.json

# Three held-out conversations with the last model, greedy.
$(SFT)/conversations.jsonl: $(SFT)/rs-verified.safetensors $(SFT)/test.jsonl
	head -3 $(SFT)/test.jsonl | sluice-sample -m $< --chat -t 0 -N 48 -J --quiet -o $@

$(SFT)/table.txt: $(SFT_REPORTS) $(SFT)/teacher.jsonl $(SFT)/rs-verified.jsonl $(SFT)/conversations.jsonl
	../scripts/sft-table.sh $(SFT) >$@.tmp && mv $@.tmp $@
