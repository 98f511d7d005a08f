# ---- denoising autoencoders (examples/denoise, docs/look-and-listen.md) ---------------------------------
#   make denoise   denoising AEs 1-3 on noisy pairs: SNR and log-spectral distance gained on held-out voices,
#                  and small classifier runs (scratch, pretrained, denoising-pretrained) on noisy test audio
# Variables: NOISY (folder of the noisy arrays).
NOISY ?= noisy
DENOISE := examples/denoise
DAE_DIRS := $(foreach k,1 2 3,$(RESULT)/denoise/autoencoder$(k))

$(NOISY)/noisy.json: $(DATA_DIR)/manifest.json $(DENOISE)/make_noisy.py specae/denoise.py specae/augment.py
	$(PY) $(DENOISE)/make_noisy.py --dataset $(DATA_DIR) --out $(NOISY) --seed $(SEED) --jobs $(JOBS)

$(RESULT)/denoise/autoencoder1/model.npz: $(NOISY)/noisy.json cnn_autoencoder1.py specae/greedy.py $(TRAIN_CODE) $(AE_STAMP)
	$(PY) cnn_autoencoder1.py $(TRAIN_FLAGS) --denoise $(NOISY) --epoch $(AE_EPOCHS) --seed $(SEED) --out $(@D)
$(RESULT)/denoise/autoencoder2/model.npz: $(RESULT)/denoise/autoencoder1/model.npz cnn_autoencoder2.py
	$(PY) cnn_autoencoder2.py $(TRAIN_FLAGS) --denoise $(NOISY) --epoch $(AE_EPOCHS) --seed $(SEED) --init $< --out $(@D)
$(RESULT)/denoise/autoencoder3/model.npz: $(RESULT)/denoise/autoencoder2/model.npz cnn_autoencoder3.py
	$(PY) cnn_autoencoder3.py $(TRAIN_FLAGS) --denoise $(NOISY) --epoch $(AE_EPOCHS) --seed $(SEED) --init $< --out $(@D)

.PHONY: denoise clean-denoise
denoise: $(RESULT)/denoise/report.md
$(RESULT)/denoise/report.md: $(RESULT)/autoencoder3/model.npz $(RESULT)/denoise/autoencoder3/model.npz \
		$(DENOISE)/denoise_report.py $(foreach m,scratch pretrained denoising,$(call small_models,$(m)))
	$(PY) $(DENOISE)/denoise_report.py --dataset $(DATA_DIR) --noisy $(NOISY) --out $(@D) \
		--autoencoders $(AE_DIRS) $(DAE_DIRS) --classifiers $(call small_dirs,scratch pretrained denoising)

clean: clean-denoise
clean-denoise:
	rm -rf $(NOISY)
