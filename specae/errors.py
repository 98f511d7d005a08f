"""Stopping a script with a one-line error (no traceback) and, under MPI, every process with it: one
process of several that stops alone leaves the others waiting in a collective operation for ever."""
import sys


def fail(message):
    """Stop the script with a one-line error (no traceback); under MPI, stop every process."""
    print("error: {}".format(message), file=sys.stderr)
    abort_other_processes()
    sys.exit(1)


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
