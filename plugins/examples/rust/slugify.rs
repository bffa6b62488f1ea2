//! slugify is an example tool in Rust on sdk/rust/toolgate.rs: text in, a URL slug out, as JSON.
//!
//! Input:  any UTF-8 text, e.g. `Crème Brûlée — the 10-minute version!`
//! Output: {"slug":"creme-brulee-the-10-minute-version","words":6}
//!
//! Letters and digits are kept, lowercased; Latin-1 accented letters lose their accents (é → e, ß → ss); every
//! other run of characters becomes one '-'. Config "max" (default 60) caps the slug's length, cut at a '-'.
//! Input that is not UTF-8 is a tool error.
//! Build: /usr/bin/rustc --edition 2021 --target wasm32-unknown-unknown --crate-type cdylib -C opt-level=s \
//!          -C panic=abort -C strip=symbols -o slugify.wasm slugify.rs      (with toolgate.rs beside it)
mod toolgate;

/// The ASCII letters a Latin-1 letter (U+00C0..U+00FF) is written with in a slug, or None for ×, ÷.
fn fold(c: char) -> Option<&'static str> {
    const TABLE: [&str; 64] = [
        "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i", // C0..CF
        "d", "n", "o", "o", "o", "o", "o", "", "o", "u", "u", "u", "u", "y", "th", "ss", // D0..DF
        "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i", // E0..EF
        "d", "n", "o", "o", "o", "o", "o", "", "o", "u", "u", "u", "u", "y", "th", "y", // F0..FF
    ];
    let i = (c as u32).wrapping_sub(0xC0) as usize;
    TABLE.get(i).copied().filter(|s| !s.is_empty())
}

fn slugify(text: &str, max: usize) -> (String, usize) {
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            word.push(c.to_ascii_lowercase());
        } else if let Some(s) = fold(c) {
            word.push_str(s);
        } else if c.is_alphanumeric() {
            word.extend(c.to_lowercase());
        } else if !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    let mut slug = String::new();
    let mut kept = 0;
    for w in &words {
        let extra = if slug.is_empty() { w.len() } else { w.len() + 1 };
        if slug.len() + extra > max {
            if slug.is_empty() {
                // one long word: cut it at a character boundary
                slug = w.char_indices().take_while(|(i, c)| i + c.len_utf8() <= max).map(|(_, c)| c).collect();
                kept = 1;
            }
            break;
        }
        if !slug.is_empty() {
            slug.push('-');
        }
        slug.push_str(w);
        kept += 1;
    }
    (slug, kept)
}

#[no_mangle]
pub extern "C" fn run() -> i32 {
    let text = match toolgate::input_string() {
        Some(t) => t,
        None => return toolgate::fail("input is not UTF-8 text"),
    };
    let max = match toolgate::config("max").map(|m| m.parse::<usize>()) {
        None => 60,
        Some(Ok(m)) if m > 0 => m,
        Some(_) => return toolgate::fail("config max: want a positive number"),
    };
    let (slug, words) = slugify(&text, max);
    let mut out = b"{\"slug\":".to_vec();
    toolgate::json::write_str(&mut out, slug.as_bytes());
    out.extend_from_slice(format!(",\"words\":{}}}", words).as_bytes());
    toolgate::output(&out);
    0
}
