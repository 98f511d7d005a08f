# ---- is this a spoken digit? (examples/anomaly, docs/look-and-listen.md) --------------------------------
#   make anomaly   ROC AUC of reconstruction error (AE1-3 and the deep AE) against other sounds, beside the
#                  doubt of the MODEL ensemble; writes the detector of predict.py --reject
ANOMALY := examples/anomaly

.PHONY: anomaly
anomaly: $(RESULT)/anomaly/detector.json
$(RESULT)/anomaly/detector.json: $(RESULT)/autoencoder3/model.npz $(RESULT)/deep/model.npz $(MODEL_FILES) \
		$(ANOMALY)/anomaly_report.py specae/anomaly.py
	$(PY) $(ANOMALY)/anomaly_report.py --dataset $(DATA_DIR) $(call repeat_option,--classifier,$(MODEL)) \
		--seed $(SEED) --out $(@D) $(AE_DIRS) $(RESULT)/deep
