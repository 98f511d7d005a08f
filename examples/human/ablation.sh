#!/usr/bin/env bash
# The human-speech ablation (docs/human.md): each variant trains the 3-CNN from scratch over three seeds
# (10 epochs, the pipeline's scripts and defaults otherwise) and is scored on the human development set
# (FSDD, 3000 clips, 6 speakers) and on 48 held-out espeak voices drawn with another seed (480 clips);
# then the adaptation without labels of two of them.
#   examples/human/ablation.sh [FSDD_RECORDINGS_DIR] [OUT_DIR]       (about 15 min per variant on 2 cores)
# Variants already trained are kept; delete OUT_DIR/NAME to rerun one. Prints one table row per variant.
set -eo pipefail
cd "$(dirname "$0")/../.."
FSDD=${1:-../shared/data/fsdd/recordings}
OUT=${2:-ablation/human}
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
PY=${PY:-.venv/bin/python}
SEEDS=${SEEDS:-1 2 3}
EPOCHS=${EPOCHS:-10}
test -d "$FSDD" || { echo "ablation.sh: $FSDD: no such folder (the Free Spoken Digit Dataset's recordings/)" >&2; exit 2; }
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1   # the seeds of a variant train side by side

corpus() {  # name, make_wav.py options
  [ -f "$OUT/corpora/$1/.complete" ] || { $PY make_wav.py --out "$OUT/corpora/$1" --no-progress "${@:2}" && touch "$OUT/corpora/$1/.complete"; }
}
corpus espeak --speakers 480 --rates 10 --rates-per-speaker 1 --seed 0
corpus heldout --speakers 48 --rates 10 --rates-per-speaker 1 --seed 99
corpus neural --speakers 0 --neural-speakers 192 --seed 0
corpus kokoro --speakers 0 --kokoro-speakers 48 --seed 0

mean_std() { python3 -c 'import sys,statistics as s; v=[100*float(x) for x in sys.argv[1:]]; print("%.1f ± %.1f %%" % (s.mean(v), s.pstdev(v)))' "$@"; }

variant() {  # folder name, table label, "corpora", "front-end flags", "make_dataset flags", "classifier flags"
  local dir=$OUT/$1 label=$2
  shift 2
  if [ ! -f "$dir/spec/index.json" ]; then
    mkdir -p "$dir/wav"
    for c in $1; do ln -sf "$OUT/corpora/$c"/*.wav "$dir/wav/"; done
    $PY make_spectrogram.py --wav "$dir/wav" --out "$dir/spec" --jobs 2 $2 > "$dir/spec.log"
  fi
  [ -f "$dir/data/manifest.json" ] || $PY make_dataset.py --spec "$dir/spec" --out "$dir/data" --seed 0 --jobs 2 $3 > "$dir/data.log"
  for s in $SEEDS; do
    [ -f "$dir/seed$s/model.npz" ] || $PY cnn_classifier1.py --layers 3 --dataset "$dir/data" --epoch $EPOCHS --seed $s \
      --out "$dir/seed$s" $4 > "$dir/seed$s.log" 2>&1 &
  done
  wait
  local fsdd=() heldout=()
  for s in $SEEDS; do
    for set in fsdd heldout; do
      local folder=$FSDD; [ $set = heldout ] && folder=$OUT/corpora/heldout
      [ -f "$dir/eval_$set$s/report.json" ] || $PY evaluate.py --model "$dir/seed$s" --out "$dir/eval_$set$s" "$folder" > /dev/null 2>&1
    done
    fsdd+=("$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["accuracy"])' "$dir/eval_fsdd$s/report.json")")
    heldout+=("$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["accuracy"])' "$dir/eval_heldout$s/report.json")")
  done
  local models=() ; for s in $SEEDS; do models+=(--model "$dir/seed$s"); done
  [ -f "$dir/eval_fsdd_ensemble/report.json" ] || $PY evaluate.py "${models[@]}" --out "$dir/eval_fsdd_ensemble" "$FSDD" > /dev/null 2>&1
  local ensemble=$(python3 -c 'import json,sys; print("%.1f %%" % (100 * json.load(open(sys.argv[1]))["accuracy"]))' "$dir/eval_fsdd_ensemble/report.json")
  echo "| $label | $(mean_std "${fsdd[@]}") | $ensemble | $(mean_std "${heldout[@]}") |"
}

# Adaptation without labels (examples/human/adapt.py) from a variant's seeds: self-training on the audio of
# three FSDD speakers, scored on those three (seen) and on the other three (unseen), beside the variant's
# ensemble before adaptation.
adaptation() {  # variant folder, table label
  local dir=$OUT/$1 label=$2 seen=$OUT/fsdd_seen unseen=$OUT/fsdd_unseen
  if [ ! -d "$seen" ]; then
    mkdir -p "$seen" "$unseen"
    for s in george jackson lucas; do ln -sf "$(cd "$FSDD" && pwd)"/*_${s}_*.wav "$seen/"; done
    for s in nicolas theo yweweler; do ln -sf "$(cd "$FSDD" && pwd)"/*_${s}_*.wav "$unseen/"; done
  fi
  local models=() ; for s in $SEEDS; do models+=(--model "$dir/seed$s"); done
  [ -f "$dir/adapted/model.npz" ] || $PY examples/human/adapt.py "${models[@]}" --dataset "$dir/data" --epoch 3 --seed 0 \
    --out "$dir/adapted" "$seen" > "$dir/adapted.log" 2>&1
  local cells=()
  for half in seen unseen; do
    for model in before adapted; do
      local args=("${models[@]}"); [ $model = adapted ] && args=(--model "$dir/adapted")
      [ -f "$dir/eval_${half}_$model/report.json" ] || $PY evaluate.py "${args[@]}" --out "$dir/eval_${half}_$model" "$OUT/fsdd_$half" > /dev/null 2>&1
      cells+=("$(python3 -c 'import json,sys; print("%.1f %%" % (100 * json.load(open(sys.argv[1]))["accuracy"]))' "$dir/eval_${half}_$model/report.json")")
    done
  done
  echo "| $label | ${cells[0]} → ${cells[1]} | ${cells[2]} → ${cells[3]} |"
}

echo "| variant (3-CNN from scratch, seeds $SEEDS) | FSDD, mean ± std | FSDD, the seeds as an ensemble | held-out espeak voices |"
echo "|---|---|---|---|"
variant espeak "espeak 480 voices + 1 degraded copy (the former default)" "espeak" "--fit resize" "--augment 1" ""
variant neural "+ neural voice, 192 draws" "espeak neural" "--fit resize" "--augment 1" ""
variant neural_floor40 "+ neural voice, floor 40 dB" "espeak neural" "--fit resize --floor-db 40" "--augment 1" ""
variant neural_lifter20 "+ neural voice, cepstral envelope (--lifter 20)" "espeak neural" "--fit resize --lifter 20" "--augment 1" ""
variant neural_bandnorm "+ neural voice, each band's mean removed (--band-norm)" "espeak neural" "--fit resize --band-norm" "--augment 1" ""
variant kokoro "+ neural voice + Kokoro, 48 voices" "espeak neural kokoro" "--fit resize" "--augment 1" ""
variant neural_pad "+ neural voice, words centred, not resized (--fit pad): the new default" "espeak neural" "--fit pad" "--augment 1" ""
variant kokoro_pad "+ neural voice + Kokoro, --fit pad" "espeak neural kokoro" "--fit pad" "--augment 1" ""
echo
echo "| adapted without labels on george, jackson, lucas | seen speakers: ensemble → adapted | unseen speakers |"
echo "|---|---|---|"
adaptation neural "espeak + neural voice"
