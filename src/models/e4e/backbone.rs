//! The IR / IR-SE ResNet backbone of e4e (TreB1eN's ArcFace `bottleneck_IR(_SE)` units).
//! Field comments give the official `nn.Sequential` keys each module loads from.
use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PRelu, PReluConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid};

/// SE bottleneck reduction.
const SE_REDUCTION: usize = 16;

fn conv(c_in: usize, c_out: usize, kernel: usize, stride: usize, bias: bool, device: &Device) -> Conv2d {
    let pad = kernel / 2;
    Conv2dConfig::new([c_in, c_out], [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
        .with_bias(bias)
        .init(device)
}

/// e4e only runs in eval mode: its BatchNorms use the running statistics even on autodiff devices.
fn batch_norm(channels: usize, device: &Device) -> BatchNorm {
    let mut bn = BatchNormConfig::new(channels).init(device);
    bn.training = Param::from_bool(false);
    bn
}

fn prelu(channels: usize, device: &Device) -> PRelu {
    PReluConfig::new().with_num_parameters(channels).init(device)
}

/// `input_layer`: Conv3×3(3→C, no bias) (`.0`), BatchNorm (`.1`), PReLU (`.2`).
#[derive(Module, Debug)]
pub struct InputLayer {
    pub conv: Conv2d,
    pub bn: BatchNorm,
    pub prelu: PRelu,
}

impl InputLayer {
    pub fn new(channels: usize, device: &Device) -> Self {
        Self { conv: conv(3, channels, 3, 1, false, device), bn: batch_norm(channels, device), prelu: prelu(channels, device) }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.prelu.forward(self.bn.forward(self.conv.forward(x)))
    }
}

/// Squeeze-and-excitation: global average → 1×1 conv `fc1` (C→C/16) → ReLU → `fc2` (C/16→C) →
/// sigmoid → channel gates (both convs without bias).
#[derive(Module, Debug)]
pub struct SeModule {
    pub fc1: Conv2d,
    pub fc2: Conv2d,
}

impl SeModule {
    pub fn new(channels: usize, device: &Device) -> Self {
        let hidden = channels / SE_REDUCTION;
        Self { fc1: conv(channels, hidden, 1, 1, false, device), fc2: conv(hidden, channels, 1, 1, false, device) }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let squeezed = x.clone().mean_dim(3).mean_dim(2);
        let gates = sigmoid(self.fc2.forward(relu(self.fc1.forward(squeezed))));
        x * gates
    }
}

/// The shortcut (`shortcut_layer`) of a unit.
#[derive(Module, Debug)]
pub enum Shortcut {
    /// `MaxPool2d(1, stride)` when the depth is kept: identity, or subsampling at stride 2.
    Subsample(MaxPool2d),
    /// Conv1×1(stride, no bias) (`.0`) + BatchNorm (`.1`) when the depth changes.
    Projection(Projection),
}

#[derive(Module, Debug)]
pub struct Projection {
    pub conv: Conv2d,
    pub bn: BatchNorm,
}

impl Shortcut {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Shortcut::Subsample(pool) => pool.forward(x),
            Shortcut::Projection(p) => p.bn.forward(p.conv.forward(x)),
        }
    }
}

/// `bottleneck_IR` / `bottleneck_IR_SE`: `res_layer(x) + shortcut_layer(x)` with
/// `res_layer` = BN (`.0`) → Conv3×3 (`.1`) → PReLU (`.2`) → Conv3×3 with the unit's stride (`.3`)
/// → BN (`.4`) [→ SE (`.5`)].
#[derive(Module, Debug)]
pub struct BottleneckIr {
    pub shortcut: Shortcut,
    pub bn_in: BatchNorm,
    pub conv1: Conv2d,
    pub prelu: PRelu,
    pub conv2: Conv2d,
    pub bn_out: BatchNorm,
    pub se: Option<SeModule>,
}

impl BottleneckIr {
    pub fn new(c_in: usize, depth: usize, stride: usize, with_se: bool, device: &Device) -> Self {
        let shortcut = if c_in == depth {
            Shortcut::Subsample(MaxPool2dConfig::new([1, 1]).with_strides([stride, stride]).init())
        } else {
            Shortcut::Projection(Projection { conv: conv(c_in, depth, 1, stride, false, device), bn: batch_norm(depth, device) })
        };
        Self {
            shortcut,
            bn_in: batch_norm(c_in, device),
            conv1: conv(c_in, depth, 3, 1, false, device),
            prelu: prelu(depth, device),
            conv2: conv(depth, depth, 3, stride, false, device),
            bn_out: batch_norm(depth, device),
            se: with_se.then(|| SeModule::new(depth, device)),
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let shortcut = self.shortcut.forward(x.clone());
        let res = self.conv1.forward(self.bn_in.forward(x));
        let res = self.bn_out.forward(self.conv2.forward(self.prelu.forward(res)));
        let res = match &self.se {
            Some(se) => se.forward(res),
            None => res,
        };
        res + shortcut
    }
}
