//! The built-in domain: procedural portraits, captions, part masks and the attribute judge.
