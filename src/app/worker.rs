//! The model thread: requests in, images out.
//!
//! The UI never waits on it. Pending requests are coalesced before each piece of work: only the
//! newest render, the newest inversion and the newest model load survive, so a fast slider drag
//! renders its latest value instead of queueing every intermediate one.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use burn::prelude::Device;
use image::RgbImage;

use super::state::EditSlot;
use crate::engine::composite::CompositeOptions;
use crate::engine::delta_space::Domain;
use crate::engine::gan::{Method, TextEdit};
use crate::engine::models::GanModels;
use crate::engine::recipe::ModelFile;
use crate::engine::session::{EditSession, EditStack, InversionSteps};
use crate::weights::registry::WeightsPath;

pub enum Request {
    /// Loads the GAN-path models of `domain`; the current image is inverted again with them.
    LoadModels { weights: WeightsPath, domain: Domain },
    Invert { image_id: u64, image: Arc<RgbImage>, steps: InversionSteps },
    Render { generation: u64, stack: EditStack },
    /// k images from edit A (λ = 0) to edit B (λ = 1) of `stack`'s blend.
    Frames { stack: EditStack, count: usize },
    /// The strength for `edit` on the current image, scored as shown (`EditSession::fit_strength`).
    FitStrength { slot: EditSlot, edit: TextEdit, shown: Option<CompositeOptions> },
}

pub enum Response {
    ModelsLoaded { domain: Domain, files: Vec<ModelFile>, elapsed: Duration },
    Inverted { image_id: u64, reconstruction: RgbImage, elapsed: Duration },
    Rendered { generation: u64, image: RgbImage, elapsed: Duration },
    Frames { frames: Vec<RgbImage> },
    /// `edit` (as asked for) is best at `strength` on the current image.
    StrengthFitted { slot: EditSlot, edit: TextEdit, strength: f32 },
    Failed { task: Task, message: String },
}

/// What a failure or a progress report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    LoadModels,
    Invert,
    Render,
    Frames,
    FitStrength,
}

impl Task {
    pub fn describe(self) -> &'static str {
        match self {
            Task::LoadModels => "Loading models",
            Task::Invert => "Inverting the image",
            Task::Render => "Rendering the edit",
            Task::Frames => "Rendering interpolation frames",
            Task::FitStrength => "Fitting the strength",
        }
    }
}

/// The running task, for the status bar's progress.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    pub task: Task,
    /// Steps done and total, when the task counts them.
    pub steps: Option<(usize, usize)>,
    pub started: Instant,
}

/// The UI's handle on the model thread.
pub struct Worker {
    requests: Sender<Request>,
    responses: Receiver<Response>,
    progress: Arc<Mutex<Option<Progress>>>,
    cancel: Arc<AtomicBool>,
    /// Set on the first frame, so the worker can wake the UI when a result arrives.
    repaint: Arc<OnceLock<egui::Context>>,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    pub fn spawn(device: Device) -> Worker {
        let (requests, inbox) = channel();
        let (outbox, responses) = channel();
        let progress = Arc::new(Mutex::new(None));
        let cancel = Arc::new(AtomicBool::new(false));
        let repaint = Arc::new(OnceLock::new());
        let mut thread_state = ModelThread {
            device,
            inbox,
            outbox,
            progress: progress.clone(),
            cancel: cancel.clone(),
            repaint: repaint.clone(),
            models: None,
            image: None,
            session: None,
        };
        let thread = std::thread::Builder::new()
            .name("deltastudio-models".into())
            .spawn(move || thread_state.run())
            .expect("spawning the model thread");
        Worker { requests, responses, progress, cancel, repaint, thread: Some(thread) }
    }

    pub fn set_repaint_context(&self, ctx: &egui::Context) {
        let _ = self.repaint.set(ctx.clone());
    }

    pub fn send(&self, request: Request) {
        // The thread only stops when the Worker is dropped, so the channel is open.
        let _ = self.requests.send(request);
    }

    pub fn try_recv(&self) -> Option<Response> {
        self.responses.try_recv().ok()
    }

    pub fn progress(&self) -> Option<Progress> {
        *self.progress.lock().expect("progress lock")
    }

    /// Asks the running task to stop at its next step.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::SeqCst);
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Closing the request channel ends the thread's loop; wait so no work outlives the app.
        let (closed, _) = channel();
        self.requests = closed;
        self.cancel();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct ModelThread {
    device: Device,
    inbox: Receiver<Request>,
    outbox: Sender<Response>,
    progress: Arc<Mutex<Option<Progress>>>,
    cancel: Arc<AtomicBool>,
    repaint: Arc<OnceLock<egui::Context>>,
    models: Option<Arc<GanModels>>,
    /// The last image asked for, kept to invert it again when the models change.
    image: Option<(u64, Arc<RgbImage>, InversionSteps)>,
    session: Option<EditSession>,
}

/// The requests waiting at one moment, newest of each kind.
#[derive(Default)]
struct Pending {
    load: Option<(WeightsPath, Domain)>,
    invert: Option<(u64, Arc<RgbImage>, InversionSteps)>,
    render: Option<(u64, EditStack)>,
    frames: Option<(EditStack, usize)>,
    fit: Option<(EditSlot, TextEdit, Option<CompositeOptions>)>,
}

impl Pending {
    fn add(&mut self, request: Request) {
        match request {
            Request::LoadModels { weights, domain } => self.load = Some((weights, domain)),
            Request::Invert { image_id, image, steps } => self.invert = Some((image_id, image, steps)),
            Request::Render { generation, stack } => self.render = Some((generation, stack)),
            Request::Frames { stack, count } => self.frames = Some((stack, count)),
            Request::FitStrength { slot, edit, shown } => self.fit = Some((slot, edit, shown)),
        }
    }
}

impl ModelThread {
    fn run(&mut self) {
        while let Ok(first) = self.inbox.recv() {
            let mut pending = Pending::default();
            pending.add(first);
            loop {
                match self.inbox.try_recv() {
                    Ok(request) => pending.add(request),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => return,
                }
            }
            self.cancel.store(false, Ordering::SeqCst);
            if let Some((weights, domain)) = pending.load {
                self.load(&weights, domain);
                if pending.invert.is_none() {
                    pending.invert = self.image.clone();
                }
            }
            if let Some((image_id, image, steps)) = pending.invert {
                self.image = Some((image_id, image.clone(), steps));
                self.invert(image_id, &image, steps);
            }
            if let Some((slot, edit, shown)) = pending.fit {
                self.fit_strength(slot, edit, shown);
            }
            if let Some((generation, stack)) = pending.render {
                self.render(generation, &stack);
            }
            if let Some((stack, count)) = pending.frames {
                self.frames(&stack, count);
            }
        }
    }

    fn send(&self, response: Response) {
        let _ = self.outbox.send(response);
        if let Some(ctx) = self.repaint.get() {
            ctx.request_repaint();
        }
    }

    fn set_progress(&self, progress: Option<Progress>) {
        *self.progress.lock().expect("progress lock") = progress;
        if let Some(ctx) = self.repaint.get() {
            ctx.request_repaint();
        }
    }

    fn fail(&self, task: Task, message: String) {
        self.send(Response::Failed { task, message });
    }

    fn load(&mut self, weights: &WeightsPath, domain: Domain) {
        let started = Instant::now();
        self.set_progress(Some(Progress { task: Task::LoadModels, steps: None, started }));
        self.session = None;
        self.models = None;
        let loaded = GanModels::load(weights, domain, Method::DeltaEdit, &self.device)
            .and_then(|models| Ok((ModelFile::hash_all(&models.base.paths)?, models)));
        match loaded {
            Ok((files, models)) => {
                self.models = Some(Arc::new(models));
                self.send(Response::ModelsLoaded { domain, files, elapsed: started.elapsed() });
            }
            Err(e) => self.fail(Task::LoadModels, format!("the {} models could not be loaded: {e}", domain_name(domain))),
        }
        self.set_progress(None);
    }

    fn invert(&mut self, image_id: u64, image: &RgbImage, steps: InversionSteps) {
        let Some(models) = self.models.clone() else { return };
        let started = Instant::now();
        self.set_progress(Some(Progress { task: Task::Invert, steps: (steps.total() > 0).then_some((0, steps.total())), started }));
        self.session = None;
        let progress = self.progress.clone();
        let cancel = self.cancel.clone();
        let repaint = self.repaint.clone();
        let mut report = |done: usize| {
            *progress.lock().expect("progress lock") =
                Some(Progress { task: Task::Invert, steps: Some((done, steps.total())), started });
            if let Some(ctx) = repaint.get() {
                ctx.request_repaint();
            }
            !cancel.load(Ordering::SeqCst)
        };
        // Cancelling refinement or tuning keeps the encoder's inversion (milliseconds) rather than none.
        let session = match EditSession::refined_with_progress(models.clone(), image, steps, &self.device, &mut report) {
            Err(crate::Error::Cancelled) => EditSession::new(models, image, &self.device),
            other => other,
        };
        let result = session.and_then(|mut session| Ok((session.render(&EditStack::default())?, session)));
        match result {
            Ok((reconstruction, session)) => {
                self.session = Some(session);
                self.send(Response::Inverted { image_id, reconstruction, elapsed: started.elapsed() });
            }
            Err(e) => self.fail(Task::Invert, e.to_string()),
        }
        self.set_progress(None);
    }

    fn render(&mut self, generation: u64, stack: &EditStack) {
        let Some(session) = self.session.as_mut() else { return };
        let started = Instant::now();
        match session.render(stack) {
            Ok(image) => self.send(Response::Rendered { generation, image, elapsed: started.elapsed() }),
            Err(e) => self.fail(Task::Render, e.to_string()),
        }
    }

    fn fit_strength(&mut self, slot: EditSlot, edit: TextEdit, shown: Option<CompositeOptions>) {
        let Some(session) = self.session.as_mut() else { return };
        let started = Instant::now();
        *self.progress.lock().expect("progress lock") = Some(Progress { task: Task::FitStrength, steps: None, started });
        let result = session.fit_strength(&edit, shown.as_ref());
        self.set_progress(None);
        match result {
            Ok(strength) => self.send(Response::StrengthFitted { slot, edit, strength }),
            Err(e) => self.fail(Task::FitStrength, e.to_string()),
        }
    }

    fn frames(&mut self, stack: &EditStack, count: usize) {
        let Some(session) = self.session.as_mut() else { return };
        let started = Instant::now();
        *self.progress.lock().expect("progress lock") = Some(Progress { task: Task::Frames, steps: None, started });
        let result = session.interpolation_frames(stack, count);
        self.set_progress(None);
        match result {
            Ok(frames) => self.send(Response::Frames { frames }),
            Err(e) => self.fail(Task::Frames, e.to_string()),
        }
    }
}

pub fn domain_name(domain: Domain) -> &'static str {
    match domain {
        Domain::Builtin => "built-in",
        Domain::Ffhq => "official FFHQ",
    }
}
