"""PyTorch reference of e4e's Encoder4Editing (omertov/encoder4editing), written from the
documented formulas (shared/research/stylegan_e4e_clipinverter_mca.md §2) with the official
state-dict key names, so that official checkpoints load with strict=True.

Extra constructor arguments (stage_units, stage_channels) shrink the model for small fixtures;
left at None they give the official layout.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

from ref_stylegan2 import EqualLinear

STAGE_UNITS = {50: [3, 4, 14, 3], 100: [3, 13, 30, 3], 152: [3, 8, 36, 3]}
STAGE_CHANNELS = [64, 128, 256, 512]
COARSE_IND, MIDDLE_IND = 3, 7
SPATIAL = {"coarse": 16, "middle": 32, "fine": 64}


class SEModule(nn.Module):
    def __init__(self, channels, reduction=16):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, channels // reduction, 1, bias=False)
        self.fc2 = nn.Conv2d(channels // reduction, channels, 1, bias=False)

    def forward(self, x):
        gates = x.mean(dim=(2, 3), keepdim=True)
        gates = torch.sigmoid(self.fc2(torch.relu(self.fc1(gates))))
        return x * gates


class BottleneckIR(nn.Module):
    """bottleneck_IR(_SE): res_layer(x) + shortcut_layer(x)."""

    def __init__(self, c_in, depth, stride, with_se):
        super().__init__()
        if c_in == depth:
            self.shortcut_layer = nn.MaxPool2d(1, stride)
        else:
            self.shortcut_layer = nn.Sequential(nn.Conv2d(c_in, depth, 1, stride, bias=False), nn.BatchNorm2d(depth))
        res = [
            nn.BatchNorm2d(c_in),
            nn.Conv2d(c_in, depth, 3, 1, 1, bias=False),
            nn.PReLU(depth),
            nn.Conv2d(depth, depth, 3, stride, 1, bias=False),
            nn.BatchNorm2d(depth),
        ]
        if with_se:
            res.append(SEModule(depth))
        self.res_layer = nn.Sequential(*res)

    def forward(self, x):
        return self.res_layer(x) + self.shortcut_layer(x)


class GradualStyleBlock(nn.Module):
    def __init__(self, c_in, c_out, spatial):
        super().__init__()
        layers = []
        for i in range(int(math.log2(spatial))):
            layers += [nn.Conv2d(c_in if i == 0 else c_out, c_out, 3, 2, 1), nn.LeakyReLU()]
        self.convs = nn.Sequential(*layers)
        self.linear = EqualLinear(c_out, c_out)

    def forward(self, x):
        x = self.convs(x)
        return self.linear(x.reshape(x.shape[0], -1))


def upsample_add(x, y):
    return F.interpolate(x, size=y.shape[2:], mode="bilinear", align_corners=True) + y


class Encoder4Editing(nn.Module):
    def __init__(self, num_layers=50, mode="ir_se", stylegan_size=1024, stage_units=None, stage_channels=None):
        super().__init__()
        units = stage_units or STAGE_UNITS[num_layers]
        channels = stage_channels or STAGE_CHANNELS
        self.input_layer = nn.Sequential(
            nn.Conv2d(3, channels[0], 3, 1, 1, bias=False), nn.BatchNorm2d(channels[0]), nn.PReLU(channels[0])
        )
        body, c_in, self.taps = [], channels[0], []
        for n, depth in zip(units, channels):
            for u in range(n):
                body.append(BottleneckIR(c_in, depth, 2 if u == 0 else 1, mode == "ir_se"))
                c_in = depth
            self.taps.append(len(body) - 1)
        self.taps = self.taps[1:]  # ends of stages 2, 3, 4: c1, c2, c3
        self.body = nn.Sequential(*body)
        width = channels[3]
        self.style_count = 2 * int(math.log2(stylegan_size)) - 2
        spatial = lambda i: SPATIAL["coarse"] if i < COARSE_IND else SPATIAL["middle"] if i < MIDDLE_IND else SPATIAL["fine"]
        self.styles = nn.ModuleList(GradualStyleBlock(width, width, spatial(i)) for i in range(self.style_count))
        self.latlayer1 = nn.Conv2d(channels[2], width, 1)
        self.latlayer2 = nn.Conv2d(channels[1], width, 1)

    def forward(self, x):
        x = self.input_layer(x)
        feats = []
        for i, unit in enumerate(self.body):
            x = unit(x)
            if i in self.taps:
                feats.append(x)
        c1, c2, c3 = feats
        w0 = self.styles[0](c3)
        w = w0.unsqueeze(1).repeat(1, self.style_count, 1)
        features = c3
        for i in range(1, self.style_count):
            if i == COARSE_IND:
                features = upsample_add(c3, self.latlayer1(c2))  # p2
            elif i == MIDDLE_IND:
                features = upsample_add(features, self.latlayer2(c1))  # p1
            w[:, i] = w[:, i] + self.styles[i](features)
        return w


def encode(encoder, latent_avg, image):
    """pSp's codes: encoder(image) + latent_avg ([n_styles, w] or [w])."""
    codes = encoder(image)
    return codes + latent_avg.expand_as(codes[0]).unsqueeze(0)
