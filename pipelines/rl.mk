# rl.mk: reinforcement learning on the SFT model of sft.mk, with the
# answer verifier as the reward.  Included by Makefile.
#
#   make rl      GRPO from the SFT model, twice: with a KL penalty to the
#                SFT model (RL_KL) and without one (the KL is measured in
#                both); and DPO on pairs of the SFT model's own right and
#                wrong answers.  Ends with the table of held-out exact match
#                (95% intervals), pass@k, FLOPs and points per PFLOP for
#                SFT, GRPO and DPO, and a plot of reward, held-out
#                accuracy, KL and entropy per step (rl.png).
#
# Each GRPO iteration is three files: the rollouts the policy sampled, the
# same scored by the verifier, and a stamp written once train-step has
# stepped on them; the checkpoint is advanced in place and remembers the
# rollouts it trained on, so that a run stopped anywhere resumes with
# `make rl` again and never steps twice on one batch.  Every RL_EVAL_EVERY
# iterations the policy is copied aside and scored on held-out problems.

RL = $(OUT)/rl
RL_ITERS ?= 60
RL_PROMPTS ?= 32
RL_G ?= 8
RL_LR ?= 2e-5
RL_KL ?= 0.5
RL_EVAL_EVERY ?= 10
RL_EVAL_ITEMS ?= 300
RL_FLAGS = -B 64 --lr $(RL_LR) --schedule constant --quiet
DPO_PROMPTS ?= 500
DPO_GROUPS ?= 16
DPO_LR ?= 3e-6
DPO_EPOCHS ?= 1
RL_RUNS = grpo-kl grpo-nokl
kl_of = $(if $(filter grpo-kl,$(1)),$(RL_KL),0)
RL_ITS := $(shell seq 0 $(RL_ITERS))
RL_EVAL_ITS := $(shell seq 0 $(RL_EVAL_EVERY) $(RL_ITERS))
RL_SFT = $(SFT)/sft.safetensors

.PHONY: rl
rl: $(RL)/table.txt $(RL)/rl.png
	@cat $(RL)/table.txt

# Prompts: problems of the SFT task from seeds of their own (other
# problems than the teacher's, the held-out and the rejection sampling's).
$(RL)/prompts.jsonl: $(ARITH)
	@mkdir -p $(RL)
	$(ARITH) -n $$(($(RL_ITERS) * $(RL_PROMPTS))) -s 5 $(ARITH_ARGS) >$@.tmp && mv $@.tmp $@
$(RL)/dpo-prompts.jsonl: $(ARITH)
	@mkdir -p $(RL)
	$(ARITH) -n $(DPO_PROMPTS) -s 6 $(ARITH_ARGS) >$@.tmp && mv $@.tmp $@
$(RL)/reward.rules:
	@mkdir -p $(RL)
	printf 'correct score=1 completion answer answer\n' >$@

# One GRPO run: $(1) the run, $(2) the iteration, $(3) the one before.
define grpo_iteration
$(RL)/$(1)/rollouts-$(2).slc: $(RL)/$(1)/it-$(3).done $(RL)/prompts.jsonl
	sed -n "$$$$(( ($(2) - 1) * $(RL_PROMPTS) + 1 )),$$$$(( $(2) * $(RL_PROMPTS) ))p" $(RL)/prompts.jsonl | \
		sluice-sample -m $(RL)/$(1)/policy.safetensors --chat -n $(RL_G) -t 1 -N 48 -B 64 -s $(2) --quiet -o $$@.tmp && \
		mv $$@.tmp $$@
$(RL)/$(1)/scored-$(2).slc: $(RL)/$(1)/rollouts-$(2).slc $(RL)/reward.rules
	sluice-synth-filter --reward -R $(RL)/reward.rules --quiet -o $$@.tmp $$< && mv $$@.tmp $$@
$(RL)/$(1)/it-$(2).done: $(RL)/$(1)/scored-$(2).slc
	sluice-train-step -m $(RL)/$(1)/policy.safetensors --grpo --ref $(RL_SFT) --kl $(call kl_of,$(1)) $(RL_FLAGS) \
		--log $(RL)/$(1)/log-$(2).jsonl $$<
	$(if $(filter $(2),$(RL_EVAL_ITS)),cp $(RL)/$(1)/policy.safetensors $(RL)/$(1)/snap-$(2).safetensors)
	touch $$@
endef

define grpo_run
$(RL)/$(1)/it-0.done: $(RL_SFT)
	@mkdir -p $(RL)/$(1)
	rm -f $(RL)/$(1)/policy.safetensors.optim
	cp $(RL_SFT) $(RL)/$(1)/policy.safetensors.tmp && mv $(RL)/$(1)/policy.safetensors.tmp $(RL)/$(1)/policy.safetensors
	cp $(RL_SFT) $(RL)/$(1)/snap-0.safetensors
	touch $$@
$(foreach i,$(wordlist 2,$(words $(RL_ITS)),$(RL_ITS)),$(eval $(call grpo_iteration,$(1),$(i),$(word $(i),$(RL_ITS)))))
$(RL)/$(1)/eval-%.json: $(RL)/$(1)/it-%.done $(SFT)/test.jsonl
	$(EM) -m $(RL)/$(1)/snap-$$*.safetensors --limit $(RL_EVAL_ITEMS) -o $$@
$(RL)/$(1)/final.safetensors: $(RL)/$(1)/it-$(RL_ITERS).done
	cp $(RL)/$(1)/policy.safetensors $$@
$(RL)/$(1)/metrics.tsv: $(RL)/$(1)/it-$(RL_ITERS).done \
		$(foreach i,$(RL_EVAL_ITS),$(RL)/$(1)/eval-$(i).json)
	../scripts/rl-metrics.sh $(RL)/$(1) >$$@.tmp && mv $$@.tmp $$@
endef
$(foreach r,$(RL_RUNS),$(eval $(call grpo_run,$(r))))

# DPO: the SFT model's own answers to fresh problems, scored; the SFT
# model's log-probs of them as the reference; pairs of a right and a wrong
# answer to one problem.
$(RL)/dpo/rollouts.slc: $(RL_SFT) $(RL)/dpo-prompts.jsonl
	@mkdir -p $(RL)/dpo
	sluice-sample -m $(RL_SFT) --chat -n $(RL_G) -t 1 -N 48 -B 64 --quiet -o $@.tmp $(RL)/dpo-prompts.jsonl && mv $@.tmp $@
$(RL)/dpo/scored.slc: $(RL)/dpo/rollouts.slc $(RL)/reward.rules
	sluice-synth-filter --reward -R $(RL)/reward.rules --quiet $< | \
		sluice-eval --ref-logprobs -m $(RL_SFT) -B 64 -o $@.tmp && mv $@.tmp $@
$(RL)/dpo/final.safetensors: $(RL)/dpo/scored.slc
	rm -f $@ $@.optim
	sluice-train-step -m $@ --from $(RL_SFT) --steps 0 --quiet
	for e in $$(seq $(DPO_EPOCHS)); do \
		sluice-train-step -m $@ --dpo --groups $(DPO_GROUPS) -B 32 --lr $(DPO_LR) --schedule constant --quiet \
			--rewind --log $(RL)/dpo/log-$$e.jsonl $< || exit 1; \
	done

# Held-out exact match (all problems, greedy) and pass@k of each model.
$(RL)/em-%.json: $(RL)/%/final.safetensors $(SFT)/test.jsonl
	$(EM) -m $< -o $@
$(RL)/pass-%.json: $(RL)/%/final.safetensors $(SFT)/test.jsonl
	$(EM) -m $< --samples $(PASS_K) --temperature 1 --limit $(PASS_ITEMS) -o $@

RL_REPORTS = $(foreach r,$(RL_RUNS) dpo,$(RL)/em-$(r).json $(RL)/pass-$(r).json) \
	$(SFT)/em-sft.json $(SFT)/pass-sft.json

$(RL)/rl.png: $(foreach r,$(RL_RUNS),$(RL)/$(r)/metrics.tsv) ../scripts/rl-plot.gp
	../scripts/need.sh gnuplot gnuplot-nox
	gnuplot -e "dir='$(RL)'; kl='$(RL_KL)'" ../scripts/rl-plot.gp

$(RL)/table.txt: $(RL_REPORTS) $(foreach r,$(RL_RUNS),$(RL)/$(r)/metrics.tsv)
	../scripts/rl-table.sh $(SFT) $(RL) $(RL_KL) >$@.tmp && mv $@.tmp $@
