//! Captions: a grammar that describes [`Attributes`] in varied natural English.
//!
//! A caption mentions a random subset of the factors, in random order, each with one of several
//! phrasings people actually type ("smiling", "with a smile", "happy"). The phrasings come in
//! grammatical kinds (a modifier before the noun, a "with …" phrase, a predicate after "is", a
//! clause after "has") so that templates can combine them. Templates are split in two sets:
//! [`TemplateSet::Train`] for training and [`TemplateSet::HeldOut`], which training never sees,
//! for testing how models handle unseen prompt shapes.
use super::factors::*;
use super::rng::Rng;

/// How a phrase fits into a sentence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Before the noun: "a *smiling* person".
    Adjective,
    /// After the noun: "a person *with a smile*", "a person *wearing glasses*".
    With,
    /// After "who has": "*red hair*", "*a beard*". Also used as "…, *red hair*" in lists.
    Has,
    /// After "is"/"who is": "*smiling*", "*bald*", "*wearing a cap*".
    Is,
}

/// One way to say one factor value.
#[derive(Clone, Copy, Debug)]
pub struct Phrase {
    pub kind: Kind,
    pub text: &'static str,
}

const fn p(kind: Kind, text: &'static str) -> Phrase {
    Phrase { kind, text }
}

use Kind::{Adjective as A, Has as H, Is as I, With as W};

/// Every phrasing of `factor` = value `index`. Background phrases are all `With`-kind ("on a blue
/// background", "against white").
pub fn phrases(factor: Factor, index: usize) -> &'static [Phrase] {
    match (factor, index) {
        (Factor::HairColor, 0) => const { &[p(W, "with black hair"), p(A, "black-haired"), p(H, "black hair"), p(W, "with jet black hair"), p(H, "dark black hair")] },
        (Factor::HairColor, 1) => const { &[p(W, "with brown hair"), p(A, "brown-haired"), p(H, "brown hair"), p(A, "brunette"), p(W, "with chestnut hair")] },
        (Factor::HairColor, 2) => const { &[p(W, "with blond hair"), p(A, "blond"), p(A, "blonde"), p(H, "blonde hair"), p(W, "with golden hair")] },
        (Factor::HairColor, 3) => const { &[p(W, "with red hair"), p(A, "red-haired"), p(A, "ginger"), p(A, "redheaded"), p(H, "ginger hair"), p(I, "a redhead")] },
        (Factor::HairColor, 4) => const { &[p(W, "with gray hair"), p(A, "gray-haired"), p(W, "with grey hair"), p(H, "silver hair"), p(A, "grey-haired")] },
        (Factor::HairColor, 5) => const { &[p(W, "with blue hair"), p(A, "blue-haired"), p(H, "blue hair"), p(W, "with hair dyed blue")] },
        (Factor::HairColor, 6) => const { &[p(W, "with pink hair"), p(A, "pink-haired"), p(H, "pink hair"), p(W, "with hair dyed pink")] },
        (Factor::HairStyle, 0) => const { &[p(W, "with short hair"), p(H, "short hair"), p(A, "short-haired"), p(W, "with a short haircut")] },
        (Factor::HairStyle, 1) => const { &[p(W, "with long hair"), p(H, "long hair"), p(A, "long-haired"), p(W, "with long flowing hair")] },
        (Factor::HairStyle, 2) => const { &[p(A, "bald"), p(I, "bald"), p(W, "with no hair"), p(W, "with a bald head"), p(H, "a shaved head"), p(I, "balding")] },
        (Factor::HairStyle, 3) => const { &[p(W, "with bangs"), p(H, "bangs"), p(W, "with a fringe"), p(H, "a fringe"), p(W, "with a bob and bangs")] },
        (Factor::HairStyle, 4) => const { &[p(W, "with curly hair"), p(H, "curly hair"), p(A, "curly-haired"), p(W, "with curls"), p(H, "an afro")] },
        (Factor::Expression, 0) => const { &[p(W, "with a neutral expression"), p(A, "expressionless"), p(I, "not smiling"), p(W, "with a straight face"), p(H, "a blank expression")] },
        (Factor::Expression, 1) => const { &[p(A, "smiling"), p(W, "with a smile"), p(A, "happy"), p(I, "smiling"), p(H, "a big smile"), p(A, "cheerful")] },
        (Factor::Expression, 2) => const { &[p(A, "frowning"), p(W, "with a frown"), p(A, "sad"), p(I, "frowning"), p(A, "unhappy"), p(A, "grumpy"), p(H, "a frown")] },
        (Factor::Mouth, 0) => const { &[p(W, "with a closed mouth"), p(W, "with lips closed"), p(H, "a closed mouth"), p(W, "with mouth shut")] },
        (Factor::Mouth, 1) => const { &[p(W, "with an open mouth"), p(W, "with mouth open"), p(H, "an open mouth"), p(W, "showing teeth"), p(W, "with parted lips")] },
        (Factor::Eyes, 0) => const { &[p(W, "with open eyes"), p(W, "with eyes open"), p(H, "open eyes"), p(A, "wide-eyed"), p(I, "looking at the camera")] },
        (Factor::Eyes, 1) => const { &[p(W, "with closed eyes"), p(W, "with eyes closed"), p(H, "closed eyes"), p(I, "sleeping"), p(W, "with eyes shut"), p(H, "shut eyes")] },
        (Factor::Eyewear, 0) => const { &[p(W, "without glasses"), p(W, "with no glasses"), p(I, "not wearing glasses")] },
        (Factor::Eyewear, 1) => const { &[p(W, "wearing glasses"), p(W, "with glasses"), p(W, "with eyeglasses"), p(W, "wearing spectacles"), p(A, "bespectacled"), p(H, "glasses")] },
        (Factor::Eyewear, 2) => const { &[p(W, "wearing sunglasses"), p(W, "with sunglasses"), p(W, "in shades"), p(W, "wearing dark shades"), p(H, "sunglasses"), p(I, "wearing sunglasses")] },
        (Factor::FacialHair, 0) => const { &[p(A, "clean-shaven"), p(W, "with no beard"), p(I, "clean-shaven"), p(W, "without facial hair")] },
        (Factor::FacialHair, 1) => const { &[p(W, "with a beard"), p(A, "bearded"), p(H, "a full beard"), p(W, "with a thick beard"), p(H, "a beard")] },
        (Factor::FacialHair, 2) => const { &[p(W, "with a mustache"), p(W, "with a moustache"), p(H, "a mustache"), p(A, "mustachioed"), p(H, "a moustache")] },
        (Factor::FacialHair, 3) => const { &[p(W, "with a goatee"), p(H, "a goatee"), p(W, "with a chin beard"), p(H, "a small goatee")] },
        (Factor::Hat, 0) => const { &[p(W, "without a hat"), p(W, "with no hat"), p(A, "bareheaded"), p(I, "not wearing a hat")] },
        (Factor::Hat, 1) => const { &[p(W, "wearing a cap"), p(W, "in a baseball cap"), p(W, "with a cap"), p(H, "a baseball cap"), p(I, "wearing a cap")] },
        (Factor::Hat, 2) => const { &[p(W, "wearing a beanie"), p(W, "in a knit hat"), p(W, "with a beanie"), p(H, "a woolly hat"), p(W, "wearing a winter hat")] },
        (Factor::Earrings, 0) => const { &[p(W, "without earrings"), p(W, "with no earrings")] },
        (Factor::Earrings, 1) => const { &[p(W, "wearing earrings"), p(W, "with earrings"), p(H, "earrings"), p(W, "with hoop earrings"), p(W, "wearing jewelry")] },
        (Factor::Lipstick, 0) => const { &[p(W, "without lipstick"), p(W, "with no makeup"), p(W, "with natural lips")] },
        (Factor::Lipstick, 1) => const { &[p(W, "wearing lipstick"), p(W, "with red lipstick"), p(W, "with red lips"), p(H, "red lips"), p(W, "wearing makeup")] },
        (Factor::SkinTone, 0) => const { &[p(W, "with light skin"), p(A, "pale"), p(A, "fair-skinned"), p(H, "fair skin"), p(A, "light-skinned")] },
        (Factor::SkinTone, 1) => const { &[p(W, "with medium skin"), p(A, "medium-skinned"), p(H, "medium skin"), p(W, "with an olive complexion")] },
        (Factor::SkinTone, 2) => const { &[p(W, "with tan skin"), p(A, "tanned"), p(H, "tanned skin"), p(A, "tan-skinned"), p(W, "with a tan")] },
        (Factor::SkinTone, 3) => const { &[p(W, "with dark skin"), p(A, "dark-skinned"), p(H, "dark skin"), p(W, "with deep brown skin")] },
        (Factor::Background, 0) => const { &[p(W, "on a white background"), p(W, "against a white wall"), p(W, "in front of a white backdrop"), p(W, "on white")] },
        (Factor::Background, 1) => const { &[p(W, "on a gray background"), p(W, "against a grey wall"), p(W, "in front of a gray backdrop"), p(W, "on grey")] },
        (Factor::Background, 2) => const { &[p(W, "on a blue background"), p(W, "against a blue wall"), p(W, "in front of a blue backdrop"), p(W, "on blue")] },
        (Factor::Background, 3) => const { &[p(W, "on a green background"), p(W, "against a green wall"), p(W, "in front of a green backdrop"), p(W, "on green")] },
        (Factor::Background, 4) => const { &[p(W, "on a yellow background"), p(W, "against a yellow wall"), p(W, "in front of a yellow backdrop"), p(W, "on yellow")] },
        (Factor::Background, 5) => const { &[p(W, "on a purple background"), p(W, "against a purple wall"), p(W, "in front of a purple backdrop"), p(W, "on violet")] },
        _ => &[],
    }
}

/// Which templates a caption may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TemplateSet {
    Train,
    HeldOut,
}

/// Sentence shapes. Slots: `{adj}` modifiers, `{noun}` the subject, `{with}` after-noun phrases,
/// `{has}` noun phrases, `{is}` predicates. A `[...]` segment is dropped when its slots are empty;
/// "a" becomes "an" before a vowel.
pub const TRAIN_TEMPLATES: &[&str] = &[
    "a {adj} {noun}[ {with}]",
    "a {adj} {noun}[ {with}].",
    "a portrait of a {adj} {noun}[ {with}]",
    "a photo of a {adj} {noun}[ {with}]",
    "a headshot of a {adj} {noun}[ {with}]",
    "close-up of a {adj} {noun}[ {with}]",
    "an illustration of a {adj} {noun}[ {with}]",
    "a {adj} {noun}[ who has {has}][ {with}]",
    "a {adj} {noun}[ who is {is}][, {with}]",
    "a {adj} {noun}.[ They have {has}.][ They are {is}.]",
    "a {adj} {noun}[ {with}], looking straight ahead",
    "{adj} {noun}[ {with}]",
    "{has}[, {with}]",
    "a {adj} {noun}[ {with}][; the person is {is}]",
];

/// Never used by [`caption`] with [`TemplateSet::Train`].
pub const HELD_OUT_TEMPLATES: &[&str] = &[
    "this is a {adj} {noun}[ {with}]",
    "here we see a {adj} {noun}[ {with}]",
    "picture of a {adj} {noun}[ that has {has}][ {with}]",
    "a {adj} {noun}[ {with}], rendered as a portrait",
    "someone[ who is {is}][ {with}]",
    "my friend[ is {is}][ and has {has}][, {with}]",
];

const NOUNS: &[&str] = &["person", "face", "man", "woman", "individual", "character", "guy", "lady", "figure", "young person", "adult"];

pub fn templates(set: TemplateSet) -> &'static [&'static str] {
    match set {
        TemplateSet::Train => TRAIN_TEMPLATES,
        TemplateSet::HeldOut => HELD_OUT_TEMPLATES,
    }
}

fn slot(kind: Kind) -> &'static str {
    match kind {
        Kind::Adjective => "{adj}",
        Kind::With => "{with}",
        Kind::Has => "{has}",
        Kind::Is => "{is}",
    }
}

/// A caption of `attributes`, deterministic from `seed`: a random template of `set`, a random
/// subset of the factors in random order, each said with a random phrasing that fits the template.
pub fn caption(attributes: &Attributes, seed: u64, set: TemplateSet) -> String {
    compose(attributes, seed, set, None, false)
}

/// Like [`caption`], but `factor` is always said (first, even when its value is an absence), with
/// a template that has a slot for it: captions of two renders that differ in `factor` then tell
/// them apart.
pub fn caption_mentioning(attributes: &Attributes, seed: u64, set: TemplateSet, factor: Factor) -> String {
    compose(attributes, seed, set, Some(factor), false)
}

/// A caption that says `factor`'s value and nothing else, as a user's prompt often does.
pub fn caption_saying_only(attributes: &Attributes, seed: u64, set: TemplateSet, factor: Factor) -> String {
    compose(attributes, seed, set, Some(factor), true)
}

fn compose(attributes: &Attributes, seed: u64, set: TemplateSet, required: Option<Factor>, only_required: bool) -> String {
    let mut rng = Rng::stream(seed, 3);
    let template = match required {
        None => *rng.pick(templates(set)),
        Some(f) => {
            let says_it = |t: &&str| phrases(f, attributes.get(f)).iter().any(|p| t.contains(slot(p.kind)));
            let fitting: Vec<&str> = templates(set).iter().copied().filter(says_it).collect();
            *rng.pick(&fitting)
        }
    };
    let mut factors = Factor::ALL.to_vec();
    shuffle(&mut factors, &mut rng);
    if let Some(f) = required {
        factors.retain(|&x| x != f);
        factors.insert(0, f);
    }
    // Mostly a few factors, sometimes many.
    let most = if rng.chance(0.3) { 12 } else { 5 };
    let wanted = if only_required { 1 } else { 1 + rng.below(most) };
    let mut chosen: Vec<Phrase> = Vec::new();
    for f in factors {
        if chosen.len() >= wanted {
            break;
        }
        let v = attributes.get(f);
        // People rarely say what is absent.
        let absent = v == 0 && matches!(f, Factor::Eyewear | Factor::FacialHair | Factor::Hat | Factor::Earrings | Factor::Lipstick);
        if absent && required != Some(f) && !rng.chance(0.3) {
            continue;
        }
        let fitting: Vec<Phrase> = phrases(f, v).iter().copied().filter(|p| template.contains(slot(p.kind))).collect();
        if !fitting.is_empty() {
            chosen.push(*rng.pick(&fitting));
        }
    }
    let of = |k: Kind| -> Vec<&str> { chosen.iter().filter(|p| p.kind == k).map(|p| p.text).collect() };
    let adj = join(&of(Kind::Adjective), ", ", &mut rng);
    let with = join(&of(Kind::With), ", ", &mut rng);
    let has = join(&of(Kind::Has), ", ", &mut rng);
    let is = join(&of(Kind::Is), ", ", &mut rng);
    let noun = *rng.pick(NOUNS);
    let fill = |s: &str| s.replace("{adj}", &adj).replace("{noun}", noun).replace("{with}", &with).replace("{has}", &has).replace("{is}", &is);
    tidy(&expand_optional(template, &fill))
}

/// Fills the template; a `[...]` segment whose slots are all empty disappears.
fn expand_optional(template: &str, fill: &dyn Fn(&str) -> String) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('[') {
        out.push_str(&fill(&rest[..open]));
        let close = open + rest[open..].find(']').expect("templates close their brackets");
        let segment = &rest[open + 1..close];
        let filled = fill(segment);
        let empty_slots = ["{adj}", "{with}", "{has}", "{is}"].iter().filter(|s| segment.contains(*s)).all(|s| fill(s).is_empty());
        if !empty_slots {
            out.push_str(&filled);
        }
        rest = &rest[close + 1..];
    }
    out.push_str(&fill(rest));
    out
}

fn shuffle<T>(items: &mut [T], rng: &mut Rng) {
    for i in (1..items.len()).rev() {
        items.swap(i, rng.below(i + 1));
    }
}

/// Joins phrases with `sep`, half of the time with a final "and".
fn join(items: &[&str], sep: &str, rng: &mut Rng) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [rest @ .., last] if rng.chance(0.5) => format!("{} and {last}", rest.join(sep)),
        _ => items.join(sep),
    }
}

/// Collapses the spaces empty slots leave, drops stray leading punctuation and fixes "a"/"an".
fn tidy(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut out: Vec<String> = Vec::with_capacity(words.len());
    for (i, w) in words.iter().enumerate() {
        let next_vowel = words.get(i + 1).is_some_and(|n| n.starts_with(['a', 'e', 'i', 'o', 'u']));
        out.push(match *w {
            "a" | "an" => (if next_vowel { "an" } else { "a" }).to_string(),
            "A" | "An" => (if next_vowel { "An" } else { "A" }).to_string(),
            _ => w.to_string(),
        });
    }
    let joined = out.join(" ").replace(" ,", ",").replace(" .", ".");
    joined.trim_start_matches([',', ' ', ';']).to_string()
}

/// The neutral text DeltaEdit uses as the source of an edit in this domain.
pub const NEUTRAL: &str = "a face";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_segments_vanish_when_empty() {
        let fill = |s: &str| s.replace("{with}", "").replace("{adj}", "happy").replace("{noun}", "man");
        assert_eq!(tidy(&expand_optional("a {adj} {noun}[ {with}].", &fill)), "a happy man.");
        assert_eq!(tidy("a  old man , with hat"), "an old man, with hat");
    }

    #[test]
    fn a_required_factor_is_always_said_even_when_absent() {
        for seed in 0..300u64 {
            let factor = Factor::ALL[seed as usize % 12];
            let attributes = crate::world::sample_attributes(seed).with(factor, seed as usize / 12 % factor.count());
            for set in [TemplateSet::Train, TemplateSet::HeldOut] {
                let text = caption_mentioning(&attributes, seed, set, factor);
                let said = phrases(factor, attributes.get(factor)).iter().any(|p| text.contains(p.text));
                assert!(said, "{} = {}: {text}", factor.name(), attributes.value_name(factor));
            }
        }
    }

    #[test]
    fn a_caption_saying_only_a_factor_says_nothing_else() {
        for seed in 0..300u64 {
            let factor = Factor::ALL[seed as usize % 12];
            let attributes = crate::world::sample_attributes(seed);
            let text = caption_saying_only(&attributes, seed, TemplateSet::Train, factor);
            let says = |f: Factor| phrases(f, attributes.get(f)).iter().any(|p| text.contains(p.text));
            assert!(says(factor), "{}: {text}", factor.name());
            let others: Vec<&str> = Factor::ALL.into_iter().filter(|&f| f != factor && says(f)).map(|f| f.name()).collect();
            assert!(others.is_empty(), "{}: {text} also says {others:?}", factor.name());
        }
    }
}
