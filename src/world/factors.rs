//! The factors of the built-in domain, with exactly the names and values that benchmarks and
//! prompt files refer to.
use serde::{Deserialize, Serialize};

use super::rng::Rng;
use crate::{Error, Result};

macro_rules! factor_values {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name { $(#[serde(rename = $text)] $variant),+ }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub const NAMES: &'static [&'static str] = &[$($text),+];
            pub fn name(self) -> &'static str {
                Self::NAMES[self as usize]
            }
        }
    };
}

factor_values!(HairColor { Black = "black", Brown = "brown", Blond = "blond", Red = "red", Gray = "gray", Blue = "blue", Pink = "pink" });
factor_values!(HairStyle { Short = "short", Long = "long", Bald = "bald", Bangs = "bangs", Curly = "curly" });
factor_values!(Expression { Neutral = "neutral", Smile = "smile", Frown = "frown" });
factor_values!(Mouth { Closed = "closed", Open = "open" });
factor_values!(Eyes { Open = "open", Closed = "closed" });
factor_values!(Eyewear { None = "none", Glasses = "glasses", Sunglasses = "sunglasses" });
factor_values!(FacialHair { None = "none", Beard = "beard", Mustache = "mustache", Goatee = "goatee" });
factor_values!(Hat { None = "none", Cap = "cap", Beanie = "beanie" });
factor_values!(Earrings { None = "none", Earrings = "earrings" });
factor_values!(Lipstick { None = "none", Lipstick = "lipstick" });
factor_values!(SkinTone { Light = "light", Medium = "medium", Tan = "tan", Dark = "dark" });
factor_values!(Background { White = "white", Gray = "gray", Blue = "blue", Green = "green", Yellow = "yellow", Purple = "purple" });

/// One factor of variation, in a fixed order (the judge's heads follow it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Factor {
    HairColor,
    HairStyle,
    Expression,
    Mouth,
    Eyes,
    Eyewear,
    FacialHair,
    Hat,
    Earrings,
    Lipstick,
    SkinTone,
    Background,
}

impl Factor {
    pub const ALL: [Factor; 12] = [
        Factor::HairColor,
        Factor::HairStyle,
        Factor::Expression,
        Factor::Mouth,
        Factor::Eyes,
        Factor::Eyewear,
        Factor::FacialHair,
        Factor::Hat,
        Factor::Earrings,
        Factor::Lipstick,
        Factor::SkinTone,
        Factor::Background,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Factor::HairColor => "hair_color",
            Factor::HairStyle => "hair_style",
            Factor::Expression => "expression",
            Factor::Mouth => "mouth",
            Factor::Eyes => "eyes",
            Factor::Eyewear => "eyewear",
            Factor::FacialHair => "facial_hair",
            Factor::Hat => "hat",
            Factor::Earrings => "earrings",
            Factor::Lipstick => "lipstick",
            Factor::SkinTone => "skin_tone",
            Factor::Background => "background",
        }
    }

    /// The value names, indexed like [`Attributes::get`].
    pub fn values(self) -> &'static [&'static str] {
        match self {
            Factor::HairColor => HairColor::NAMES,
            Factor::HairStyle => HairStyle::NAMES,
            Factor::Expression => Expression::NAMES,
            Factor::Mouth => Mouth::NAMES,
            Factor::Eyes => Eyes::NAMES,
            Factor::Eyewear => Eyewear::NAMES,
            Factor::FacialHair => FacialHair::NAMES,
            Factor::Hat => Hat::NAMES,
            Factor::Earrings => Earrings::NAMES,
            Factor::Lipstick => Lipstick::NAMES,
            Factor::SkinTone => SkinTone::NAMES,
            Factor::Background => Background::NAMES,
        }
    }

    pub fn count(self) -> usize {
        self.values().len()
    }

    pub fn from_name(name: &str) -> Result<Factor> {
        Factor::ALL.into_iter().find(|f| f.name() == name).ok_or_else(|| {
            let names: Vec<_> = Factor::ALL.iter().map(|f| f.name()).collect();
            Error::Invalid(format!("unknown factor `{name}` (factors: {})", names.join(", ")))
        })
    }

    pub fn value_index(self, value: &str) -> Result<usize> {
        self.values().iter().position(|v| *v == value).ok_or_else(|| {
            Error::Invalid(format!("{}: unknown value `{value}` (values: {})", self.name(), self.values().join(" | ")))
        })
    }
}

/// Every factor of one portrait. Serialises as `{"hair_color": "red", ...}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Attributes {
    pub hair_color: HairColor,
    pub hair_style: HairStyle,
    pub expression: Expression,
    pub mouth: Mouth,
    pub eyes: Eyes,
    pub eyewear: Eyewear,
    pub facial_hair: FacialHair,
    pub hat: Hat,
    pub earrings: Earrings,
    pub lipstick: Lipstick,
    pub skin_tone: SkinTone,
    pub background: Background,
}

impl Default for Attributes {
    /// The plainest portrait: every factor at its first value.
    fn default() -> Self {
        Attributes::from_indices(&[0; 12])
    }
}

impl Attributes {
    /// The value index of `factor`.
    pub fn get(&self, factor: Factor) -> usize {
        match factor {
            Factor::HairColor => self.hair_color as usize,
            Factor::HairStyle => self.hair_style as usize,
            Factor::Expression => self.expression as usize,
            Factor::Mouth => self.mouth as usize,
            Factor::Eyes => self.eyes as usize,
            Factor::Eyewear => self.eyewear as usize,
            Factor::FacialHair => self.facial_hair as usize,
            Factor::Hat => self.hat as usize,
            Factor::Earrings => self.earrings as usize,
            Factor::Lipstick => self.lipstick as usize,
            Factor::SkinTone => self.skin_tone as usize,
            Factor::Background => self.background as usize,
        }
    }

    /// Sets `factor` to value index `index` (taken modulo the factor's value count).
    pub fn set(&mut self, factor: Factor, index: usize) {
        let i = index % factor.count();
        match factor {
            Factor::HairColor => self.hair_color = HairColor::ALL[i],
            Factor::HairStyle => self.hair_style = HairStyle::ALL[i],
            Factor::Expression => self.expression = Expression::ALL[i],
            Factor::Mouth => self.mouth = Mouth::ALL[i],
            Factor::Eyes => self.eyes = Eyes::ALL[i],
            Factor::Eyewear => self.eyewear = Eyewear::ALL[i],
            Factor::FacialHair => self.facial_hair = FacialHair::ALL[i],
            Factor::Hat => self.hat = Hat::ALL[i],
            Factor::Earrings => self.earrings = Earrings::ALL[i],
            Factor::Lipstick => self.lipstick = Lipstick::ALL[i],
            Factor::SkinTone => self.skin_tone = SkinTone::ALL[i],
            Factor::Background => self.background = Background::ALL[i],
        }
    }

    pub fn with(mut self, factor: Factor, index: usize) -> Self {
        self.set(factor, index);
        self
    }

    /// The same portrait with `factor` at another value, drawn uniformly from the others.
    pub fn with_other_value(self, factor: Factor, rng: &mut Rng) -> Self {
        let other = (self.get(factor) + 1 + rng.below(factor.count() - 1)) % factor.count();
        self.with(factor, other)
    }

    /// The factors at which `after` differs from this portrait, with their values in `after`.
    pub fn changes_to(&self, after: &Attributes) -> Vec<(Factor, usize)> {
        Factor::ALL.into_iter().filter(|&f| after.get(f) != self.get(f)).map(|f| (f, after.get(f))).collect()
    }

    pub fn value_name(&self, factor: Factor) -> &'static str {
        factor.values()[self.get(factor)]
    }

    /// Value indices in [`Factor::ALL`] order.
    pub fn indices(&self) -> [usize; 12] {
        Factor::ALL.map(|f| self.get(f))
    }

    pub fn from_indices(indices: &[usize; 12]) -> Self {
        let mut a = Attributes {
            hair_color: HairColor::Black,
            hair_style: HairStyle::Short,
            expression: Expression::Neutral,
            mouth: Mouth::Closed,
            eyes: Eyes::Open,
            eyewear: Eyewear::None,
            facial_hair: FacialHair::None,
            hat: Hat::None,
            earrings: Earrings::None,
            lipstick: Lipstick::None,
            skin_tone: SkinTone::Light,
            background: Background::White,
        };
        for (f, &i) in Factor::ALL.iter().zip(indices) {
            a.set(*f, i);
        }
        a
    }

    /// Applies `factor=value` (e.g. `hair_color=red`), as the CLI's `--set` takes it.
    pub fn apply_override(&mut self, assignment: &str) -> Result<()> {
        let (name, value) = assignment
            .split_once('=')
            .ok_or_else(|| Error::Invalid(format!("`{assignment}`: expected factor=value, e.g. hair_color=red")))?;
        let factor = Factor::from_name(name.trim())?;
        let index = factor.value_index(value.trim())?;
        self.set(factor, index);
        Ok(())
    }
}

/// The attributes of seed `seed`: every factor uniform and independent, so each value is equally
/// common and no factor predicts another.
pub fn sample_attributes(seed: u64) -> Attributes {
    let mut rng = Rng::stream(seed, STREAM_ATTRIBUTES);
    let mut indices = [0usize; 12];
    for (i, f) in Factor::ALL.iter().enumerate() {
        indices[i] = rng.below(f.count());
    }
    Attributes::from_indices(&indices)
}

const STREAM_ATTRIBUTES: u64 = 1;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_names_are_the_documented_ones() {
        let a = Attributes::default().with(Factor::HairColor, 3).with(Factor::Background, 5);
        let json = serde_json::to_value(a).unwrap();
        assert_eq!(json["hair_color"], "red");
        assert_eq!(json["background"], "purple");
        assert_eq!(json["facial_hair"], "none");
        let back: Attributes = serde_json::from_value(json).unwrap();
        assert_eq!(back, a);
        assert_eq!(serde_json::to_value(Factor::FacialHair).unwrap(), "facial_hair");
    }

    #[test]
    fn overrides_parse_and_reject() {
        let mut a = Attributes::default();
        a.apply_override("eyewear=sunglasses").unwrap();
        assert_eq!(a.eyewear, Eyewear::Sunglasses);
        assert!(a.apply_override("eyewear=monocle").is_err());
        assert!(a.apply_override("colour=red").is_err());
        assert!(a.apply_override("hat").is_err());
    }

    #[test]
    fn sampling_reaches_every_value() {
        let samples: Vec<_> = (0..400).map(sample_attributes).collect();
        for f in Factor::ALL {
            for v in 0..f.count() {
                assert!(samples.iter().any(|a| a.get(f) == v), "{} {}", f.name(), v);
            }
        }
        assert_eq!(sample_attributes(9), sample_attributes(9));
    }
}
