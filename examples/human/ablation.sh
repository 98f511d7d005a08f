#!/usr/bin/env bash
# The human-speech ablation (docs/human.md): each variant trains the 3-CNN from scratch over three seeds
# (10 epochs, the pipeline's scripts and defaults otherwise) and is scored on the human development set
# (FSDD, 3000 clips, 6 speakers) and on 48 held-out espeak voices drawn with another seed (480 clips);
# then the adaptation without labels of two of them.
#   examples/human/ablation.sh [FSDD_RECORDINGS_DIR] [OUT_DIR]       (about 5 min per variant on 2 idle cores)
# Variants already trained are kept; delete OUT_DIR/NAME to rerun one. Prints one table row per variant.
set -eo pipefail
cd "$(dirname "$0")/../.."
FSDD=${1:-../shared/data/fsdd/recordings}
OUT=${2:-ablation/human}
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
PY=${PY:-.venv/bin/python}
SEEDS=${SEEDS:-1 2 3}
EPOCHS=${EPOCHS:-10}
# The rows measured before --dropout 0.5 became the classifiers' default (2026-12-04) trained without it: 0 here
# keeps their commands as they were; DROPOUT=0.5 (or a row's own --dropout) trains as the default does now.
DROPOUT=${DROPOUT:-0}
test -d "$FSDD" || { echo "ablation.sh: $FSDD: no such folder (the Free Spoken Digit Dataset's recordings/)" >&2; exit 2; }
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1   # the seeds of a variant train side by side

corpus() {  # name, make_wav.py options
  [ -f "$OUT/corpora/$1/.complete" ] || { $PY make_wav.py --out "$OUT/corpora/$1" --no-progress "${@:2}" && touch "$OUT/corpora/$1/.complete"; }
}
corpus espeak --speakers 480 --rates 10 --rates-per-speaker 1 --seed 0
corpus heldout --speakers 48 --rates 10 --rates-per-speaker 1 --seed 99
corpus neural --speakers 0 --neural-speakers 192 --seed 0
corpus kokoro --speakers 0 --kokoro-speakers 48 --seed 0
corpus randvoice --speakers 0 --random-voices 480 --rates 10 --rates-per-speaker 1 --seed 0
corpus espeak240 --speakers 240 --rates 10 --rates-per-speaker 1 --seed 0
corpus neural384 --speakers 0 --neural-speakers 384 --seed 0
corpus neural_accent --speakers 0 --neural-speakers 192 --neural-accents l2 --seed 0
corpus neural_nativeaccent --speakers 0 --neural-speakers 192 --neural-accents native --seed 0
corpus neural_accent_draws --speakers 0 --neural-speakers 0 --neural-accent-speakers 192 --seed 0
corpus neural_accent384 --speakers 0 --neural-speakers 0 --neural-accent-speakers 384 --seed 0
corpus neural_l2_draws --speakers 0 --neural-speakers 192 --neural-accents l2 --seed 0
# make_wav.py names every draw of --neural-accents joe-NNN; beside the plain draws they need names of their own
[ -f "$OUT/corpora/neural_l2_draws/.renamed" ] || { for f in "$OUT"/corpora/neural_l2_draws/*_joe-*.wav; do mv "$f" "${f/_joe-/_joel2-}"; done; touch "$OUT/corpora/neural_l2_draws/.renamed"; }
# Two corpora that no option of make_wav.py makes, drawn with neural_voice's own pieces: the accent draws with
# rates, noise levels and noise seeds of their own (speaker_draws with seed 7; the default's accent draw k
# repeats plain draw k's), and Kokoro draws leaning on its one man's style (jm_kumo's weight 0.7-1.0).
made_corpus() {  # name, python code that prints nothing and fills the folder given as sys.argv[1]
  [ -f "$OUT/corpora/$1/.complete" ] || { $PY -c "$2" "$OUT/corpora/$1" && touch "$OUT/corpora/$1/.complete"; }
}
made_corpus neural_accent_indep '
import dataclasses, sys
from specae import neural_voice as nv
plain, accented = nv.speaker_draws(192, 7), nv.with_accents(nv.speaker_draws(192, 0), "native", 0)
nv.synthesize_corpus(sys.argv[1], [dataclasses.replace(p, name=f"joe-accent-{i:03d}", accent=a.accent)
                                   for i, (p, a) in enumerate(zip(plain, accented))], jobs=2, progress=False)'
made_corpus kumo '
import sys
import numpy as np
from specae import neural_voice as nv
rng, speakers = np.random.default_rng([0, 0x6b756d6f]), []
for i in range(48):
    kumo = rng.uniform(0.7, 1.0)
    mix = list(rng.dirichlet(np.full(4, 0.5)) * (1 - kumo)) + [kumo]  # the four women of KOKORO_STYLES, then jm_kumo
    speakers.append(nv.KokoroSpeaker(name=f"kumo-{i:03d}", mix=tuple(round(float(w), 4) for w in mix),
                                     speed=round(float(rng.uniform(*nv.KOKORO_SPEED)), 3)))
nv.synthesize_corpus(sys.argv[1], speakers, jobs=2, progress=False)'

# A script (cnn_classifier1.py, adapt.py) run with the ranges of --vary-images taken from VARY_SHIFT (frames),
# VARY_STRETCH and VARY_WARP ("low,high" factors), VARY_TRIM_DB ("low,high" dB below the loudest frame),
# VARY_MASK, VARY_TRIM, VARY_NOISE, VARY_COLOUR and VARY_FRICATIVE (probabilities; the last two are off in
# --vary-images) where set: the rows that take a part away or add one, and the rows measured before the
# stricter trim and the noise floor joined the variation (VARY_TRIM=0 VARY_NOISE=0).
WITH_RANGES='
import os, runpy, sys
from specae import augment
ranges = {"VARY_SHIFT": "VARY_SHIFT_FRAMES", "VARY_STRETCH": "VARY_STRETCH", "VARY_WARP": "VARY_WARP",
          "VARY_MASK": "VARY_MASK_PROBABILITY", "VARY_TRIM": "VARY_TRIM_PROBABILITY",
          "VARY_NOISE": "VARY_NOISE_PROBABILITY", "VARY_COLOUR": "VARY_COLOUR_PROBABILITY",
          "VARY_FRICATIVE": "VARY_FRICATIVE_PROBABILITY", "VARY_TRIM_DB": "VARY_TRIM_DB",
          "VARY_TIME_WARP": "VARY_TIME_WARP_PROBABILITY", "VARY_TIME_WARP_FRACTION": "VARY_TIME_WARP_FRACTION",
          "VARY_LENGTH": "VARY_LENGTH_PROBABILITY", "VARY_LENGTH_FRAMES": "VARY_LENGTH_FRAMES"}
for variable, name in ranges.items():
    if variable in os.environ:
        values = tuple(float(v) for v in os.environ[variable].split(","))
        setattr(augment, name, values if len(values) > 1 else values[0])
# LR_DECAY=cosine: the step size of Adam follows half a cosine from its start to 0 over the run; WEIGHT_DECAY: an
# L2 penalty of that weight on every parameter (chainer.optimizer_hooks.WeightDecay).
if os.environ.get("LR_DECAY") or os.environ.get("WEIGHT_DECAY"):
    import math, chainer
    from specae import classifier_training
    make_trainer = classifier_training.make_trainer
    def with_schedule(model, train, test, args, *more, **named):
        trainer = make_trainer(model, train, test, args, *more, **named)
        optimizer, steps = trainer.updater.get_optimizer("main"), args.epoch * len(train) // args.batchsize
        if os.environ.get("WEIGHT_DECAY"):
            optimizer.add_hook(chainer.optimizer_hooks.WeightDecay(float(os.environ["WEIGHT_DECAY"])))
        if os.environ.get("LR_DECAY") == "cosine":
            start = optimizer.alpha
            def cosine(trainer):
                progress = min(1.0, trainer.updater.iteration / steps)
                optimizer.alpha = start * 0.5 * (1 + math.cos(math.pi * progress))
            trainer.extend(cosine, trigger=(1, "iteration"))
        return trainer
    classifier_training.make_trainer = with_schedule
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")'


mean_std() { python3 -c 'import sys,statistics as s; v=[100*float(x) for x in sys.argv[1:]]; print("%.1f ± %.1f %%" % (s.mean(v), s.pstdev(v)))' "$@"; }

# Variants that differ only in how the classifier trains share one spectrogram set and data set, made once
# in features/<corpora, front-end and data set flags>.
variant() {  # folder name, table label, "corpora", "front-end flags", "make_dataset flags", "classifier flags"
  local dir=$OUT/$1 label=$2
  shift 2
  local features=$OUT/features/$(echo "$1|$2|$3" | md5sum | cut -c1-12)
  mkdir -p "$dir"
  if [ ! -e "$dir/spec" ]; then
    if [ ! -f "$features/spec/index.json" ]; then
      mkdir -p "$features/wav"
      for c in $1; do ln -sf "$OUT/corpora/$c"/*.wav "$features/wav/"; done
      $PY make_spectrogram.py --wav "$features/wav" --out "$features/spec" --jobs 2 $2 > "$features/spec.log"
    fi
    ln -s "$features/spec" "$dir/spec"
  fi
  if [ ! -e "$dir/data" ]; then
    [ -f "$features/data/manifest.json" ] || $PY make_dataset.py --spec "$features/spec" --out "$features/data" --seed 0 \
      --jobs 2 $3 > "$features/data.log"
    ln -s "$features/data" "$dir/data"
  fi
  for s in $SEEDS; do
    [ -f "$dir/seed$s/model.npz" ] || $PY -c "$WITH_RANGES" cnn_classifier1.py --layers 3 --dataset "$dir/data" --epoch $EPOCHS --seed $s \
      --out "$dir/seed$s" --dropout "$DROPOUT" $4 > "$dir/seed$s.log" 2>&1 &
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
adaptation() {  # variant folder, folder of the adapted model within it, table label, adapt.py flags
  local dir=$OUT/$1 name=$2 label=$3 flags=$4 seen=$OUT/fsdd_seen unseen=$OUT/fsdd_unseen
  if [ ! -d "$seen" ]; then
    mkdir -p "$seen" "$unseen"
    for s in george jackson lucas; do ln -sf "$(cd "$FSDD" && pwd)"/*_${s}_*.wav "$seen/"; done
    for s in nicolas theo yweweler; do ln -sf "$(cd "$FSDD" && pwd)"/*_${s}_*.wav "$unseen/"; done
  fi
  local models=() ; for s in $SEEDS; do models+=(--model "$dir/seed$s"); done
  [ -f "$dir/$name/adaptation.json" ] || $PY -c "$WITH_RANGES" examples/human/adapt.py "${models[@]}" --dataset "$dir/data" --epoch 3 --seed 0 \
    --out "$dir/$name" $flags -- "$seen" > "$dir/$name.log" 2>&1
  local cells=()
  for half in seen unseen; do
    for model in before $name; do
      local args=("${models[@]}"); [ $model = $name ] && args=(--model "$dir/$name")
      [ -f "$dir/eval_${half}_$model/report.json" ] || $PY evaluate.py "${args[@]}" --out "$dir/eval_${half}_$model" "$OUT/fsdd_$half" > /dev/null 2>&1
      cells+=("$(python3 -c 'import json,sys; print("%.1f %%" % (100 * json.load(open(sys.argv[1]))["accuracy"]))' "$dir/eval_${half}_$model/report.json")")
    done
  done
  echo "| $label | ${cells[0]} → ${cells[1]} | ${cells[2]} → ${cells[3]} |"
}

echo "| variant (3-CNN from scratch, seeds $SEEDS) | FSDD, mean ± std | FSDD, the seeds as an ensemble | held-out espeak voices |"
echo "|---|---|---|---|"
VARY_LENGTH=0 variant espeak "espeak 480 voices + 1 degraded copy (the former default)" "espeak" "--fit resize" "--augment 1" "--no-vary-images"
VARY_LENGTH=0 variant neural "+ neural voice, 192 draws" "espeak neural" "--fit resize" "--augment 1" "--no-vary-images"
VARY_LENGTH=0 variant neural_floor40 "+ neural voice, floor 40 dB" "espeak neural" "--fit resize --floor-db 40" "--augment 1" "--no-vary-images"
VARY_LENGTH=0 variant neural_lifter20 "+ neural voice, cepstral envelope (--lifter 20)" "espeak neural" "--fit resize --lifter 20" "--augment 1" "--no-vary-images"
VARY_LENGTH=0 variant neural_bandnorm "+ neural voice, each band's mean removed (--band-norm)" "espeak neural" "--fit resize --band-norm" "--augment 1" "--no-vary-images"
VARY_LENGTH=0 variant kokoro "+ neural voice + Kokoro, 48 voices" "espeak neural kokoro" "--fit resize" "--augment 1" "--no-vary-images"
VARY_LENGTH=0 variant neural_pad "+ neural voice, words centred, not resized (--fit pad)" "espeak neural" "--fit pad" "--augment 1" "--no-vary-images"
VARY_LENGTH=0 variant kokoro_pad "+ neural voice + Kokoro, --fit pad" "espeak neural kokoro" "--fit pad" "--augment 1" "--no-vary-images"
VARY_LENGTH=0 VARY_TRIM=0 VARY_NOISE=0 variant neural_pad_vary "+ neural voice, --fit pad, a fresh variation of each image every epoch (--vary-images as first made: shift, stretch, warp, masks; V below)" "espeak neural" "--fit pad" "--augment 1" ""
VARY_LENGTH=0 VARY_TRIM=0 VARY_NOISE=0 variant neural_pad_vary20 "V, 20 epochs" "espeak neural" "--fit pad" "--augment 1" "--epoch 20"
VARY_LENGTH=0 VARY_TRIM=0 VARY_NOISE=0 variant neural_pad_vary_aug2 "V, 2 degraded copies of each clip (AUGMENT=2)" "espeak neural" "--fit pad" "--augment 2" ""
VARY_LENGTH=0 VARY_TRIM=0 VARY_NOISE=0 variant neural_pad_vary_pitch "V, half the degraded copies pitch-shifted by up to ±3 semitones (PITCH=3)" "espeak neural" "--fit pad" "--augment 1 --pitch-semitones 3" ""
VARY_LENGTH=0 VARY_TRIM=0 VARY_NOISE=0 VARY_SHIFT=10 VARY_STRETCH=0.7,1.4 VARY_WARP=0.85,1.15 variant neural_pad_strong "V, wider ranges (shift ±10 frames, stretch 0.7–1.4, warp 0.85–1.15)" "espeak neural" "--fit pad" "--augment 1" ""
VARY_LENGTH=0 VARY_TRIM=0 VARY_NOISE=0 VARY_SHIFT=10 variant neural_pad_shift10 "V, time shift up to ±10 frames" "espeak neural" "--fit pad" "--augment 1" ""
VARY_LENGTH=0 VARY_TRIM=0 VARY_NOISE=0 VARY_SHIFT=0 variant neural_pad_noshift "V without the time shift" "espeak neural" "--fit pad" "--augment 1" ""
VARY_LENGTH=0 VARY_TRIM=0 VARY_NOISE=0 VARY_STRETCH=1,1 variant neural_pad_nostretch "V without the time stretch" "espeak neural" "--fit pad" "--augment 1" ""
VARY_LENGTH=0 VARY_TRIM=0 VARY_NOISE=0 VARY_WARP=1,1 variant neural_pad_nowarp "V without the vocal-tract warp" "espeak neural" "--fit pad" "--augment 1" ""
VARY_LENGTH=0 VARY_TRIM=0 VARY_NOISE=0 VARY_MASK=0 variant neural_pad_nomask "V without the masks" "espeak neural" "--fit pad" "--augment 1" ""
VARY_LENGTH=0 VARY_TRIM=0.5 VARY_NOISE=0 variant neural_pad_trim "V, half the images trimmed again 15–40 dB below their loudest frame (weak first and last consonants lost)" "espeak neural" "--fit pad" "--augment 1" ""
VARY_LENGTH=0 VARY_TRIM=0 VARY_NOISE=0.5 variant neural_pad_noisefloor "V, half the images given a noise floor 20–45 dB below their peak over the word and up to 10 frames before and after it" "espeak neural" "--fit pad" "--augment 1" ""
VARY_LENGTH=0 variant neural_pad_trim_noisefloor "V + both of the last two: the new default (--vary-images since 2026-12-02)" "espeak neural" "--fit pad" "--augment 1" ""
VARY_LENGTH=0 variant neural_pad_trim_noisefloor15 "the new default, 15 epochs" "espeak neural" "--fit pad" "--augment 1" "--epoch 15"
VARY_LENGTH=0 variant neural_pad_trim_noisefloor12 "the new default, 12 epochs" "espeak neural" "--fit pad" "--augment 1" "--epoch 12"
VARY_LENGTH=0 VARY_NOISE=0.8 variant neural_pad_trim_noisefloor08 "the new default, the noise floor on 80 % of the images" "espeak neural" "--fit pad" "--augment 1" ""
VARY_LENGTH=0 VARY_NOISE=0.3 variant neural_pad_trim_noisefloor03 "the new default, the noise floor on 30 % of the images" "espeak neural" "--fit pad" "--augment 1" ""
VARY_LENGTH=0 VARY_TRIM=0.3 VARY_NOISE=0.3 variant neural_pad_trim03_noisefloor03 "the new default, the trim and the noise floor each on 30 % of the images" "espeak neural" "--fit pad" "--augment 1" ""
VARY_LENGTH=0 variant neural_pad_trim_noisefloor_wide "the new default, twice the filters (--channels 32,64,64)" "espeak neural" "--fit pad" "--augment 1" "--channels 32,64,64"
VARY_LENGTH=0 VARY_FRICATIVE=0.5 variant neural_pad_trim_noisefloor_fricative "the new default + half the images with their hiss frames (/s/, /f/, /θ/) lowered 25–60 dB and trimmed again, as an 8 kHz recording loses them" "espeak neural" "--fit pad" "--augment 1" ""
VARY_LENGTH=0 VARY_COLOUR=0.5 variant neural_pad_trim_noisefloor_colour "the new default + half the images coloured by a smooth random gain over the bands, up to ±8 dB" "espeak neural" "--fit pad" "--augment 1" ""
VARY_LENGTH=0 variant default_fastvary "the new default again, its variations drawn the faster way (interpolation matrices, the noise grain from a quantile table; same command as the default row)" "espeak neural" "--fit pad" "--augment 1" ""
VARY_LENGTH=0 variant neural_accent "the new default, each neural-voice draw speaking the phonemes of one of espeak-ng's 8 English accents, half of them with non-native substitutions (--neural-accents l2)" "espeak neural_accent" "--fit pad" "--augment 1" ""
VARY_LENGTH=0 variant neural_nativeaccent "the new default, each neural-voice draw in one of espeak-ng's 8 English accents (--neural-accents native)" "espeak neural_nativeaccent" "--fit pad" "--augment 1" ""
VARY_LENGTH=0 VARY_TRIM_DB=5,40 variant default_trim5 "the new default, the stricter trim drawn 5–40 dB below the word's loudest frame instead of 15–40 (FSDD's words begin 3–9 dB below it)" "espeak neural" "--fit pad" "--augment 1" ""
VARY_LENGTH=0 VARY_TIME_WARP=0.5 variant default_timewarp "the new default + half the images time-warped within the word (a point of the word moved by up to 20 % of its length, the parts before and after it stretched to fill it; measured on the AMD EPYC machine)" "espeak neural" "--fit pad" "--augment 1" ""
VARY_LENGTH=1 variant default_length1 "the new default, every word stretched to a length drawn alike for every digit, 24-40 frames, instead of the random stretch (AMD EPYC)" "espeak neural" "--fit pad" "--augment 1" ""
VARY_LENGTH_FRAMES=28,36 variant default_length_narrow "the new default + half the words stretched to a length drawn alike for every digit, 28-36 frames (AMD EPYC)" "espeak neural" "--fit pad" "--augment 1" ""
variant default_length "**the new default + half the words stretched to a length drawn alike for every digit, 24-40 frames: the default since 2026-12-03** (AMD EPYC)" "espeak neural" "--fit pad" "--augment 1" ""
VARY_LENGTH_FRAMES=20,44 variant default_length_wide "the default since 2026-12-03, the common length drawn from 20-44 frames instead of 24-40 (AMD EPYC)" "espeak neural" "--fit pad" "--augment 1" ""
variant default_length12 "the default since 2026-12-03, 12 epochs (AMD EPYC)" "espeak neural" "--fit pad" "--augment 1" "--epoch 12"
variant default_dropout "the default since 2026-12-03 + half the fully connected layer's inputs dropped while training (--dropout 0.5; AMD EPYC)" "espeak neural" "--fit pad" "--augment 1" "--dropout 0.5"
variant default_dropout7 "the default since 2026-12-03, --dropout 0.7 (AMD EPYC)" "espeak neural" "--fit pad" "--augment 1" "--dropout 0.7"
variant default_dropout_wide "the default since 2026-12-03, --dropout 0.5 and twice the filters (--channels 32,64,64; AMD EPYC)" "espeak neural" "--fit pad" "--augment 1" "--dropout 0.5 --channels 32,64,64"
LR_DECAY=cosine variant default_dropout_cosine "the default since 2026-12-03, --dropout 0.5 and Adam's step size decayed to 0 along half a cosine (AMD EPYC)" "espeak neural" "--fit pad" "--augment 1" "--dropout 0.5"
LR_DECAY=cosine variant default_cosine "the default since 2026-12-03, Adam's step size decayed to 0 along half a cosine (AMD EPYC)" "espeak neural" "--fit pad" "--augment 1" ""
WEIGHT_DECAY=0.0005 variant default_weightdecay "the default since 2026-12-03, weight decay 5·10⁻⁴ (AMD EPYC)" "espeak neural" "--fit pad" "--augment 1" ""
variant denoise1 "the default since 2026-12-03, each band's noise floor subtracted (--noise-subtraction 1)" "espeak neural" "--fit pad --noise-subtraction 1" "--augment 1" ""
variant denoise2 "the default since 2026-12-03, twice each band's noise floor subtracted (--noise-subtraction 2)" "espeak neural" "--fit pad --noise-subtraction 2" "--augment 1" ""
variant neural_plus_native "the default since 2026-12-03 + 192 more neural-voice draws in espeak-ng's 8 English accents, beside piper's own 192 (make_wav.py --neural-accent-speakers 192: the default since 2026-12-04)" "espeak neural neural_accent_draws" "--fit pad" "--augment 1" ""
LR_DECAY=cosine variant accents_dropout_cosine "the default since 2026-12-04, --dropout 0.5 and Adam's step size decayed to 0 along half a cosine (LR_DECAY=cosine)" "espeak neural neural_accent_draws" "--fit pad" "--augment 1" "--dropout 0.5"
variant accents384 "the default since 2026-12-04 with 384 accent draws instead of 192 (--neural-accent-speakers 384)" "espeak neural neural_accent384" "--fit pad" "--augment 1" ""
variant accents_average5 "the default since 2026-12-04, the weights averaged over every update of the last 5 epochs (--average-from 5)" "espeak neural neural_accent_draws" "--fit pad" "--augment 1" "--average-from 5"
variant accents_average2 "the default since 2026-12-04, the weights averaged over every update of the last 8 epochs (--average-from 2)" "espeak neural neural_accent_draws" "--fit pad" "--augment 1" "--average-from 2"
variant accents_augment0 "the default since 2026-12-04 without the degraded copies of make_dataset.py (AUGMENT=0; the varied images only)" "espeak neural neural_accent_draws" "--fit pad" "--augment 0" ""
variant accents_augment2 "the default since 2026-12-04 with 2 degraded copies of each clip (AUGMENT=2)" "espeak neural neural_accent_draws" "--fit pad" "--augment 2" ""
variant accents_espeak240 "the default since 2026-12-04 with 240 espeak voices instead of 480 (SPEAKERS=240)" "espeak240 neural neural_accent_draws" "--fit pad" "--augment 1" ""
variant accents_batch60 "the default since 2026-12-04, batches of 60 (BATCH=60)" "espeak neural neural_accent_draws" "--fit pad" "--augment 1" "--batchsize 60"
variant accents_fmax3500 "the default since 2026-12-04, the mel bands up to 3500 Hz instead of 4000 (--fmax-hz 3500)" "espeak neural neural_accent_draws" "--fit pad --fmax-hz 3500" "--augment 1" ""
variant accents_fmin100 "the default since 2026-12-04, the mel bands from 100 Hz instead of 50 (--fmin-hz 100)" "espeak neural neural_accent_draws" "--fit pad --fmin-hz 100" "--augment 1" ""
variant accents_band100_3500 "the default since 2026-12-04, the mel bands from 100 to 3500 Hz instead of 50 to 4000 (--fmin-hz 100 --fmax-hz 3500)" "espeak neural neural_accent_draws" "--fit pad --fmin-hz 100 --fmax-hz 3500" "--augment 1" ""
variant accents_kokoro "the default since 2026-12-04 + 48 Kokoro voices (KOKORO_SPEAKERS=48)" "espeak neural neural_accent_draws kokoro" "--fit pad" "--augment 1" ""
variant accents_indep "the default since 2026-12-04, the accent draws with knobs and noise seeds of their own (drawn with seed 7), not the plain draws' again" "espeak neural neural_accent_indep" "--fit pad" "--augment 1" ""
variant accents_kumo "the default since 2026-12-04 + 48 Kokoro draws leaning on its one man's style (jm_kumo 0.7-1.0)" "espeak neural neural_accent_draws kumo" "--fit pad" "--augment 1" ""
variant accents_plus_l2 "the default since 2026-12-04 + 192 more neural-voice draws in espeak-ng's accents, half of them with non-native substitutions (a third set beside the plain and the native-accent draws)" "espeak neural neural_accent_draws neural_l2_draws" "--fit pad" "--augment 1" ""
variant neural_plus_l2 "the default since 2026-12-03 + 192 more neural-voice draws in espeak-ng's accents, half of them with non-native substitutions, beside piper's own 192" "espeak neural neural_l2_draws" "--fit pad" "--augment 1" ""
variant neural384_default "the default since 2026-12-03 with 384 neural-voice draws instead of 192 (the control: as many clips, no accents)" "espeak neural384" "--fit pad" "--augment 1" ""
VARY_LENGTH=0 VARY_TRIM=0 VARY_NOISE=0 variant neural_pad_fpool2 "V, the last feature map max-pooled over 2 frequency rows (--frequency-pool 2)" "espeak neural" "--fit pad" "--augment 1" "--frequency-pool 2"
VARY_LENGTH=0 VARY_TRIM=0 VARY_NOISE=0 variant neural_pad_smooth "V, label smoothing 0.1 (--label-smoothing 0.1)" "espeak neural" "--fit pad" "--augment 1" "--label-smoothing 0.1"
VARY_LENGTH=0 VARY_TRIM=0 VARY_NOISE=0 variant neural_pad_mixup "V, mixup of training pairs (--mixup 0.2)" "espeak neural" "--fit pad" "--augment 1" "--mixup 0.2"
VARY_LENGTH=0 VARY_TRIM=0 VARY_NOISE=0 variant randvoice "V with 480 random espeak voice definitions instead of the 480 espeak voices (--random-voices 480)" "randvoice neural" "--fit pad" "--augment 1" ""
VARY_LENGTH=0 VARY_TRIM=0 VARY_NOISE=0 variant espeak_randvoice "V + 480 random espeak voice definitions (--random-voices 480)" "espeak randvoice neural" "--fit pad" "--augment 1" ""
VARY_LENGTH=0 VARY_TRIM=0 VARY_NOISE=0 variant espeak240 "V with 240 espeak voices instead of 480 (SPEAKERS=240)" "espeak240 neural" "--fit pad" "--augment 1" ""
VARY_LENGTH=0 VARY_TRIM=0 VARY_NOISE=0 variant neural384 "V with 384 neural-voice draws instead of 192 (NEURAL_SPEAKERS=384)" "espeak neural384" "--fit pad" "--augment 1" ""
echo
echo "| adapted without labels on george, jackson, lucas | seen speakers: ensemble → adapted | unseen speakers |"
echo "|---|---|---|"
VARY_LENGTH=0 adaptation neural adapted "espeak + neural voice, words resized, images as they are, three rounds (0.3 0.5 0.7)" "--no-vary-images --fractions 0.3 0.5 0.7"
VARY_LENGTH=0 VARY_TRIM=0 VARY_NOISE=0 adaptation neural_pad_vary adapted3 "the models of V (words centred, --vary-images as first made), three rounds (0.3 0.5 0.7)" "--fractions 0.3 0.5 0.7"
VARY_LENGTH=0 VARY_TRIM=0 VARY_NOISE=0 adaptation neural_pad_vary adapted "the models of V, five rounds up to every recording, the first seed adapted (--members 1)" "--members 1"
VARY_LENGTH=0 VARY_TRIM=0 VARY_NOISE=0 adaptation neural_pad_vary adapted_members "the models of V, five rounds, every seed adapted with the pseudo-labels of all three each round (the default of adapt.py)" ""
VARY_LENGTH=0 adaptation neural_pad_trim_noisefloor adapted_members "the models of the new default (V + the trim and the noise floor), five rounds, every seed adapted with the pseudo-labels of all three each round" ""
