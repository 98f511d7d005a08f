# ---- speed and scale (bench/, docs/speed.md) -------------------------------------------------------------
#   make bench         the speed figures, each a ratio against a reference timed in the same run, with its
#                      goal and PASS/FAIL; JSON in bench/out/. Benchmark-only packages (librosa, torch) go
#                      into .venv-bench, never into .venv. About 7 minutes on 2 idle cores.
#   make bench-scale   stage times and memory at 1x, 4x and 16x the corpus (long: half an hour or more)
# Variables: BENCH_ROUNDS (3); DEVICE=@cupy:0 adds the GPU's training rows (bench/out/training_gpu.json),
# for which .venv-bench needs CuPy and PyTorch's CUDA libraries (docs/speed.md, "On a GPU").
BENCH_VENV := .venv-bench
BENCH_PY := env -u OMP_NUM_THREADS -u OPENBLAS_NUM_THREADS $(BENCH_VENV)/bin/python
BENCH_INSTALLED := $(BENCH_VENV)/.installed
BENCH_ROUNDS ?= 3

# .venv-bench in two steps: the pipeline's packages with the peer's (requirements-peer.txt, all that make
# human-peer needs, mk/human.mk), then the benchmarks' own (librosa, PyTorch).
PEER_INSTALLED := $(BENCH_VENV)/.peer-installed
$(PEER_INSTALLED): requirements.txt requirements-peer.txt
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_PY) -m pip install -q "setuptools<70" wheel
	$(BENCH_PY) -m pip install -q --no-build-isolation -r requirements.txt -r requirements-peer.txt
	touch $@

$(BENCH_INSTALLED): $(PEER_INSTALLED) requirements-bench.txt requirements-bench-torch.txt
	$(BENCH_PY) -m pip install -q --no-build-isolation -r requirements.txt -r requirements-bench.txt
	$(BENCH_PY) -m pip install -q --no-deps -r requirements-bench-torch.txt
	touch $@

.PHONY: bench bench-scale distclean-bench
bench: $(BENCH_INSTALLED) $(MPI_INSTALLED) $(DATA_DIR)/manifest.json
	$(BENCH_PY) bench/bench_frontend.py --wav $(WAV_DIR) --rounds $(BENCH_ROUNDS)
	$(BENCH_PY) bench/bench_training.py --dataset $(DATA_DIR) --rounds $(BENCH_ROUNDS)
ifneq ($(filter -1 @numpy,$(DEVICE)),$(DEVICE))
	$(BENCH_PY) bench/bench_training.py --dataset $(DATA_DIR) --rounds $(BENCH_ROUNDS) --device $(DEVICE)
endif
	$(BENCH_PY) bench/bench_pipeline.py --scales 1 --epochs 2
	$(BENCH_PY) bench/summary.py frontend training pipeline

bench-scale: $(BENCH_INSTALLED) | $(INSTALLED)
	$(BENCH_PY) bench/bench_pipeline.py --scales 1 4 16 --epochs 1 --name scaling

distclean: distclean-bench
distclean-bench:
	rm -rf $(BENCH_VENV)
