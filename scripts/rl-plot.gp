# rl-plot.gp: reward, held-out exact match, KL to the SFT model and entropy
# per GRPO iteration, with and without the KL penalty, from the
# metrics.tsv files of pipelines/rl.mk.  gnuplot -e "dir='D'; kl='B'" rl-plot.gp
set terminal pngcairo size 1200,800 font ",10" noenhanced
set output dir.'/rl.png'
set datafile missing '?'
set key top left
set grid
set multiplot layout 2,2 title 'GRPO from the SFT model: KL penalty beta = '.kl.' against none (the KL is measured in both)'
a = dir.'/grpo-kl/metrics.tsv'
b = dir.'/grpo-nokl/metrics.tsv'
set xlabel 'iteration'
set title 'reward (rollouts, temperature 1)'
plot a using 1:3 with lines lw 2 title 'beta = '.kl, b using 1:3 with lines lw 2 title 'beta = 0'
set title 'held-out exact match (greedy)'
plot a using 1:9 with linespoints lw 2 title 'beta = '.kl, b using 1:9 with linespoints lw 2 title 'beta = 0'
set title 'KL(policy || SFT), nats a token (exact, sampled positions)'
plot a using 1:4 with lines lw 2 title 'beta = '.kl, b using 1:4 with lines lw 2 title 'beta = 0'
set title 'entropy of the policy, nats a token'
plot a using 1:6 with lines lw 2 title 'beta = '.kl, b using 1:6 with lines lw 2 title 'beta = 0'
unset multiplot
