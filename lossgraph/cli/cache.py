"""`lossgraph cache [--clear]`: where the LLVM backend keeps compiled kernels, and how much."""
from __future__ import annotations


def _size(n):
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000


def cache_command(args):
    """Prints the cache directory and what it holds; with --clear empties it first."""
    from codegen.llvm import objcache
    path, entries, size = objcache.usage()
    if path is None:
        print("the compiled-kernel cache is off (LOSSGRAPH_CACHE=0, or its directory is not "
              "private: see the warning above)")
        return 0
    if args.clear:
        n = objcache.clear()
        print(f"removed {n} compiled {'kernel' if n == 1 else 'kernels'} from {path}")
        return 0
    print(f"compiled kernels: {path}")
    print(f"{entries} {'entry' if entries == 1 else 'entries'}, {_size(size)} "
          f"(LOSSGRAPH_CACHE_DIR moves it, LOSSGRAPH_CACHE=0 "
          f"turns it off, `lossgraph cache --clear` empties it)")
    return 0
