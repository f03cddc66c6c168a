#!/bin/bash
# llamacpp.sh: generation speed of sluice-sample beside llama.cpp's on the
# same model, the same threads and the same token counts.
#
#   LLAMACPP_DIR=... LLAMACPP_PYTHON=... bash bench/llamacpp.sh
#
# LLAMACPP_DIR is a llama.cpp checkout built for the CPU, with
# build/bin/llama-batched-bench and build/bin/llama-bench in it, e.g.
#   cmake -B build -DGGML_NATIVE=ON -DLLAMA_CURL=OFF -DCMAKE_BUILD_TYPE=Release
#   cmake --build build -j2 --target llama-batched-bench llama-bench
# and LLAMACPP_PYTHON a Python that runs its convert_hf_to_gguf.py (torch,
# transformers, tokenizers, numpy, pyyaml; it takes gguf-py from the checkout).
# Both live outside this repository (a temporary environment, never CI);
# without them the script says so and exits 0.
#
# One model per shape in SHAPES (default d12, GPT-2 124M; d6 too with
# SHAPES="d6 d12"), random weights (speed does not depend on them):
# sluice-train-step --init writes the checkpoint and --export-hf the Hugging
# Face directory, bench/tiktoken_to_hf.py adds GPT-2's tokenizer.json (from
# vocab/), and convert_hf_to_gguf.py turns that into GGUF f32, bf16 and q8_0.
# Each pair -- sluice --weights f32/bf16/int8 against GGUF f32/bf16/q8_0 --
# is timed at batch 1 and 16 (BATCHES), NEW new tokens (default 120, as
# bench/sample.sh) from a one-token prompt (<|endoftext|>), THREADS threads
# (default 2), greedy on sluice's side; each figure is the best of RUNS
# (default 2) runs, the two tools taking turns.
#
# What is timed, both sides without loading the model:
#   llama.cpp: llama-batched-bench -npp 1 -ntg NEW -npl B, its S_TG: B*NEW
#     tokens over the time of the NEW decode steps (the prompt's step is timed
#     apart); it draws no token (the next input is a fixed id), so sampling
#     is not in its figure.
#   sluice: sluice-sample -t 0 --no-stop-eot -B B on B empty prompts, run
#     with -N NEW and with -N 1; the rate is B*(NEW-1) tokens over the
#     difference of the two wall times, so that reading the checkpoint,
#     packing the weights and the prompt's step cancel.  Greedy picking and
#     the log-probs of each token stay in (sluice-sample always computes
#     them).  The whole command's rate at -N NEW is printed beside it.
#   llama.cpp runs with OMP_WAIT_POLICY=passive, the OpenMP wait policy the
#     sluice tools set for themselves (see sluice-sample(1)); with ASIS=1 it
#     is also timed as it comes (libgomp's default: a thread spins a while at
#     each barrier before it sleeps), which on a machine shared with other
#     jobs was many times slower.
#   llama-bench -p 0 -n NEW, its tg figure, is printed at batch 1 as a
#     second llama.cpp figure.
# Timing waits (up to WAIT seconds, default 900) for the 1-minute load
# average to fall below MAXLOAD (default 2.5), and prints the load each
# figure was taken at.
set -eu
cd "$(dirname "$0")/.."
if [ -z "${LLAMACPP_DIR:-}" ] || [ -z "${LLAMACPP_PYTHON:-}" ]; then
	echo "llamacpp.sh: skipped: set LLAMACPP_DIR (a built llama.cpp checkout) and LLAMACPP_PYTHON (a Python for its convert_hf_to_gguf.py)"
	exit 0
fi
O=${O:-build}
NEW=${NEW:-120}
THREADS=${THREADS:-2}
RUNS=${RUNS:-2}
SHAPES=${SHAPES:-d12}
BATCHES=${BATCHES:-1 16}
MAXLOAD=${MAXLOAD:-2.5}
WAIT=${WAIT:-900}
ASIS=${ASIS:-0}
BIN=$LLAMACPP_DIR/build/bin
for f in "$BIN/llama-batched-bench" "$BIN/llama-bench" "$LLAMACPP_DIR/convert_hf_to_gguf.py" \
	"$O/bin/sluice-sample" "$O/bin/sluice-train-step"; do
	[ -e "$f" ] || { echo "llamacpp.sh: $f: missing (build sluice with make, llama.cpp as above)" >&2; exit 1; }
done
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

load1() { cut -d' ' -f1 /proc/loadavg; }
quiet() { # wait for the load to fall below MAXLOAD; say if it did not
	local t=0
	while awk -v l="$(load1)" -v m="$MAXLOAD" 'BEGIN { exit !(l >= m) }'; do
		if [ "$t" -ge "$WAIT" ]; then
			echo "llamacpp.sh: load $(load1) still at or above $MAXLOAD after ${WAIT}s; timing anyway" >&2
			return
		fi
		sleep 10
		t=$((t + 10))
	done
}
best() { sort -g | tail -1; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $THREADS threads; load $(cut -d' ' -f1-3 /proc/loadavg)"
commit=$(git -C "$LLAMACPP_DIR" rev-parse --short=9 HEAD 2>/dev/null || echo "not a git checkout")
echo "llama.cpp: $LLAMACPP_DIR ($commit); $("$BIN/llama-bench" --version 2>&1 | grep -m1 -i version || true)"

sluice_run() { # CKPT WEIGHTS B N: wall seconds
	local s e
	s=$(date +%s.%N)
	"$O/bin/sluice-sample" -m "$1" --weights "$2" -B "$3" -N "$4" -t 0 --no-stop-eot -j "$THREADS" --quiet -J \
		"$TMP/prompts$3.jsonl" > "$TMP/out.jsonl"
	e=$(date +%s.%N)
	local got
	got=$(grep -c '"finish": "length"' "$TMP/out.jsonl" || true)
	[ "$got" -eq "$3" ] || { echo "llamacpp.sh: sluice-sample gave $got full completions of $3" >&2; exit 1; }
	awk -v s="$s" -v e="$e" 'BEGIN { printf "%.4f\n", e - s }'
}
llama_rate() { # GGUF B [ENV...]: S_TG (a cache of whole 256-cell blocks a sequence, as llama.cpp rounds to)
	local m=$1 b=$2
	shift 2
	env "$@" "$BIN/llama-batched-bench" -m "$m" -c $((b * ((NEW + 256) / 256) * 256)) -b 2048 -ub 512 -npp 1 -ntg "$NEW" -npl "$b" \
		-t "$THREADS" --output-format jsonl 2> "$TMP/llama.err" > "$TMP/llama.out" ||
		{ cat "$TMP/llama.err" >&2; exit 1; }
	sed -n 's/.*"speed_tg": *\([0-9.]*\).*/\1/p' "$TMP/llama.out" | tail -1
}
llama_bench() { # GGUF [ENV...]: its tg NEW figure at batch 1
	local m=$1
	shift
	env "$@" "$BIN/llama-bench" -m "$m" -p 0 -n "$NEW" -t "$THREADS" -r 1 -o jsonl 2> "$TMP/llama.err" > "$TMP/llama.out" ||
		{ cat "$TMP/llama.err" >&2; exit 1; }
	sed -n 's/.*"avg_ts": *\([0-9.]*\).*/\1/p' "$TMP/llama.out" | tail -1 | awk '{ printf "%.1f\n", $1 }'
}

for b in $BATCHES; do
	for _ in $(seq "$b"); do echo '{"text": ""}'; done > "$TMP/prompts$b.jsonl"
done
printf '\n| shape | batch | sluice | llama.cpp | sluice tok/s | llama.cpp tok/s | ratio | llama.cpp as it comes | sluice whole command | llama-bench tg | load |\n'
printf '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n'
for shape in $SHAPES; do
	ck=$TMP/$shape.safetensors
	"$O/bin/sluice-train-step" -m "$ck" --init "$shape" --n-vocab 50257 --tokenizer gpt2 --steps 0 \
		--export-hf "$TMP/$shape-hf" --quiet
	rm -f "$ck.optim"
	"$LLAMACPP_PYTHON" bench/tiktoken_to_hf.py vocab/gpt2.tiktoken vocab/gpt2.json "$TMP/$shape-hf" > /dev/null
	for q in f32 bf16 q8_0; do
		"$LLAMACPP_PYTHON" "$LLAMACPP_DIR/convert_hf_to_gguf.py" "$TMP/$shape-hf" --outtype "$q" \
			--outfile "$TMP/$shape-$q.gguf" > "$TMP/convert.log" 2>&1 ||
			{ tail -20 "$TMP/convert.log" >&2; exit 1; }
	done
	rm -rf "$TMP/$shape-hf"
	for pair in f32:f32 bf16:bf16 int8:q8_0; do
		w=${pair%%:*} q=${pair#*:}
		for b in $BATCHES; do
			: > "$TMP/t1"; : > "$TMP/tn"; : > "$TMP/l"; : > "$TMP/lp"; : > "$TMP/lb"; loads=
			for _ in $(seq "$RUNS"); do
				quiet
				loads="$loads $(load1)"
				sluice_run "$ck" "$w" "$b" 1 >> "$TMP/t1"
				sluice_run "$ck" "$w" "$b" "$NEW" >> "$TMP/tn"
				quiet
				loads="$loads $(load1)"
				llama_rate "$TMP/$shape-$q.gguf" "$b" OMP_WAIT_POLICY=passive >> "$TMP/lp"
				if [ "$ASIS" = 1 ]; then
					llama_rate "$TMP/$shape-$q.gguf" "$b" >> "$TMP/l"
				fi
				if [ "$b" -eq 1 ]; then
					llama_bench "$TMP/$shape-$q.gguf" OMP_WAIT_POLICY=passive >> "$TMP/lb"
				fi
			done
			# the fastest run of each length: the rate of the extra NEW-1 steps, and the whole command's
			t1=$(sort -g "$TMP/t1" | head -1) tn=$(sort -g "$TMP/tn" | head -1)
			set -- $(awk -v b="$b" -v n="$NEW" -v t1="$t1" -v tn="$tn" \
				'BEGIN { printf "%.1f %.1f\n", (tn > t1 ? b * (n - 1) / (tn - t1) : 0), b * n / tn }')
			s=$1 l=$(best < "$TMP/l") lp=$(best < "$TMP/lp") lb=$(best < "$TMP/lb")
			printf '| %s | %d | %s | %s | %s | %.1f | %s | %s | %s | %s |%s |\n' "$shape" "$b" "$w" "$q" "$s" "$lp" \
				"$(awk -v s="$s" -v p="$lp" 'BEGIN { printf "%.2fx", (p > 0 ? s / p : 0) }')" \
				"${l:--}" "$2" "${lb:--}" "$loads"
		done
	done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
