//! `deltastudio clip`: cosine similarities between images and texts, and the softmax over the
//! texts for each image (CLIP's zero-shot classification).
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use burn::prelude::*;
use deltastudio::device::{self, DevicePreference};
use deltastudio::models::clip::preprocess::clip_pixels;
use deltastudio::models::clip::tokenizer::ClipTokenizer;
use deltastudio::weights::clip::load_clip;
use deltastudio::weights::registry::WeightsPath;

/// The files `deltastudio clip` looks for when `--model` is not given, in order.
const DEFAULT_FILES: [&str; 2] = ["ViT-B-32.safetensors", "clip-vit-base-patch32/model.safetensors"];

#[derive(clap::Args)]
pub struct Args {
    /// Images to compare (PNG, JPEG, …).
    #[arg(long = "image", value_name = "PATH", required = true, num_args = 1..)]
    images: Vec<PathBuf>,
    /// Texts to compare with every image.
    #[arg(long = "text", value_name = "TEXT", required = true, num_args = 1..)]
    texts: Vec<String>,
    /// A CLIP checkpoint: an OpenAI/open_clip state dict (.safetensors, .pt, .pth) or a
    /// transformers CLIPModel model.safetensors with its config.json beside it. Default: the
    /// first of ViT-B-32.safetensors, clip-vit-base-patch32/model.safetensors in the weights folders.
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
}

pub fn run(args: Args, device_preference: DevicePreference, weights: &WeightsPath) -> anyhow::Result<()> {
    let model_path = match args.model {
        Some(path) => path,
        None => find_default(weights)?,
    };
    let selected = device::select(device_preference)?;
    let device = selected.device.clone();
    println!("device: {} ({})", selected.label, selected.reason);

    let start = Instant::now();
    let (model, config) = load_clip(&model_path, None, &device)?;
    let tokenizer = ClipTokenizer::new()?;
    let load_time = start.elapsed();
    println!("model:  {} (loaded in {:.2} s)", model_path.display(), load_time.as_secs_f64());

    let size = config.vision.image_size;
    let mut pixels = Vec::with_capacity(args.images.len());
    for path in &args.images {
        let image = image::open(path).with_context(|| format!("cannot read image {}", path.display()))?;
        pixels.push(clip_pixels(&image.to_rgb8(), size, &device));
    }
    let context = config.text.context_length;
    let ids = tokenizer.tokenize_batch(&args.texts, context)?;
    if let Some(&id) = ids.iter().find(|&&id| id < 0 || id as usize >= config.text.vocab_size) {
        bail!(
            "{}: its vocabulary has {} tokens, but the CLIP tokenizer produced id {id}; this is not a model for the CLIP BPE tokenizer",
            model_path.display(),
            config.text.vocab_size
        );
    }
    let tokens = Tensor::<2, Int>::from_data(burn::tensor::TensorData::new(ids, [args.texts.len(), context]), &device);

    let start = Instant::now();
    let image_features = model.encode_image_normalized(Tensor::stack(pixels, 0));
    let image_features = Tensor::<2>::from_data(image_features.into_data(), &device); // waits for the device
    let image_time = start.elapsed();
    let start = Instant::now();
    let text_features = model.encode_text_normalized(tokens);
    let text_features = Tensor::<2>::from_data(text_features.into_data(), &device);
    let text_time = start.elapsed();
    println!(
        "encode: {} image(s) in {:.3} s, {} text(s) in {:.3} s",
        args.images.len(),
        image_time.as_secs_f64(),
        args.texts.len(),
        text_time.as_secs_f64()
    );

    let cosine = image_features.matmul(text_features.transpose());
    let scale = model.logit_scale();
    let probabilities = burn::tensor::activation::softmax(cosine.clone() * scale, 1);
    let cosine: Vec<f32> = cosine.into_data().convert::<f32>().try_into_vec().context("similarities")?;
    let probabilities: Vec<f32> = probabilities.into_data().convert::<f32>().try_into_vec().context("probabilities")?;

    let names: Vec<String> = args.images.iter().map(|p| display_name(p)).collect();
    println!("\ncosine similarity");
    print_table(&names, &args.texts, &cosine, |v| format!("{v:.4}"));
    println!("\nsoftmax over texts (logit scale {scale:.2})");
    print_table(&names, &args.texts, &probabilities, |v| format!("{:.1}%", 100.0 * v));
    Ok(())
}

fn find_default(weights: &WeightsPath) -> anyhow::Result<PathBuf> {
    if let Some(found) = DEFAULT_FILES.iter().find_map(|f| weights.find(f)) {
        return Ok(found);
    }
    let dirs: Vec<String> = weights.dirs.iter().map(|(origin, dir)| format!("  {} ({origin})", dir.display())).collect();
    bail!(
        "no CLIP weights found. Put one of\n  {}  (OpenAI ViT-B/32 weights with open_clip names; see `deltastudio models`)\n  \
         {}  (from https://huggingface.co/openai/clip-vit-base-patch32, with its config.json)\n\
         into one of these folders:\n{}\nor pass --model FILE.",
        DEFAULT_FILES[0],
        DEFAULT_FILES[1],
        dirs.join("\n")
    )
}

fn display_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| path.display().to_string())
}

/// Rows: images; columns: texts (shortened to fit).
fn print_table(rows: &[String], columns: &[String], values: &[f32], format: impl Fn(f32) -> String) {
    let clip = |s: &str, n: usize| if s.chars().count() > n { format!("{}…", s.chars().take(n - 1).collect::<String>()) } else { s.to_string() };
    let row_width = rows.iter().map(|r| r.chars().count()).max().unwrap_or(0).min(32);
    let headers: Vec<String> = columns.iter().map(|c| clip(c, 18)).collect();
    let widths: Vec<usize> = headers.iter().map(|h| h.chars().count().max(8)).collect();
    print!("{:row_width$}", "");
    for (h, w) in headers.iter().zip(&widths) {
        print!("  {h:>w$}");
    }
    println!();
    for (i, row) in rows.iter().enumerate() {
        print!("{:row_width$}", clip(row, 32));
        for (j, w) in widths.iter().enumerate() {
            print!("  {:>w$}", format(values[i * columns.len() + j]));
        }
        println!();
    }
}
