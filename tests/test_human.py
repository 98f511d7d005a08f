"""Human speech: the neural voice, leave-one-speaker-out splits, fine-tuning, and adaptation without labels."""
import collections
import dataclasses
import json
import os

import numpy as np
import pytest
import soundfile

from conftest import deterministic_prefix_draws, run_script
from examples.human import adaptation, diagnose, time_probe, tta_probe
from specae import features, inference, neural_voice, synth
from specae.dataset import split_indices
from specae.inference import balance_priors



# ---- the neural voice -------------------------------------------------------------------------------
def test_neural_speaker_draws_are_deterministic_prefixes_within_the_ranges():
    for speaker in deterministic_prefix_draws(neural_voice.speaker_draws):
        assert neural_voice.LENGTH_SCALE[0] <= speaker.length_scale <= neural_voice.LENGTH_SCALE[1]
        assert neural_voice.NOISE_SCALE[0] <= speaker.noise_scale <= neural_voice.NOISE_SCALE[1]
        assert neural_voice.NOISE_W_SCALE[0] <= speaker.noise_w_scale <= neural_voice.NOISE_W_SCALE[1]


@pytest.fixture(scope="module")
def neural_clips(tmp_path_factory):
    out = tmp_path_factory.mktemp("neural")
    speakers = neural_voice.speaker_draws(2, seed=0)
    first = neural_voice.synthesize_corpus(out / "a", speakers, jobs=1, progress=False)
    again = neural_voice.synthesize_corpus(out / "b", speakers[:1], jobs=1, progress=False)
    return speakers, first, again


def test_neural_voice_writes_ten_digits_per_speaker_as_labelled_wavs(neural_clips):
    speakers, paths, _ = neural_clips
    assert [os.path.basename(p) for p in paths] == sorted(
        "{}_{}_0.wav".format(digit, speaker.name) for speaker in speakers for digit in range(10))
    for path in paths:
        samples, rate = soundfile.read(path)
        assert rate == neural_voice.SAMPLE_RATE_HZ
        # A spoken word: between a fifth of a second and two seconds, well above silence, not clipped.
        assert 0.2 < len(samples) / rate < 2.0
        assert 0.05 < np.abs(samples).max() < 1.0


def test_neural_voice_is_a_function_of_the_speaker_draw(neural_clips):
    speakers, first, again = neural_clips
    for path in again:
        twin = os.path.join(os.path.dirname(first[0]), os.path.basename(path))
        assert open(path, "rb").read() == open(twin, "rb").read()
    # ... and two draws differ: the knobs and the noise seed reach the synthesis.
    one = soundfile.read(first[0])[0]
    other = soundfile.read(first[1])[0]
    assert len(one) != len(other) or not np.allclose(one, other)


def _piper_feed(noise_scale, noise_w_scale):
    phoneme_ids = [1, 0, 19, 0, 120, 0, 54, 0, 122, 0, 88, 0, 2]  # "four": ^ f ˈ ɔ ː ɹ $, pads between (piper's ids)
    return {"input": np.array([phoneme_ids], np.int64), "input_lengths": np.array([len(phoneme_ids)], np.int64),
            "scales": np.array([noise_scale, 1.0, noise_w_scale], np.float32)}


def test_piper_graph_with_its_noise_as_inputs_is_the_original_graph_when_the_noise_is_scaled_to_zero():
    """The edited model (specae.onnx_noise) against the untouched one: with both noise scales 0 the noise
    does not reach the output, so the two graphs must give the same samples; with noise, the samples are
    a function of the noise fed (the same noise, the same samples; other noise, others)."""
    import onnxruntime
    from specae import onnx_noise
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    original = onnxruntime.InferenceSession(neural_voice._model_path(), sess_options=options,
                                            providers=["CPUExecutionProvider"])
    edited = neural_voice._piper_session()
    assert {i.name for i in edited.get_inputs()} == {i.name for i in original.get_inputs()} | set(
        neural_voice.NOISE_CHANNELS)
    quiet = _piper_feed(0.0, 0.0)
    expected = original.run(None, quiet)[0]
    rng = np.random.default_rng(0)
    got = onnx_noise.NoiseFeedingSession(edited, neural_voice._noise_sizes, rng).run(None, quiet)[0]
    assert got.shape == expected.shape and expected.size > 2000
    np.testing.assert_allclose(got, expected, atol=1e-5 * np.abs(expected).max())
    noisy = _piper_feed(0.667, 0.8)
    runs = [onnx_noise.NoiseFeedingSession(edited, neural_voice._noise_sizes, np.random.default_rng(seed)).run(
        None, noisy)[0] for seed in (1, 1, 2)]
    np.testing.assert_array_equal(runs[0], runs[1])
    assert runs[0].shape != runs[2].shape or not np.allclose(runs[0], runs[2])


def test_a_model_without_random_nodes_is_left_as_it_was():
    from specae import onnx_noise
    with open(neural_voice._model_path(), "rb") as file:
        edited, names = onnx_noise.noise_as_inputs(file.read())
    again, none = onnx_noise.noise_as_inputs(edited)
    assert sorted(names) == ["noise", "noise_dp"] and none == [] and again == edited


def test_accents_keep_each_draws_knobs_and_only_l2_substitutes():
    plain = neural_voice.speaker_draws(40, seed=0)
    assert neural_voice.with_accents(plain, "none") == plain
    native = neural_voice.with_accents(plain, "native", seed=0)
    l2 = neural_voice.with_accents(plain, "l2", seed=0)
    english = set(synth.ENGLISH_VOICES)
    for before, *accented in zip(plain, native, l2):
        for speaker in accented:
            assert (speaker.name, speaker.length_scale, speaker.noise_scale, speaker.seed) == (
                before.name, before.length_scale, before.noise_scale, before.seed)
            assert speaker.accent in english
    assert [s.accent for s in native] == [s.accent for s in l2]  # the same accent draws
    assert all(not s.substitutions for s in native)
    non_native = sum(bool(s.substitutions) for s in l2)
    assert 10 <= non_native <= 30  # about half of 40
    with pytest.raises(ValueError, match="accents"):
        neural_voice.with_accents(plain, "welsh")


def test_accent_draws_are_the_plain_draws_in_accents_under_names_of_their_own():
    plain = neural_voice.speaker_draws(12, seed=3)
    accented = neural_voice.accent_draws(12, seed=3)
    assert [s.name for s in accented] == ["joe-accent-{:03d}".format(i) for i in range(12)]
    assert not {s.name for s in accented} & {s.name for s in plain}     # other speakers in the split
    native = neural_voice.with_accents(plain, "native", seed=3)
    for speaker, knobs, accent in zip(accented, plain, native):
        assert (speaker.length_scale, speaker.noise_scale, speaker.noise_w_scale, speaker.seed) == (
            knobs.length_scale, knobs.noise_scale, knobs.noise_w_scale, knobs.seed)
        assert speaker.accent == accent.accent and speaker.accent in synth.ENGLISH_VOICES
        assert not speaker.substitutions
    assert len({s.accent for s in accented}) > 3
    assert neural_voice.accent_draws(0) == []


def test_accented_phonemes_follow_the_accent_and_the_substitutions():
    speaker = neural_voice.speaker_draws(1, seed=0)[0]
    voice = neural_voice.piper_voice(speaker.seed)
    us, rp = (neural_voice.accented_phonemes(voice, "four", dataclasses.replace(speaker, accent=accent))
              for accent in ("en-us", "en-gb-x-rp"))
    assert us.startswith("[[f") and us.endswith("]]") and "ɹ" in us and "ɹ" not in rp  # RP drops the r
    tree = neural_voice.accented_phonemes(voice, "three", dataclasses.replace(
        speaker, accent="en-us", substitutions=((r"θ", "t"), (r"ɹ", "r"))))
    assert tree.startswith("[[tr") and "θ" not in tree


def test_intonation_marks_each_word_and_keeps_every_other_draw():
    speakers = neural_voice.speaker_draws(30, seed=0) + neural_voice.accent_draws(30, seed=0)
    marked = neural_voice.with_intonation(speakers, seed=0)
    assert marked == neural_voice.with_intonation(speakers, seed=0)
    for before, after in zip(speakers, marked):
        assert dataclasses.replace(after, marks=()) == before
        assert len(after.marks) == 10 and set(after.marks) <= set(neural_voice.INTONATION_MARKS)
    counts = collections.Counter(mark for speaker in marked for mark in speaker.marks)
    assert set(counts) == set(neural_voice.INTONATION_MARKS) and min(counts.values()) > 100  # of 600 words
    assert neural_voice.with_intonation(speakers, seed=1) != marked


def test_a_mark_changes_how_piper_speaks_the_word_and_ends_its_phonemes():
    speaker = neural_voice.speaker_draws(1, seed=0)[0]
    voice = neural_voice.piper_voice(speaker.seed)
    accented = dataclasses.replace(speaker, accent="en-us")
    assert neural_voice.accented_phonemes(voice, "five", accented, "?").endswith("?]]")
    plain = neural_voice._speak_digits(speaker)
    asked = neural_voice._speak_digits(dataclasses.replace(speaker, marks=("?",) * 10))
    assert all(len(a) != len(b) or not np.allclose(a, b) for a, b in zip(plain, asked))


def test_kokoro_draws_are_deterministic_prefixes_of_convex_style_mixes():
    many = deterministic_prefix_draws(neural_voice.kokoro_draws)
    for speaker in many:
        assert len(speaker.mix) == len(neural_voice.KOKORO_STYLES)
        assert min(speaker.mix) >= 0 and abs(sum(speaker.mix) - 1) < 1e-3
        assert neural_voice.KOKORO_SPEED[0] <= speaker.speed <= neural_voice.KOKORO_SPEED[1]
    # concentration below 1: most voices lean towards one style rather than all sitting in the middle
    assert np.median([max(speaker.mix) for speaker in many]) > 0.4


@pytest.fixture(scope="module")
def kokoro_clips(tmp_path_factory):
    out = tmp_path_factory.mktemp("kokoro")
    speakers = neural_voice.kokoro_draws(2, seed=0)
    both = neural_voice.synthesize_corpus(out / "a", speakers, jobs=1, progress=False)
    second = neural_voice.synthesize_corpus(out / "b", speakers[1:], jobs=1, progress=False)
    return speakers, both, second


def test_kokoro_writes_ten_digits_per_voice_and_a_draw_fixes_its_files(kokoro_clips):
    speakers, both, second = kokoro_clips
    assert [os.path.basename(p) for p in both] == sorted(
        "{}_{}_0.wav".format(digit, speaker.name) for speaker in speakers for digit in range(10))
    durations = {}
    for path in both:
        samples, rate = soundfile.read(path)
        assert rate == neural_voice.KOKORO_SAMPLE_RATE_HZ
        assert 0.2 < len(samples) / rate < 2.0
        assert abs(np.abs(samples).max() - neural_voice.PEAK) < 1e-3
        durations[os.path.basename(path)] = len(samples) / rate
    # "seven" has two syllables and "eight" one, in every voice
    for speaker in speakers:
        assert durations["7_{}_0.wav".format(speaker.name)] > durations["8_{}_0.wav".format(speaker.name)]
    for path in second:  # the same draw, synthesised on its own, gives the same bytes
        twin = os.path.join(os.path.dirname(both[0]), os.path.basename(path))
        assert open(path, "rb").read() == open(twin, "rb").read()
    one, other = soundfile.read(both[0])[0], soundfile.read(both[1])[0]  # digit 0 of the two voices
    assert len(one) != len(other) or not np.allclose(one, other)


# ---- the time-axis probe --------------------------------------------------------------------------
def test_time_probe_edits_move_the_word_as_named():
    ramp = np.tile(np.arange(64, dtype=np.float32), (3, 4, 1))  # 3 images, 4 bands, frame index as value
    np.testing.assert_allclose(time_probe.cut(ramp, 0, 0), ramp)
    # the first 16 frames removed: the image starts at frame 16 and still ends at 63
    head = time_probe.cut(ramp, 16, 0)
    assert head.shape == ramp.shape and head[0, 0, 0] == 16 and head[0, 0, -1] == 63
    tail = time_probe.cut(ramp, 0, 16)
    assert tail[0, 0, 0] == 0 and tail[0, 0, -1] == 47
    squeezed = time_probe.squeeze(ramp + 1, 0.5)  # +1: the word is nowhere 0, the silence is
    voiced = np.flatnonzero(squeezed[0, 0])
    assert len(voiced) == 32 and voiced[0] == 16 and voiced[-1] == 47
    assert squeezed[0, 0, voiced[0]] == 1 and squeezed[0, 0, voiced[-1]] == 64


def test_tta_probe_averages_the_views_that_inference_averages(tiny_corpus, synthetic_model, tmp_path):
    cnns, params = inference.load_classifiers([str(synthetic_model), str(synthetic_model)])
    images, labels = time_probe.labelled_images([str(tiny_corpus / "wav")], params, 1, "probe")
    per_model = [tta_probe.view_probabilities(cnn, images) for cnn in cnns]
    sets = tta_probe.VIEW_SETS
    np.testing.assert_allclose(tta_probe.averaged(per_model, *sets["as recorded"])[0],
                               inference.probabilities(cnns[0], images), atol=1e-6)
    np.testing.assert_allclose(tta_probe.averaged(per_model, *sets["4 lengths (the default)"])[0],
                               inference.probabilities(cnns[0], images, test_time_variations=True), atol=1e-5)
    result = run_script("examples/human/tta_probe.py", "--model", synthetic_model, "--out", tmp_path,
                        tiny_corpus / "wav")
    rows = json.loads((tmp_path / "tta_probe.json").read_text())["rows"]
    default = next(row for row in rows if row["views"].endswith("(the default)"))
    answers = inference.probabilities(cnns[0], images, test_time_variations=True).argmax(axis=1)
    assert default["together"] == default["alone_mean"] == pytest.approx(np.mean(answers == labels))
    assert len(result.stdout.strip().splitlines()) == 2 + len(sets)


def test_seed_triples_scores_each_model_and_every_ensemble_of_three(tiny_corpus, synthetic_model, tmp_path):
    # the same model three times: every ensemble reads what the model reads with evaluate.py's views
    cnns, params = inference.load_classifiers([str(synthetic_model)])
    images, labels = time_probe.labelled_images([str(tiny_corpus / "wav")], params, 1, "probe")
    answers = inference.probabilities(cnns[0], images, test_time_variations=True).argmax(axis=1)
    expected = "{:.2f}".format(100 * np.mean(answers == labels))
    result = run_script("examples/human/seed_triples.py", *["--model", synthetic_model] * 3, "--jobs", 1,
                        tiny_corpus / "wav")
    lines = result.stdout.strip().splitlines()
    assert lines[0].endswith(": {} recordings".format(len(labels)))
    assert lines[1].strip() == "each model: {0} {0} {0} (mean {0} %)".format(expected)
    assert lines[2].strip() == ("the 1 ensembles of three: mean {0} %, from {0} to {0}; the first three {0} %; "
                                "all 3 together {0} %".format(expected))
    refused = run_script("examples/human/seed_triples.py", "--model", synthetic_model, tiny_corpus / "wav",
                         check=False)
    assert refused.returncode == 2 and "three or more" in refused.stderr
    # --sizes: the three ensembles of two, and then the one of three, each its own line
    result = run_script("examples/human/seed_triples.py", *["--model", synthetic_model] * 3, "--jobs", 1,
                        tiny_corpus / "wav", "--sizes", 2, 3)
    lines = result.stdout.strip().splitlines()
    assert lines[2].strip().startswith("the 3 ensembles of two: mean {0} %".format(expected))
    assert lines[3].strip().startswith("the 1 ensembles of three: mean {0} %".format(expected))
    too_many = run_script("examples/human/seed_triples.py", *["--model", synthetic_model] * 3, tiny_corpus / "wav",
                          "--sizes", 4, check=False)
    assert too_many.returncode == 2 and "--sizes" in too_many.stderr


def test_seed_triples_pairs_two_or_three_models_and_takes_other_views(tiny_corpus, synthetic_model, tmp_path):
    cnns, params = inference.load_classifiers([str(synthetic_model)])
    images, labels = time_probe.labelled_images([str(tiny_corpus / "wav")], params, 1, "probe")
    # --partner: every ensemble of two of the models with two of the partners, 3 x 3 of them
    expected = "{:.2f}".format(100 * np.mean(
        inference.probabilities(cnns[0], images, test_time_variations=True).argmax(axis=1) == labels))
    result = run_script("examples/human/seed_triples.py", *["--model", synthetic_model] * 3,
                        *["--partner", synthetic_model] * 3, "--jobs", 1, tiny_corpus / "wav", "--sizes", 2)
    lines = result.stdout.strip().splitlines()
    assert lines[2].strip() == ("the 9 ensembles of two + two: mean {0} %, from {0} to {0}; the first two + two "
                                "{0} %; all 6 together {0} %".format(expected))
    refused = run_script("examples/human/seed_triples.py", *["--model", synthetic_model] * 3,
                         *["--partner", synthetic_model] * 2, tiny_corpus / "wav", check=False)
    assert refused.returncode == 2 and "--partner" in refused.stderr
    # --third: and two of a third model's, 3 x 3 x 3 ensembles (the recogniser's kind); only beside --partner
    result = run_script("examples/human/seed_triples.py", *["--model", synthetic_model] * 3,
                        *["--partner", synthetic_model] * 3, *["--third", synthetic_model] * 3, "--jobs", 1,
                        tiny_corpus / "wav", "--sizes", 2)
    assert result.stdout.strip().splitlines()[2].strip() == (
        "the 27 ensembles of two + two + two: mean {0} %, from {0} to {0}; the first two + two + two {0} %; "
        "all 9 together {0} %".format(expected))
    refused = run_script("examples/human/seed_triples.py", *["--model", synthetic_model] * 3,
                         *["--third", synthetic_model] * 3, tiny_corpus / "wav", check=False)
    assert refused.returncode == 2 and "--third needs --partner" in refused.stderr
    # one warp of 1 and the word as recorded: one view, each recording scored as it is (predict.py --no-tta)
    as_it_is = "{:.2f}".format(100 * np.mean(inference.probabilities(cnns[0], images).argmax(axis=1) == labels))
    result = run_script("examples/human/seed_triples.py", *["--model", synthetic_model] * 3, "--jobs", 1,
                        tiny_corpus / "wav", "--warps", 1, "--lengths", 0)
    assert result.stdout.strip().splitlines()[1].strip() == "each model: {0} {0} {0} (mean {0} %)".format(as_it_is)


def test_diagnosis_measures_how_far_below_its_peak_a_word_begins(tmp_path):
    # "3": 0.2 s of a tone 30 dB below the vowel (a weak first consonant), then the vowel; "8": the vowel at once
    rate, params = 22050, features.FeatureParams()
    t = np.arange(int(0.2 * rate)) / rate
    vowel = 0.5 * np.sin(2 * np.pi * 500 * t)
    consonant = 0.5 * 10 ** (-30 / 20) * np.sin(2 * np.pi * 2000 * t)
    silence = np.zeros(int(0.1 * rate))
    for name, samples in (("3_a_0.wav", np.concatenate([silence, consonant, vowel, silence])),
                          ("8_a_0.wav", np.concatenate([silence, vowel, silence]))):
        soundfile.write(str(tmp_path / name), samples.astype(np.float32), rate)
    statistics = diagnose.folder_statistics(sorted(str(p) for p in tmp_path.iterdir()), params)
    onsets = statistics["onset_db_below_peak_per_digit"]
    assert abs(onsets[3] - 30.0) < 3.0 and onsets[8] < 3.0


# ---- leave-one-speaker-out --------------------------------------------------------------------------
def test_named_test_speakers_form_the_test_split():
    speakers = ["ann", "bob", "cid", "ann", "bob", "cid"]
    train, test = split_indices(speakers, "speaker", 0.5, seed=0, test_speakers=["bob"])
    assert test.tolist() == [1, 4] and train.tolist() == [0, 2, 3, 5]
    with pytest.raises(ValueError, match="no examples of test speaker"):
        split_indices(speakers, "speaker", 0.5, seed=0, test_speakers=["dan"])
    with pytest.raises(ValueError, match="nothing is left to train"):
        split_indices(speakers, "speaker", 0.5, seed=0, test_speakers=["ann", "bob", "cid"])


def test_make_dataset_refuses_an_unknown_test_speaker_in_one_line(tiny_corpus, tmp_path):
    result = run_script("make_dataset.py", "--spec", tiny_corpus / "spectrogram", "--out", tmp_path / "d",
                        "--test-speakers", "nobody", check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == "error: no examples of test speaker(s) nobody"


def test_unseen_speakers_refuses_an_unlabelled_recording_or_a_missing_folder_in_one_line(tmp_path):
    for name in ("0_ann_1.wav", "1_bob_1.wav", "hello.wav"):
        (tmp_path / name).write_bytes(b"")
    result = run_script(os.path.join("examples", "human", "unseen_speakers.py"), "--recordings", tmp_path,
                        "--model", tmp_path / "absent", check=False)
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1
    assert str(tmp_path / "hello.wav") in result.stderr and "{digit}_{speaker}" in result.stderr
    result = run_script(os.path.join("examples", "human", "unseen_speakers.py"), "--recordings", tmp_path / "absent",
                        "--model", tmp_path / "absent", check=False)
    assert result.returncode == 1 and result.stderr.strip() == "error: {}: no such folder (a folder of " \
        "{{digit}}_{{speaker}}_*.wav)".format(tmp_path / "absent")


# ---- fine-tuning from a trained classifier ----------------------------------------------------------
@pytest.fixture(scope="module")
def synthetic_model(tiny_corpus):
    out = tiny_corpus / "human_source"
    run_script("cnn_classifier1.py", "--layers", 3, "--dataset", tiny_corpus / "DataSet", "--epoch", 2,
               "--batchsize", 20, "--seed", 1, "--out", out)
    return out


def test_fine_tuning_starts_from_every_weight_of_the_classifier(tiny_corpus, synthetic_model, tmp_path):
    run_script("cnn_classifier2.py", "--init", synthetic_model / "model.npz", "--dataset", tiny_corpus / "DataSet",
               "--epoch", 0, "--out", tmp_path / "start")
    source, start = np.load(synthetic_model / "model.npz"), np.load(tmp_path / "start" / "model.npz")
    assert sorted(source.files) == sorted(start.files) and any("fc" in name for name in source.files)
    for name in source.files:
        np.testing.assert_array_equal(source[name], start[name])
    info = json.loads((tmp_path / "start" / "model.json").read_text())
    assert info["init"] == "fine_tuned" and info["n_layers"] == 3
    # One epoch later the weights have moved: it trains, it is not a copy.
    run_script("cnn_classifier2.py", "--init", synthetic_model / "model.npz", "--dataset", tiny_corpus / "DataSet",
               "--epoch", 1, "--batchsize", 20, "--out", tmp_path / "tuned")
    tuned = np.load(tmp_path / "tuned" / "model.npz")
    assert any(not np.array_equal(source[name], tuned[name]) for name in source.files)
    # its fully connected layer is trained already: every layer trains from the first update (no frozen epoch)
    assert not np.array_equal(source["convs/0/W"], tuned["convs/0/W"])
    assert "freeze_epochs" not in json.loads((tmp_path / "tuned" / "model.json").read_text())


# ---- adaptation without labels ----------------------------------------------------------------------
def biased_probabilities(n_per_class=60, seed=0):
    """Scores of a recogniser that is right in ranking but drawn towards class 8, as on FSDD."""
    rng = np.random.default_rng(seed)
    truth = np.repeat(np.arange(10), n_per_class)
    logits = rng.normal(0.0, 1.0, (len(truth), 10))
    logits[np.arange(len(truth)), truth] += 2.0
    logits[:, 8] += 2.5
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return truth, probabilities


def test_balance_gives_every_class_the_same_share_by_one_weight_per_class():
    truth, probabilities = biased_probabilities()
    balanced = balance_priors(probabilities)
    np.testing.assert_allclose(balanced.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(balanced.sum(axis=0), len(truth) / 10, rtol=1e-3)
    # balanced[i, j] = probabilities[i, j] * weight[j] / (row normaliser i): log ratio = row term + column term
    log_ratio = np.log(balanced) - np.log(probabilities)
    residual = log_ratio - log_ratio.mean(axis=1, keepdims=True) - log_ratio.mean(axis=0, keepdims=True) \
        + log_ratio.mean()
    assert np.abs(residual).max() < 1e-4
    before = (probabilities.argmax(axis=1) == truth).mean()
    after = (balanced.argmax(axis=1) == truth).mean()
    assert (probabilities.argmax(axis=1) == 8).mean() > 0.3       # the bias is there ...
    assert after > before + 0.1                                     # ... and balancing removes most of it


def test_pseudo_labels_are_class_balanced_and_more_precise_than_all_decisions():
    truth, probabilities = biased_probabilities()
    chosen, labels = adaptation.pseudo_labels(probabilities, 0.5)
    assert len(set(chosen.tolist())) == len(chosen)
    counts = np.bincount(labels, minlength=10)
    assert counts.max() <= 30 and counts.min() >= 20
    assert (truth[chosen] == labels).mean() > (balance_priors(probabilities).argmax(axis=1) == truth).mean()
    with pytest.raises(ValueError, match="fraction"):
        adaptation.pseudo_labels(probabilities, 0.0)


def test_confusions_counts_each_speakers_wrong_answers_as_the_ensemble_gives_them(tiny_corpus, synthetic_model,
                                                                                 tmp_path):
    # every label shifted by one: confusions whatever the model has learnt
    human = tmp_path / "human"
    human.mkdir()
    for index, name in enumerate(sorted(os.listdir(tiny_corpus / "wav"))[::2]):
        digit, speaker = name.split("_")[:2]
        os.symlink(tiny_corpus / "wav" / name, human / "{}_{}_{}.wav".format((int(digit) + 1) % 10, speaker, index))
    run_script("examples/human/confusions.py", human, "espeak={}".format(tiny_corpus / "wav"), "--model",
               synthetic_model, "--top", 3, "--jobs", 1, "--out", tmp_path / "out")
    report = json.loads((tmp_path / "out" / "confusions.json").read_text())
    cnns, params = inference.load_classifiers([str(synthetic_model)])
    paths = sorted(str(path) for path in human.iterdir())
    answers = {path: int(p.argmax()) for path, p in inference.classify_files(paths, cnns, params)[0]}
    expected = collections.Counter((os.path.basename(p).split("_")[1], int(os.path.basename(p)[0]), a)
                                   for p, a in answers.items() if int(os.path.basename(p)[0]) != a)
    top = [((t["speaker"], t["true"], t["answered"]), t["count"]) for t in report["top"]]
    assert [n for _, n in top] == [n for _, n in expected.most_common(3)]
    assert all(expected[key] == n for key, n in top)
    assert report["accuracy"] == sum(int(os.path.basename(p)[0]) == a for p, a in answers.items()) / len(paths)
    assert (tmp_path / "out" / "confusions.png").read_bytes()[:4] == b"\x89PNG"


def test_adapt_reads_no_labels_and_writes_a_usable_model(tiny_corpus, synthetic_model, tmp_path):
    unlabelled = tmp_path / "unlabelled"
    unlabelled.mkdir()
    for index, name in enumerate(sorted(os.listdir(tiny_corpus / "wav"))[::4]):
        os.symlink(tiny_corpus / "wav" / name, unlabelled / "recording{:03d}.wav".format(index))
    (unlabelled / "broken.wav").write_bytes(b"not audio")
    result = run_script("examples/human/adapt.py", "--model", synthetic_model, "--dataset", tiny_corpus / "DataSet",
                        "--epoch", 1, "--batchsize", 20, "--fractions", 0.4, 0.8, "--jobs", 1,
                        "--out", tmp_path / "adapted", unlabelled)
    assert "skipped {}: not a readable audio file".format(unlabelled / "broken.wav") in result.stderr
    report = json.loads((tmp_path / "adapted" / "adaptation.json").read_text())
    assert report["recordings"] == 20 and [r["round"] for r in report["rounds"]] == [1, 2]
    # round 1's pseudo-labels: the source model's answers averaged over the test-time views
    cnns, params = inference.load_classifiers([str(synthetic_model)])
    _, images = inference.recording_images(report["files"], params, 1)
    views = inference.probabilities(cnns, images[:, 0], test_time_variations=True)
    chosen, labels = adaptation.pseudo_labels(views, 0.4)
    assert report["test_time_variations"] and report["rounds"][0]["chosen"] == [[int(i), int(k)] for i, k in zip(chosen, labels)]
    assert report["rounds"][0]["pseudo_labelled"] < report["rounds"][1]["pseudo_labelled"] <= 20
    round1 = np.load(tmp_path / "adapted" / "round1" / "model.npz")
    final = np.load(tmp_path / "adapted" / "model.npz")
    source = np.load(synthetic_model / "model.npz")
    assert any(not np.array_equal(source[n], round1[n]) for n in source.files)
    np.testing.assert_array_equal(final["fc/W"], np.load(tmp_path / "adapted" / "round2" / "model.npz")["fc/W"])
    predicted = run_script("predict.py", "--model", tmp_path / "adapted", tiny_corpus / "wav")
    assert len(predicted.stdout.strip().splitlines()) == len(os.listdir(tiny_corpus / "wav"))


def test_adapt_adapts_every_member_of_an_ensemble_and_its_folder_reads_as_one(tiny_corpus, synthetic_model, tmp_path):
    unlabelled = tmp_path / "unlabelled"
    unlabelled.mkdir()
    for index, name in enumerate(sorted(os.listdir(tiny_corpus / "wav"))[::4]):
        os.symlink(tiny_corpus / "wav" / name, unlabelled / "recording{:03d}.wav".format(index))
    # two copies of one model: the members draw their own batches, so they part
    run_script("examples/human/adapt.py", "--model", synthetic_model, "--model", synthetic_model,
               "--dataset", tiny_corpus / "DataSet", "--epoch", 1, "--batchsize", 20, "--fractions", 0.5,
               "--jobs", 1, "--out", tmp_path / "copies", unlabelled)
    first, second = (np.load(tmp_path / "copies" / m / "model.npz") for m in ("member1", "member2"))
    assert not np.array_equal(first["fc/W"], second["fc/W"])
    # the members may be different models, as the recogniser's are: a 2-CNN beside the 3-CNN, over two rounds,
    # so that round 2 rebuilds each member from what round 1 wrote of it
    two_layers = tmp_path / "two_layers"
    run_script("cnn_classifier1.py", "--layers", 2, "--dataset", tiny_corpus / "DataSet", "--epoch", 1,
               "--batchsize", 20, "--seed", 2, "--out", two_layers)
    run_script("examples/human/adapt.py", "--model", synthetic_model, "--model", two_layers,
               "--dataset", tiny_corpus / "DataSet", "--epoch", 1, "--batchsize", 20, "--fractions", 0.5, 1.0,
               "--jobs", 1, "--out", tmp_path / "adapted", unlabelled)
    report = json.loads((tmp_path / "adapted" / "adaptation.json").read_text())
    assert report["members"] == ["member1", "member2"]
    for member, layers in zip(report["members"], (3, 2)):
        for folder in (tmp_path / "adapted" / "round1" / member, tmp_path / "adapted" / member):
            info = json.loads((folder / "model.json").read_text())
            assert info["n_layers"] == layers and len(info["channels"]) == layers
    first, second = (np.load(tmp_path / "adapted" / m / "model.npz") for m in report["members"])
    assert first["fc/W"].shape != second["fc/W"].shape
    assert not (tmp_path / "adapted" / "model.npz").exists()
    assert inference.ensemble_members(str(tmp_path / "adapted")) == [
        str(tmp_path / "adapted" / "member1"), str(tmp_path / "adapted" / "member2")]
    cnns, _ = inference.load_classifiers([str(tmp_path / "adapted")])
    np.testing.assert_array_equal(cnns[1].fc.W.array, second["fc/W"])
    # adapting again from the adapted ensemble's folder reads its two members
    run_script("examples/human/adapt.py", "--model", tmp_path / "adapted", "--members", 1,
               "--dataset", tiny_corpus / "DataSet", "--epoch", 1, "--batchsize", 20, "--fractions", 1.0,
               "--jobs", 1, "--out", tmp_path / "again", unlabelled)
    again = json.loads((tmp_path / "again" / "adaptation.json").read_text())
    assert again["members"] == [""] and (tmp_path / "again" / "model.npz").exists()
    assert again["started_from"] == [str(tmp_path / "adapted" / "member1"), str(tmp_path / "adapted" / "member2")]
