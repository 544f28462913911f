"""Run a test's work on several Python threads at once."""
import threading


def in_threads(work, count):
    """work(j) for j in range(count), each on its own thread, all started before any is
    joined; re-raises the first exception a thread raised."""
    errors = []

    def run(j):
        try:
            work(j)
        except BaseException as exc:      # handed back to the test, never lost
            errors.append(exc)
    threads = [threading.Thread(target=run, args=(j,)) for j in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
