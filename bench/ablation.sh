#!/usr/bin/env bash
# The robustness ablation behind the README's "techniques tried" table: each variant of corpus, front
# end and augmentation trains the 3-CNN (10 epochs, seeds 1 and 2) and is scored by examples/robustness/robustness_report.py on the
# same 5 held-out voices of the 48-speaker corpus, clean and degraded. Larger corpora leave those 5
# voices out. About 50 minutes on 2 cores (models already trained are kept). Usage: bench/ablation.sh [OUT_DIR]   (default ablation/)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
OUT=${1:-ablation}
mkdir -p "$OUT"

corpus() {  # name, make_wav flags...
    local name=$1; shift
    [ -f "$OUT/wav_$name/.complete" ] || { rm -rf "$OUT/wav_$name"; $PY make_wav.py --out "$OUT/wav_$name" --no-progress "$@"; touch "$OUT/wav_$name/.complete"; }
}
features() {  # name, corpus, make_spectrogram flags...
    local name=$1 wav=$2; shift 2
    [ -f "$OUT/spec_$name/index.json" ] || $PY make_spectrogram.py --wav "$OUT/wav_$wav" --out "$OUT/spec_$name" --no-preview "$@" > /dev/null
}
dataset() {  # name, spectrogram set, make_dataset flags...
    local name=$1 spec=$2; shift 2
    [ -f "$OUT/data_$name/manifest.json" ] || $PY make_dataset.py --spec "$OUT/spec_$spec" --out "$OUT/data_$name" "$@"
}
train() {  # name [data set name [cnn_classifier1 flags...]]
    local name=$1 data=${2:-$1}; shift; shift || true
    for seed in 1 2; do
        [ -f "$OUT/models/$name/seed$seed/model.npz" ] || $PY cnn_classifier1.py --layers 3 --dataset "$OUT/data_$data" \
            --seed "$seed" --out "$OUT/models/$name/seed$seed" "$@" > /dev/null
    done
}

corpus base --speakers 48 --rates 10 --rates-per-speaker 0
features base base
dataset base base
[ -f "$OUT/degraded/.complete" ] || { $PY examples/robustness/make_degraded.py --dataset "$OUT/data_base" --out "$OUT/degraded"; touch "$OUT/degraded/.complete"; }
HELD_OUT=$($PY -c "import json,sys; print(' '.join('--exclude ' + s for s in json.load(open(sys.argv[1]))['test']['speakers']))" "$OUT/data_base/manifest.json")

dataset aug1 base --augment 1
dataset aug2 base --augment 2
features lifter20 base --lifter 20;                   dataset lifter20 lifter20
features bandnorm base --band-norm;                   dataset bandnorm bandnorm
features lifter20-bandnorm base --lifter 20 --band-norm; dataset lifter20-bandnorm lifter20-bandnorm
corpus spk101x10 --speakers 101 --rates 10 --rates-per-speaker 0
features spk101x10 spk101x10 $HELD_OUT;               dataset spk101x10 spk101x10 --test-ratio 0.02
corpus spk245x2 --speakers 245 --rates 2 --rates-per-speaker 0
features spk245x2 spk245x2 $HELD_OUT;                 dataset spk245x2 spk245x2 --test-ratio 0.02
dataset spk245x2-aug1 spk245x2 --test-ratio 0.02 --augment 1
corpus spk485x1 --speakers 485 --rates 10 --rates-per-speaker 1
features spk485x1 spk485x1 $HELD_OUT;                 dataset spk485x1-aug1 spk485x1 --test-ratio 0.02 --augment 1

dataset aug1-pitch3 base --augment 1 --pitch-semitones 3
dataset spk485x1-aug1-pitch3 spk485x1 --test-ratio 0.02 --augment 1 --pitch-semitones 3

VARIANTS="base aug1 aug2 lifter20 bandnorm lifter20-bandnorm spk101x10 spk245x2 spk245x2-aug1 spk485x1-aug1 aug1-pitch3"
VARIANTS="$VARIANTS spk485x1-aug1-pitch3"
for variant in $VARIANTS; do train "$variant"; done
# The classifier head: max over 2 or 4 neighbouring frequency rows of the last 4x4 feature map.
train freqpool2 base --frequency-pool 2
train freqpool4 base --frequency-pool 4
train aug1-freqpool2 aug1 --frequency-pool 2
train spk485x1-aug1-freqpool2 spk485x1-aug1 --frequency-pool 2
VARIANTS="$VARIANTS freqpool2 freqpool4 aug1-freqpool2 spk485x1-aug1-freqpool2"
MODELS=$(for variant in $VARIANTS; do echo "$OUT/models/$variant/seed1 $OUT/models/$variant/seed2"; done)
$PY examples/robustness/robustness_report.py --dataset "$OUT/data_base" --degraded "$OUT/degraded" --out "$OUT/ablation.json" $MODELS \
    | tee "$OUT/ablation.md"
