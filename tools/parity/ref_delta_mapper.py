"""PyTorch reference of DeltaEdit's DeltaMapper (Yueming6568/DeltaEdit, delta_mapper.py), written
from the documented formulas (shared/research/deltaedit.md §1) with the official state-dict key
names, so that `net_face.pth` loads with strict=True. Runs on CPU.

The official quirks are kept: PixelNorm over dim 1 (across the rows of the [B, rows, width]
coarse/medium stacks), and a scaled leaky ReLU after every linear, the last fusion one included.
The defaults are the official 1024² layout; smaller values make small fixtures.
"""
import torch
from torch import nn

from ref_stylegan2 import EqualLinear, PixelNorm

OFFICIAL = dict(coarse_layers=3, medium_layers=4, fine_dim=2464, cond_dim=1024, style_width=512)


class Mapper(nn.Module):
    def __init__(self, d_in, d_out, norm=True, num_layers=4):
        super().__init__()
        layers = [PixelNorm()] if norm else []
        layers.append(EqualLinear(d_in, d_out, lr_mul=0.01, activation="fused_lrelu"))
        layers += [EqualLinear(d_out, d_out, lr_mul=0.01, activation="fused_lrelu") for _ in range(num_layers - 1)]
        self.mapping = nn.Sequential(*layers)

    def forward(self, x):
        return self.mapping(x)


class DeltaMapper(nn.Module):
    def __init__(self, coarse_layers=3, medium_layers=4, fine_dim=2464, cond_dim=1024, style_width=512):
        super().__init__()
        w, f, c = style_width, fine_dim, cond_dim
        self.rows = (coarse_layers, medium_layers)
        self.width = w
        self.sm_coarse, self.sm_medium, self.sm_fine = Mapper(w, w), Mapper(w, w), Mapper(f, f)
        self.cm_coarse, self.cm_medium, self.cm_fine = Mapper(c, w), Mapper(c, w), Mapper(c, f)
        self.fm_coarse = Mapper(2 * w, w, norm=False)
        self.fm_medium = Mapper(2 * w, w, norm=False)
        self.fm_fine = Mapper(2 * f, f, norm=False)

    def forward(self, s, c):
        nc, nm = self.rows
        w = self.width
        s_coarse = s[:, : nc * w].reshape(-1, nc, w)
        s_medium = s[:, nc * w : (nc + nm) * w].reshape(-1, nm, w)
        s_fine = s[:, (nc + nm) * w :]
        x_coarse = torch.cat([self.sm_coarse(s_coarse), self.cm_coarse(c).unsqueeze(1).expand(-1, nc, -1)], dim=2)
        x_medium = torch.cat([self.sm_medium(s_medium), self.cm_medium(c).unsqueeze(1).expand(-1, nm, -1)], dim=2)
        x_fine = torch.cat([self.sm_fine(s_fine), self.cm_fine(c)], dim=1)
        return torch.cat(
            [self.fm_coarse(x_coarse).reshape(-1, nc * w), self.fm_medium(x_medium).reshape(-1, nm * w), self.fm_fine(x_fine)],
            dim=1,
        )
