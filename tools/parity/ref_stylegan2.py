"""A small PyTorch reference of rosinality's StyleGAN2 generator (stylegan2-pytorch `model.py`),
written from the documented formulas (shared/research/stylegan_e4e_clipinverter_mca.md §1).

Its `state_dict()` has rosinality's key names and shapes, so fixtures written from it are in the
official checkpoint layout. It follows rosinality's *fused* formulation (per-sample modulated
weights, grouped convolution) and its native upfirdn2d, so the Rust port (which uses the
non-grouped formulation) is checked against an independent computation.

`channels` optionally overrides rosinality's fixed channel table (resolution -> channels), which
keeps committed fixtures small.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn


def fused_leaky_relu(x, bias):
    shape = [1, -1] + [1] * (x.ndim - 2)
    return F.leaky_relu(x + bias.view(shape), 0.2) * math.sqrt(2)


def make_kernel(k):
    k = torch.tensor(k, dtype=torch.float32)
    k = k[None, :] * k[:, None]
    return k / k.sum()


def upfirdn2d(x, kernel, up=1, down=1, pad=(0, 0)):
    """rosinality's upfirdn2d_native for up/down on both axes and non-negative pads."""
    b, c, h, w = x.shape
    kh, kw = kernel.shape
    # zero-stuffing: sample i goes to position i*up
    x = x.reshape(b * c, 1, h, 1, w, 1)
    x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
    x = x.reshape(b * c, 1, h * up, w * up)
    x = F.pad(x, [pad[0], pad[1], pad[0], pad[1]])
    # true convolution = correlation with the flipped kernel
    weight = torch.flip(kernel, [0, 1]).view(1, 1, kh, kw)
    x = F.conv2d(x, weight)
    x = x[:, :, ::down, ::down]
    return x.reshape(b, c, x.shape[2], x.shape[3])


class PixelNorm(nn.Module):
    def forward(self, x):
        return x * torch.rsqrt(torch.mean(x ** 2, dim=1, keepdim=True) + 1e-8)


class EqualLinear(nn.Module):
    """rosinality's EqualLinear: raw weight, scaled by lr_mul/sqrt(in) at run time. The fused
    leaky ReLU adds the bias on the last dim (DeltaEdit's [B, rows, width] inputs; the same as
    rosinality's dim 1 on [B, features])."""

    def __init__(self, in_dim, out_dim, bias_init=0.0, lr_mul=1.0, activation=None):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_dim,), float(bias_init)))
        self.scale = lr_mul / math.sqrt(in_dim)
        self.lr_mul = lr_mul
        self.activation = activation

    def forward(self, x):
        if self.activation == "fused_lrelu":
            y = F.linear(x, self.weight * self.scale) + self.bias * self.lr_mul
            return F.leaky_relu(y, 0.2) * math.sqrt(2)
        return F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)


class Blur(nn.Module):
    def __init__(self, kernel, pad, upsample_factor=1):
        super().__init__()
        self.register_buffer("kernel", make_kernel(kernel) * upsample_factor ** 2)
        self.pad = pad

    def forward(self, x):
        return upfirdn2d(x, self.kernel, pad=self.pad)


class Upsample(nn.Module):
    def __init__(self, kernel, factor=2):
        super().__init__()
        self.factor = factor
        self.register_buffer("kernel", make_kernel(kernel) * factor ** 2)
        p = self.kernel.shape[0] - factor
        self.pad = ((p + 1) // 2 + factor - 1, p // 2)

    def forward(self, x):
        return upfirdn2d(x, self.kernel, up=self.factor, pad=self.pad)


class ModulatedConv2d(nn.Module):
    def __init__(self, in_ch, out_ch, kernel_size, style_dim, demodulate=True, upsample=False,
                 blur_kernel=(1, 3, 3, 1)):
        super().__init__()
        self.in_ch, self.out_ch, self.kernel_size = in_ch, out_ch, kernel_size
        self.demodulate, self.upsample = demodulate, upsample
        if upsample:
            factor = 2
            p = (len(blur_kernel) - factor) - (kernel_size - 1)
            self.blur = Blur(blur_kernel, pad=((p + 1) // 2 + factor - 1, p // 2 + 1),
                             upsample_factor=factor)
        self.scale = 1 / math.sqrt(in_ch * kernel_size ** 2)
        self.padding = kernel_size // 2
        self.weight = nn.Parameter(torch.randn(1, out_ch, in_ch, kernel_size, kernel_size))
        self.modulation = EqualLinear(style_dim, in_ch, bias_init=1)

    def forward(self, x, w=None, style=None):
        """`style` (the modulation output) replaces `modulation(w)` when given: S-space decoding."""
        b = x.shape[0]
        s = self.modulation(w) if style is None else style
        weight = self.scale * self.weight * s.view(b, 1, self.in_ch, 1, 1)
        if self.demodulate:
            weight = weight * torch.rsqrt(weight.pow(2).sum([2, 3, 4]) + 1e-8).view(b, self.out_ch, 1, 1, 1)
        k = self.kernel_size
        if self.upsample:
            weight = weight.transpose(1, 2).reshape(b * self.in_ch, self.out_ch, k, k)
            x = x.reshape(1, b * self.in_ch, x.shape[2], x.shape[3])
            out = F.conv_transpose2d(x, weight, padding=0, stride=2, groups=b)
            out = out.view(b, self.out_ch, out.shape[2], out.shape[3])
            return self.blur(out)
        weight = weight.view(b * self.out_ch, self.in_ch, k, k)
        x = x.reshape(1, b * self.in_ch, x.shape[2], x.shape[3])
        out = F.conv2d(x, weight, padding=self.padding, groups=b)
        return out.view(b, self.out_ch, out.shape[2], out.shape[3])


class NoiseInjection(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x, noise):
        return x + self.weight * noise


class FusedLeakyReLU(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x):
        return fused_leaky_relu(x, self.bias)


class StyledConv(nn.Module):
    def __init__(self, in_ch, out_ch, kernel_size, style_dim, upsample=False):
        super().__init__()
        self.conv = ModulatedConv2d(in_ch, out_ch, kernel_size, style_dim, upsample=upsample)
        self.noise = NoiseInjection()
        self.activate = FusedLeakyReLU(out_ch)

    def forward(self, x, w, noise, style=None):
        return self.activate(self.noise(self.conv(x, w, style), noise))


class ToRGB(nn.Module):
    def __init__(self, in_ch, style_dim, upsample=True):
        super().__init__()
        if upsample:
            self.upsample = Upsample((1, 3, 3, 1))
        self.conv = ModulatedConv2d(in_ch, 3, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def forward(self, x, w, skip=None, style=None):
        out = self.conv(x, w, style) + self.bias
        if skip is not None:
            out = out + self.upsample(skip)
        return out


class ConstantInput(nn.Module):
    def __init__(self, channels, size=4):
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channels, size, size))

    def forward(self, batch):
        return self.input.repeat(batch, 1, 1, 1)


def rosinality_channels(channel_multiplier):
    cm = channel_multiplier
    return {4: 512, 8: 512, 16: 512, 32: 512, 64: 256 * cm, 128: 128 * cm, 256: 64 * cm,
            512: 32 * cm, 1024: 16 * cm}


class Generator(nn.Module):
    def __init__(self, size, style_dim, n_mlp, channel_multiplier=2, lr_mlp=0.01, channels=None):
        super().__init__()
        self.size, self.style_dim = size, style_dim
        self.style = nn.Sequential(PixelNorm(), *[
            EqualLinear(style_dim, style_dim, lr_mul=lr_mlp, activation="fused_lrelu")
            for _ in range(n_mlp)])
        self.channels = channels or rosinality_channels(channel_multiplier)
        self.log_size = int(math.log2(size))
        self.num_layers = (self.log_size - 2) * 2 + 1
        self.n_latent = self.log_size * 2 - 2

        c = self.channels
        self.input = ConstantInput(c[4])
        self.conv1 = StyledConv(c[4], c[4], 3, style_dim)
        self.to_rgb1 = ToRGB(c[4], style_dim, upsample=False)
        self.convs, self.to_rgbs = nn.ModuleList(), nn.ModuleList()
        self.noises = nn.Module()
        for i in range(self.num_layers):
            res = 2 ** ((i + 5) // 2)
            self.noises.register_buffer(f"noise_{i}", torch.randn(1, 1, res, res))
        in_ch = c[4]
        for i in range(3, self.log_size + 1):
            out_ch = c[2 ** i]
            self.convs.append(StyledConv(in_ch, out_ch, 3, style_dim, upsample=True))
            self.convs.append(StyledConv(out_ch, out_ch, 3, style_dim))
            self.to_rgbs.append(ToRGB(out_ch, style_dim))
            in_ch = out_ch

    def mapping(self, z, truncation=1.0, truncation_latent=None):
        w = self.style(z)
        if truncation < 1:
            w = truncation_latent + truncation * (w - truncation_latent)
        return w

    def conv_layers(self):
        return [self.conv1, *self.convs]

    def rgb_layers(self):
        return [self.to_rgb1, *self.to_rgbs]

    def styles(self, wplus):
        """Every conv layer's modulation output (S, in layer order) and every ToRGB's."""
        s = [layer.conv.modulation(wplus[:, i]) for i, layer in enumerate(self.conv_layers())]
        s_rgb = [layer.conv.modulation(wplus[:, 2 * j + 1]) for j, layer in enumerate(self.rgb_layers())]
        return s, s_rgb

    def synthesis(self, wplus, s=None, s_rgb=None):
        """Image from w+ with the stored noise buffers. `s` / `s_rgb` (lists of per-layer styles)
        replace the conv / ToRGB modulations, as DeltaEdit's `decoder_validate` does for the convs."""
        noise = [getattr(self.noises, f"noise_{i}") for i in range(self.num_layers)]
        conv_s = s if s is not None else [None] * self.num_layers
        rgb_s = s_rgb if s_rgb is not None else [None] * (self.log_size - 1)
        w = (lambda i: None) if wplus is None else (lambda i: wplus[:, i])
        x = self.input(wplus.shape[0] if wplus is not None else s[0].shape[0])
        x = self.conv1(x, w(0), noise[0], conv_s[0])
        skip = self.to_rgb1(x, w(1), style=rgb_s[0])
        i = 1
        for j in range(len(self.to_rgbs)):
            x = self.convs[2 * j](x, w(i), noise[i], conv_s[i])
            x = self.convs[2 * j + 1](x, w(i + 1), noise[i + 1], conv_s[i + 1])
            skip = self.to_rgbs[j](x, w(i + 2), skip, style=rgb_s[j + 1])
            i += 2
        return skip


def randomize_(g, generator):
    """Random values for every parameter and buffer (biases, noise weights and noise buffers too),
    at scales that keep activations in a normal range; modulation biases stay around 1."""
    with torch.no_grad():
        for name, p in g.named_parameters():
            if name.startswith("style.") and name.endswith(".weight"):
                p.copy_(torch.randn(p.shape, generator=generator) / 0.01)
            elif name.startswith("style.") and name.endswith(".bias"):
                p.copy_(torch.randn(p.shape, generator=generator) * 10.0)  # × lr_mul 0.01
            elif name.endswith("modulation.bias"):
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=generator))
            elif name.endswith("modulation.weight") or name.endswith("conv.weight") or name == "input.input":
                p.copy_(torch.randn(p.shape, generator=generator))
            else:  # noise weights, activation and ToRGB biases
                p.copy_(0.2 * torch.randn(p.shape, generator=generator))
        for name, b in g.noises.named_buffers():
            b.copy_(torch.randn(b.shape, generator=generator))
