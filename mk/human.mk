# ---- human speech (docs/human.md): the recogniser on real recordings -------------------------------
#   make human         evaluate.py with the default models on HUMAN_DIR: accuracy per digit and per speaker,
#                      confusion matrix (result/human/); make report then shows it beside make adapt's and
#                      make human-peer's on the report page
#   make adapt         examples/human/adapt.py: self-training on the unlabelled WAVs in ADAPT_DIR (no label
#                      read); the adapted classifiers (one per MODEL) in result/adapted/, then scored on HUMAN_DIR
#   make human-folds   your own labelled recordings: leave-one-speaker-out over HUMAN_DIR, a 3-CNN from
#                      scratch against one fine-tuned from the default model, and that one then adapted to
#                      the held-out speaker's audio without its labels (result/human_folds/)
#   make human-unseen  the speakers of HUMAN_DIR dealt into UNSEEN_GROUPS groups; each group scored by the
#                      models adapted (make adapt's way, no label read) to the other groups' audio: what the
#                      adaptation learns of human speech, on people it never heard (result/human_unseen/);
#                      JOBS groups adapt side by side
#   make human-peer    the peer: off-the-shelf PocketSphinx (its pip wheel and bundled US-English model, a grammar
#                      of the ten digit words) scored on HUMAN_DIR as make human scores ours (result/human_peer/);
#                      benchmark-only, in .venv-bench (requirements-peer.txt)
# Variables: HUMAN_DIR (default ../shared/data/fsdd/recordings when it exists), ADAPT_DIR (default HUMAN_DIR),
#            ADAPT_FRACTIONS (0.3 0.5 0.7 0.9 1.0), ADAPT_EPOCHS (3), FOLD_EPOCHS (10), UNSEEN_GROUPS (6: one
#            speaker per group where HUMAN_DIR has six, as FSDD does).
HUMAN_DIR ?= $(firstword $(wildcard ../shared/data/fsdd/recordings))
ADAPT_DIR ?= $(HUMAN_DIR)
ADAPT_FRACTIONS ?= 0.3 0.5 0.7 0.9 1.0
ADAPT_EPOCHS ?= $(or $(EPOCHS),3)
FOLD_EPOCHS ?= $(or $(EPOCHS),10)
UNSEEN_GROUPS ?= 6
HUMAN_SCRIPTS := examples/human
define NO_HUMAN_DIR
no folder of human recordings: set HUMAN_DIR to a folder of {digit}_{speaker}_*.wav files, e.g. the recordings/ folder of the Free Spoken Digit Dataset (github.com/Jakobovski/free-spoken-digit-dataset, CC BY-SA 4.0)
endef
need_human_dir = @test -d "$(1)" || { echo "make $@: $(NO_HUMAN_DIR)" >&2; exit 2; }

.PHONY: human adapt human-folds human-unseen human-peer
human: | $(INSTALLED)
	$(call need_human_dir,$(HUMAN_DIR))
	$(PY) evaluate.py $(foreach m,$(MODEL),--model $(m)) --out $(RESULT)/human $(HUMAN_DIR)

adapt: $(RESULT)/adapted/adaptation.json
	$(call need_human_dir,$(HUMAN_DIR))
	$(PY) evaluate.py --model $(RESULT)/adapted --out $(RESULT)/human_adapted $(HUMAN_DIR)
$(RESULT)/adapted/adaptation.json: $(MODEL_FILES) $(HUMAN_SCRIPTS)/adapt.py $(HUMAN_SCRIPTS)/adaptation.py
	$(call need_human_dir,$(ADAPT_DIR))
	$(PY) $(HUMAN_SCRIPTS)/adapt.py $(foreach m,$(MODEL),--model $(m)) $(TRAIN_FLAGS) --epoch $(ADAPT_EPOCHS) \
		--fractions $(ADAPT_FRACTIONS) --seed $(SEED) --out $(@D) $(ADAPT_DIR)

human-folds: | $(INSTALLED)
	$(call need_human_dir,$(HUMAN_DIR))
	$(PY) $(HUMAN_SCRIPTS)/human_folds.py --recordings $(HUMAN_DIR) --init $(firstword $(MODEL)) --epoch $(FOLD_EPOCHS) \
		--adapt-epochs $(ADAPT_EPOCHS) --device $(DEVICE) --batchsize $(BATCH) --seed $(SEED) --out $(RESULT)/human_folds

human-unseen: $(MODEL_FILES) | $(INSTALLED)
	$(call need_human_dir,$(HUMAN_DIR))
	$(PY) $(HUMAN_SCRIPTS)/unseen_speakers.py --recordings $(HUMAN_DIR) $(foreach m,$(MODEL),--model $(m)) \
		--groups $(UNSEEN_GROUPS) --dataset $(DATA_DIR) --epoch $(ADAPT_EPOCHS) --fractions $(ADAPT_FRACTIONS) \
		--device $(DEVICE) --batchsize $(BATCH) --seed $(SEED) --jobs $(JOBS) --out $(RESULT)/human_unseen

# The peer's packages only, in the benchmarks' venv (mk/bench.mk): neither PyTorch nor librosa.
human-peer: $(PEER_INSTALLED)
	$(call need_human_dir,$(HUMAN_DIR))
	$(BENCH_PY) $(HUMAN_SCRIPTS)/peer_pocketsphinx.py --jobs $(JOBS) --out $(RESULT)/human_peer $(HUMAN_DIR)
