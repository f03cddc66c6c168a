# dataset.mk: a directory of raw shards to training shards, one job per
# shard and stage, so that `make -j`, or Slurm through RUN, runs them side
# by side.  Use it as it is,
#
#   make -f pipelines/dataset.mk -j 8 RAW=crawl DATASET=ds SEQ_LEN=1024
#
# include it from another Makefile (set the variables before the include;
# its first target, `dataset`, becomes the default goal unless one was
# named before), or copy it and edit the recipes.
#
# For each raw shard RAW/NAME$(RAW_EXT) (JSON lines, text or records,
# compressed or not; NAME without spaces or quotes):
#
#   DATASET/filter/NAME.slc    sluice-synth-filter $(FILTER_FLAGS)
#   DATASET/sig/NAME.sig       sluice-dedup --signatures (shard name NAME)
#   DATASET/drops.slc          sluice-dedup --merge over every signature
#                              file in name order: one job for all shards
#   DATASET/dedup/NAME.slc     sluice-dedup --apply
#   DATASET/tok/NAME.slc       sluice-tokenize $(TOKENIZE_FLAGS)
#   DATASET/shards/            sluice-shard -T $(SEQ_LEN) $(SHARD_FLAGS)
#                              over every tokenized shard in name order:
#                              train-*.slc, val-*.slc, manifest.json
#   DATASET/report.json        `make dataset-report`: the per-stage counts
#                              (records, kept, dropped by reason) summed
#                              over the shards, from each job's --stats
#
# Each job writes its --stats JSON beside its output (NAME.json).  The
# merge also writes DATASET/keys/NAME.drops, the drop list's lines for one
# shard, replacing a file only when its lines changed, so that touching or
# adding one raw shard reruns its own chain, the merge and the pack, and an
# apply elsewhere only where that shard's drops changed.
#
# Every file is written under a temporary name in its own directory and
# renamed when whole (the shard directory is built as DATASET/shards.tmp
# and swapped in), and .DELETE_ON_ERROR removes the target of a failed
# recipe: a make that fails or is killed leaves no file that looks
# finished, and running it again completes the build.
#
# RUN prefixes each job's command: RUN='srun -N1 -n1 -c1 --exclusive'
# inside a Slurm allocation runs every job as a job step (see README).

RAW ?= raw
RAW_EXT ?= .jsonl.zst
DATASET ?= dataset
PRESET ?= fineweb
FILTER_FLAGS ?= -p $(PRESET)
# Signing options (--ngram, --bands, --rows, --seed, --normalize,
# --min-words, --no-verify) and clustering options of the merge
# (--threshold, --keep).
DEDUP_FLAGS ?=
MERGE_FLAGS ?=
TOKENIZER ?= gpt2
TOKENIZE_FLAGS ?= -e $(TOKENIZER) --drop-text
SEQ_LEN ?= 1024
SHARD_FLAGS ?= --val 0.01
RUN ?=
# The directory of the sluice tools (default: found on PATH).
SLUICE_BIN ?=

DS_TOOL = $(if $(SLUICE_BIN),$(abspath $(SLUICE_BIN))/)sluice-
DS_NAMES := $(sort $(patsubst $(RAW)/%$(RAW_EXT),%,$(wildcard $(RAW)/*$(RAW_EXT))))
DS_FILTERED = $(DS_NAMES:%=$(DATASET)/filter/%.slc)
DS_SIGS = $(DS_NAMES:%=$(DATASET)/sig/%.sig)
DS_KEYS = $(DS_NAMES:%=$(DATASET)/keys/%.drops)
DS_DEDUPED = $(DS_NAMES:%=$(DATASET)/dedup/%.slc)
DS_TOKENS = $(DS_NAMES:%=$(DATASET)/tok/%.slc)
DS_DIRS = $(addprefix $(DATASET)/,filter sig keys dedup tok)

.PHONY: dataset dataset-report dataset-clean
.DELETE_ON_ERROR:
# Every stage's file is kept, so that make redoes only what changed.
.SECONDARY: $(DS_FILTERED) $(DS_SIGS) $(DS_KEYS) $(DS_DEDUPED) $(DS_TOKENS)

dataset: $(DATASET)/shards/manifest.json

dataset-report: $(DATASET)/report.json
	@cat $<

$(DS_DIRS):
	@mkdir -p $@

# The list of shard names, rewritten only when a shard comes or goes, so
# that the merge and the pack notice a shard taken away.
$(DATASET)/names: FORCE | $(DS_DIRS)
	@test -n "$(DS_NAMES)" || { echo "dataset.mk: no raw shards $(RAW)/*$(RAW_EXT)" >&2; exit 1; }
	@printf '%s\n' $(DS_NAMES) >$@.tmp && \
	if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi
FORCE:

$(DATASET)/filter/%.slc: $(RAW)/%$(RAW_EXT) | $(DS_DIRS)
	$(RUN) $(DS_TOOL)synth-filter $(FILTER_FLAGS) --quiet --stats $(@:.slc=.json).tmp -o $@.tmp $< && \
	mv $(@:.slc=.json).tmp $(@:.slc=.json) && mv $@.tmp $@

$(DATASET)/sig/%.sig: $(DATASET)/filter/%.slc
	$(RUN) $(DS_TOOL)dedup --signatures $@.tmp --shard $* $(DEDUP_FLAGS) --quiet --stats $(@:.sig=.json).tmp $< && \
	mv $(@:.sig=.json).tmp $(@:.sig=.json) && mv $@.tmp $@

# The merge: the drop list, then each shard's lines of it into keys/,
# where they changed; the drop list is renamed into place last, so a merge
# cut short is run again.
$(DATASET)/drops.slc: $(DS_SIGS) $(DATASET)/names
	$(RUN) $(DS_TOOL)dedup --merge $(MERGE_FLAGS) --quiet --stats $(DATASET)/merge.json.tmp -o $@.tmp $(DS_SIGS) && \
	rm -f $(DATASET)/keys/*.drops.tmp && \
	$(DS_TOOL)cat -J $@.tmp | awk -v dir=$(DATASET)/keys '{ \
		s = $$0; sub(/^\{"shard": "/, "", s); sub(/".*/, "", s); \
		f = dir "/" s ".drops.tmp"; print >>f; close(f) }' && \
	for n in $(DS_NAMES); do \
		k=$(DATASET)/keys/$$n.drops; touch $$k.tmp; \
		if cmp -s $$k.tmp $$k; then rm -f $$k.tmp; else mv $$k.tmp $$k; fi || exit 1; \
	done && \
	mv $(DATASET)/merge.json.tmp $(DATASET)/merge.json && mv $@.tmp $@

# A shard's lines of the drop list come with the merge; one that is
# missing (removed by hand) is cut out of the drop list again.
$(DS_KEYS): $(DATASET)/drops.slc
	@test -f $@ || { $(DS_TOOL)cat -J $< | grep -F '{"shard": "$(notdir $(basename $@))",' >$@.tmp; mv $@.tmp $@; }

$(DATASET)/dedup/%.slc: $(DATASET)/filter/%.slc $(DATASET)/keys/%.drops
	$(RUN) $(DS_TOOL)dedup --apply $(DATASET)/drops.slc --shard $* --quiet --stats $(@:.slc=.json).tmp -o $@.tmp $< && \
	mv $(@:.slc=.json).tmp $(@:.slc=.json) && mv $@.tmp $@

$(DATASET)/tok/%.slc: $(DATASET)/dedup/%.slc
	$(RUN) $(DS_TOOL)tokenize $(TOKENIZE_FLAGS) --quiet --stats $(@:.slc=.json).tmp -o $@.tmp $< && \
	mv $(@:.slc=.json).tmp $(@:.slc=.json) && mv $@.tmp $@

# The pack, run in DATASET so that the manifest names the sources
# tok/NAME.slc wherever the dataset lies.
$(DATASET)/shards/manifest.json: $(DS_TOKENS) $(DATASET)/names
	rm -rf $(DATASET)/shards.tmp
	cd $(DATASET) && $(RUN) $(DS_TOOL)shard -T $(SEQ_LEN) $(SHARD_FLAGS) --quiet --stats pack.json.tmp \
		-o shards.tmp $(DS_TOKENS:$(DATASET)/%=%)
	mv $(DATASET)/pack.json.tmp $(DATASET)/pack.json
	rm -rf $(DATASET)/shards.old
	if [ -d $(DATASET)/shards ]; then mv $(DATASET)/shards $(DATASET)/shards.old; fi
	mv $(DATASET)/shards.tmp $(DATASET)/shards
	rm -rf $(DATASET)/shards.old

# The report: each stage's counts summed over its jobs' --stats files.
DS_SUM = awk 'FNR == 1 { if (!(stage in jobs)) order[++n] = stage; jobs[stage]++ } \
	{ s = $$0; while (match(s, /"[^"]+": *-?[0-9][0-9.eE+-]*/)) { \
		kv = substr(s, RSTART, RLENGTH); s = substr(s, RSTART + RLENGTH); \
		k = kv; sub(/^"/, "", k); sub(/": *[^"]*$$/, "", k); v = kv; sub(/^.*": */, "", v); \
		if (!((stage, k) in sum)) key[stage, ++nk[stage]] = k; sum[stage, k] += v } } \
	END { printf "{\"shards\": %d", jobs["filter"]; \
		for (i = 1; i <= n; i++) { st = order[i]; printf ", \"%s\": {\"jobs\": %d", st, jobs[st]; \
			for (j = 1; j <= nk[st]; j++) printf ", \"%s\": %.17g", key[st, j], sum[st, key[st, j]]; \
			printf "}" } \
		print "}" }'

$(DATASET)/report.json: $(DATASET)/shards/manifest.json
	@echo "report: $@"
	@$(DS_SUM) stage=filter $(DS_FILTERED:.slc=.json) stage=signatures $(DS_SIGS:.sig=.json) \
		stage=merge $(DATASET)/merge.json stage=apply $(DS_DEDUPED:.slc=.json) \
		stage=tokenize $(DS_TOKENS:.slc=.json) stage=pack $(DATASET)/pack.json >$@.tmp && mv $@.tmp $@

dataset-clean:
	rm -rf $(DATASET)

.PHONY: FORCE
