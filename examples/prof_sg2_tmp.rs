use std::time::Instant;
use burn::prelude::*;
use burn::tensor::Distribution;
use deltastudio::models::stylegan2::StyleGan2Config;

fn main() {
    let d = Device::flex();
    let size: usize = std::env::args().nth(1).map(|s| s.parse().unwrap()).unwrap_or(1024);
    let g = StyleGan2Config::new(size).init(&d).unwrap();
    let w = g.mapping(Tensor::random([1, 512], Distribution::Normal(0.0, 1.0), &d));
    let styles = g.styles(g.broadcast(w));
    let sync = |t: &Tensor<4>| { let _ = t.clone().sum().into_scalar::<f32>(); };
    for round in 0..2 {
        let total = Instant::now();
        let mut x = g.input.forward(1);
        let mut times = vec![];
        let t0 = Instant::now();
        x = g.conv1.forward(x, styles.conv[0].clone(), g.noises[0].val()); sync(&x);
        times.push(("conv1".to_string(), t0.elapsed()));
        let t0 = Instant::now();
        let mut skip = g.to_rgb1.forward(x.clone(), styles.rgb[0].clone(), None); sync(&skip);
        times.push(("to_rgb1".to_string(), t0.elapsed()));
        for (j, to_rgb) in g.to_rgbs.iter().enumerate() {
            for i in [2 * j + 1, 2 * j + 2] {
                let t0 = Instant::now();
                x = g.convs[i - 1].forward(x, styles.conv[i].clone(), g.noises[i].val()); sync(&x);
                times.push((format!("convs.{} {:?}", i - 1, x.dims()), t0.elapsed()));
            }
            let t0 = Instant::now();
            skip = to_rgb.forward(x.clone(), styles.rgb[j + 1].clone(), Some(skip)); sync(&skip);
            times.push((format!("to_rgbs.{j}"), t0.elapsed()));
        }
        if round == 1 {
            for (n, t) in &times { println!("{n:40} {:8.1} ms", t.as_secs_f64() * 1e3); }
            println!("total {:.1} ms", total.elapsed().as_secs_f64() * 1e3);
        }
    }
}
