"""Times the PyTorch references of the full-size e4e encode (256², batch 1) and Delta Mapper
forward (batch 1, official layout) with random weights on CPU: the counterpart of
examples/bench_e4e_mapper.rs (same ops, same statistic: median after one warm-up).

    python tools/parity/bench_e4e_mapper.py [ITERS]
"""
import math
import sys

import torch
import torch.nn.functional as F

from ref_delta_mapper import OFFICIAL, DeltaMapper
from ref_e4e import Encoder4Editing, encode
from timing import Timings


def main():
    iters = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    torch.set_grad_enabled(False)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    encoder = Encoder4Editing().eval()
    latent_avg = torch.randn(18, 512)
    image = torch.rand(1, 3, 256, 256) * 2 - 1
    t = Timings(lambda: encode(encoder, latent_avg, image), 1, iters)
    print(f"e4e encode (IR-SE50, 18 styles, 256², batch 1): {t}")
    mapper = DeltaMapper().eval()
    s_dim = (OFFICIAL["coarse_layers"] + OFFICIAL["medium_layers"]) * OFFICIAL["style_width"] + OFFICIAL["fine_dim"]
    s, c = torch.randn(1, s_dim) * 10, torch.randn(1, OFFICIAL["cond_dim"]) * 0.05
    reference = mapper(s, c)
    t = Timings(lambda: mapper(s, c), 1, iters * 4)
    print(f"Delta Mapper forward (official layout, batch 1): {t:.2f}")
    # The official EqualLinear rescales its whole weight on every call (as the reference does);
    # folding the scales into the stored weights once shows PyTorch's best case for the same math.
    for m in mapper.modules():
        if hasattr(m, "lr_mul"):
            m.weight.data.mul_(m.scale)
            m.bias.data.mul_(m.lr_mul)
            m.forward = lambda x, m=m: F.leaky_relu(F.linear(x, m.weight, m.bias), 0.2) * math.sqrt(2)
    assert torch.allclose(mapper(s, c), reference, rtol=1e-4, atol=1e-4)
    t = Timings(lambda: mapper(s, c), 1, iters * 4)
    print(f"Delta Mapper forward, scales folded into the weights: {t:.2f}")


if __name__ == "__main__":
    main()
