"""Stopping a script with a one-line error (no traceback) and, under MPI, every process with it: one
process of several that stops alone leaves the others waiting in a collective operation for ever. Also
the lines that name each unusable input file and its reason, and the error when none was usable."""
import sys


def fail(message):
    """Stop the script with a one-line error (no traceback); under MPI, stop every process."""
    print("error: {}".format(message), file=sys.stderr)
    abort_other_processes()
    sys.exit(1)


def report_skipped(skipped):
    """One line per unusable file on stderr, in path order: ``skipped PATH: REASON``."""
    for path, reason in sorted(skipped):
        print("skipped {}: {}".format(path, reason), file=sys.stderr)


def no_usable_labelled_file(paths, skipped_count):
    """What a script that scores or converts labelled WAVs says when none of ``paths`` could be used (each
    skipped file named already): the count, then the one-line error. Returns the exit status, 1."""
    print("processed 0 files, skipped {}".format(skipped_count))
    print("error: no usable labelled WAV file in {}".format(" ".join(map(str, paths))), file=sys.stderr)
    return 1


def abort_other_processes():
    """End every MPI process when there are several (mpi4py is loaded only by a ChainerMN run)."""
    mpi = sys.modules.get("mpi4py.MPI")
    if mpi is not None and mpi.COMM_WORLD.Get_size() > 1:
        sys.stderr.flush()
        mpi.COMM_WORLD.Abort(1)


def abort_on_exception(kind, value, trace):
    """sys.excepthook of a ChainerMN run: an uncaught exception in one process ends them all."""
    sys.__excepthook__(kind, value, trace)
    abort_other_processes()
