# ---- the deeper autoencoder (examples/deep, docs/look-and-listen.md) ------------------------------------
#   make deep   the deeper AE (BN, LeakyReLU, tanh bottleneck, softplus, RMSprop) against the greedy stack
# Variables: DEEP_EPOCHS (6: an epoch of the deep AE costs about as much as 5 of each greedy layer).
DEEP_EPOCHS ?= $(or $(EPOCHS),6)
DEEP := examples/deep

$(RESULT)/deep/model.npz: $(DATA_DIR)/manifest.json $(DEEP)/cnn_autoencoder_deep.py $(TRAIN_CODE) \
		$(call stamp,deep,$(DEEP_EPOCHS) $(BATCH) $(SEED))
	$(PY) $(DEEP)/cnn_autoencoder_deep.py $(TRAIN_FLAGS) --epoch $(DEEP_EPOCHS) --seed $(SEED) --out $(@D)

.PHONY: deep
deep: $(RESULT)/deep/report.md
$(RESULT)/deep/report.md: $(RESULT)/autoencoder3/model.npz $(RESULT)/deep/model.npz $(DEEP)/deep_report.py \
		$(foreach m,scratch pretrained deep,$(call small_models,$(m)))
	$(PY) $(DEEP)/deep_report.py --dataset $(DATA_DIR) --out $(@D) --autoencoders $(AE_DIRS) $(RESULT)/deep \
		--classifiers $(call small_dirs,scratch pretrained deep)
