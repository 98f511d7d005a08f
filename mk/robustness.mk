# ---- robustness (examples/robustness, docs/robustness.md): held-out voices, clean and degraded ----------
#   make robustness   degraded copies of the held-out voices (telephone, noise, reverb, voice, mixed), then
#                     every classifier of make classify scored on them, each seed and each seed ensemble,
#                     and last the recogniser (MODEL) as predict.py answers
# Variables: DEGRADED (folder of the degraded copies).
DEGRADED ?= degraded
ROBUSTNESS := examples/robustness

$(DEGRADED)/.complete: $(DATA_DIR)/manifest.json $(ROBUSTNESS)/make_degraded.py specae/augment.py
	rm -rf $(DEGRADED)
	$(PY) $(ROBUSTNESS)/make_degraded.py --dataset $(DATA_DIR) --out $(DEGRADED)
	touch $@

$(RESULT)/robustness.md: $(DEGRADED)/.complete $(ROBUSTNESS)/robustness_report.py $(MODELS_2CNN) $(MODELS_3CNN) \
		$(MODELS_PRETRAINED) $(MODEL_FILES)
	$(PY) $(ROBUSTNESS)/robustness_report.py --dataset $(DATA_DIR) --degraded $(DEGRADED) \
		--out $(RESULT)/robustness.json --ensemble $(foreach m,$(MODEL),--recogniser $(m)) \
		$(MODELS_2CNN:%/model.npz=%) $(MODELS_3CNN:%/model.npz=%) $(MODELS_PRETRAINED:%/model.npz=%) > $@.tmp
	mv $@.tmp $@
	cat $@

.PHONY: robustness clean-robustness
robustness: $(RESULT)/robustness.md
clean: clean-robustness
clean-robustness:
	rm -rf $(DEGRADED)
