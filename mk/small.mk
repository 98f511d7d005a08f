# ---- short classifier runs that make denoise and make deep compare (the same epochs for every
# initialisation: from scratch, from the greedy stack, from the denoising stack, from the deep AE) ---------
# Variables: SMALL_EPOCHS (2: epochs of the comparison classifiers).
SMALL_EPOCHS ?= $(or $(EPOCHS),2)
SMALL := $(RESULT)/small
SMALL_STAMP = $(call stamp,small,$(SMALL_EPOCHS) $(BATCH) $(REGULARISATION))
small_models = $(foreach s,$(SEEDS),$(SMALL)/$(1)/seed$(s)/model.npz)
small_dirs = $(patsubst %/model.npz,%,$(foreach m,$(1),$(call small_models,$(m))))

$(SMALL)/scratch/seed%/model.npz: $(DATA_DIR)/manifest.json cnn_classifier1.py $(TRAIN_CODE) $(SMALL_STAMP)
	$(PY) cnn_classifier1.py --layers 3 $(CLASSIFIER_FLAGS) --epoch $(SMALL_EPOCHS) --seed $* --out $(@D)
$(SMALL)/pretrained/seed%/model.npz: $(RESULT)/autoencoder3/model.npz cnn_classifier2.py $(SMALL_STAMP)
	$(PY) cnn_classifier2.py --init $< $(CLASSIFIER_FLAGS) --epoch $(SMALL_EPOCHS) --seed $* --out $(@D)
$(SMALL)/denoising/seed%/model.npz: $(RESULT)/denoise/autoencoder3/model.npz cnn_classifier2.py $(SMALL_STAMP)
	$(PY) cnn_classifier2.py --init $< $(CLASSIFIER_FLAGS) --epoch $(SMALL_EPOCHS) --seed $* --out $(@D)
$(SMALL)/deep/seed%/model.npz: $(RESULT)/deep/model.npz cnn_classifier2.py $(SMALL_STAMP)
	$(PY) cnn_classifier2.py --init $< $(CLASSIFIER_FLAGS) --epoch $(SMALL_EPOCHS) --seed $* --out $(@D)
