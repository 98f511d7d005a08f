# ---- pretraining against labels (examples/curve, docs/curve.md): when does greedy pretraining help? --------
#   make curve   the 2-CNN, the 3-CNN from scratch and the pretrained 3-CNN (its autoencoders trained on the
#                whole training split, without labels) on n labelled clips per digit, the same
#                class-balanced subset for every model of a seed; test accuracy on the held-out voices
#                against n, and pretrained minus scratch paired by seed with a 95 % t-interval
#                (result/curve/curve.json, curve.md, curve.png). Every run makes the same number of updates.
# Variables: CURVE_LABELS (1 2 5 10 20 50 100 all: labelled clips per digit), CURVE_SEEDS (1 2 3 4 5: subsets
#            and initialisations for n up to 20), CURVE_LARGE_SEEDS (1 2 3: for larger n and all),
#            CURVE_ITERATIONS (200 updates per run), CURVE_BATCH (32), CURVE_MODELS (2cnn 3cnn pretrained;
#            add deep, vae or denoising for the 3-CNN started from make deep's, make morph's or make
#            denoise's autoencoder, which make then trains first), CURVE_UNLABELLED (empty: folders or files of
#            unlabelled recordings, e.g. $(HUMAN_DIR); when set, a second greedy chain, result/curve/unlabelled_ae/,
#            trains like make pretrain's on the training split plus their images, no label read, and the model
#            "unlabelled", the 3-CNN started from it, joins CURVE_MODELS).
CURVE_LABELS ?= 1 2 5 10 20 50 100 all
CURVE_SEEDS ?= 1 2 3 4 5
CURVE_LARGE_SEEDS ?= 1 2 3
CURVE_ITERATIONS ?= 200
CURVE_BATCH ?= 32
CURVE_MODELS ?= 2cnn 3cnn pretrained
CURVE_UNLABELLED ?=
CURVE := $(RESULT)/curve
CURVE_FEW_LABELS := $(shell seq 20)
curve_seeds = $(if $(filter $(CURVE_FEW_LABELS),$(1)),$(CURVE_SEEDS),$(CURVE_LARGE_SEEDS))
CURVE_ALL_MODELS := $(CURVE_MODELS) $(if $(strip $(CURVE_UNLABELLED)),unlabelled)
CURVE_RUNS := $(foreach m,$(CURVE_ALL_MODELS),$(foreach n,$(CURVE_LABELS),\
	$(foreach s,$(call curve_seeds,$(n)),$(CURVE)/$(m)/n$(n)/seed$(s)/model.npz)))
CURVE_STAMP = $(call stamp,curve,$(CURVE_ITERATIONS) $(CURVE_BATCH) $(REGULARISATION))
# A run's folder is $(CURVE)/MODEL/nN/seedS: the stem nN/seedS gives the subset and the seed; the subset
# seed is the seed, so the models of one seed see the same labelled clips (paired differences).
curve_seed_of = $(patsubst seed%,%,$(lastword $(subst /, ,$(1))))
curve_flags = --device $(DEVICE) --dataset $(DATA_DIR) --batchsize $(CURVE_BATCH) --iterations $(CURVE_ITERATIONS) $(REGULARISATION) \
	--labels-per-class $(patsubst n%,%,$(firstword $(subst /, ,$(1)))) --subset-seed $(call curve_seed_of,$(1)) \
	--seed $(call curve_seed_of,$(1)) --out $(@D)
CURVE_INIT_pretrained := $(RESULT)/autoencoder3/model.npz
CURVE_INIT_deep := $(RESULT)/deep/model.npz
CURVE_INIT_denoising := $(RESULT)/denoise/autoencoder3/model.npz
CURVE_INIT_vae := $(VAE_DIR)/model.npz
CURVE_UNLABELLED_AE := $(CURVE)/unlabelled_ae
CURVE_INIT_unlabelled := $(CURVE_UNLABELLED_AE)/autoencoder3/model.npz

$(CURVE)/2cnn/%/model.npz: $(DATA_DIR)/manifest.json cnn_classifier1.py $(TRAIN_CODE) $(CURVE_STAMP)
	$(PY) cnn_classifier1.py --layers 2 $(call curve_flags,$*)
$(CURVE)/3cnn/%/model.npz: $(DATA_DIR)/manifest.json cnn_classifier1.py $(TRAIN_CODE) $(CURVE_STAMP)
	$(PY) cnn_classifier1.py --layers 3 $(call curve_flags,$*)
# The VAE's weights are written by the rule of its report (mk/vae.mk).
define curve_initialised_rule
$(CURVE)/$(1)/%/model.npz: $(if $(filter vae,$(1)),$(VAE_DIR)/report.json,$(CURVE_INIT_$(1))) cnn_classifier2.py \
		$(TRAIN_CODE) $(CURVE_STAMP)
	$$(PY) cnn_classifier2.py --init $(CURVE_INIT_$(1)) $$(call curve_flags,$$*)
endef
$(foreach m,pretrained deep denoising vae unlabelled,$(eval $(call curve_initialised_rule,$(m))))

# The chain of make pretrain (same epochs, batch and seed) with the unlabelled recordings' images added to its
# training examples; layer k starts from layer k-1 of this chain.
CURVE_UNLABELLED_STAMP = $(call stamp,curve-unlabelled,$(CURVE_UNLABELLED))
$(CURVE_UNLABELLED_AE)/autoencoder1/model.npz: $(DATA_DIR)/manifest.json cnn_autoencoder1.py $(TRAIN_CODE) $(AE_STAMP) \
		$(CURVE_UNLABELLED_STAMP)
	$(PY) cnn_autoencoder1.py $(TRAIN_FLAGS) --epoch $(AE_EPOCHS) --seed $(SEED) --unlabelled $(CURVE_UNLABELLED) --out $(@D)
$(CURVE_UNLABELLED_AE)/autoencoder2/model.npz: $(CURVE_UNLABELLED_AE)/autoencoder1/model.npz cnn_autoencoder2.py
	$(PY) cnn_autoencoder2.py $(TRAIN_FLAGS) --epoch $(AE_EPOCHS) --seed $(SEED) --init $< --unlabelled $(CURVE_UNLABELLED) \
		--out $(@D)
$(CURVE_UNLABELLED_AE)/autoencoder3/model.npz: $(CURVE_UNLABELLED_AE)/autoencoder2/model.npz cnn_autoencoder3.py
	$(PY) cnn_autoencoder3.py $(TRAIN_FLAGS) --epoch $(AE_EPOCHS) --seed $(SEED) --init $< --unlabelled $(CURVE_UNLABELLED) \
		--out $(@D)

.PHONY: curve
curve: $(CURVE)/curve.json
$(CURVE)/curve.json: $(CURVE_RUNS) examples/curve/curve_report.py
	$(PY) examples/curve/curve_report.py --out $(@D) $(patsubst %/model.npz,%,$(CURVE_RUNS))
