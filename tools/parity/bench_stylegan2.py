"""Times ref_stylegan2.py's synthesis from w+ (batch 1, random weights, stored noise), the same op
and protocol as examples/bench_stylegan2.rs: median of --runs timed runs after warm-up.

    python tools/parity/bench_stylegan2.py --sizes 1024,256 --runs 5 [--device cuda]
"""
import argparse
import os

import torch

from ref_stylegan2 import Generator
from timing import Timings


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1024,256")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, device {args.device}, {torch.get_num_threads()} threads")
    for size in map(int, args.sizes.split(",")):
        g = Generator(size, 512, 8, 2).to(args.device).eval()
        with torch.no_grad():
            w = g.mapping(torch.randn(1, 512, device=args.device))
            wplus = w[:, None].repeat(1, g.n_latent, 1)
            t = Timings(lambda: g.synthesis(wplus).cpu(), args.warmup, args.runs)
        print(f"synthesis {size}x{size} batch 1: {t}")


if __name__ == "__main__":
    main()
