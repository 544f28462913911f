"""Session-wide test settings."""
import gc


def pytest_sessionfinish(session):
    """Freeze the heap before pytest's closing sweep for unraisable exceptions: that sweep runs
    a full collection five times over everything the session made and imported (jax, torch,
    thousands of graphs and kernels), 1.5-2 s per xdist worker at the end of every run, after
    the last test. Unraisable exceptions of the tests themselves are still reported per test."""
    gc.freeze()
