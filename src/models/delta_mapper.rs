//! The DeltaEdit Delta Mapper (`delta_mapper.py`): predicts an S-space edit Δs from the source
//! S code and the CLIP condition (image feature ‖ CLIP delta).
//!
//! S is split into coarse / medium / fine groups. Coarse and medium are stacks of `style_width`
//! wide S rows, mapped row-wise by shared weights; fine is one vector. Each group has a style
//! module (`sm_*`), a condition module (`cm_*`) and a fusion module (`fm_*`), all `Mapper`s.
//!
//! Quirks of the official code kept on purpose (the checkpoint was trained with them):
//! - PixelNorm is over dim 1, so on the [B, rows, width] coarse/medium stacks it normalises each
//!   channel across the rows;
//! - every linear, the last fusion one included, ends in the fused leaky ReLU (×√2);
//! - EqualLinear weights are raw with run-time scales (lr_mul 0.01), so that training from scratch
//!   with the official optimiser settings behaves the same.
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::layers::{EqualLinear, EqualLinearConfig, pixel_norm};
use crate::{Error, Result};

/// Layers per `Mapper`.
const MAPPER_DEPTH: usize = 4;
const MAPPER_LR_MUL: f64 = 0.01;

/// The S-space split and condition size. `{}` is the official 1024² FFHQ layout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeltaMapperConfig {
    /// Number of `style_width`-wide S rows in the coarse group (4² and 8² layers).
    pub coarse_layers: usize,
    /// Number of `style_width`-wide S rows in the medium group (16² and 32² layers).
    pub medium_layers: usize,
    /// Width of the fine group (all remaining S dimensions).
    pub fine_dim: usize,
    /// Width of the condition: CLIP image feature ‖ CLIP delta.
    pub cond_dim: usize,
    pub style_width: usize,
}

impl Default for DeltaMapperConfig {
    fn default() -> Self {
        Self { coarse_layers: 3, medium_layers: 4, fine_dim: 2464, cond_dim: 1024, style_width: 512 }
    }
}

/// Coarse S layers have resolution ≤ this; medium ones ≤ [`MEDIUM_MAX_RES`].
const COARSE_MAX_RES: usize = 8;
const MEDIUM_MAX_RES: usize = 32;

impl DeltaMapperConfig {
    /// The split for a generator whose conv layers (S order) have the given
    /// `(resolution, style dims)`: coarse = 4²–8², medium = 16²–32², fine = the rest
    /// (1536 / 2048 / 2464 for FFHQ 1024²; fine 2176 at 256²).
    pub fn for_generator(layers: &[(usize, usize)], cond_dim: usize) -> Result<Self> {
        let coarse: Vec<usize> = layers.iter().filter(|(r, _)| *r <= COARSE_MAX_RES).map(|l| l.1).collect();
        let medium: Vec<usize> =
            layers.iter().filter(|(r, _)| (COARSE_MAX_RES + 1..=MEDIUM_MAX_RES).contains(r)).map(|l| l.1).collect();
        let fine_dim = layers.iter().filter(|(r, _)| *r > MEDIUM_MAX_RES).map(|l| l.1).sum();
        let style_width = coarse.first().copied().unwrap_or(0);
        if coarse.is_empty() || medium.is_empty() || fine_dim == 0 {
            return Err(Error::Config(format!(
                "delta mapper: the generator needs layers at ≤{COARSE_MAX_RES}², ≤{MEDIUM_MAX_RES}² and above; got {layers:?}"
            )));
        }
        if coarse.iter().chain(&medium).any(|&d| d != style_width) {
            return Err(Error::Config(format!(
                "delta mapper: coarse and medium S layers must all be {style_width} wide; got {layers:?}"
            )));
        }
        Ok(Self { coarse_layers: coarse.len(), medium_layers: medium.len(), fine_dim, cond_dim, style_width })
    }

    /// Size of the S code the mapper reads and writes.
    pub fn s_dim(&self) -> usize {
        (self.coarse_layers + self.medium_layers) * self.style_width + self.fine_dim
    }

    pub fn init(&self, device: &Device) -> DeltaMapper {
        let (w, f, c) = (self.style_width, self.fine_dim, self.cond_dim);
        let mapper = |d_in, d_out, norm| Mapper::new(d_in, d_out, norm, device);
        DeltaMapper {
            sm_coarse: mapper(w, w, true),
            sm_medium: mapper(w, w, true),
            sm_fine: mapper(f, f, true),
            cm_coarse: mapper(c, w, true),
            cm_medium: mapper(c, w, true),
            cm_fine: mapper(c, f, true),
            fm_coarse: mapper(2 * w, w, false),
            fm_medium: mapper(2 * w, w, false),
            fm_fine: mapper(2 * f, f, false),
            coarse_layers: self.coarse_layers,
            medium_layers: self.medium_layers,
        }
    }
}

/// DeltaEdit's `Mapper`: optional PixelNorm, then 4 × EqualLinear(lr_mul 0.01, fused lrelu).
#[derive(Module, Debug)]
pub struct Mapper {
    pub pixel_norm: bool,
    pub mapping: Vec<EqualLinear>,
}

impl Mapper {
    pub fn new(d_input: usize, d_output: usize, pixel_norm: bool, device: &Device) -> Self {
        let linear = |d_in| {
            EqualLinearConfig::new(d_in, d_output).with_lr_mul(MAPPER_LR_MUL).with_fused_lrelu(true).init(device)
        };
        let mapping = std::iter::once(linear(d_input)).chain((1..MAPPER_DEPTH).map(|_| linear(d_output))).collect();
        Self { pixel_norm, mapping }
    }

    /// Index of `mapping[i]` in the official `nn.Sequential`, where PixelNorm (when present)
    /// takes slot 0: `sm_*`/`cm_*` linears are `mapping.1..4`, `fm_*` ones `mapping.0..3`.
    pub fn sequential_index(&self, i: usize) -> usize {
        i + usize::from(self.pixel_norm)
    }

    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let x = if self.pixel_norm { pixel_norm(x) } else { x };
        self.mapping.iter().fold(x, |x, layer| layer.forward(x))
    }
}

#[derive(Module, Debug)]
pub struct DeltaMapper {
    pub sm_coarse: Mapper,
    pub sm_medium: Mapper,
    pub sm_fine: Mapper,
    pub cm_coarse: Mapper,
    pub cm_medium: Mapper,
    pub cm_fine: Mapper,
    pub fm_coarse: Mapper,
    pub fm_medium: Mapper,
    pub fm_fine: Mapper,
    pub coarse_layers: usize,
    pub medium_layers: usize,
}

impl DeltaMapper {
    /// All mappers with their checkpoint names, in the official module order.
    pub fn named_mappers(&mut self) -> [(&'static str, &mut Mapper); 9] {
        [
            ("sm_coarse", &mut self.sm_coarse),
            ("sm_medium", &mut self.sm_medium),
            ("sm_fine", &mut self.sm_fine),
            ("cm_coarse", &mut self.cm_coarse),
            ("cm_medium", &mut self.cm_medium),
            ("cm_fine", &mut self.cm_fine),
            ("fm_coarse", &mut self.fm_coarse),
            ("fm_medium", &mut self.fm_medium),
            ("fm_fine", &mut self.fm_fine),
        ]
    }

    /// `s` [B, S] and `c` [B, cond_dim] → Δs [B, S].
    pub fn forward(&self, s: Tensor<2>, c: Tensor<2>) -> Tensor<2> {
        let [batch, _] = s.dims();
        let [style_width, _] = self.sm_coarse.mapping[0].weight.lazy_shape().dims();
        let coarse_end = self.coarse_layers * style_width;
        let medium_end = coarse_end + self.medium_layers * style_width;

        let s_coarse = s.clone().slice(s![.., 0..coarse_end]).reshape([batch, self.coarse_layers, style_width]);
        let s_medium = s.clone().slice(s![.., coarse_end..medium_end]).reshape([batch, self.medium_layers, style_width]);
        let s_fine = s.slice(s![.., medium_end..]);

        // Each row of a stack is fused with the same condition vector.
        let fuse_rows = |fm: &Mapper, rows: Tensor<3>, cond: Tensor<2>| {
            let [_, n, _] = rows.dims();
            let cond = cond.unsqueeze_dim::<3>(1).repeat_dim(1, n);
            fm.forward(Tensor::cat(vec![rows, cond], 2)).reshape([batch, n * style_width])
        };
        let x_coarse = fuse_rows(&self.fm_coarse, self.sm_coarse.forward(s_coarse), self.cm_coarse.forward(c.clone()));
        let x_medium = fuse_rows(&self.fm_medium, self.sm_medium.forward(s_medium), self.cm_medium.forward(c.clone()));
        let x_fine = self.fm_fine.forward(Tensor::cat(vec![self.sm_fine.forward(s_fine), self.cm_fine.forward(c)], 1));
        Tensor::cat(vec![x_coarse, x_medium, x_fine], 1)
    }
}

/// The span of the deltas of image pairs: `k` orthonormal rows [k, E], for CLIP image deltas
/// or for S deltas (Δs).
///
/// A text delta has components no image pair moves along (the modality gap between CLIP's text
/// and image towers); text-free training never shows them to the mapper, so at inference they
/// only add noise to its condition. Projecting text deltas (and, in training, image deltas) onto
/// this span keeps the part the mapper learnt to read (docs/delta_mapper.md, "Delta subspace").
#[derive(Clone, Debug)]
pub struct DeltaSubspace {
    pub basis: Tensor<2>,
}

/// The spans a mapper file may carry (ours; `net_face.pth` has none).
#[derive(Clone, Debug, Default)]
pub struct MapperSubspaces {
    /// CLIP image deltas: the condition's delta is projected onto it.
    pub delta: Option<DeltaSubspace>,
    /// S deltas of single edits: Δs is projected onto it, since what the mapper predicts outside
    /// it (its guess at the encoder's errors on a training pair, we think) moves other factors
    /// (docs/delta_mapper.md, "Edit subspace").
    pub edit: Option<DeltaSubspace>,
}

impl MapperSubspaces {
    /// `delta_s` [B, S] projected onto the edit span, if there is one.
    pub fn project_edit(&self, delta_s: Tensor<2>) -> Tensor<2> {
        match &self.edit {
            Some(edit) => edit.project(delta_s),
            None => delta_s,
        }
    }
}

/// Orthogonal-iteration steps of [`DeltaSubspace::fit`]: the top-k span converges like
/// (λ_{k+1}/λ_k)^steps.
const SUBSPACE_ITERATIONS: usize = 300;

impl DeltaSubspace {
    /// The `k` principal directions (uncentred: top eigenvectors of Σ d dᵀ) of the unit rows of
    /// `deltas` [N, E]; zero rows count for nothing.
    pub fn fit(deltas: Tensor<2>, k: usize) -> Result<DeltaSubspace> {
        let [n, e] = deltas.dims();
        if k == 0 || k > e || n == 0 {
            return Err(Error::Invalid(format!("delta subspace: {k} directions of {e}-d deltas from {n} rows")));
        }
        let device = deltas.device();
        let unit = deltas.clone() / deltas.square().sum_dim(1).sqrt().clamp_min(1e-12);
        let moment = unit.clone().transpose().matmul(unit).into_data().convert::<f64>().try_into_vec::<f64>().expect("f64 data");
        // A fixed, full-rank start; modified Gram–Schmidt after every multiplication.
        let mut q: Vec<Vec<f64>> = (0..k).map(|i| (0..e).map(|j| ((i * e + j) as f64 * 0.618_034).fract() - 0.5).collect()).collect();
        for _ in 0..SUBSPACE_ITERATIONS {
            q = q.iter().map(|v| (0..e).map(|r| moment[r * e..(r + 1) * e].iter().zip(v).map(|(m, x)| m * x).sum()).collect()).collect();
            for i in 0..k {
                let (done, rest) = q.split_at_mut(i);
                let v = &mut rest[0];
                for u in done.iter() {
                    let p: f64 = v.iter().zip(u).map(|(a, b)| a * b).sum();
                    v.iter_mut().zip(u).for_each(|(a, b)| *a -= p * b);
                }
                let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
                if norm < 1e-12 {
                    return Err(Error::Invalid(format!("delta subspace: the deltas span fewer than {k} directions")));
                }
                v.iter_mut().for_each(|a| *a /= norm);
            }
        }
        let values: Vec<f32> = q.into_iter().flatten().map(|v| v as f32).collect();
        Ok(DeltaSubspace { basis: Tensor::from_data(TensorData::new(values, [k, e]), &device) })
    }

    /// `delta` [B, E] projected onto the span.
    pub fn project(&self, delta: Tensor<2>) -> Tensor<2> {
        delta.matmul(self.basis.clone().transpose()).matmul(self.basis.clone())
    }

    pub fn to_device(&self, device: &Device) -> DeltaSubspace {
        DeltaSubspace { basis: self.basis.clone().to_device(device) }
    }

    /// (directions, CLIP width)
    pub fn dims(&self) -> [usize; 2] {
        self.basis.dims()
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::Tolerance;

    use super::*;

    #[test]
    fn subspace_finds_the_span_of_the_deltas_and_projects_onto_it() {
        let device = Device::flex();
        // Deltas in the (x, y) plane of 4-d space, and one along z, which counts as much after
        // normalisation but is one row against four: the top two directions are the plane.
        let deltas = Tensor::<2>::from_floats(
            [[1.0, 0.2, 0.0, 0.0], [0.3, -1.0, 0.0, 0.0], [-0.7, 0.7, 0.0, 0.0], [2.0, 2.0, 0.0, 0.0], [0.0, 0.0, 0.1, 0.0], [0.0; 4]],
            &device,
        );
        let subspace = DeltaSubspace::fit(deltas, 2).unwrap();
        assert_eq!(subspace.dims(), [2, 4]);
        let gram = subspace.basis.clone().matmul(subspace.basis.clone().transpose());
        gram.into_data().assert_approx_eq::<f32>(&TensorData::from([[1.0, 0.0], [0.0, 1.0]]), Tolerance::<f32>::absolute(1e-5));
        let projected = subspace.project(Tensor::<2>::from_floats([[0.5, -2.0, 3.0, 4.0]], &device));
        projected.into_data().assert_approx_eq::<f32>(&TensorData::from([[0.5, -2.0, 0.0, 0.0]]), Tolerance::<f32>::absolute(1e-3));
        assert!(DeltaSubspace::fit(Tensor::<2>::zeros([3, 4], &device), 1).is_err(), "zero deltas span nothing");
        assert!(DeltaSubspace::fit(Tensor::<2>::ones([3, 4], &device), 5).is_err(), "more directions than dimensions");
    }

    #[test]
    fn official_layout_is_the_default_and_matches_the_ffhq_generator() {
        let config: DeltaMapperConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(config, DeltaMapperConfig::default());
        assert_eq!(config.s_dim(), 6048);
        // FFHQ 1024² conv layers: (resolution, input channels), S order.
        let mut layers = vec![(4, 512)];
        for (res, c_in, c_out) in
            [(8, 512, 512), (16, 512, 512), (32, 512, 512), (64, 512, 512), (128, 512, 256), (256, 256, 128), (512, 128, 64), (1024, 64, 32)]
        {
            layers.extend([(res, c_in), (res, c_out)]);
        }
        assert_eq!(DeltaMapperConfig::for_generator(&layers, 1024).unwrap(), config);
        // A 256² generator keeps coarse/medium and has a 2176-wide fine group.
        let small = DeltaMapperConfig::for_generator(&layers[..13], 1024).unwrap();
        assert_eq!((small.coarse_layers, small.medium_layers, small.fine_dim), (3, 4, 2176));
    }

    #[test]
    fn every_parameter_is_trainable() {
        use burn::optim::GradientsParams;
        use burn::tensor::Distribution;
        let device = Device::flex().autodiff();
        let config = DeltaMapperConfig { coarse_layers: 2, medium_layers: 1, fine_dim: 5, cond_dim: 4, style_width: 3 };
        let mapper = config.init(&device);
        let s = Tensor::<2>::random([2, config.s_dim()], Distribution::Normal(0.0, 5.0), &device);
        let c = Tensor::<2>::random([2, config.cond_dim], Distribution::Normal(0.0, 0.5), &device);
        let loss = mapper.forward(s, c).powi_scalar(2).mean();
        let grads = GradientsParams::from_grads(loss.backward(), &mapper);
        // 9 mappers × 4 EqualLinears × (weight, bias): the 72 tensors of net_face.pth.
        assert_eq!(grads.len(), 72);
    }

    #[test]
    fn for_generator_rejects_mixed_widths() {
        let layers = [(4, 512), (8, 512), (8, 256), (16, 512), (16, 512), (64, 128)];
        assert!(DeltaMapperConfig::for_generator(&layers, 1024).is_err());
    }

    #[test]
    fn mapper_sequential_indices_skip_the_pixel_norm_slot() {
        let device = Device::flex();
        let config = DeltaMapperConfig { coarse_layers: 1, medium_layers: 1, fine_dim: 3, cond_dim: 2, style_width: 2 };
        let mut mapper = config.init(&device);
        for (name, m) in mapper.named_mappers() {
            let first = if name.starts_with("fm_") { 0 } else { 1 };
            assert_eq!(m.sequential_index(0), first, "{name}");
            assert_eq!(m.mapping.len(), 4);
        }
        let out = mapper.forward(Tensor::zeros([2, config.s_dim()], &device), Tensor::ones([2, 2], &device));
        assert_eq!(out.dims(), [2, config.s_dim()]);
    }
}
