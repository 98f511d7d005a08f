# ---- separate (examples/separation, docs/morph-and-separate.md) -----------------------------------------
#   make separate   U-Net masks separating two held-out voices, or a digit from noise, at 8 kHz, against the
#                   same net without skips and the ideal ratio mask: SDR/SI-SDR gains and the MODEL ensemble
#                   on mixtures, estimates and sources (result/separate/report.md)
# Variables: SEPARATE_EPOCHS (3), SEPARATE_MIXTURES (2400 per epoch), SEPARATE_TEST_MIXTURES (240 held out).
SEPARATE_EPOCHS ?= $(or $(EPOCHS),3)
SEPARATE_MIXTURES ?= 2400
SEPARATE_TEST_MIXTURES ?= 240
SEPARATION := examples/separation
SEPARATE_DIR := $(RESULT)/separate
SEPARATE_FLAGS = --device $(DEVICE) --dataset $(DATA_DIR) --autoload --seed $(SEED) --epoch $(SEPARATE_EPOCHS) \
	--train-mixtures $(SEPARATE_MIXTURES) --test-mixtures $(SEPARATE_TEST_MIXTURES) \
	$(call repeat_option,--classifier,$(MODEL))
SEPARATE_DEPS = $(DATA_DIR)/manifest.json $(MODEL_FILES) $(SEPARATION)/separate.py $(SEPARATION)/separation.py \
	specae/inversion.py $(TRAIN_CODE) \
	$(call stamp,separate,$(SEPARATE_EPOCHS) $(SEPARATE_MIXTURES) $(SEPARATE_TEST_MIXTURES) $(SEED))

.PHONY: separate
separate: $(SEPARATE_DIR)/report.md
$(SEPARATE_DIR)/unet/evaluation.json: $(SEPARATE_DEPS)
	$(PY) $(SEPARATION)/separate.py $(SEPARATE_FLAGS) --out $(@D)
$(SEPARATE_DIR)/noskip/evaluation.json: $(SEPARATE_DEPS)
	$(PY) $(SEPARATION)/separate.py $(SEPARATE_FLAGS) --no-skips --out $(@D)
$(SEPARATE_DIR)/report.md: $(SEPARATE_DIR)/unet/evaluation.json $(SEPARATE_DIR)/noskip/evaluation.json \
		$(SEPARATION)/separation_report.py
	$(PY) $(SEPARATION)/separation_report.py $(SEPARATE_DIR)/unet $(SEPARATE_DIR)/noskip --out $(@D)
