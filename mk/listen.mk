# ---- look and listen (examples/listen, docs/look-and-listen.md) -----------------------------------------
#   make listen   WAVs of held-out test clips and of their AE1/AE2/AE3 reconstructions, in result/listen/
# Variables: LISTEN_ITERATIONS (100: Griffin-Lim iterations).
LISTEN_ITERATIONS ?= 100

.PHONY: listen
listen: $(RESULT)/listen/listen.json
$(RESULT)/listen/listen.json: $(RESULT)/autoencoder3/model.npz examples/listen/listen.py specae/inversion.py
	$(PY) examples/listen/listen.py --dataset $(DATA_DIR) --iterations $(LISTEN_ITERATIONS) --out $(@D) $(AE_DIRS)
