"""Times the PyTorch references of the full-size e4e encode (256², batch 1) and Delta Mapper
forward (batch 1, official layout) with random weights on CPU: the counterpart of
examples/bench_e4e_mapper.rs (same ops, same statistic: median after one warm-up).

    python tools/parity/bench_e4e_mapper.py [ITERS]
"""
import math
import sys
import time

import torch
import torch.nn.functional as F

from ref_delta_mapper import OFFICIAL, DeltaMapper
from ref_e4e import Encoder4Editing, encode


def time_ms(iters, f):
    f()
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        f()
        times.append((time.perf_counter() - start) * 1e3)
    return sorted(times)[len(times) // 2]


def main():
    iters = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    torch.set_grad_enabled(False)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    encoder = Encoder4Editing().eval()
    latent_avg = torch.randn(18, 512)
    image = torch.rand(1, 3, 256, 256) * 2 - 1
    ms = time_ms(iters, lambda: encode(encoder, latent_avg, image))
    print(f"e4e encode (IR-SE50, 18 styles, 256², batch 1): median {ms:.1f} ms over {iters} runs")
    mapper = DeltaMapper().eval()
    s_dim = (OFFICIAL["coarse_layers"] + OFFICIAL["medium_layers"]) * OFFICIAL["style_width"] + OFFICIAL["fine_dim"]
    s, c = torch.randn(1, s_dim) * 10, torch.randn(1, OFFICIAL["cond_dim"]) * 0.05
    reference = mapper(s, c)
    ms = time_ms(iters * 4, lambda: mapper(s, c))
    print(f"Delta Mapper forward (official layout, batch 1): median {ms:.2f} ms over {iters * 4} runs")
    # The official EqualLinear rescales its whole weight on every call (as the reference does);
    # folding the scales into the stored weights once shows PyTorch's best case for the same math.
    for m in mapper.modules():
        if hasattr(m, "lr_mul"):
            m.weight.data.mul_(m.scale)
            m.bias.data.mul_(m.lr_mul)
            m.forward = lambda x, m=m: F.leaky_relu(F.linear(x, m.weight, m.bias), 0.2) * math.sqrt(2)
    assert torch.allclose(mapper(s, c), reference, rtol=1e-4, atol=1e-4)
    ms = time_ms(iters * 4, lambda: mapper(s, c))
    print(f"Delta Mapper forward, scales folded into the weights: median {ms:.2f} ms over {iters * 4} runs")


if __name__ == "__main__":
    main()
