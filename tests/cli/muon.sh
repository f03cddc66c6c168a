#!/bin/bash
# muon.sh: sluice-train-step --optim muon on tiny Shakespeare: the loss
# falls, N steps in one run equal N/2 + N/2 with a resume to the bit
# (checkpoint, state and losses), the state names its optimizer and a
# resume keeps it, switching optimizers on a state is refused, the
# Newton-Schulz FLOPs are counted.
. "$(dirname "$0")/../lib.sh"
export OMP_NUM_THREADS=2

shakespeare_tokens "$TMP"
sluice-shard --quiet -T 32 -o "$TMP/sh" "$TMP/shk.tok"
TRAIN=$TMP/sh/train-00000.slc
ADAM=(--init custom -L 2 -C 32 -H 2 --ctx 64 --lr 3e-3 --warmup 2)
TINY=("${ADAM[@]}" --optim muon --muon-lr 0.02)
losses() { grep -o '"loss":[0-9.]*' "$1" | cut -d: -f2; }
meta() { head -c 4000 "$1" | grep -ao "\"$2\":\"[^\"]*\"" | cut -d'"' -f4; }

expect "--optim muon: 20 steps" 0 sluice-train-step -m "$TMP/a.st" "${TINY[@]}" --steps 20 --log "$TMP/a.log" "$TRAIN"
first=$(losses "$TMP/a.log" | head -1) last=$(losses "$TMP/a.log" | tail -1)
awk -v f="$first" -v l="$last" 'BEGIN { exit !(l < f - 0.5) }' && ok "Muon: the loss falls ($first -> $last)" ||
	not_ok "Muon: loss falls" "$first -> $last"
[ "$(meta "$TMP/a.st.optim" optimizer)" = muon ] && [ "$(meta "$TMP/a.st.optim" muon_lr)" = 0.02 ] &&
	[ "$(meta "$TMP/a.st.optim" muon_momentum)" = 0.94999999999999996 ] &&
	ok "the optimizer state names Muon and its settings" ||
	not_ok "state metadata" "$(head -c 600 "$TMP/a.st.optim" | tr -c '[:print:]' ' ')"

# --- resume: 20 steps at once == 10 + 10, to the bit ---
sluice-train-step -m "$TMP/b.st" "${TINY[@]}" --steps 10 --total-steps 20 --log "$TMP/b.log" "$TRAIN" 2>/dev/null
sluice-train-step -m "$TMP/b.st" --steps 10 --log "$TMP/b2.log" "$TRAIN" 2>/dev/null
cat "$TMP/b2.log" >>"$TMP/b.log"
same "Muon resume: 10 + 10 steps give the checkpoint of 20" "$TMP/a.st" "$TMP/b.st"
same "Muon resume: and the optimizer state" "$TMP/a.st.optim" "$TMP/b.st.optim"
cmp -s <(losses "$TMP/a.log") <(losses "$TMP/b.log") && ok "Muon resume: the same 20 losses" ||
	not_ok "Muon resume losses" "$(paste <(losses "$TMP/a.log") <(losses "$TMP/b.log") | head -3)"

# --- against AdamW: another model, more FLOPs counted for the same steps ---
sluice-train-step -m "$TMP/w.st" "${ADAM[@]}" --steps 20 "$TRAIN" 2>/dev/null
! cmp -s "$TMP/a.st" "$TMP/w.st" && [ "$(meta "$TMP/w.st.optim" optimizer)" = adamw ] &&
	ok "--optim adamw (the default) is another model" || not_ok "adamw differs"
fm=$(meta "$TMP/a.st" train_flops) fw=$(meta "$TMP/w.st" train_flops)
awk -v m="$fm" -v w="$fw" 'BEGIN { exit !(m > w && w > 0) }' &&
	ok "Muon's Newton-Schulz FLOPs counted ($fm > $fw)" || not_ok "FLOPs" "$fm, $fw"

# --- usage ---
cp "$TMP/a.st" "$TMP/s.st"
cp "$TMP/a.st.optim" "$TMP/s.st.optim"
expect_err "--optim adamw on Muon's state: refused" 2 "the optimizer state is muon's; --optim adamw cannot continue it" \
	sluice-train-step -m "$TMP/s.st" --optim adamw --steps 1 "$TRAIN"
same "refused: the checkpoint as it was" "$TMP/a.st" "$TMP/s.st"
expect_err "--optim sgd: a usage error" 2 "optim" sluice-train-step -m "$TMP/n.st" --init d2 --optim sgd "$TRAIN"
