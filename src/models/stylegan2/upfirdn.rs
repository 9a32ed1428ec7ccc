//! FIR up-sampling and blurring (rosinality `upfirdn2d`, `Blur`, `Upsample`) with the
//! `[1, 3, 3, 1]` kernel, as depthwise convolutions.
use burn::prelude::*;
use burn::tensor::TensorData;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;

/// The 1-D taps of StyleGAN2's anti-aliasing filter.
pub const BLUR_TAPS: [f32; 4] = [1.0, 3.0, 3.0, 1.0];

/// rosinality's `make_kernel`: the outer product of the taps, normalised to sum 1, times `gain`.
pub fn make_kernel(taps: &[f32], gain: f32, device: &Device) -> Tensor<2> {
    let sum: f32 = taps.iter().sum();
    let values: Vec<f32> = taps.iter().flat_map(|a| taps.iter().map(move |b| a * b / (sum * sum) * gain)).collect();
    Tensor::from_data(TensorData::new(values, [taps.len(), taps.len()]), device)
}

/// `upfirdn2d` with `down = 1`: insert `up − 1` zeros after every sample, pad `pad.0` before and
/// `pad.1` after (both axes), then convolve every channel with `kernel` (a true convolution, i.e.
/// correlation with the flipped kernel); `bias` (`[C]`) rides on the convolution's epilogue.
/// Output side: `in·up + pad.0 + pad.1 − k + 1`.
pub fn upfirdn2d(
    x: Tensor<4>,
    kernel: Tensor<2>,
    up: usize,
    pad: (usize, usize),
    bias: Option<Tensor<1>>,
) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    let x = if up > 1 {
        let stuffed = x.reshape([b, c, h, 1, w, 1]).pad([(0, 0), (0, up - 1), (0, 0), (0, up - 1)], 0.0);
        stuffed.reshape([b, c, h * up, w * up])
    } else {
        x
    };
    let [kh, kw] = kernel.dims();
    let weight = kernel.flip([0, 1]).reshape([1, 1, kh, kw]).expand([c, 1, kh, kw]);
    conv2d(x, weight, bias, ConvOptions::new_with_padding([1, 1], [pad, pad], [1, 1], c))
}

/// The blur after a transposed-conv up-sampling (`ModulatedConv2d.blur`).
#[derive(Module, Debug)]
pub struct Blur {
    /// `make_kernel([1,3,3,1]) · upsample_factor²` (checkpoint buffer `blur.kernel`, a constant).
    pub kernel: Tensor<2>,
    pub pad0: usize,
    pub pad1: usize,
}

impl Blur {
    /// The blur of a 3×3 stride-2 transposed conv: pads `(1, 1)`, kernel gain 4.
    /// rosinality: `p = (4 − 2) − (k − 1)`, `pad = ((p + 1)/2 + 2 − 1, p/2 + 1)`.
    pub fn for_upsampling_conv(kernel_size: usize, device: &Device) -> Self {
        let factor = 2;
        let p = (BLUR_TAPS.len() - factor) as isize - (kernel_size as isize - 1);
        let pad0 = (p + 1).div_euclid(2) + factor as isize - 1;
        let pad1 = p.div_euclid(2) + 1;
        Blur {
            kernel: make_kernel(&BLUR_TAPS, (factor * factor) as f32, device),
            pad0: pad0 as usize,
            pad1: pad1 as usize,
        }
    }

    /// Blurs `x` and adds `bias` (`[C]`, optional) per channel.
    pub fn forward(&self, x: Tensor<4>, bias: Option<Tensor<1>>) -> Tensor<4> {
        upfirdn2d(x, self.kernel.clone(), 1, (self.pad0, self.pad1), bias)
    }
}

/// ×2 FIR up-sampling of the RGB skip (`ToRGB.upsample`): `upfirdn2d(up=2, pad=(2, 1))`.
#[derive(Module, Debug)]
pub struct Upsample {
    /// `make_kernel([1,3,3,1]) · 4` (checkpoint buffer `upsample.kernel`, a constant).
    pub kernel: Tensor<2>,
}

impl Upsample {
    pub const FACTOR: usize = 2;

    pub fn new(device: &Device) -> Self {
        Upsample { kernel: make_kernel(&BLUR_TAPS, (Self::FACTOR * Self::FACTOR) as f32, device) }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        // rosinality: p = k − factor, pad = ((p + 1)/2 + factor − 1, p/2)
        let p = BLUR_TAPS.len() - Self::FACTOR;
        upfirdn2d(x, self.kernel.clone(), Self::FACTOR, ((p + 1) / 2 + Self::FACTOR - 1, p / 2), None)
    }
}
