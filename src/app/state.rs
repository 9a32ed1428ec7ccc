//! What the user is editing, and its history.
//!
//! `Document` is the undoable part: the edit stack and the two-edit interpolation. Panels change it
//! freely; `History::settle` records a step once an interaction has ended (pointer released, no
//! text field focused), so a slider drag or a typed prompt is one undo step, not one per frame.
use serde::{Deserialize, Serialize};

use crate::engine::composite::CompositeOptions;
use crate::engine::gan::TextEdit;
use crate::engine::session::{Blend, EditStack, StackedEdit};

/// One edit as the panel shows it. An empty source means the domain's neutral prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EditEntry {
    pub source: String,
    pub target: String,
    pub strength: f32,
    pub beta: f32,
    pub enabled: bool,
}

impl EditEntry {
    pub fn new(target: &str, beta: f32) -> EditEntry {
        EditEntry { source: String::new(), target: target.into(), strength: 1.0, beta, enabled: true }
    }

    /// The engine's edit, or `None` while the target is still empty.
    pub(super) fn text_edit(&self) -> Option<TextEdit> {
        let target = self.target.trim();
        (!target.is_empty()).then(|| TextEdit {
            source: Some(self.source.trim()).filter(|s| !s.is_empty()).map(str::to_string),
            target: target.to_string(),
            strength: self.strength,
            beta: self.beta,
        })
    }

    fn from_text_edit(edit: &TextEdit, enabled: bool) -> EditEntry {
        EditEntry {
            source: edit.source.clone().unwrap_or_default(),
            target: edit.target.clone(),
            strength: edit.strength,
            beta: edit.beta,
            enabled,
        }
    }
}

/// Which edit of the document a request is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditSlot {
    Stacked(usize),
    BlendA,
    BlendB,
}

/// Two edits and the position λ between them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interpolation {
    pub enabled: bool,
    pub a: EditEntry,
    pub b: EditEntry,
    pub lambda: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    pub edits: Vec<EditEntry>,
    pub interpolation: Interpolation,
    /// Show the input wherever the edits change nothing (`EditStack::keep_unedited`).
    #[serde(default)]
    pub keep_unedited: bool,
}

impl Document {
    pub fn new(beta: f32) -> Document {
        Document {
            edits: vec![EditEntry::new("", beta)],
            interpolation: Interpolation {
                enabled: false,
                a: EditEntry::new("", beta),
                b: EditEntry::new("", beta),
                lambda: 0.5,
            },
            keep_unedited: false,
        }
    }

    /// How the result keeps the input's unedited pixels, when it does.
    pub fn keep_unedited_options(&self) -> Option<CompositeOptions> {
        self.keep_unedited.then(CompositeOptions::default)
    }

    /// What the engine renders: enabled edits with a target, and the blend when both ends have one.
    pub fn stack(&self) -> EditStack {
        let edits = self
            .edits
            .iter()
            .filter(|e| e.enabled)
            .filter_map(|e| e.text_edit())
            .map(|edit| StackedEdit { edit, enabled: true })
            .collect();
        let i = &self.interpolation;
        let blend = match (i.enabled, i.a.text_edit(), i.b.text_edit()) {
            (true, Some(a), Some(b)) => Some(Blend { a, b, lambda: i.lambda }),
            _ => None,
        };
        EditStack { edits, blend, keep_unedited: self.keep_unedited_options() }
    }

    pub fn entry_mut(&mut self, slot: EditSlot) -> Option<&mut EditEntry> {
        match slot {
            EditSlot::Stacked(i) => self.edits.get_mut(i),
            EditSlot::BlendA => Some(&mut self.interpolation.a),
            EditSlot::BlendB => Some(&mut self.interpolation.b),
        }
    }

    /// The document that renders `stack` (a recipe being reopened).
    pub fn from_stack(stack: &EditStack, beta: f32) -> Document {
        let mut document = Document::new(beta);
        if !stack.edits.is_empty() {
            document.edits = stack.edits.iter().map(|e| EditEntry::from_text_edit(&e.edit, e.enabled)).collect();
        }
        if let Some(blend) = &stack.blend {
            document.interpolation = Interpolation {
                enabled: true,
                a: EditEntry::from_text_edit(&blend.a, true),
                b: EditEntry::from_text_edit(&blend.b, true),
                lambda: blend.lambda,
            };
        }
        document.keep_unedited = stack.keep_unedited.is_some();
        document
    }
}

/// Undo/redo over whole documents (they are a few hundred bytes).
#[derive(Debug, Clone)]
pub struct History {
    /// The document as of the last recorded step.
    settled: Document,
    undo: Vec<Document>,
    redo: Vec<Document>,
}

/// How many steps undo goes back.
const HISTORY_LIMIT: usize = 200;

impl History {
    pub fn new(document: &Document) -> History {
        History { settled: document.clone(), undo: Vec::new(), redo: Vec::new() }
    }

    /// Records `document` as a new step if it changed since the last one. Call when no interaction
    /// is in progress.
    pub fn settle(&mut self, document: &Document) {
        if *document != self.settled {
            let previous = std::mem::replace(&mut self.settled, document.clone());
            self.undo.push(previous);
            if self.undo.len() > HISTORY_LIMIT {
                self.undo.remove(0);
            }
            self.redo.clear();
        }
    }

    /// Steps back; an unsettled change counts as the newest step.
    pub fn undo(&mut self, document: &mut Document) -> bool {
        self.settle(document);
        let Some(previous) = self.undo.pop() else { return false };
        self.redo.push(std::mem::replace(&mut self.settled, previous.clone()));
        *document = previous;
        true
    }

    pub fn redo(&mut self, document: &mut Document) -> bool {
        self.settle(document);
        let Some(next) = self.redo.pop() else { return false };
        self.undo.push(std::mem::replace(&mut self.settled, next.clone()));
        *document = next;
        true
    }

    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }

    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_skips_empty_and_disabled_edits() {
        let mut document = Document::new(0.05);
        document.edits[0].target = "a face with red hair".into();
        document.edits.push(EditEntry::new("  ", 0.05));
        let mut disabled = EditEntry::new("a face with a hat", 0.05);
        disabled.enabled = false;
        document.edits.push(disabled);
        let stack = document.stack();
        assert_eq!(stack.edits.len(), 1);
        assert_eq!(stack.edits[0].edit.target, "a face with red hair");
        assert_eq!(stack.edits[0].edit.source, None);
        assert!(stack.blend.is_none());

        document.interpolation.enabled = true;
        document.interpolation.a.target = "a face with a smile".into();
        assert!(document.stack().blend.is_none(), "a blend needs both ends");
        document.interpolation.b.target = "a face with a hat".into();
        assert_eq!(document.stack().blend.unwrap().lambda, 0.5);
    }

    #[test]
    fn from_stack_round_trips() {
        let mut document = Document::new(0.05);
        document.edits[0] = EditEntry { source: "a face".into(), target: "a face with red hair".into(), strength: 1.5, beta: 0.1, enabled: true };
        document.interpolation = Interpolation {
            enabled: true,
            a: EditEntry::new("a face with a smile", 0.05),
            b: EditEntry::new("a face with a hat", 0.05),
            lambda: 0.25,
        };
        document.keep_unedited = true;
        let stack = document.stack();
        assert_eq!(stack.keep_unedited, Some(CompositeOptions::default()));
        assert_eq!(Document::from_stack(&stack, 0.05).stack(), stack);
    }

    #[test]
    fn undo_redo_walk_settled_steps() {
        let mut document = Document::new(0.05);
        let mut history = History::new(&document);
        assert!(!history.undo(&mut document));

        document.edits[0].target = "a face with red hair".into();
        history.settle(&document);
        // A drag: many intermediate values, one settled step.
        for strength in [1.1, 1.2, 1.3] {
            document.edits[0].strength = strength;
        }
        history.settle(&document);
        history.settle(&document);

        assert!(history.undo(&mut document));
        assert_eq!(document.edits[0].strength, 1.0);
        assert!(history.undo(&mut document));
        assert_eq!(document.edits[0].target, "");
        assert!(!history.can_undo());
        assert!(history.redo(&mut document));
        assert!(history.redo(&mut document));
        assert_eq!(document.edits[0].strength, 1.3);
        assert!(!history.can_redo());

        // A new change after an undo drops the redo branch.
        history.undo(&mut document);
        document.edits[0].beta = 0.2;
        history.settle(&document);
        assert!(!history.can_redo());
    }

    #[test]
    fn unsettled_change_is_undone_first() {
        let mut document = Document::new(0.05);
        let mut history = History::new(&document);
        document.edits[0].target = "a face with a hat".into();
        assert!(history.undo(&mut document));
        assert_eq!(document.edits[0].target, "");
        assert!(history.redo(&mut document));
        assert_eq!(document.edits[0].target, "a face with a hat");
    }
}
