//! The canvas's GPU compare view: a difference heatmap and a split view of two images, both drawn
//! by one WGSL pipeline (`shaders/difference.wgsl`) through an egui_wgpu paint callback.
//!
//! Setup: call [`install`] once with the app's wgpu render state (eframe's
//! `CreationContext::wgpu_render_state`); then [`paint_compare`] draws in any frame. Without a
//! wgpu render state (another renderer, or a test harness that did not install it),
//! [`paint_compare`] shows a short note in the rect instead of the images.
use std::collections::HashMap;
use std::sync::Arc;

use eframe::egui;
use eframe::egui_wgpu::{self, wgpu};

/// The two images a compare view shows. Change `version` whenever either image changes: the
/// textures are uploaded again only then.
#[derive(Clone)]
pub struct ComparePair {
    pub before: Arc<egui::ColorImage>,
    pub after: Arc<egui::ColorImage>,
    pub version: u64,
}

/// What the GPU compare view draws.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum GpuCompare {
    /// A heatmap of the mean absolute RGB difference (on 0..1 sRGB values) times `gain`, clamped to
    /// 0..1, through the inferno colormap: black where nothing changed, pale yellow at 1.
    Difference { gain: f32 },
    /// `before` left of `position` (a fraction of the rect's width), `after` right of it, with a
    /// thin white divider at `position`.
    Split { position: f32 },
}

/// The divider's width in points in [`GpuCompare::Split`].
pub const DIVIDER_WIDTH: f32 = 2.0;

/// Shown in place of the images when [`install`] was not given a wgpu render state.
pub const NO_WGPU_NOTE: &str = "The compare view needs the wgpu renderer";

/// Views unused for this many frames give their textures back.
const STALE_AFTER_FRAMES: u64 = 120;

const MODE_DIFFERENCE: u32 = 0;
const MODE_SPLIT: u32 = 1;

/// Creates the pipeline on the render state's device and records in `ctx` that
/// [`paint_compare`] can use it. Returns whether the GPU view is available.
///
/// The pipeline assumes eframe's default render pass: no multisampling and no depth buffer
/// (`NativeOptions::multisampling` and `depth_buffer` left at 0).
pub fn install(ctx: &egui::Context, render_state: Option<&egui_wgpu::RenderState>) -> bool {
    let Some(render_state) = render_state else {
        return false;
    };
    let resources = CompareResources::new(&render_state.device, render_state.target_format);
    render_state
        .renderer
        .write()
        .callback_resources
        .insert(resources);
    ctx.data_mut(|data| data.insert_temp(installed_id(), true));
    true
}

/// Draws `images` into `rect` as `mode` says. `uv` is the part of the images the rect shows (after
/// zoom and pan; `(0,0)-(1,1)` is the whole image). `rect` may reach beyond the visible area: it is
/// cut to the ui's clip rect and `uv` with it, so the canvas can pass the zoomed image's full rect.
pub fn paint_compare(
    ui: &mut egui::Ui,
    rect: egui::Rect,
    uv: egui::Rect,
    images: &ComparePair,
    mode: GpuCompare,
) {
    let id = ui.next_auto_id();
    ui.skip_ahead_auto_ids(1);
    let visible = rect.intersect(ui.clip_rect());
    if !visible.is_positive() {
        return;
    }
    if !ui
        .ctx()
        .data(|data| data.get_temp::<bool>(installed_id()))
        .unwrap_or(false)
    {
        ui.put(
            visible,
            egui::Label::new(egui::RichText::new(NO_WGPU_NOTE).weak()),
        );
        return;
    }
    // Map the visible part of `rect` onto the matching part of `uv`.
    let to_uv = |point: egui::Pos2| {
        let fraction = (point - rect.min) / rect.size();
        uv.min + fraction * uv.size()
    };
    let (mode_code, gain, split_points) = match mode {
        GpuCompare::Difference { gain } => (MODE_DIFFERENCE, gain, 0.0),
        GpuCompare::Split { position } => (
            MODE_SPLIT,
            0.0,
            rect.left() + position * rect.width() - visible.left(),
        ),
    };
    let callback = CompareCallback {
        view: id,
        frame: ui.ctx().cumulative_frame_nr(),
        images: images.clone(),
        uv_min: to_uv(visible.min),
        uv_max: to_uv(visible.max),
        size_points: visible.size(),
        mode: mode_code,
        gain,
        split_points,
    };
    ui.painter()
        .add(egui_wgpu::Callback::new_paint_callback(visible, callback));
}

fn installed_id() -> egui::Id {
    egui::Id::unique("deltastudio::compare_view::installed")
}

/// What one paint callback needs; everything on the GPU lives in [`CompareResources`].
struct CompareCallback {
    view: egui::Id,
    frame: u64,
    images: ComparePair,
    uv_min: egui::Pos2,
    uv_max: egui::Pos2,
    size_points: egui::Vec2,
    mode: u32,
    gain: f32,
    split_points: f32,
}

impl CompareCallback {
    /// The shader's `Params`, laid out as WGSL lays out that struct (40 bytes).
    fn params(&self, pixels_per_point: f32) -> [u8; PARAMS_SIZE] {
        let size_px = self.size_points * pixels_per_point;
        let floats = [
            self.uv_min.x,
            self.uv_min.y,
            self.uv_max.x,
            self.uv_max.y,
            size_px.x,
            size_px.y,
            self.gain,
            self.split_points * pixels_per_point,
            DIVIDER_WIDTH * pixels_per_point / 2.0,
        ];
        let mut bytes = [0u8; PARAMS_SIZE];
        for (chunk, value) in bytes.chunks_exact_mut(4).zip(floats) {
            chunk.copy_from_slice(&value.to_le_bytes());
        }
        bytes[36..40].copy_from_slice(&self.mode.to_le_bytes());
        bytes
    }
}

const PARAMS_SIZE: usize = 40;

impl egui_wgpu::CallbackTrait for CompareCallback {
    fn prepare(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        screen_descriptor: &egui_wgpu::ScreenDescriptor,
        _egui_encoder: &mut wgpu::CommandEncoder,
        callback_resources: &mut egui_wgpu::CallbackResources,
    ) -> Vec<wgpu::CommandBuffer> {
        let Some(resources) = callback_resources.get_mut::<CompareResources>() else {
            return Vec::new();
        };
        resources
            .views
            .retain(|_, view| view.last_frame + STALE_AFTER_FRAMES >= self.frame);
        resources.prepare_view(device, queue, self);
        if let Some(view) = resources.views.get(&self.view) {
            queue.write_buffer(
                &view.params,
                0,
                &self.params(screen_descriptor.pixels_per_point),
            );
        }
        Vec::new()
    }

    fn paint(
        &self,
        _info: egui::PaintCallbackInfo,
        render_pass: &mut wgpu::RenderPass<'static>,
        callback_resources: &egui_wgpu::CallbackResources,
    ) {
        let Some(resources) = callback_resources.get::<CompareResources>() else {
            return;
        };
        let Some(view) = resources.views.get(&self.view) else {
            return;
        };
        render_pass.set_pipeline(&resources.pipeline);
        render_pass.set_bind_group(0, &view.bind_group, &[]);
        render_pass.draw(0..4, 0..1);
    }
}

/// The pipeline, shared by all compare views, and each view's textures and parameters.
struct CompareResources {
    pipeline: wgpu::RenderPipeline,
    bind_group_layout: wgpu::BindGroupLayout,
    sampler: wgpu::Sampler,
    views: HashMap<egui::Id, ViewResources>,
}

struct ViewResources {
    version: u64,
    before: wgpu::Texture,
    after: wgpu::Texture,
    params: wgpu::Buffer,
    bind_group: wgpu::BindGroup,
    last_frame: u64,
}

impl CompareResources {
    fn new(device: &wgpu::Device, target_format: wgpu::TextureFormat) -> Self {
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("compare_view"),
            source: wgpu::ShaderSource::Wgsl(include_str!("../../shaders/difference.wgsl").into()),
        });
        let image_entry = |binding| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::FRAGMENT,
            ty: wgpu::BindingType::Texture {
                multisampled: false,
                sample_type: wgpu::TextureSampleType::Float { filterable: true },
                view_dimension: wgpu::TextureViewDimension::D2,
            },
            count: None,
        };
        let bind_group_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("compare_view"),
            entries: &[
                wgpu::BindGroupLayoutEntry {
                    binding: 0,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: false,
                        min_binding_size: wgpu::BufferSize::new(PARAMS_SIZE as u64),
                    },
                    count: None,
                },
                image_entry(1),
                image_entry(2),
                wgpu::BindGroupLayoutEntry {
                    binding: 3,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Sampler(wgpu::SamplerBindingType::Filtering),
                    count: None,
                },
            ],
        });
        let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("compare_view"),
            bind_group_layouts: &[Some(&bind_group_layout)],
            immediate_size: 0,
        });
        let pipeline = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("compare_view"),
            layout: Some(&layout),
            vertex: wgpu::VertexState {
                module: &module,
                entry_point: Some("vs_main"),
                compilation_options: wgpu::PipelineCompilationOptions::default(),
                buffers: &[],
            },
            primitive: wgpu::PrimitiveState {
                topology: wgpu::PrimitiveTopology::TriangleStrip,
                ..Default::default()
            },
            depth_stencil: None,
            multisample: wgpu::MultisampleState::default(),
            fragment: Some(wgpu::FragmentState {
                module: &module,
                // Like egui's own pipeline: an sRGB target encodes on write, so it gets linear values.
                entry_point: Some(if target_format.is_srgb() {
                    "fs_linear_framebuffer"
                } else {
                    "fs_gamma_framebuffer"
                }),
                compilation_options: wgpu::PipelineCompilationOptions::default(),
                targets: &[Some(wgpu::ColorTargetState {
                    format: target_format,
                    blend: Some(wgpu::BlendState::PREMULTIPLIED_ALPHA_BLENDING),
                    write_mask: wgpu::ColorWrites::ALL,
                })],
            }),
            multiview_mask: None,
            cache: None,
        });
        // Nearest when magnified, so zooming in shows the pixels (and their differences) crisply.
        let sampler = device.create_sampler(&wgpu::SamplerDescriptor {
            label: Some("compare_view"),
            mag_filter: wgpu::FilterMode::Nearest,
            min_filter: wgpu::FilterMode::Linear,
            ..Default::default()
        });
        CompareResources {
            pipeline,
            bind_group_layout,
            sampler,
            views: HashMap::new(),
        }
    }

    /// Makes sure the view has textures holding the callback's images; uploads only on a new
    /// version, and reallocates only when a size changes.
    fn prepare_view(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        callback: &CompareCallback,
    ) {
        let images = &callback.images;
        let max_side = device.limits().max_texture_dimension_2d as usize;
        if [&images.before, &images.after]
            .iter()
            .any(|image| image.size.iter().any(|&side| side == 0 || side > max_side))
        {
            log::warn!(
                "compare view: image sizes {:?} and {:?} do not fit a texture",
                images.before.size,
                images.after.size
            );
            self.views.remove(&callback.view);
            return;
        }
        if let Some(view) = self.views.get_mut(&callback.view) {
            view.last_frame = callback.frame;
            if view.version == images.version {
                return;
            }
            if texture_size(&view.before) == images.before.size
                && texture_size(&view.after) == images.after.size
            {
                write_image(queue, &view.before, &images.before);
                write_image(queue, &view.after, &images.after);
                view.version = images.version;
                return;
            }
        }
        let before = create_image_texture(device, queue, &images.before);
        let after = create_image_texture(device, queue, &images.after);
        let params = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("compare_view params"),
            size: PARAMS_SIZE as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("compare_view"),
            layout: &self.bind_group_layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: params.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: wgpu::BindingResource::TextureView(
                        &before.create_view(&Default::default()),
                    ),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: wgpu::BindingResource::TextureView(
                        &after.create_view(&Default::default()),
                    ),
                },
                wgpu::BindGroupEntry {
                    binding: 3,
                    resource: wgpu::BindingResource::Sampler(&self.sampler),
                },
            ],
        });
        let view = ViewResources {
            version: images.version,
            before,
            after,
            params,
            bind_group,
            last_frame: callback.frame,
        };
        self.views.insert(callback.view, view);
    }
}

fn texture_size(texture: &wgpu::Texture) -> [usize; 2] {
    [texture.width() as usize, texture.height() as usize]
}

/// A texture holding egui's sRGB-encoded bytes as they are (Rgba8Unorm, not Rgba8UnormSrgb): the
/// shader works on the encoded values, as egui's own shader does.
fn create_image_texture(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    image: &egui::ColorImage,
) -> wgpu::Texture {
    let texture = device.create_texture(&wgpu::TextureDescriptor {
        label: Some("compare_view image"),
        size: extent(image),
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format: wgpu::TextureFormat::Rgba8Unorm,
        usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
        view_formats: &[],
    });
    write_image(queue, &texture, image);
    texture
}

fn write_image(queue: &wgpu::Queue, texture: &wgpu::Texture, image: &egui::ColorImage) {
    queue.write_texture(
        texture.as_image_copy(),
        image.as_raw(),
        wgpu::TexelCopyBufferLayout {
            offset: 0,
            bytes_per_row: Some(4 * image.size[0] as u32),
            rows_per_image: Some(image.size[1] as u32),
        },
        extent(image),
    );
}

fn extent(image: &egui::ColorImage) -> wgpu::Extent3d {
    wgpu::Extent3d {
        width: image.size[0] as u32,
        height: image.size[1] as u32,
        depth_or_array_layers: 1,
    }
}
