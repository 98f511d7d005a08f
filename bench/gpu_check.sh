#!/bin/bash
# The GPU check (docs/speed.md, "On a GPU"): the GPU tests and the GPU training benchmark on a machine
# with CUDA, CuPy and PyTorch but no network, whose Python (3.12, NumPy 2, CuPy 14) is not the project's
# pinned one. The packages it lacks come as wheels in .whl/ (chainer 7.8.1, soundfile with cffi and
# pycparser, espeakng-loader, fast-bss-eval, setuptools<70 for Chainer's pkg_resources, onednn-cpu-gomp for
# the CPU side; 51 MB, carried with the working tree), made where pip works:
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 -d .whl \
#       soundfile==0.12.1 cffi pycparser espeakng-loader==0.2.4 onednn-cpu-gomp==2023.2.0 "setuptools<70"
#   pip wheel --no-deps --no-build-isolation -w .whl chainer==7.8.1 fast-bss-eval==0.1.4
# Usage: bash bench/gpu_check.sh [OUT_DIR] [STAGE...]   stages: tests bench scripts (default: tests bench)
# Logs and bench/out/training_gpu.json go to OUT_DIR (default bench/out/gpu); BENCH_ARGS adds options to the
# bench stage (e.g. "--batch 256 --models AE1 3-CNN").
set -u
OUT_DIR=${1:-bench/out/gpu}
shift || true
STAGES=${*:-tests bench}
mkdir -p "$OUT_DIR"
SITE=/tmp/specae-site
PYTHON=${PYTHON:-python3}
$PYTHON -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" \
    $(ls .whl/*.whl | grep -v onednn) || { echo "gpu_check: the wheels in .whl/ did not install" >&2; exit 1; }
cp bench/numpy2_for_chainer.py "$SITE/sitecustomize.py"
# oneDNN's library is a data file of its wheel (a venv's lib/): taken out and named to specae.onednn
$PYTHON -c "import sys, zipfile, glob; wheel = zipfile.ZipFile(glob.glob('.whl/onednn*.whl')[0])
wheel.extract(next(n for n in wheel.namelist() if n.endswith('lib/libdnnl.so.3')), sys.argv[1])" \
    "$SITE/onednn" && export SPECAE_ONEDNN_LIBRARY=$(ls "$SITE"/onednn/*/data/lib/libdnnl.so.3)
export PYTHONPATH="$SITE:$PWD" PYTHONUNBUFFERED=1
{
    nvidia-smi -L
    lscpu | grep -E "^Model name|^CPU\(s\)"
    $PYTHON -c "import sys; from specae import onednn; import numpy, cupy, chainer, torch
print('python', sys.version.split()[0], 'numpy', numpy.__version__, 'cupy', cupy.__version__, 'chainer',
      chainer.__version__, 'torch', torch.__version__, 'cuda available to chainer', chainer.backends.cuda.available,
      'cudnn', chainer.backends.cuda.cudnn_enabled, 'onednn', onednn.available(), onednn.reason)"
} 2>&1 | tee "$OUT_DIR/machine.txt"
for stage in $STAGES; do
    case $stage in
    tests)
        # the GPU's tests and the training scripts' on this Python; then the CPU kernels' on this CPU
        timeout ${TEST_SECONDS:-420} $PYTHON -m pytest -q -n 8 -p no:cacheprovider -rfE tests/test_gpu.py \
            tests/test_training.py 2>&1 | tee "$OUT_DIR/tests.log" | tail -15
        timeout ${TEST_SECONDS:-420} $PYTHON -m pytest -q -n 8 -p no:cacheprovider -rfE tests/test_onednn.py \
            tests/test_flat_adam.py tests/test_fastconv.py 2>&1 | tee "$OUT_DIR/tests_cpu.log" | tail -15 ;;
    bench)
        timeout ${BENCH_SECONDS:-240} $PYTHON bench/bench_training.py --device @cupy:0 --rounds 3 --seconds 0.5 --skip-scripts \
            ${BENCH_ARGS:-} 2>&1 \
            | tee "$OUT_DIR/bench.log"
        cp bench/out/training_gpu.json "$OUT_DIR/" 2>/dev/null ;;
    scripts)
        # an espeak-ng corpus of 4800 clips (the default corpus without the neural voice), then epochs
        work=/tmp/specae-gpu-corpus
        timeout 150 bash -c "$PYTHON make_wav.py --out $work/wav --neural-speakers 0 --no-progress \
            && $PYTHON make_spectrogram.py --wav $work/wav --out $work/spectrogram \
            && $PYTHON make_dataset.py --spec $work/spectrogram --out $work/DataSet" > "$OUT_DIR/corpus.log" 2>&1
        timeout 200 $PYTHON bench/bench_training.py --device @cupy:0 --rounds 2 --seconds 0.5 --models 3-CNN \
            --dataset $work/DataSet 2>&1 | tee "$OUT_DIR/scripts.log"
        cp bench/out/training_gpu.json "$OUT_DIR/training_gpu_scripts.json" 2>/dev/null ;;
    esac
done
