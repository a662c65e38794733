"""The reference pipeline of scripts/bench-camera.sh: what a Python user
would write to turn camera photos into network inputs. Each file is read,
hashed (SHA-256, as deeprank names images), decoded by Pillow with
libjpeg's DCT scaling (Image.draft: straight to 1/2, 1/4 or 1/8 of the
size) and resized to SIZE x SIZE, on THREADS threads (Pillow releases the
GIL while it decodes). Prints images/s. Benchmark infrastructure only,
never part of deeprank.

    python pillow_pipeline.py SIZE THREADS FILE...
"""
import hashlib
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from PIL import Image


def prepare(path, size):
    with open(path, "rb") as f:
        data = f.read()
    hashlib.sha256(data).digest()
    with Image.open(path) as img:
        img.draft("RGB", (2 * size, 2 * size))
        return img.convert("RGB").resize((size, size), Image.BILINEAR).tobytes()


def main():
    size, threads, paths = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        for out in pool.map(lambda p: prepare(p, size), paths):
            assert len(out) == size * size * 3
    elapsed = time.perf_counter() - start
    print(f"{len(paths) / elapsed:.1f}")


if __name__ == "__main__":
    main()
