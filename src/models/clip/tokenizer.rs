//! The CLIP byte-pair-encoding tokenizer, identical in ids to open_clip's `SimpleTokenizer`:
//! clean (a subset of ftfy + `html.unescape`), collapse whitespace, lower-case, split with CLIP's
//! regex, byte-level BPE with `</w>` word ends; `<start_of_text>` … `<end_of_text>`, padded with 0
//! to the context length, truncated keeping the end token.
//!
//! Built offline with the `tokenizers` crate from `assets/bpe_simple_vocab_16e6.txt.gz` (MIT, see
//! assets/LICENSE-clip-bpe.txt), which is compiled into the binary.
use std::io::Read;

use tokenizers::models::bpe::BPE;
use tokenizers::normalizers::unicode::NFC;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{AddedToken, SplitDelimiterBehavior, Tokenizer};

use crate::{Error, Result};

const VOCAB_GZ: &[u8] = include_bytes!("../../../assets/bpe_simple_vocab_16e6.txt.gz");
/// Merges used by CLIP: lines 1..=48894 of the file (49408 − 256·2 − 2 tokens).
const MERGES: usize = 49152 - 256 - 2;
pub const START_OF_TEXT: i64 = 49406;
pub const END_OF_TEXT: i64 = 49407;
pub const CONTEXT_LENGTH: usize = 77;
/// open_clip's split pattern (its special tokens are added tokens here).
const SPLIT_PATTERN: &str = r"'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+";

pub struct ClipTokenizer {
    tokenizer: Tokenizer,
}

impl ClipTokenizer {
    /// Builds the tokenizer from the bundled vocabulary (about 0.2 s).
    pub fn new() -> Result<Self> {
        let tk = |e: Box<dyn std::error::Error + Send + Sync>| Error::Tokenizer(e.to_string());
        let mut text = String::new();
        flate2::read::GzDecoder::new(VOCAB_GZ)
            .read_to_string(&mut text)
            .map_err(|e| Error::Tokenizer(format!("bundled vocabulary: {e}")))?;
        let merges: Vec<(String, String)> = text
            .lines()
            .skip(1)
            .take(MERGES)
            .map(|line| {
                let (a, b) = line.split_once(' ').unwrap_or((line, ""));
                (a.to_string(), b.to_string())
            })
            .collect();
        // Vocabulary order: the 256 byte characters, the same with `</w>`, one token per merge.
        let bytes: Vec<String> = byte_characters().into_iter().map(String::from).collect();
        let tokens = bytes
            .iter()
            .cloned()
            .chain(bytes.iter().map(|b| format!("{b}</w>")))
            .chain(merges.iter().map(|(a, b)| format!("{a}{b}")));
        let vocab: tokenizers::models::bpe::Vocab = tokens.zip(0u32..).collect();
        let bpe = BPE::builder()
            .vocab_and_merges(vocab, merges)
            .continuing_subword_prefix(String::new())
            .end_of_word_suffix("</w>".into())
            .build()
            .map_err(tk)?;
        let mut tokenizer = Tokenizer::new(bpe);
        tokenizer.with_normalizer(Some(NFC)).map_err(tk)?;
        let split = Split::new(SplitPattern::Regex(SPLIT_PATTERN.into()), SplitDelimiterBehavior::Removed, true)
            .map_err(tk)?;
        tokenizer.with_pre_tokenizer(Some(Sequence::new(vec![split.into(), ByteLevel::new(false, true, false).into()])));
        // open_clip matches its special-token names inside the (lower-cased) text too.
        tokenizer.add_special_tokens(vec![
            AddedToken::from("<start_of_text>", true).normalized(true),
            AddedToken::from("<end_of_text>", true).normalized(true),
        ])
        .map_err(tk)?;
        let ids = [tokenizer.token_to_id("<start_of_text>"), tokenizer.token_to_id("<end_of_text>")];
        if ids != [Some(START_OF_TEXT as u32), Some(END_OF_TEXT as u32)] {
            return Err(Error::Tokenizer(format!("bundled vocabulary: special tokens got ids {ids:?}")));
        }
        Ok(ClipTokenizer { tokenizer })
    }

    /// The BPE ids of `text` after cleaning, without start/end tokens.
    pub fn encode(&self, text: &str) -> Result<Vec<i64>> {
        let cleaned = clean(text);
        let encoding = self.tokenizer.encode(cleaned.as_str(), false).map_err(|e| Error::Tokenizer(e.to_string()))?;
        Ok(encoding.get_ids().iter().map(|&id| id as i64).collect())
    }

    /// `<start_of_text>` ids `<end_of_text>`, zero-padded or truncated to `context_length` (the
    /// last kept position becomes `<end_of_text>`), as open_clip's `tokenize`.
    pub fn tokenize(&self, text: &str, context_length: usize) -> Result<Vec<i64>> {
        let mut ids = Vec::with_capacity(context_length);
        ids.push(START_OF_TEXT);
        ids.extend(self.encode(text)?);
        ids.push(END_OF_TEXT);
        if ids.len() > context_length {
            ids.truncate(context_length);
            if let Some(last) = ids.last_mut() {
                *last = END_OF_TEXT;
            }
        }
        ids.resize(context_length, 0);
        Ok(ids)
    }

    /// Row-major [texts.len(), context_length] ids.
    pub fn tokenize_batch(&self, texts: &[impl AsRef<str>], context_length: usize) -> Result<Vec<i64>> {
        let mut all = Vec::with_capacity(texts.len() * context_length);
        for text in texts {
            all.extend(self.tokenize(text.as_ref(), context_length)?);
        }
        Ok(all)
    }
}

/// GPT-2's reversible map from bytes to printable characters, in CLIP's vocabulary order.
fn byte_characters() -> Vec<char> {
    let printable = |b: u32| (0x21..=0x7e).contains(&b) || (0xa1..=0xac).contains(&b) || (0xae..=0xff).contains(&b);
    let mut chars: Vec<char> = (0u32..256).filter(|&b| printable(b)).filter_map(char::from_u32).collect();
    let mut extra = 0;
    for b in 0u32..256 {
        if !printable(b) {
            chars.push(char::from_u32(256 + extra).unwrap_or('\u{fffd}'));
            extra += 1;
        }
    }
    chars
}

/// open_clip's `_clean_lower`: `whitespace_clean(basic_clean(text)).lower()`, where
/// `basic_clean = html.unescape(html.unescape(ftfy.fix_text(text))).strip()`. Of ftfy this keeps
/// what changes prompts people type: HTML entities, terminal escapes, Latin ligatures, full-width
/// characters, curly quotes and control characters (NFC is applied by the tokenizer's normalizer).
/// ftfy's mojibake repair is not reproduced.
pub fn clean(text: &str) -> String {
    let mut text = remove_terminal_escapes(text);
    // ftfy unescapes entities itself ("auto" mode) before open_clip's two `html.unescape` calls.
    for _ in 0..3 {
        text = unescape_html(&text);
    }
    let fixed: String = text.chars().filter(|&c| !is_control(c)).flat_map(fix_char).collect();
    fixed.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// ftfy's ligature, width and quote fixes for one character.
fn fix_char(c: char) -> Vec<char> {
    let s: &str = match c {
        'Ĳ' => "IJ",
        'ĳ' => "ij",
        'ŉ' => "'n",
        'Ǆ' => "DŽ",
        'ǅ' => "Dž",
        'ǆ' => "dž",
        'Ǉ' => "LJ",
        'ǈ' => "Lj",
        'ǉ' => "lj",
        'Ǌ' => "NJ",
        'ǋ' => "Nj",
        'ǌ' => "nj",
        'Ǳ' => "DZ",
        'ǲ' => "Dz",
        'ǳ' => "dz",
        'ﬀ' => "ff",
        'ﬁ' => "fi",
        'ﬂ' => "fl",
        'ﬃ' => "ffi",
        'ﬄ' => "ffl",
        'ﬅ' | 'ﬆ' => "st",
        '\u{02bc}' | '\u{2018}'..='\u{201b}' => "'",
        '\u{201c}'..='\u{201f}' => "\"",
        '\u{3000}' => " ",
        // full-width ASCII
        '\u{ff01}'..='\u{ff5e}' => return vec![char::from_u32(c as u32 - 0xff01 + 0x21).unwrap_or(c)],
        _ => return vec![c],
    };
    s.chars().collect()
}

/// ftfy's `CONTROL_CHARS` (C0 controls other than tab/newline/form feed/CR, DEL, deprecated
/// format characters, BOM, interlinear annotation).
fn is_control(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{e}'..='\u{1f}' | '\u{7f}' | '\u{206a}'..='\u{206f}' | '\u{feff}' | '\u{fff9}'..='\u{fffc}')
}

/// Drops ANSI escape sequences `ESC [ digits/; letter` (ftfy's `remove_terminal_escapes`).
fn remove_terminal_escapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("\u{1b}[") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let params = after.find(|c: char| !(c.is_ascii_digit() || c == ';')).unwrap_or(after.len());
        match after[params..].chars().next() {
            Some(c) if c.is_ascii_alphabetic() => rest = &after[params + 1..],
            _ => {
                out.push('\u{1b}');
                rest = &rest[start + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// `html.unescape` for numeric references and the named entities prompts contain (the
/// Latin-1 set and common typography).
fn unescape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        match decode_entity(after) {
            Some((decoded, used)) => {
                out.push_str(&decoded);
                rest = &after[used..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Decodes the entity at the start of `s` (just after `&`): its text and the bytes consumed.
fn decode_entity(s: &str) -> Option<(String, usize)> {
    if let Some(num) = s.strip_prefix('#') {
        let (digits, radix, prefix) = match num.strip_prefix(['x', 'X']) {
            Some(hex) => (hex, 16, 2),
            None => (num, 10, 1),
        };
        let len = digits.find(|c: char| !c.is_digit(radix)).unwrap_or(digits.len());
        if len == 0 {
            return None;
        }
        let semicolon = usize::from(digits[len..].starts_with(';'));
        let code = u32::from_str_radix(&digits[..len], radix).unwrap_or(u32::MAX);
        let c = if code == 0 { None } else { char::from_u32(code) };
        return Some((c.unwrap_or('\u{fffd}').to_string(), prefix + len + semicolon));
    }
    let len = s.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(s.len());
    let name = &s[..len];
    let semicolon = s[len..].starts_with(';');
    let c = named_entity(name)?;
    // Without `;` Python only accepts the legacy HTML 4 names (those in the table are all legacy
    // except the typography ones).
    if !semicolon && !matches!(name, "amp" | "lt" | "gt" | "quot" | "nbsp" | "copy" | "reg") {
        return None;
    }
    Some((c.to_string(), len + usize::from(semicolon)))
}

fn named_entity(name: &str) -> Option<char> {
    const LATIN1: [&str; 96] = [
        "nbsp", "iexcl", "cent", "pound", "curren", "yen", "brvbar", "sect", "uml", "copy", "ordf", "laquo", "not",
        "shy", "reg", "macr", "deg", "plusmn", "sup2", "sup3", "acute", "micro", "para", "middot", "cedil", "sup1",
        "ordm", "raquo", "frac14", "frac12", "frac34", "iquest", "Agrave", "Aacute", "Acirc", "Atilde", "Auml",
        "Aring", "AElig", "Ccedil", "Egrave", "Eacute", "Ecirc", "Euml", "Igrave", "Iacute", "Icirc", "Iuml", "ETH",
        "Ntilde", "Ograve", "Oacute", "Ocirc", "Otilde", "Ouml", "times", "Oslash", "Ugrave", "Uacute", "Ucirc",
        "Uuml", "Yacute", "THORN", "szlig", "agrave", "aacute", "acirc", "atilde", "auml", "aring", "aelig", "ccedil",
        "egrave", "eacute", "ecirc", "euml", "igrave", "iacute", "icirc", "iuml", "eth", "ntilde", "ograve", "oacute",
        "ocirc", "otilde", "ouml", "divide", "oslash", "ugrave", "uacute", "ucirc", "uuml", "yacute", "thorn", "yuml",
    ];
    if let Some(i) = LATIN1.iter().position(|&n| n == name) {
        return char::from_u32(0xa0 + i as u32);
    }
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "ndash" => '–',
        "mdash" => '—',
        "lsquo" => '‘',
        "rsquo" => '’',
        "ldquo" => '“',
        "rdquo" => '”',
        "hellip" => '…',
        "bull" => '•',
        "trade" => '™',
        "euro" => '€',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_matches_open_clip_on_entities_quotes_and_widths() {
        // Expected strings from open_clip 3.3.0's `_clean_lower`.
        assert_eq!(clean("x &amp;amp; &lt;b&gt; &#39; &eacute; &nbsp;y"), "x & <b> ' é y");
        assert_eq!(clean("Don’t “Quote”"), "don't \"quote\"");
        assert_eq!(clean("ＡＢＣ１２３\u{3000}x  ﬁne"), "abc123 x fine");
        assert_eq!(clean("a\u{0}b\u{7}c\u{1b}[31md\u{7f}e"), "abcde");
        assert_eq!(clean(" \t\n "), "");
    }

    #[test]
    fn tokenize_pads_and_truncates_like_open_clip() {
        let tk = ClipTokenizer::new().unwrap();
        let ids = tk.tokenize("a photo of a cat", CONTEXT_LENGTH).unwrap();
        assert_eq!(&ids[..7], &[49406, 320, 1125, 539, 320, 2368, 49407]);
        assert!(ids[7..].iter().all(|&i| i == 0));
        let long = tk.tokenize(&"cat ".repeat(200), CONTEXT_LENGTH).unwrap();
        assert_eq!(long.len(), CONTEXT_LENGTH);
        assert_eq!((long[0], long[76], long[75]), (START_OF_TEXT, END_OF_TEXT, 2368));
        assert_eq!(&tk.tokenize("", 4).unwrap(), &[49406, 49407, 0, 0]);
    }

    #[test]
    fn odd_inputs_tokenize_without_panicking() {
        let tk = ClipTokenizer::new().unwrap();
        let long = "ä\u{301}😀 ".repeat(3000);
        let odd = [
            "&", "&#;", "&#99999999999;", "&#x110000;", "&#0;", "\u{1b}[", "\u{1b}[12;", "<end_of_text> <start_of_text>",
            "\u{301}\u{301}", "\u{fffd}\u{0}\u{7f}\u{85}", "\u{2028}\u{2029}", long.as_str(),
        ];
        for text in odd {
            let ids = tk.tokenize(text, CONTEXT_LENGTH).unwrap();
            assert_eq!((ids.len(), ids[0]), (CONTEXT_LENGTH, START_OF_TEXT), "{text:?}");
            assert!(ids.contains(&END_OF_TEXT), "{text:?}");
            assert!(ids.iter().all(|&id| (0..=END_OF_TEXT).contains(&id)), "{text:?}");
        }
    }
}
