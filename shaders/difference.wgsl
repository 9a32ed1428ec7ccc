// The canvas's GPU compare view: one pipeline draws both compare modes of two images.
//
// - MODE_DIFFERENCE: a heatmap of the per-pixel difference (as in the DeltaEdit paper's Fig. 17):
//   the mean of |after - before| over R, G and B, times `gain`, clamped to [0, 1], through the
//   inferno colormap (black where nothing changed, pale yellow for the largest change).
// - MODE_SPLIT: `before` left of the divider, `after` right of it, with a thin white divider.
//
// The textures hold egui's bytes (sRGB-encoded, premultiplied alpha) as Rgba8Unorm, so the
// difference is taken on the 8-bit values people see, not on linear light.

const MODE_DIFFERENCE: u32 = 0u;
const MODE_SPLIT: u32 = 1u;

const DIVIDER_COLOUR: vec4<f32> = vec4<f32>(1.0, 1.0, 1.0, 1.0);

struct Params {
    uv_min: vec2<f32>,        // image uv shown at the quad's top-left corner
    uv_max: vec2<f32>,        // image uv shown at its bottom-right corner
    size_px: vec2<f32>,       // the quad's size in physical pixels
    gain: f32,                // difference mode: scales the difference before the colormap
    split_px: f32,            // split mode: divider position, pixels from the quad's left edge
    divider_half_px: f32,     // split mode: half the divider's width in pixels
    mode: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var before_texture: texture_2d<f32>;
@group(0) @binding(2) var after_texture: texture_2d<f32>;
@group(0) @binding(3) var image_sampler: sampler;

struct VertexOutput {
    @builtin(position) position: vec4<f32>,
    @location(0) local: vec2<f32>,   // 0..1 across the quad, origin top-left
}

// A triangle strip of 4 vertices covering the viewport, which egui sets to the callback's rect.
@vertex
fn vs_main(@builtin(vertex_index) index: u32) -> VertexOutput {
    let local = vec2<f32>(f32(index & 1u), f32(index >> 1u));
    var out: VertexOutput;
    out.position = vec4<f32>(local.x * 2.0 - 1.0, 1.0 - local.y * 2.0, 0.0, 1.0);
    out.local = local;
    return out;
}

// Matt Zucker's degree-6 minimax polynomial fit of matplotlib's inferno colormap
// (https://www.shadertoy.com/view/WlfXRN, CC0), in Horner form: short, and close to matplotlib's
// 256-entry table (tests/compare_view.rs checks entries). The ends overshoot [0, 1] a little, hence
// the clamp.
fn inferno(t: f32) -> vec3<f32> {
    let c0 = vec3<f32>(0.0002189403691192265, 0.001651004631001012, -0.01948089843709184);
    let c1 = vec3<f32>(0.1065134194856116, 0.5639564367884091, 3.932712388889277);
    let c2 = vec3<f32>(11.60249308247187, -3.972853965665698, -15.9423941062914);
    let c3 = vec3<f32>(-41.70399613139459, 17.43639888205313, 44.35414519872813);
    let c4 = vec3<f32>(77.162935699427, -33.40235894210092, -81.80730925738993);
    let c5 = vec3<f32>(-71.31942824499214, 32.62606426397723, 73.20951985803202);
    let c6 = vec3<f32>(25.13112622477341, -12.24266895238567, -23.07032500287172);
    let colour = c0 + t * (c1 + t * (c2 + t * (c3 + t * (c4 + t * (c5 + t * c6)))));
    return clamp(colour, vec3<f32>(0.0), vec3<f32>(1.0));
}

// The colour in gamma space (what egui's own shader outputs), premultiplied alpha.
fn compare_colour(local: vec2<f32>) -> vec4<f32> {
    let uv = mix(params.uv_min, params.uv_max, local);
    // Both textures are sampled before any branch: sampling needs uniform control flow.
    let before = textureSample(before_texture, image_sampler, uv);
    let after = textureSample(after_texture, image_sampler, uv);
    if params.mode == MODE_DIFFERENCE {
        let difference = dot(abs(after.rgb - before.rgb), vec3<f32>(1.0 / 3.0));
        return vec4<f32>(inferno(clamp(difference * params.gain, 0.0, 1.0)), 1.0);
    }
    let x_px = local.x * params.size_px.x;
    if abs(x_px - params.split_px) < params.divider_half_px {
        return DIVIDER_COLOUR;
    }
    return select(after, before, x_px < params.split_px);
}

// 0-1 linear from 0-1 sRGB gamma (the same curve egui's shader uses).
fn linear_from_gamma(srgb: vec3<f32>) -> vec3<f32> {
    let lower = srgb / vec3<f32>(12.92);
    let higher = pow((srgb + vec3<f32>(0.055)) / vec3<f32>(1.055), vec3<f32>(2.4));
    return select(higher, lower, srgb < vec3<f32>(0.04045));
}

// For the usual Rgba8Unorm/Bgra8Unorm framebuffers egui prefers: they take gamma values as they are.
@fragment
fn fs_gamma_framebuffer(in: VertexOutput) -> @location(0) vec4<f32> {
    return compare_colour(in.local);
}

// For sRGB framebuffers, which encode on write: hand them linear values.
@fragment
fn fs_linear_framebuffer(in: VertexOutput) -> @location(0) vec4<f32> {
    let colour = compare_colour(in.local);
    return vec4<f32>(linear_from_gamma(colour.rgb), colour.a);
}
