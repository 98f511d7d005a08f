"""Front-end benchmark: the original's per-frame loop, librosa and ours on the same clips.

Not a test. Needs librosa (the benchmark venv, ``make bench``). Three measurements, each a ratio
against a reference timed in the same run (interleaved rounds, median of the pairwise ratios):

1. read + log-mel, one process with single-threaded BLAS (as make_spectrogram.py runs it),
   ``--files`` espeak clips: the original's loop (``wave`` + per-frame
   ``np.fft.fft``, ``abs``, dot with the filterbank, 20·log10, reimplemented here), librosa
   (``librosa.load`` + ``librosa.feature.melspectrogram`` with the same window, bands and magnitude
   weighting, + ``amplitude_to_db``) and ours (``specae.audio.load_audio`` + ``specae.features.log_mel``);
   the outputs are compared first.
2. ``make_spectrogram.py --jobs 1`` against ``--jobs 2`` (``--no-preview``), whole processes, on the
   whole corpus; a pure-Python spin in 1 and 2 processes, timed in the same rounds, says how much of
   a second core the other users of the machine left. Information only (no goal since issue 18).
3. the whole WAV → DataSet stage: the original's (per-frame loop, an 8-bit PNG per clip as its
   conv2image wrote, read back and stacked as its make_dataset.py did; one process) against ours
   (``make_spectrogram.py`` with previews + ``make_dataset.py``, default jobs, whole processes). The
   original is timed as it ran (numpy's default BLAS threads) and given one BLAS thread (its best here).
   Information only (no goal since issue 18: the stage takes seconds).

    .venv-bench/bin/python bench/bench_frontend.py [--files 1000] [--rounds 3]
"""
import argparse
import glob
import multiprocessing
import os
import random
import shutil
import sys
import time
import wave

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import OUT, ROOT, Report, interleaved, median, paired_ratio, run_timed  # noqa: E402

import melbank  # noqa: E402
from specae import audio, features  # noqa: E402
from specae.features import FeatureParams  # noqa: E402

PARAMS = FeatureParams()


# ---- the original's front end, reimplemented -------------------------------------------------------
class OriginalSpectrogram:
    """The original's per-frame loop: wave module, one np.fft.fft per frame, magnitude, dot with the
    filterbank, 20·log10, copied band by band into the output (float64 throughout, as there)."""

    def __init__(self, params=PARAMS):
        self.n_fft, self.hop, self.n_mels = params.n_fft, params.hop_length, params.n_mels
        self.melmat = np.asarray(melbank.mel_filterbank(params.sample_rate_hz, params.n_fft, params.n_mels,
                                                        params.fmin_hz, params.fmax_hz), dtype=np.float64)
        self.window = np.hamming(self.n_fft)

    def read(self, path):
        with wave.open(path, "rb") as stream:
            channels, width, frames = stream.getnchannels(), stream.getsampwidth(), stream.getnframes()
            buffer = stream.readframes(frames)
        if width == 2:
            data = np.frombuffer(buffer, dtype=np.int16).astype(np.float32) / 32768.0
        else:
            data = np.frombuffer(buffer, dtype=np.int32).astype(np.float32) / 2.0 ** 31
        if channels == 2:
            data = (data[::2] + data[1::2]) / 2.0
        return data

    def spectrogram(self, data):
        """(n_frames, n_mels) dB, time first as in the original."""
        count = (len(data) - (self.n_fft - self.hop)) // self.hop
        spec = np.zeros([max(count, 0), self.n_mels])
        position = rows = 0
        for _ in range(count):
            frame = data[position:position + self.n_fft]
            if len(frame) == self.n_fft:
                magnitude = np.abs(np.fft.fft(self.window * frame))
                mel = np.dot(magnitude[0:self.n_fft // 2 + 1], self.melmat.T)
                if np.count_nonzero(mel) == len(mel):
                    mel = np.log10(mel) * 20
                    for band in range(self.n_mels):
                        spec[rows][band] = mel[band]
                    rows += 1
                position += self.hop
        return spec[:rows]

    def __call__(self, path, centre=False):
        data = self.read(path)
        if centre:  # only for the output check: our front end removes the mean first
            data = data - data.mean(dtype=np.float64).astype(np.float32)
        return self.spectrogram(data)


def original_image(spec, path, rng, n=64, top_db=45.0, bottom_db=-45.0):
    """The original's conv2image: random-noise 8-bit canvas, the first 64 frames of the ±45 dB
    window on it, rotated, written as PNG (PIL, or matplotlib without it)."""
    image = rng.integers(0, 256, size=(n, n), dtype=np.uint8)
    scaled = np.clip((1 + (spec - top_db) / (top_db - bottom_db)) * 255, 0, 255).astype(np.uint8)
    for row in range(min(scaled.shape[0], n)):
        image[row] = scaled[row]
    write_png(path, np.rot90(image))


def write_png(path, image):
    try:
        from PIL import Image
        Image.fromarray(np.ascontiguousarray(image), mode="L").save(path)
    except ImportError:
        import matplotlib.image
        matplotlib.image.imsave(path, image, cmap="gray", vmin=0, vmax=255)


def read_png(path):
    try:
        from PIL import Image
        with Image.open(path) as image:
            return np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    except ImportError:
        import matplotlib.image
        return np.asarray(matplotlib.image.imread(path), dtype=np.float32)[..., 0]


def original_pipeline(paths, work, seed=0):
    """WAV → PNG per clip → DataSet arrays, the original's way, one process."""
    spec_dir, data_dir = os.path.join(work, "spectrogram"), os.path.join(work, "DataSet")
    for directory in (spec_dir, data_dir):
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory)
    loop, rng = OriginalSpectrogram(), np.random.default_rng(seed)
    for path in paths:
        name = os.path.splitext(os.path.basename(path))[0] + ".png"
        original_image(loop(path), os.path.join(spec_dir, name), rng)
    names = sorted(os.listdir(spec_dir))
    random.Random(seed).shuffle(names)
    data = [read_png(os.path.join(spec_dir, name)).reshape(1, 64, 64) for name in names]
    labels = [np.int32(name[0]) for name in names]
    cut = len(data) // 10 * 9
    np.save(os.path.join(data_dir, "train_data.npy"), np.asarray(data[:cut]))
    np.save(os.path.join(data_dir, "test_data.npy"), np.asarray(data[cut:]))
    np.save(os.path.join(data_dir, "train_label.npy"), np.asarray(labels[:cut]))
    np.save(os.path.join(data_dir, "test_label.npy"), np.asarray(labels[cut:]))


# ---- librosa and ours --------------------------------------------------------------------------------
def librosa_log_mel(path, centre=True):
    import librosa
    samples, rate = librosa.load(path, sr=None, mono=True)
    if centre:
        samples = samples - samples.mean(dtype=np.float64).astype(np.float32)
    mel = librosa.feature.melspectrogram(
        y=samples, sr=rate, n_fft=PARAMS.n_fft, hop_length=PARAMS.hop_length, win_length=PARAMS.n_fft,
        window=np.hamming(PARAMS.n_fft), center=False, power=1.0, n_mels=PARAMS.n_mels, fmin=PARAMS.fmin_hz,
        fmax=PARAMS.fmax_hz, htk=True, norm=None)
    return librosa.amplitude_to_db(mel, ref=1.0, amin=1e-10, top_db=None)


def our_log_mel(path):
    return features.log_mel(audio.load_audio(path, PARAMS.sample_rate_hz), PARAMS)


def agreement(paths):
    """Largest dB difference from ours, over the bins within 80 dB of each clip's maximum."""
    loop, worst = OriginalSpectrogram(), {"librosa": 0.0, "original": 0.0}
    for path in paths:
        ours = our_log_mel(path)
        others = {"librosa": librosa_log_mel(path), "original": loop(path, centre=True).T}
        keep = ours > ours.max() - 80.0
        for name, other in others.items():
            if other.shape != ours.shape:
                raise AssertionError("{}: {} gives shape {}, ours {}".format(path, name, other.shape, ours.shape))
            worst[name] = max(worst[name], float(np.abs(other - ours)[keep].max()))
    return worst


def one_thread(function):
    """``function`` with single-threaded BLAS, as make_spectrogram.py runs its workers. (The original
    ran with numpy's defaults: its per-frame matrix-vector product is then spread over all cores, which
    costs far more than it saves when they are busy; both are measured.)"""
    def limited():
        from threadpoolctl import threadpool_limits
        with threadpool_limits(1, user_api="blas"):
            return function()
    return limited


def spin(seconds_of_work):
    """CPU-bound pure Python; returns when done."""
    total, n = 0, int(seconds_of_work * 8e6)
    for i in range(n):
        total += i
    return total


def spin_processes(count, seconds_of_work):
    """``count`` processes each doing the same work; wall seconds."""
    start = time.perf_counter()
    workers = [multiprocessing.get_context("fork").Process(target=spin, args=(seconds_of_work,))
               for _ in range(count)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return time.perf_counter() - start


def choose(files, count):
    """``count`` clips spread over all speakers, rates and digits (every k-th of the sorted list)."""
    step = max(1, len(files) // count)
    return files[::step][:count]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wav", default=os.path.join(ROOT, "wav"), help="espeak corpus (make_wav.py)")
    parser.add_argument("--files", type=int, default=1000, help="clips for the single-process comparison")
    parser.add_argument("--stage-files", type=int, default=0,
                        help="clips for the jobs and whole-stage comparisons (0: the whole corpus)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    import librosa

    corpus = sorted(glob.glob(os.path.join(args.wav, "*.wav")))
    if len(corpus) < args.files:
        sys.exit("error: {} has {} clips, {} needed (make_wav.py --out {})".format(
            args.wav, len(corpus), args.files, args.wav))
    paths = choose(corpus, args.files)
    report = Report("frontend")
    report.data["librosa"] = librosa.__version__
    print("front end: {} clips of {} (single process), {} rounds".format(len(paths), args.wav, args.rounds))

    # 1. read + log-mel, one process
    differences = agreement(paths[::25])
    report.figure("max |librosa - ours| (dB, bins within 80 dB of the max)", differences["librosa"], "dB")
    report.figure("max |original loop - ours| (dB, same bins)", differences["original"], "dB")
    if max(differences.values()) > 0.05:
        raise SystemExit("error: the front ends disagree by more than 0.05 dB: {}".format(differences))
    loop = OriginalSpectrogram()
    times = interleaved({"original, default BLAS threads": lambda: [loop(path) for path in paths],
                         "original": one_thread(lambda: [loop(path) for path in paths]),
                         "librosa": one_thread(lambda: [librosa_log_mel(path, centre=False) for path in paths]),
                         "ours": one_thread(lambda: [our_log_mel(path) for path in paths])}, args.rounds)
    for name, seconds in times.items():
        report.figure("{} read + log-mel".format(name), len(paths) / median(seconds), "files/s")
    report.figure("ours / original (read + log-mel)", paired_ratio(times["original"], times["ours"]), "x")
    report.figure("ours / original with default BLAS threads",
                  paired_ratio(times["original, default BLAS threads"], times["ours"]), "x")
    report.goal("ours / librosa, read + log-mel, one process", paired_ratio(times["librosa"], times["ours"]), 4.0)
    full = interleaved({"image_from_file": one_thread(lambda: [features.image_from_file(path, PARAMS)
                                                               for path in paths])}, args.rounds, warmup=0)
    report.figure("ours whole image (read, log-mel, level, trim, resize)",
                  len(paths) / median(full["image_from_file"]), "files/s")

    # 2. make_spectrogram.py --jobs 1 vs --jobs 2
    stage_paths = choose(corpus, args.stage_files) if args.stage_files else corpus
    work = os.path.join(OUT, "frontend")
    shutil.rmtree(work, ignore_errors=True)
    clips = os.path.join(work, "wav")
    os.makedirs(clips)
    for path in stage_paths:
        os.symlink(os.path.abspath(path), os.path.join(clips, os.path.basename(path)))
    python = sys.executable

    def make_spectrogram(jobs, preview=False, out="spectrogram"):
        command = [python, "make_spectrogram.py", "--wav", clips, "--out", os.path.join(work, out),
                   "--jobs", str(jobs)] + ([] if preview else ["--no-preview"])
        return lambda: run_timed(command)["wall_s"]

    spin_seconds = 1.0
    times = interleaved({"jobs1": make_spectrogram(1), "jobs2": make_spectrogram(2),
                         "spin1": lambda: spin_processes(1, spin_seconds),
                         "spin2": lambda: spin_processes(2, spin_seconds)}, args.rounds)
    print("make_spectrogram.py on {} clips, whole process:".format(len(stage_paths)))
    for jobs in (1, 2):
        report.figure("make_spectrogram.py --jobs {} --no-preview".format(jobs),
                      len(stage_paths) / median(times["jobs{}".format(jobs)]), "files/s")
    cores_free = 2 * paired_ratio(times["spin1"], times["spin2"])
    report.figure("pure-Python spin: 2 processes / 1 process throughput", cores_free, "x",
                  "2.0 when a second core is free")
    jobs_ratio = paired_ratio(times["jobs1"], times["jobs2"])
    report.figure("jobs 2 / jobs 1 relative to the spin's 2 / 1", jobs_ratio / cores_free, "x",
                  "1.0: scales as well as the machine allowed")
    # Information, no longer a goal (issue 18): the stage takes seconds, so how it scales does not matter
    # to a user (it was >= 1.8).
    report.figure("make_spectrogram.py --jobs 2 / --jobs 1", jobs_ratio, "x",
                  "spin ratio in the same rounds {:.2f}".format(cores_free))

    # 3. the whole WAV → DataSet stage
    jobs = os.cpu_count()

    def ours_stage():
        first = run_timed([python, "make_spectrogram.py", "--wav", clips, "--out", os.path.join(work, "spec"),
                           "--jobs", str(jobs)])
        second = run_timed([python, "make_dataset.py", "--spec", os.path.join(work, "spec"),
                            "--out", os.path.join(work, "DataSet")])
        return first["wall_s"] + second["wall_s"]

    rounds = max(1, args.rounds - 1)
    original = os.path.join(work, "original")
    times = interleaved({"original as it ran": lambda: original_pipeline(stage_paths, original),
                         "original, one BLAS thread": one_thread(lambda: original_pipeline(stage_paths, original)),
                         "ours": ours_stage}, rounds, warmup=0)
    for name in ("original as it ran", "original, one BLAS thread"):
        report.figure("{}: WAV → PNG → DataSet (one process)".format(name), len(stage_paths) / median(times[name]),
                      "files/s")
    report.figure("ours make_spectrogram.py + make_dataset.py (--jobs {})".format(jobs),
                  len(stage_paths) / median(times["ours"]), "files/s")
    # Information, no longer goals (issue 18; they were >= 20): the stage takes seconds.
    report.figure("whole WAV → DataSet, ours / original as it ran (numpy defaults)",
                  paired_ratio(times["original as it ran"], times["ours"]), "x")
    report.figure("whole WAV → DataSet, ours / original given one BLAS thread",
                  paired_ratio(times["original, one BLAS thread"], times["ours"]), "x")
    report.write()
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
