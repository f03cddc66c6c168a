#!/bin/bash
# options.sh: the common options (sluice(1), COMMON OPTIONS) across every
# tool the dispatcher lists.  A tool whose --help names an option must give
# it its one meaning (checked by a behaviour) and its one message for a bad
# value; a tool whose --help does not name it must refuse it as an unknown
# option with the "Try ... --help" hint.
. "$(dirname "$0")/../lib.sh"
export OMP_NUM_THREADS=2

# Inputs for a real run of each tool: documents, their tokens, sequences, a
# tiny model.
head -40 data/gsm8k/test.jsonl | sed 's/"question"/"text"/' >"$TMP/docs.jsonl"
sluice-tokenize --quiet -e gpt2 --drop-text -o "$TMP/docs.tok" "$TMP/docs.jsonl"
sluice-shard --quiet -T 16 -o "$TMP/sh" "$TMP/docs.tok"
SEQ=$TMP/sh/train-00000.slc
sluice-train-step --quiet -m "$TMP/m.st" --init custom -L 1 -C 16 -H 1 --ctx 32 --steps 1 --log /dev/null "$SEQ"
printf '{"text": "Natalia sold"}\n{"text": "A robe takes"}\n' >"$TMP/prompts.jsonl"

# args TOOL N: a run of TOOL that succeeds (N numbers the run, so that two
# runs of shard or train-step write to places of their own).
args() {
	case $1 in
	cat) echo "-r $TMP/docs.jsonl" ;;
	tokenize) echo "-e gpt2 $TMP/docs.jsonl" ;;
	dedup) echo "$TMP/docs.jsonl" ;;
	synth-filter) echo "-p fineweb $TMP/docs.jsonl" ;;
	shard) echo "-T 16 $TMP/docs.tok" ;;
	train-step) echo "-m $TMP/t$2.st --init custom -L 1 -C 16 -H 1 --ctx 32 --steps 1 --log $TMP/t$2.log $SEQ" ;;
	eval) echo "-m $TMP/m.st --loss $SEQ" ;;
	sample) echo "-m $TMP/m.st --tokenizer gpt2 -n 1 -N 4 -s 3 $TMP/prompts.jsonl" ;;
	esac
}
# rec_args TOOL: a run that writes records.
rec_args() {
	case $1 in
	synth-filter) echo "-r $(args $1 0)" ;;
	eval) echo "-m $TMP/m.st --score $SEQ" ;;
	*) args $1 0 ;;
	esac
}
# Where a tool writes: shard writes a directory, train-step a checkpoint.
dir_out() { [ "$1" = shard ]; }
no_stdout() { [ "$1" = shard ] || [ "$1" = train-step ]; }

TOOLS=$(sluice --help | awk '/^Tools:/ { on = 1; next } on && /^  [a-z]/ { print $1 } on && /^$/ { exit }')
[ "$(wc -w <<<"$TOOLS")" -ge 8 ] && ok "the dispatcher lists the tools: $(echo $TOOLS)" ||
	not_ok "dispatcher's list" "$TOOLS"

n=0
for t in $TOOLS; do
	T=sluice-$t
	help=$("$T" --help)
	takes() { grep -Eq -- "(^|[ ,])$1([ ,=]|$)" <<<"$help"; }
	refuses() { # refuses OPTION [VALUE]: an unknown option, with the hint
		expect_err "$t: $1 is not an option of this tool" 2 "^$T: unrecognized option '$1'" $T "$@"
		grep -q "^Try '$T --help' for more information\.$" "$TMP/err" && ok "$t: $1: the hint" ||
			not_ok "$t: $1: the hint" "$(cat "$TMP/err")"
	}

	# -h and -V: every tool.
	expect "$t: -h" 0 $T -h
	head -1 "$TMP/out" | grep -q "^Usage: $T " && ok "$t: -h prints the usage" || not_ok "$t: -h" "$(head -1 "$TMP/out")"
	expect "$t: --version" 0 $T --version
	grep -Eq "^$T \(sluice\) [0-9]" "$TMP/out" && ok "$t: -V names the tool and version" ||
		not_ok "$t: -V" "$(cat "$TMP/out")"
	refuses --bogus
	expect_err "$t: -j without its value" 2 "^Try '$T --help' for more information\.$" $T -j

	# A plain run, the reference for the options that must not change it.
	n=$((n + 1))
	if dir_out $t; then
		expect "$t: a plain run" 0 $T --quiet -o "$TMP/d$n" $(args $t $n)
	else
		expect "$t: a plain run" 0 $T $(args $t $n)
	fi
	cp "$TMP/out" "$TMP/$t.plain"

	# -j: 1 to 1024, the same output for any number.
	if takes --threads; then
		n=$((n + 1))
		if dir_out $t; then
			expect "$t: -j 2" 0 $T --quiet -j 2 -o "$TMP/d$n" $(args $t $n)
			same "$t: -j 2 writes the same shards" "$TMP/d$((n - 1))/train-00000.slc" "$TMP/d$n/train-00000.slc"
		elif no_stdout $t; then
			expect "$t: -j 2" 0 $T -j 2 $(args $t $n)
		else
			expect "$t: -j 2" 0 $T -j 2 $(args $t $n)
			same "$t: -j 2 writes what -j 1 writes" "$TMP/$t.plain" "$TMP/out"
		fi
		for v in 0 1025 x; do
			expect_err "$t: -j $v" 2 "^$T: invalid value for --threads: '$v' \(expected 1 to 1024\)$" $T -j $v
		done
	else
		refuses --threads 2
	fi

	# -o: the output goes to FILE; a FILE that cannot be made is named.
	if takes --output; then
		n=$((n + 1))
		if dir_out $t; then
			expect "$t: -o DIR" 0 $T --quiet -o "$TMP/o$n" $(args $t $n)
			[ -s "$TMP/o$n/manifest.json" ] && ok "$t: -o DIR holds the shards" || not_ok "$t: -o DIR"
		else
			expect "$t: -o FILE" 0 $T -o "$TMP/o$n" $(args $t $n)
			[ ! -s "$TMP/out" ] && ok "$t: -o: nothing on stdout" || not_ok "$t: -o: stdout"
			same "$t: -o FILE holds what stdout would" "$TMP/$t.plain" "$TMP/o$n"
		fi
		expect_err "$t: -o in a missing directory" 1 "^$T: $TMP/none/x: cannot create: " \
			$T -o "$TMP/none/x" $(args $t $n)
	else
		refuses --output "$TMP/x"
	fi

	# -J: JSON lines out.
	if takes --jsonl; then
		n=$((n + 1))
		expect "$t: -J" 0 $T $(args $t $n) -J
		[ -s "$TMP/out" ] && ! grep -qv '^{.*}$' "$TMP/out" && ok "$t: -J writes JSON lines" ||
			not_ok "$t: -J" "$(head -c 200 "$TMP/out")"
	else
		refuses --jsonl
	fi

	# -f: records to a terminal are refused without it.
	if takes --force; then
		if command -v script >/dev/null; then
			script -qec "$T $(rec_args $t) >/dev/tty" /dev/null >"$TMP/tty" 2>&1
			grep -q "$T: refusing to write binary records to a terminal" "$TMP/tty" &&
				ok "$t: binary refused on a terminal" || not_ok "$t: terminal" "$(head -c 200 "$TMP/tty")"
		else
			echo "skip: $t: no script(1) for a terminal"
		fi
		expect "$t: -f" 0 $T -f $(args $t 0)
		same "$t: -f changes nothing off a terminal" "$TMP/$t.plain" "$TMP/out"
	else
		refuses --force
	fi

	# --quiet: no progress line, no summary, no warnings: nothing on stderr.
	if takes --quiet; then
		n=$((n + 1))
		if dir_out $t; then
			expect "$t: --quiet" 0 $T --quiet -o "$TMP/q$n" $(args $t $n)
		else
			expect "$t: --quiet" 0 $T --quiet $(args $t $n)
		fi
		[ ! -s "$TMP/err" ] && ok "$t: --quiet: nothing on stderr" || not_ok "$t: --quiet" "$(head -c 200 "$TMP/err")"
	else
		refuses --quiet
	fi

	# --progress: the output does not change.
	if takes --progress; then
		n=$((n + 1))
		if dir_out $t; then
			expect "$t: --progress" 0 $T --progress -o "$TMP/p$n" $(args $t $n)
		else
			expect "$t: --progress" 0 $T --progress $(args $t $n)
			no_stdout $t || same "$t: --progress: the same output" "$TMP/$t.plain" "$TMP/out"
		fi
	else
		refuses --progress
	fi

	# --stats FILE: the summary as a JSON object.  (sluice-cat's --stats is
	# its statistics mode, without a FILE: see sluice-cat(1).)
	if [ $t = cat ]; then
		:
	elif takes --stats; then
		n=$((n + 1))
		if dir_out $t; then
			expect "$t: --stats FILE" 0 $T --quiet --stats "$TMP/s$n.json" -o "$TMP/s$n" $(args $t $n)
		else
			expect "$t: --stats FILE" 0 $T --quiet --stats "$TMP/s$n.json" $(args $t $n)
		fi
		grep -Eq '^\{"[^"]+": [0-9]+(, "[^"]+": [0-9]+)*\}$' "$TMP/s$n.json" &&
			ok "$t: --stats writes the counts as JSON" || not_ok "$t: --stats" "$(cat "$TMP/s$n.json")"
	else
		refuses --stats "$TMP/x.json"
	fi

	# --input-format: records, jsonl, text or auto, and nothing else.
	if takes --input-format; then
		in=$TMP/docs.jsonl
		[ $t = shard ] && in=$TMP/docs.tok
		expect_err "$t: --input-format records on JSONL" 1 "not a sluice record stream|magic" \
			$T --input-format records $(args $t 0 | sed "s|$in|$TMP/docs.jsonl|")
		expect_err "$t: --input-format xml" 2 \
			"^$T: invalid value for --input-format: 'xml' \(expected auto, records, jsonl or text\)$" \
			$T --input-format xml
	else
		refuses --input-format text
	fi
done
