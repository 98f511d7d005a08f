# Greedy layer-wise autoencoder pretraining on mel spectrograms: the whole pipeline as file targets.
#   make pretrain classify     everything, from a fresh clone (venv, corpus, features, AE1-3, classifiers, plots)
#   make test                  the test suite
# Variables: EPOCHS (both AE and classifier epochs), AE_EPOCHS, CLF_EPOCHS, DEVICE, SEED, SEEDS, JOBS,
#            AUGMENT (degraded copies of each training clip, 0 = none), PITCH (their pitch shift, semitones),
#            WAV_DIR (your own {digit}_{speaker}_*.wav folder), SPEAKERS, RATES, RATES_PER_SPEAKER, SPLIT, FEATURES,
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
DEVICE ?= -1
SEED ?= 0
SEEDS ?= 1 2 3
EPOCHS ?=
AE_EPOCHS ?= $(or $(EPOCHS),30)
CLF_EPOCHS ?= $(or $(EPOCHS),10)
BATCH ?= 30
CORPUS ?= wav
WAV_DIR ?= $(CORPUS)
SPEAKERS ?= 480
RATES ?= 10
RATES_PER_SPEAKER ?= 1
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

.PHONY: all venv data pretrain classify test bench clean distclean help
all: pretrain classify
help:
	@sed -n '1,5p' Makefile

venv: $(INSTALLED)
$(INSTALLED): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q "setuptools<70" wheel
	$(PY) -m pip install -q --no-build-isolation -r requirements.txt
	touch $@

# ---- data --------------------------------------------------------------------------------------
$(CORPUS)/.complete: make_wav.py specae/synth.py \
		$(call stamp,wav,$(SPEAKERS) $(RATES) $(RATES_PER_SPEAKER) $(SEED)) | $(INSTALLED)
	rm -rf $(CORPUS)
	$(PY) make_wav.py --out $(CORPUS) --speakers $(SPEAKERS) --rates $(RATES) \
		--rates-per-speaker $(RATES_PER_SPEAKER) --seed $(SEED) --jobs $(JOBS)
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
TRAIN_CODE := specae/models.py specae/training.py specae/dataset.py specae/plots.py specae/fastconv.py
AE_STAMP = $(call stamp,autoencoder,$(AE_EPOCHS) $(BATCH) $(SEED))

$(RESULT)/autoencoder1/model.npz: $(DATA_DIR)/manifest.json cnn_autoencoder1.py $(TRAIN_CODE) $(AE_STAMP)
	$(PY) cnn_autoencoder1.py $(TRAIN_FLAGS) --epoch $(AE_EPOCHS) --seed $(SEED) --out $(@D)

$(RESULT)/autoencoder2/model.npz: $(RESULT)/autoencoder1/model.npz cnn_autoencoder2.py
	$(PY) cnn_autoencoder2.py $(TRAIN_FLAGS) --epoch $(AE_EPOCHS) --seed $(SEED) --init $< --out $(@D)

$(RESULT)/autoencoder3/model.npz: $(RESULT)/autoencoder2/model.npz cnn_autoencoder3.py
	$(PY) cnn_autoencoder3.py $(TRAIN_FLAGS) --epoch $(AE_EPOCHS) --seed $(SEED) --init $< --out $(@D)

pretrain: $(RESULT)/autoencoder3/model.npz

# ---- classifiers over several seeds ------------------------------------------------------------
CLF_STAMP = $(call stamp,classifier,$(CLF_EPOCHS) $(BATCH))
MODELS_2CNN := $(foreach s,$(SEEDS),$(RESULT)/classifier_2cnn/seed$(s)/model.npz)
MODELS_3CNN := $(foreach s,$(SEEDS),$(RESULT)/classifier_3cnn/seed$(s)/model.npz)
MODELS_PRETRAINED := $(foreach s,$(SEEDS),$(RESULT)/classifier_pretrained/seed$(s)/model.npz)
seed_of = $(patsubst seed%,%,$(notdir $(1)))

$(RESULT)/classifier_2cnn/seed%/model.npz: $(DATA_DIR)/manifest.json cnn_classifier1.py $(TRAIN_CODE) $(CLF_STAMP)
	$(PY) cnn_classifier1.py --layers 2 $(TRAIN_FLAGS) --epoch $(CLF_EPOCHS) --seed $* --out $(@D)

$(RESULT)/classifier_3cnn/seed%/model.npz: $(DATA_DIR)/manifest.json cnn_classifier1.py $(TRAIN_CODE) $(CLF_STAMP)
	$(PY) cnn_classifier1.py --layers 3 $(TRAIN_FLAGS) --epoch $(CLF_EPOCHS) --seed $* --out $(@D)

$(RESULT)/classifier_pretrained/seed%/model.npz: $(RESULT)/autoencoder3/model.npz cnn_classifier2.py $(CLF_STAMP)
	$(PY) cnn_classifier2.py --init $< $(TRAIN_FLAGS) --epoch $(CLF_EPOCHS) --seed $* --out $(@D)

# The classifiers from scratch run one after another (each waits, order-only, for the one before), so
# that beside them a slot stays free for the autoencoder chain, the longest path of the whole job.
scratch_lane = $(if $(word 2,$(1)),$(eval $(word 2,$(1)): | $(word 1,$(1)))$(call scratch_lane,$(wordlist 2,$(words $(1)),$(1))))
$(call scratch_lane,$(MODELS_2CNN) $(MODELS_3CNN))

$(RESULT)/comparison.md: $(MODELS_2CNN) $(MODELS_3CNN) $(MODELS_PRETRAINED) plot_comparison.py specae/plots.py \
		$(wildcard $(RESULT)/classifier_vae/seed*/model.npz)
	$(PY) plot_comparison.py --result $(RESULT) --seeds $(SEEDS)

classify: $(RESULT)/comparison.md $(RESULT)/index.html

# ---- the report page (docs/report.md): the last step of classify; make report rewrites it at any time ---
REPORT_FLAGS = --result $(RESULT) --dataset $(DATA_DIR) --spec $(SPEC_DIR)
$(RESULT)/index.html: $(RESULT)/comparison.md make_report.py specae/report.py specae/templates/report.html \
		specae/templates/report.css | $(INSTALLED)
	$(PY) make_report.py $(REPORT_FLAGS)

.PHONY: report
report: | $(INSTALLED)
	$(PY) make_report.py $(REPORT_FLAGS)

# ---- robustness: held-out voices, clean and degraded --------------------------------------------------
DEGRADED ?= degraded
$(DEGRADED)/.complete: $(DATA_DIR)/manifest.json make_degraded.py specae/augment.py
	rm -rf $(DEGRADED)
	$(PY) make_degraded.py --dataset $(DATA_DIR) --out $(DEGRADED)
	touch $@

$(RESULT)/robustness.md: $(DEGRADED)/.complete robustness.py $(MODELS_2CNN) $(MODELS_3CNN) $(MODELS_PRETRAINED)
	$(PY) robustness.py --dataset $(DATA_DIR) --degraded $(DEGRADED) --out $(RESULT)/robustness.json --ensemble \
		$(MODELS_2CNN:%/model.npz=%) $(MODELS_3CNN:%/model.npz=%) $(MODELS_PRETRAINED:%/model.npz=%) > $@.tmp
	mv $@.tmp $@
	cat $@

.PHONY: robustness
robustness: $(RESULT)/robustness.md

# ---- checks --------------------------------------------------------------------------------------
test: $(INSTALLED) $(MPI_INSTALLED)
	$(PY) -m pytest -q tests

clean:
	rm -rf $(RESULT) $(DATA_DIR) $(SPEC_DIR) $(DEGRADED) $(STAMPS)
distclean: clean
	rm -rf $(CORPUS) $(VENV) $(BENCH_VENV)

# ---- apply a trained model to any folder of WAVs ----------------------------------------------------
# MODEL: the classifier run directories that evaluate, anomaly and separate use, averaged as an ensemble
# (each script takes one option per directory): every seed of the pretrained 3-CNN, like predict.py.
MODEL ?= $(foreach s,$(SEEDS),$(RESULT)/classifier_pretrained/seed$(s))
MODEL_FILES = $(MODEL:%=%/model.npz)
repeat_option = $(foreach value,$(2),$(1) $(value))
WAVS ?=
.PHONY: evaluate
evaluate: | $(INSTALLED)
	@test -n "$(WAVS)" || { echo "usage: make evaluate WAVS=folder-of-{digit}_*.wav [MODEL="dir ..."]" >&2; exit 2; }
	$(PY) evaluate.py $(call repeat_option,--model,$(MODEL)) --out $(RESULT)/evaluation/$(notdir $(abspath $(WAVS))) $(WAVS)

# ---- speed and scale (docs/speed.md) ----------------------------------------------------------------
#   make mpi      MPI from PyPI (mpich, mpi4py) into .venv for ChainerMN: mpiexec -n 2 .venv/bin/python
#                 cnn_classifier1.py --communicator naive ...  (make test installs it too: its tests use it)
#   make bench    the speed figures, each a ratio against a reference timed in the same run, with its goal
#                 and PASS/FAIL; JSON in bench/out/. Benchmark-only packages (librosa, torch) go into
#                 .venv-bench, never into .venv. About 7 minutes on 2 idle cores.
#   make bench-scale   stage times and memory at 1x, 4x and 16x the corpus (long: half an hour or more)
#   THREADS=N     BLAS threads per process (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS). Default: 1 when the
#                 Makefile runs stages side by side (JOBS > 1, no -j given), else the libraries' own (all
#                 cores). The benchmarks set their own thread counts and ignore it.
THREADS ?= $(if $(SIDE_BY_SIDE),1,)
ifneq ($(THREADS),)
export OMP_NUM_THREADS := $(THREADS)
export OPENBLAS_NUM_THREADS := $(THREADS)
endif
BENCH_VENV := .venv-bench
BENCH_PY := env -u OMP_NUM_THREADS -u OPENBLAS_NUM_THREADS $(BENCH_VENV)/bin/python
BENCH_INSTALLED := $(BENCH_VENV)/.installed
BENCH_ROUNDS ?= 3

.PHONY: mpi bench-scale
mpi: $(MPI_INSTALLED)
$(MPI_INSTALLED): requirements-mpi.txt | $(INSTALLED)
	$(PY) -m pip install -q -r requirements-mpi.txt
	touch $@

$(BENCH_INSTALLED): requirements.txt requirements-bench.txt requirements-bench-torch.txt
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_PY) -m pip install -q "setuptools<70" wheel
	$(BENCH_PY) -m pip install -q --no-build-isolation -r requirements.txt -r requirements-bench.txt
	$(BENCH_PY) -m pip install -q --no-deps -r requirements-bench-torch.txt
	touch $@

bench: $(BENCH_INSTALLED) $(MPI_INSTALLED) $(DATA_DIR)/manifest.json
	$(BENCH_PY) bench/bench_frontend.py --wav $(WAV_DIR) --rounds $(BENCH_ROUNDS)
	$(BENCH_PY) bench/bench_training.py --dataset $(DATA_DIR) --rounds $(BENCH_ROUNDS)
	$(BENCH_PY) bench/bench_pipeline.py --scales 1 --epochs 2
	$(BENCH_PY) bench/summary.py frontend training pipeline

bench-scale: $(BENCH_INSTALLED) | $(INSTALLED)
	$(BENCH_PY) bench/bench_pipeline.py --scales 1 4 16 --epochs 1 --name scaling

# ---- look and listen (docs/look-and-listen.md) ----------------------------------------------------
#   make listen    WAVs of held-out test clips and of their AE1/AE2/AE3 reconstructions, in result/listen/
#   make denoise   denoising AEs 1-3 on noisy pairs: SNR and log-spectral distance gained on held-out voices,
#                  and small classifier runs (scratch, pretrained, denoising-pretrained) on noisy test audio
#   make anomaly   "is this a spoken digit?": ROC AUC against other sounds; the detector of predict.py --reject
#   make deep      the deeper AE (BN, LeakyReLU, tanh bottleneck, softplus, RMSprop) against the greedy stack
# Variables: NOISY (folder of the noisy arrays), SMALL_EPOCHS (2: epochs of the comparison classifiers),
#            DEEP_EPOCHS (6: an epoch of the deep AE costs about as much as 5 of each greedy layer),
#            LISTEN_ITERATIONS (100: Griffin-Lim iterations).
NOISY ?= noisy
SMALL_EPOCHS ?= $(or $(EPOCHS),2)
DEEP_EPOCHS ?= $(or $(EPOCHS),6)
LISTEN_ITERATIONS ?= 100
SMALL := $(RESULT)/small
SMALL_STAMP = $(call stamp,small,$(SMALL_EPOCHS) $(BATCH))
AE_DIRS := $(foreach k,1 2 3,$(RESULT)/autoencoder$(k))
DAE_DIRS := $(foreach k,1 2 3,$(RESULT)/denoise/autoencoder$(k))
small_models = $(foreach s,$(SEEDS),$(SMALL)/$(1)/seed$(s)/model.npz)
small_dirs = $(patsubst %/model.npz,%,$(foreach m,$(1),$(call small_models,$(m))))

.PHONY: listen denoise anomaly deep clean-look
listen: $(RESULT)/listen/listen.json
$(RESULT)/listen/listen.json: $(RESULT)/autoencoder3/model.npz listen.py specae/inversion.py
	$(PY) listen.py --dataset $(DATA_DIR) --iterations $(LISTEN_ITERATIONS) --out $(@D) $(AE_DIRS)

$(NOISY)/noisy.json: $(DATA_DIR)/manifest.json make_noisy.py specae/denoise.py specae/augment.py
	$(PY) make_noisy.py --dataset $(DATA_DIR) --out $(NOISY) --seed $(SEED) --jobs $(JOBS)

$(RESULT)/denoise/autoencoder1/model.npz: $(NOISY)/noisy.json cnn_autoencoder1.py specae/greedy.py $(TRAIN_CODE) $(AE_STAMP)
	$(PY) cnn_autoencoder1.py $(TRAIN_FLAGS) --denoise $(NOISY) --epoch $(AE_EPOCHS) --seed $(SEED) --out $(@D)
$(RESULT)/denoise/autoencoder2/model.npz: $(RESULT)/denoise/autoencoder1/model.npz cnn_autoencoder2.py
	$(PY) cnn_autoencoder2.py $(TRAIN_FLAGS) --denoise $(NOISY) --epoch $(AE_EPOCHS) --seed $(SEED) --init $< --out $(@D)
$(RESULT)/denoise/autoencoder3/model.npz: $(RESULT)/denoise/autoencoder2/model.npz cnn_autoencoder3.py
	$(PY) cnn_autoencoder3.py $(TRAIN_FLAGS) --denoise $(NOISY) --epoch $(AE_EPOCHS) --seed $(SEED) --init $< --out $(@D)

$(RESULT)/deep/model.npz: $(DATA_DIR)/manifest.json cnn_autoencoder_deep.py $(TRAIN_CODE) \
		$(call stamp,deep,$(DEEP_EPOCHS) $(BATCH) $(SEED))
	$(PY) cnn_autoencoder_deep.py $(TRAIN_FLAGS) --epoch $(DEEP_EPOCHS) --seed $(SEED) --out $(@D)

# Small classifier runs for the comparisons: the same epochs for every initialisation.
$(SMALL)/scratch/seed%/model.npz: $(DATA_DIR)/manifest.json cnn_classifier1.py $(TRAIN_CODE) $(SMALL_STAMP)
	$(PY) cnn_classifier1.py --layers 3 $(TRAIN_FLAGS) --epoch $(SMALL_EPOCHS) --seed $* --out $(@D)
$(SMALL)/pretrained/seed%/model.npz: $(RESULT)/autoencoder3/model.npz cnn_classifier2.py $(SMALL_STAMP)
	$(PY) cnn_classifier2.py --init $< $(TRAIN_FLAGS) --epoch $(SMALL_EPOCHS) --seed $* --out $(@D)
$(SMALL)/denoising/seed%/model.npz: $(RESULT)/denoise/autoencoder3/model.npz cnn_classifier2.py $(SMALL_STAMP)
	$(PY) cnn_classifier2.py --init $< $(TRAIN_FLAGS) --epoch $(SMALL_EPOCHS) --seed $* --out $(@D)
$(SMALL)/deep/seed%/model.npz: $(RESULT)/deep/model.npz cnn_classifier2.py $(SMALL_STAMP)
	$(PY) cnn_classifier2.py --init $< $(TRAIN_FLAGS) --epoch $(SMALL_EPOCHS) --seed $* --out $(@D)

denoise: $(RESULT)/denoise/report.md
$(RESULT)/denoise/report.md: $(RESULT)/autoencoder3/model.npz $(RESULT)/denoise/autoencoder3/model.npz denoise_report.py \
		$(foreach m,scratch pretrained denoising,$(call small_models,$(m)))
	$(PY) denoise_report.py --dataset $(DATA_DIR) --noisy $(NOISY) --out $(@D) --autoencoders $(AE_DIRS) $(DAE_DIRS) \
		--classifiers $(call small_dirs,scratch pretrained denoising)

anomaly: $(RESULT)/anomaly/detector.json
$(RESULT)/anomaly/detector.json: $(RESULT)/autoencoder3/model.npz $(RESULT)/deep/model.npz $(MODEL_FILES) \
		anomaly_report.py specae/anomaly.py
	$(PY) anomaly_report.py --dataset $(DATA_DIR) $(call repeat_option,--classifier,$(MODEL)) --seed $(SEED) --out $(@D) \
		$(AE_DIRS) $(RESULT)/deep

deep: $(RESULT)/deep/report.md
$(RESULT)/deep/report.md: $(RESULT)/autoencoder3/model.npz $(RESULT)/deep/model.npz deep_report.py \
		$(foreach m,scratch pretrained deep,$(call small_models,$(m)))
	$(PY) deep_report.py --dataset $(DATA_DIR) --out $(@D) --autoencoders $(AE_DIRS) $(RESULT)/deep \
		--classifiers $(call small_dirs,scratch pretrained deep)

clean: clean-look
clean-look:
	rm -rf $(NOISY)

# ---- morph and separate (docs/morph-and-separate.md) -----------------------------------------------
#   make morph      a convolutional VAE (16-d Gaussian latent, β-KL with warm-up) on the log-mel images:
#                   morph strips and WAVs between two digits and between two voices, a PCA map of its
#                   latent means, its held-out MSE / ELBO / cosine beside AE1-3's (result/vae/report.md)
#   make separate   U-Net masks separating two held-out voices, or a digit from noise, at 8 kHz, against the
#                   same net without skips and the ideal ratio mask: SDR/SI-SDR gains and the digit
#                   classifier on mixtures, estimates and sources (result/separate/report.md)
# Variables: VAE_EPOCHS (6), VAE_LATENT (16), VAE_BETA (1), VAE_WARMUP (2), SEPARATE_EPOCHS (3),
#            SEPARATE_MIXTURES (2400 per epoch), SEPARATE_TEST_MIXTURES (240 held out). $(RESULT)/classifier_vae/seedN/model.npz: the 3-CNN started
#            from the VAE's encoder (CLF_EPOCHS, like the other classifiers).
VAE_EPOCHS ?= $(or $(EPOCHS),6)
VAE_LATENT ?= 16
VAE_BETA ?= 1
VAE_WARMUP ?= 2
SEPARATE_EPOCHS ?= $(or $(EPOCHS),3)
SEPARATE_MIXTURES ?= 2400
SEPARATE_TEST_MIXTURES ?= 240
VAE_DIR := $(RESULT)/vae
SEPARATE_DIR := $(RESULT)/separate
MODELS_VAE := $(foreach s,$(SEEDS),$(RESULT)/classifier_vae/seed$(s)/model.npz)
SEPARATE_FLAGS = --device $(DEVICE) --dataset $(DATA_DIR) --autoload --seed $(SEED) --epoch $(SEPARATE_EPOCHS) \
	--train-mixtures $(SEPARATE_MIXTURES) --test-mixtures $(SEPARATE_TEST_MIXTURES) $(call repeat_option,--classifier,$(MODEL))
SEPARATE_DEPS = $(DATA_DIR)/manifest.json $(MODEL_FILES) separate.py specae/separation.py specae/inversion.py \
	$(TRAIN_CODE) $(call stamp,separate,$(SEPARATE_EPOCHS) $(SEPARATE_MIXTURES) $(SEPARATE_TEST_MIXTURES) $(SEED))

.PHONY: morph separate
morph: $(VAE_DIR)/report.json
$(VAE_DIR)/report.json: $(RESULT)/autoencoder3/model.npz vae.py specae/vae.py specae/inversion.py $(TRAIN_CODE) \
		$(call stamp,vae,$(VAE_EPOCHS) $(VAE_LATENT) $(VAE_BETA) $(VAE_WARMUP) $(BATCH) $(SEED))
	$(PY) vae.py $(TRAIN_FLAGS) --epoch $(VAE_EPOCHS) --latent $(VAE_LATENT) --beta $(VAE_BETA) --warmup $(VAE_WARMUP) \
		--seed $(SEED) --compare $(AE_DIRS) --out $(@D)

$(RESULT)/classifier_vae/seed%/model.npz: $(VAE_DIR)/report.json cnn_classifier2.py $(CLF_STAMP)
	$(PY) cnn_classifier2.py --init $(VAE_DIR)/model.npz $(TRAIN_FLAGS) --epoch $(CLF_EPOCHS) --seed $* --out $(@D)

separate: $(SEPARATE_DIR)/report.md
$(SEPARATE_DIR)/unet/evaluation.json: $(SEPARATE_DEPS)
	$(PY) separate.py $(SEPARATE_FLAGS) --out $(@D)
$(SEPARATE_DIR)/noskip/evaluation.json: $(SEPARATE_DEPS)
	$(PY) separate.py $(SEPARATE_FLAGS) --no-skips --out $(@D)
$(SEPARATE_DIR)/report.md: $(SEPARATE_DIR)/unet/evaluation.json $(SEPARATE_DIR)/noskip/evaluation.json separation_report.py
	$(PY) separation_report.py $(SEPARATE_DIR)/unet $(SEPARATE_DIR)/noskip --out $(@D)
