# ---- morph (examples/vae, docs/morph-and-separate.md) ----------------------------------------------------
#   make morph   a convolutional VAE (16-d Gaussian latent, β-KL with warm-up) on the log-mel images: morph
#                strips and WAVs between two digits and between two voices, a PCA map of its latent means, its
#                held-out MSE / ELBO / cosine beside AE1-3's (result/vae/report.md)
# Variables: VAE_EPOCHS (6), VAE_LATENT (16), VAE_BETA (1), VAE_WARMUP (2).
#            $(RESULT)/classifier_vae/seedN/model.npz: the 3-CNN started from the VAE's encoder (CLF_EPOCHS,
#            like the other classifiers); make classify adds it to the comparison when it exists.
VAE_EPOCHS ?= $(or $(EPOCHS),6)
VAE_LATENT ?= 16
VAE_BETA ?= 1
VAE_WARMUP ?= 2
VAE_DIR := $(RESULT)/vae
MODELS_VAE := $(foreach s,$(SEEDS),$(RESULT)/classifier_vae/seed$(s)/model.npz)

.PHONY: morph
morph: $(VAE_DIR)/report.json
$(VAE_DIR)/report.json: $(RESULT)/autoencoder3/model.npz examples/vae/vae.py specae/vae.py specae/inversion.py \
		$(TRAIN_CODE) $(call stamp,vae,$(VAE_EPOCHS) $(VAE_LATENT) $(VAE_BETA) $(VAE_WARMUP) $(BATCH) $(SEED))
	$(PY) examples/vae/vae.py $(TRAIN_FLAGS) --epoch $(VAE_EPOCHS) --latent $(VAE_LATENT) --beta $(VAE_BETA) \
		--warmup $(VAE_WARMUP) --seed $(SEED) --compare $(AE_DIRS) --out $(@D)

$(RESULT)/classifier_vae/seed%/model.npz: $(VAE_DIR)/report.json cnn_classifier2.py $(CLF_STAMP)
	$(PY) cnn_classifier2.py --init $(VAE_DIR)/model.npz $(CLASSIFIER_FLAGS) --epoch $(CLF_EPOCHS) --seed $* --out $(@D)
