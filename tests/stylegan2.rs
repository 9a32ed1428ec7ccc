//! StyleGAN2: the S-space layout at 1024², the generator's synthesis variants agreeing with each
//! other, config inference and the loader's errors on bad files. (Numerical agreement with the
//! PyTorch reference is tests/parity.rs.)
use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::tensor::Distribution;
use deltastudio::Error;
use deltastudio::models::stylegan2::{Noise, SLayers, StyleGan2Config, StyleLayerKind, StyleSpace};
use deltastudio::weights::checkpoint::Checkpoint;
use deltastudio::weights::stylegan2;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The generator of a committed fixture file (path relative to tests/fixtures).
fn fixture_generator(file: &str, device: &Device) -> deltastudio::models::stylegan2::Generator {
    stylegan2::load(&fixtures().join(file), None, None, device).unwrap().generator
}

fn max_abs_diff(a: Tensor<4>, b: Tensor<4>) -> f32 {
    (a - b).abs().max().into_scalar::<f32>()
}

#[test]
fn ffhq_style_space_matches_deltaedit() {
    let space = StyleSpace::new(&StyleGan2Config::ffhq_1024()).unwrap();
    assert_eq!((space.conv.len(), space.rgb.len()), (17, 9));
    assert_eq!((space.conv_dim(), space.rgb_dim()), (6048, 3040));
    let groups = space.scale_groups();
    assert_eq!((groups.coarse.dim(), groups.medium.dim(), groups.fine.dim()), (1536, 2048, 2464));
    assert_eq!(
        (groups.coarse.layers.clone(), groups.medium.layers.clone(), groups.fine.layers.clone()),
        (0..3, 3..7, 7..17)
    );
    // deltaedit.md §2.1: S layer 10 is convs.9 at 128², 256 wide, at offset 5120, fed by w+ row 10
    let l = &space.conv[10];
    assert_eq!((l.module.as_str(), l.resolution, l.channels, l.offset, l.wplus_row), ("convs.9", 128, 256, 5120, 10));
    assert_eq!((space.conv[16].offset, space.conv[16].channels), (6016, 32));
    let last_rgb = space.rgb.last().unwrap();
    assert_eq!((last_rgb.module.as_str(), last_rgb.wplus_row, last_rgb.channels), ("to_rgbs.7", 17, 32));
    let order: Vec<_> = space.forward_order().iter().map(|l| l.kind).collect();
    assert_eq!(order.len(), 26);
    assert_eq!(
        &order[..5],
        &[
            StyleLayerKind::Conv,
            StyleLayerKind::ToRgb,
            StyleLayerKind::Conv,
            StyleLayerKind::Conv,
            StyleLayerKind::ToRgb
        ]
    );
}

#[test]
fn ffhq_generator_builds_from_config() {
    let device = Device::flex();
    let g = StyleGan2Config::ffhq_1024().init(&device).unwrap();
    // 30,370,060 parameters (shared research §1.4) + 2,796,176 noise-map values
    assert_eq!(g.num_params(), 30_370_060 + 2_796_176);
    assert_eq!((g.n_latent(), g.convs.len(), g.to_rgbs.len()), (18, 16, 8));
}

#[test]
fn synthesis_variants_agree() {
    let device = Device::flex();
    let config =
        StyleGan2Config::new(16).with_style_dim(16).with_n_mlp(2).with_channels(Some([(4, 8), (8, 8), (16, 4)].into()));
    let g = config.init(&device).unwrap();
    let z = Tensor::random([2 * g.n_latent(), 16], Distribution::Normal(0.0, 1.0), &device);
    let wplus = g.mapping(z).reshape([2, g.n_latent(), 16]);
    let image = g.synthesis(wplus.clone(), &Noise::Stored);
    assert_eq!(image.dims(), [2, 3, 16, 16]);

    let styles = g.styles(wplus.clone());
    let space = g.style_space();
    assert_eq!(styles.s().dims(), [2, space.conv_dim()]);
    assert_eq!(max_abs_diff(g.synthesis_s(styles.s(), wplus.clone(), SLayers::Conv, &Noise::Stored).unwrap(), image.clone()), 0.0);
    // The full S (conv and ToRGB, forward order) round-trips too, and its ToRGB part is used.
    let full = g.s(wplus.clone(), SLayers::ConvAndToRgb);
    assert_eq!(full.dims(), [2, space.conv_dim() + space.rgb_dim()]);
    assert_eq!(max_abs_diff(g.s(wplus.clone(), SLayers::Conv).unsqueeze(), styles.s().unsqueeze()), 0.0);
    assert_eq!(max_abs_diff(g.synthesis_s(full.clone(), wplus.clone(), SLayers::ConvAndToRgb, &Noise::Stored).unwrap(), image.clone()), 0.0);
    let to_rgb1 = space.conv[0].channels..space.conv[0].channels + space.rgb[0].channels;
    let rgb_edit = full.clone().slice_assign([0..2, to_rgb1], Tensor::ones([2, space.rgb[0].channels], &device));
    let moved = g.synthesis_s(rgb_edit, wplus.clone(), SLayers::ConvAndToRgb, &Noise::Stored).unwrap();
    assert!(max_abs_diff(moved, image.clone()) > 1e-3, "the second block of the full S is to_rgb1's style");
    assert_eq!(
        max_abs_diff(g.synthesis_full_s(styles.s(), styles.s_rgb(), &Noise::Stored).unwrap(), image.clone()),
        0.0
    );

    let synthesis = g.synthesis_with_features(&styles, &Noise::Stored);
    let sides: Vec<_> = synthesis.features.iter().map(|f| f.dims()[2]).collect();
    assert_eq!(sides, [4, 4, 8, 8, 16, 16]);
    assert_eq!(synthesis.features[5].dims(), [2, 4, 16, 16]);
    assert_eq!(max_abs_diff(synthesis.image, image.clone()), 0.0);

    // an edit of S changes the image
    let edited = styles.s() + Tensor::ones([2, space.conv_dim()], &device);
    assert!(max_abs_diff(g.synthesis_s(edited, wplus.clone(), SLayers::Conv, &Noise::Stored).unwrap(), image.clone()) > 1e-3);
    assert!(matches!(g.synthesis_s(Tensor::zeros([2, 5], &device), wplus.clone(), SLayers::Conv, &Noise::Stored), Err(Error::Invalid(_))));
    assert!(matches!(g.synthesis_s(full.slice([0..2, 0..5]), wplus, SLayers::ConvAndToRgb, &Noise::Stored), Err(Error::Invalid(_))));
}

#[test]
fn synthesis_is_differentiable() {
    // training from scratch (a later issue) needs gradients for every parameter, on both the
    // single-sample and the batched path; the stored noise maps are not trained
    let device = Device::flex().autodiff();
    let config = StyleGan2Config::new(8).with_style_dim(8).with_n_mlp(2).with_channels(Some([(4, 4), (8, 4)].into()));
    let g = config.init(&device).unwrap();
    for batch in [1, 2] {
        let z = Tensor::random([batch, 8], Distribution::Normal(0.0, 1.0), &device);
        let image = g.synthesis(g.broadcast(g.mapping(z)), &Noise::Stored);
        let grads = image.square().mean().backward();
        let nonzero = |t: Option<Tensor<1>>| t.is_some_and(|g| g.abs().sum().into_scalar::<f32>() > 0.0);
        let conv = &g.convs[0];
        assert!(
            nonzero(g.style.layers[0].weight.val().grad(&grads).map(|t| t.flatten(0, 1))),
            "mapping, batch {batch}"
        );
        assert!(nonzero(g.input.input.val().grad(&grads).map(|t| t.flatten(0, 3))), "input, batch {batch}");
        assert!(nonzero(conv.conv.weight.val().grad(&grads).map(|t| t.flatten(0, 3))), "conv weight, batch {batch}");
        assert!(nonzero(conv.conv.modulation.bias.val().grad(&grads)), "modulation, batch {batch}");
        assert!(nonzero(conv.noise.weight.val().grad(&grads)), "noise strength, batch {batch}");
        assert!(nonzero(conv.activate.bias.val().grad(&grads)), "activation bias, batch {batch}");
        assert!(nonzero(g.to_rgbs[0].bias.val().grad(&grads).map(|t| t.flatten(0, 3))), "ToRGB bias, batch {batch}");
        assert!(g.noises[1].val().grad(&grads).is_none(), "noise maps are constants");
    }
}

#[test]
fn noise_modes() {
    let device = Device::flex();
    let dir = fixtures().join("parity/stylegan2_zip_32");
    let g = stylegan2::load(&dir.join("generator.pt"), None, None, &device).unwrap().generator;
    let wplus = g.broadcast(Tensor::random([1, g.config.style_dim], Distribution::Normal(0.0, 1.0), &device));
    let stored = g.synthesis(wplus.clone(), &Noise::Stored);
    let given = Noise::Given(g.noises.iter().map(|n| n.val()).collect());
    assert_eq!(max_abs_diff(g.synthesis(wplus.clone(), &given), stored.clone()), 0.0);
    assert!(max_abs_diff(g.synthesis(wplus, &Noise::Random), stored) > 1e-3);
}

#[test]
fn single_sample_path_matches_batched() {
    // one sample modulates the conv weights, a batch scales the activations: same result
    let device = Device::flex();
    let g = fixture_generator("parity/stylegan2_zip_32/generator.pt", &device);
    let z = Tensor::random([2 * g.n_latent(), g.config.style_dim], Distribution::Normal(0.0, 1.0), &device);
    let wplus = g.mapping(z).reshape([2, g.n_latent(), g.config.style_dim]);
    let batched = g.synthesis(wplus.clone(), &Noise::Stored);
    let single = Tensor::cat((0..2).map(|b| g.synthesis(wplus.clone().narrow(0, b, 1), &Noise::Stored)).collect(), 0);
    let scale = batched.clone().abs().max().into_scalar::<f32>();
    assert!(max_abs_diff(single, batched) <= 1e-5 * scale);
}

#[test]
fn preview_is_the_skip_at_lower_resolution() {
    let device = Device::flex();
    let g = fixture_generator("parity/stylegan2_legacy_64/generator.pt", &device);
    let styles =
        g.styles(g.broadcast(Tensor::random([1, g.config.style_dim], Distribution::Normal(0.0, 1.0), &device)));
    assert_eq!(g.synthesis_preview(&styles, &Noise::Stored, 16).dims(), [1, 3, 16, 16]);
    let full = g.synthesis_styles(&styles, &Noise::Stored);
    assert_eq!(max_abs_diff(g.synthesis_preview(&styles, &Noise::Stored, 64), full), 0.0);
}

#[test]
fn config_is_inferred_from_shapes() {
    for (fixture, prefix) in [("stylegan2_zip_32", "g_ema."), ("stylegan2_legacy_64", "g_ema.")] {
        let dir = fixtures().join("parity").join(fixture);
        let manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
        let expected: StyleGan2Config = serde_json::from_value(manifest["config"].clone()).unwrap();
        let checkpoint = Checkpoint::open(&dir.join("generator.pt")).unwrap();
        assert_eq!(stylegan2::infer_config(&checkpoint, prefix).unwrap(), expected, "{fixture}");
    }
}

#[test]
fn plain_state_dict_loads_without_latent_avg() {
    let device = Device::flex();
    let loaded = stylegan2::load(&fixtures().join("stylegan2_files/plain_state_dict.pt"), None, None, &device).unwrap();
    assert!(loaded.latent_avg.is_none());
    let config = &loaded.generator.config;
    assert_eq!((config.size, config.style_dim, config.n_mlp), (8, 8, 2));
    assert_eq!(config.channels, Some([(4, 4), (8, 4)].into()));
}

#[test]
fn generator_under_a_key_prefix_loads() {
    // e4e keeps its decoder (a full generator) under `state_dict` → `decoder.`
    let device = Device::flex();
    let path = fixtures().join("stylegan2_files/e4e_like.pt");
    let checkpoint = Checkpoint::open(&path).unwrap();
    let g = stylegan2::load_generator(&checkpoint, "state_dict.decoder.", None, &device).unwrap();
    let plain = stylegan2::load(&fixtures().join("stylegan2_files/plain_state_dict.pt"), None, None, &device).unwrap();
    assert_eq!(g.config, plain.generator.config);
    let wplus = g.broadcast(Tensor::random([1, 8], Distribution::Normal(0.0, 1.0), &device));
    let image = g.synthesis(wplus.clone(), &Noise::Stored);
    assert_eq!(max_abs_diff(image, plain.generator.synthesis(wplus, &Noise::Stored)), 0.0);
}

#[test]
fn a_saved_generator_loads_back_with_the_same_outputs() {
    use deltastudio::weights::writer::Precision;
    let device = Device::flex();
    let config = StyleGan2Config::new(16).with_style_dim(8).with_n_mlp(2).with_channels(Some([(4, 8), (8, 8), (16, 4)].into()));
    let generator = config.init(&device).unwrap();
    let latent_avg = Tensor::<1>::random([8], Distribution::Normal(0.0, 1.0), &device);
    let dir = tempfile::tempdir().unwrap();
    let wplus = Tensor::<3>::random([2, config.n_latent(), 8], Distribution::Normal(0.0, 1.0), &device);
    let z = Tensor::<2>::random([2, 8], Distribution::Normal(0.0, 1.0), &device);
    let image = generator.synthesis(wplus.clone(), &Noise::Stored);
    for (precision, tolerance) in [(Precision::F32, 1e-5), (Precision::F16, 2e-2)] {
        let path = dir.path().join(format!("{precision:?}.safetensors"));
        stylegan2::save(&path, &generator, latent_avg.clone(), precision).unwrap();
        let loaded = stylegan2::load(&path, None, None, &device).unwrap();
        assert_eq!(loaded.generator.config, config, "the config is inferred back");
        let avg_gap = (loaded.latent_avg.unwrap() - latent_avg.clone()).abs().max().into_scalar::<f32>();
        assert!(avg_gap < tolerance, "{precision:?}: latent_avg {avg_gap}");
        let gap = max_abs_diff(loaded.generator.synthesis(wplus.clone(), &Noise::Stored), image.clone());
        assert!(gap < tolerance, "{precision:?}: synthesis {gap}");
        let mapped = (loaded.generator.mapping(z.clone()) - generator.mapping(z.clone())).abs().max().into_scalar::<f32>();
        assert!(mapped < tolerance, "{precision:?}: mapping {mapped}");
    }
}

fn load_error(path: &Path) -> Error {
    match stylegan2::load(path, None, None, &Device::flex()) {
        Ok(_) => panic!("{} loaded", path.display()),
        Err(e) => e,
    }
}

#[test]
fn missing_key_is_named() {
    let path = fixtures().join("stylegan2_files/missing_key.pt");
    match load_error(&path) {
        Error::CheckpointKey { path: p, key, reason } => {
            assert_eq!((p, key.as_str(), reason.as_str()), (path, "g_ema.convs.1.conv.weight", "missing"));
        }
        other => panic!("unexpected error: {other}"),
    }
}

#[test]
fn wrong_shape_is_named() {
    let path = fixtures().join("stylegan2_files/wrong_shape.pt");
    let error = load_error(&path);
    let message = error.to_string();
    assert!(
        matches!(error, Error::CheckpointKey { ref key, .. } if key == "g_ema.to_rgbs.0.conv.modulation.weight"),
        "{message}"
    );
    assert!(
        message.contains("wrong_shape.pt") && message.contains("[5, 8]") && message.contains("[4, 8]"),
        "{message}"
    );
}

#[test]
fn config_that_does_not_fit_the_file_is_an_error() {
    // a 16² config reads a subset of the 32² file; the rest is reported, like a strict load_state_dict
    let path = fixtures().join("parity/stylegan2_zip_32/generator.pt");
    let config = StyleGan2Config::new(16)
        .with_style_dim(64)
        .with_n_mlp(4)
        .with_channels(Some([(4, 32), (8, 32), (16, 16)].into()));
    match stylegan2::load(&path, None, Some(&config), &Device::flex()) {
        Err(Error::CheckpointKey { key, reason, .. }) => {
            assert_eq!(key, "g_ema.convs.4.activate.bias");
            assert!(reason.starts_with("unexpected"), "{reason}");
        }
        Err(other) => panic!("unexpected error: {other}"),
        Ok(_) => panic!("a 16² config loaded a 32² generator"),
    }
}

#[test]
fn truncated_files_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    for fixture in ["stylegan2_zip_32", "stylegan2_legacy_64"] {
        let bytes = std::fs::read(fixtures().join("parity").join(fixture).join("generator.pt")).unwrap();
        let path = dir.path().join(format!("{fixture}.pt"));
        std::fs::write(&path, &bytes[..bytes.len() * 2 / 3]).unwrap();
        let error = load_error(&path);
        assert!(matches!(error, Error::Checkpoint { .. } | Error::CheckpointKey { .. }), "{fixture}: {error}");
        assert!(error.to_string().contains(&path.display().to_string()), "{fixture}: {error}");
    }
    assert!(matches!(load_error(&dir.path().join("absent.pt")), Error::Io { .. }));
}
