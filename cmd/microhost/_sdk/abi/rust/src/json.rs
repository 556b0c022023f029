//! A small JSON toolkit for the common case, with no dependency: check a document, find one
//! member of an object, decode or write a string, build a flat object.
//!
//! [`string_field`] validates a whole request (strings and their escapes, numbers, literals,
//! nesting up to 10,000 levels, without recursion) and finds one string member, matched as
//! Go's `encoding/json` matches a struct field: exactly or ASCII case-insensitively, the last
//! one winning, `null` leaving it unset. It returns the string's raw bytes between its
//! quotes: copied between quotes into a JSON reply they stay valid JSON for the same string,
//! escapes included, so a greeter needs no decoder or encoder.
//!
//! For anything richer, bring serde when cargo can reach a registry (see abi/rust/README.md).

use std::fmt;

/// The document is not valid JSON, is not an object (or `null`), or the member is not of the
/// type asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Malformed;

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("malformed JSON")
    }
}

impl std::error::Error for Malformed {}

/// The deepest nesting accepted; the document's object is level 1, as in Go's
/// `encoding/json`, which refuses more than 10000 levels.
pub const MAX_DEPTH: usize = 10000;

fn at(s: &[u8], i: usize) -> i32 {
    if i < s.len() {
        s[i] as i32
    } else {
        -1
    }
}

fn ws(s: &[u8], mut i: usize) -> usize {
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

fn is_hex(c: i32) -> bool {
    (0x30..=0x39).contains(&c) || (0x61..=0x66).contains(&c) || (0x41..=0x46).contains(&c)
}

/// Checks the string whose opening quote is at i; returns the index past its closing quote.
fn string(s: &[u8], mut i: usize) -> Option<usize> {
    i += 1;
    loop {
        let c = at(s, i);
        if c < 0x20 {
            return None; // the end of the input, or a raw control character
        }
        if c == b'"' as i32 {
            return Some(i + 1);
        }
        if c != b'\\' as i32 {
            i += 1;
            continue;
        }
        match at(s, i + 1) {
            0x75 => {
                if !(2..6).all(|k| is_hex(at(s, i + k))) {
                    return None;
                }
                i += 6;
            }
            0x22 | 0x5c | 0x2f | 0x62 | 0x66 | 0x6e | 0x72 | 0x74 => i += 2,
            _ => return None,
        }
    }
}

fn digits(s: &[u8], mut i: usize) -> Option<usize> {
    let start = i;
    while i < s.len() && s[i].is_ascii_digit() {
        i += 1;
    }
    if i > start {
        Some(i)
    } else {
        None
    }
}

/// Checks -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? at i.
fn number(s: &[u8], mut i: usize) -> Option<usize> {
    if at(s, i) == b'-' as i32 {
        i += 1;
    }
    if at(s, i) == b'0' as i32 {
        i += 1;
    } else {
        i = digits(s, i)?;
    }
    if at(s, i) == b'.' as i32 {
        i = digits(s, i + 1)?;
    }
    let c = at(s, i);
    if c == b'e' as i32 || c == b'E' as i32 {
        i += 1;
        let c = at(s, i);
        if c == b'+' as i32 || c == b'-' as i32 {
            i += 1;
        }
        i = digits(s, i)?;
    }
    Some(i)
}

fn word(s: &[u8], i: usize, w: &[u8]) -> bool {
    s.len() >= i + w.len() && &s[i..i + w.len()] == w
}

/// Checks the value at i, nested depth levels deep, with an explicit stack of the open
/// containers' closers instead of recursion; returns the index past it.
fn value(s: &[u8], mut i: usize, depth: usize) -> Option<usize> {
    let mut closers: Vec<u8> = Vec::new();
    let mut want_key = false;
    loop {
        if want_key {
            // An object member: "key" : value.
            if at(s, i) != b'"' as i32 {
                return None;
            }
            i = ws(s, string(s, i)?);
            if at(s, i) != b':' as i32 {
                return None;
            }
            i = ws(s, i + 1);
        }
        let c = at(s, i);
        if c == b'{' as i32 || c == b'[' as i32 {
            if depth + closers.len() + 1 > MAX_DEPTH {
                return None;
            }
            let close = if c == b'{' as i32 { b'}' } else { b']' };
            i = ws(s, i + 1);
            if at(s, i) != close as i32 {
                closers.push(close);
                want_key = close == b'}';
                continue;
            }
            i += 1;
        } else if c == b'"' as i32 {
            i = string(s, i)?;
        } else if c == b'-' as i32 || (0x30..=0x39).contains(&c) {
            i = number(s, i)?;
        } else if word(s, i, b"true") || word(s, i, b"null") {
            i += 4;
        } else if word(s, i, b"false") {
            i += 5;
        } else {
            return None;
        }
        // After a value: close containers, or move on to the next element.
        loop {
            let close = match closers.last() {
                None => return Some(i),
                Some(&c) => c,
            };
            i = ws(s, i);
            let c = at(s, i);
            if c == close as i32 {
                closers.pop();
                i += 1;
                continue;
            }
            if c != b',' as i32 {
                return None;
            }
            i = ws(s, i + 1);
            want_key = close == b'}';
            break;
        }
    }
}

/// Reports whether doc is exactly one valid JSON value (with surrounding white space), nested
/// at most [`MAX_DEPTH`] levels.
pub fn valid(doc: &[u8]) -> bool {
    match value(doc, ws(doc, 0), 0) {
        Some(i) => ws(doc, i) == doc.len(),
        None => false,
    }
}

fn key_is(k: &[u8], want: &str) -> bool {
    k.eq_ignore_ascii_case(want.as_bytes())
}

/// What a matching member's value must be.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Want {
    String,
    Any,
}

/// Checks that doc is one JSON object (or null) and finds its member key as Go matches a
/// struct field; see [`string_field`]. The span is the value's raw bytes.
fn field(doc: &[u8], key: &str, want: Want) -> Result<Option<(usize, usize)>, Malformed> {
    let mut found = None;
    let mut i = ws(doc, 0);
    if word(doc, i, b"null") {
        i += 4;
    } else {
        if at(doc, i) != b'{' as i32 {
            return Err(Malformed);
        }
        i = ws(doc, i + 1);
        if at(doc, i) == b'}' as i32 {
            i += 1;
        } else {
            loop {
                if at(doc, i) != b'"' as i32 {
                    return Err(Malformed);
                }
                let k = i + 1;
                i = string(doc, i).ok_or(Malformed)?;
                let matched = key_is(&doc[k..i - 1], key);
                i = ws(doc, i);
                if at(doc, i) != b':' as i32 {
                    return Err(Malformed);
                }
                i = ws(doc, i + 1);
                if matched && word(doc, i, b"null") {
                    i += 4;
                } else if matched && want == Want::String {
                    if at(doc, i) != b'"' as i32 {
                        return Err(Malformed);
                    }
                    let v = i + 1;
                    i = string(doc, i).ok_or(Malformed)?;
                    found = Some((v, i - 1));
                } else {
                    let v = i;
                    i = value(doc, i, 1).ok_or(Malformed)?;
                    if matched {
                        found = Some((v, i));
                    }
                }
                i = ws(doc, i);
                let c = at(doc, i);
                if c == b'}' as i32 {
                    i += 1;
                    break;
                }
                if c != b',' as i32 {
                    return Err(Malformed);
                }
                i = ws(doc, i + 1);
            }
        }
    }
    if ws(doc, i) != doc.len() {
        return Err(Malformed);
    }
    Ok(found)
}

/// Checks that doc is one JSON object (or `null`) and finds its string member key, matched
/// as Go's `encoding/json` matches struct fields: exactly or ASCII case-insensitively, the
/// last one winning, `null` leaving it unset. It returns
///
/// - `Ok(Some(raw))`: the string's raw bytes between its quotes, escapes such as `\"` and
///   `\u00e9` left as they are, so they can be copied into another JSON string unchanged
///   (decode them with [`unescape`]);
/// - `Ok(None)`: the member is missing or null;
/// - `Err(Malformed)`: doc is not valid JSON, is not an object, or the member is neither a
///   string nor null.
///
/// Member names are compared as written, without decoding escapes in them.
pub fn string_field<'a>(doc: &'a [u8], key: &str) -> Result<Option<&'a [u8]>, Malformed> {
    Ok(field(doc, key, Want::String)?.map(|(a, b)| &doc[a..b]))
}

/// Like [`string_field`], for a member of any type: its value's raw JSON text (a number's
/// digits, an object's braces and all). `null` counts as absent.
pub fn raw_field<'a>(doc: &'a [u8], key: &str) -> Result<Option<&'a [u8]>, Malformed> {
    Ok(field(doc, key, Want::Any)?.map(|(a, b)| &doc[a..b]))
}

fn hex4(s: &[u8]) -> Option<u32> {
    let t = std::str::from_utf8(s.get(..4)?).ok()?;
    u32::from_str_radix(t, 16).ok()
}

/// Decodes the raw bytes of a JSON string (between its quotes, as [`string_field`] returns
/// them) into text. A lone surrogate becomes U+FFFD, as in Go; invalid UTF-8 or a bad escape
/// is `None`.
pub fn unescape(raw: &[u8]) -> Option<String> {
    let mut out = String::with_capacity(raw.len());
    let text = std::str::from_utf8(raw).ok()?;
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let (_, e) = chars.next()?;
        match e {
            '"' => out.push('"'),
            '\\' => out.push('\\'),
            '/' => out.push('/'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'u' => {
                let hi = hex4(&raw[i + 2..])?;
                for _ in 0..4 {
                    chars.next();
                }
                if (0xd800..0xdc00).contains(&hi) && raw.get(i + 6..i + 8) == Some(b"\\u") {
                    if let Some(lo) = hex4(&raw[i + 8..]).filter(|lo| (0xdc00..0xe000).contains(lo)) {
                        for _ in 0..6 {
                            chars.next();
                        }
                        let c = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
                        out.push(char::from_u32(c).unwrap_or('\u{fffd}'));
                        continue;
                    }
                }
                out.push(char::from_u32(hi).unwrap_or('\u{fffd}'));
            }
            _ => return None,
        }
    }
    Some(out)
}

/// Appends s to out as a JSON string, quotes included, escaping `"`, `\` and control
/// characters.
pub fn quote(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for &c in s.as_bytes() {
        match c {
            b'"' | b'\\' => out.extend_from_slice(&[b'\\', c]),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            c if c < 0x20 => out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[(c >> 4) as usize], HEX[(c & 15) as usize]]),
            c => out.push(c),
        }
    }
    out.push(b'"');
}

/// Builds one flat JSON object, member by member:
///
/// ```ignore
/// let body = json::Object::new().string("greeting", "Hello").raw("count", b"3").finish();
/// // {"greeting":"Hello","count":3}
/// ```
pub struct Object {
    buf: Vec<u8>,
}

impl Default for Object {
    fn default() -> Object {
        Object::new()
    }
}

impl Object {
    pub fn new() -> Object {
        Object { buf: vec![b'{'] }
    }

    fn key(&mut self, key: &str) {
        if self.buf.len() > 1 {
            self.buf.push(b',');
        }
        quote(&mut self.buf, key);
        self.buf.push(b':');
    }

    /// Adds a string member, escaped.
    pub fn string(mut self, key: &str, value: &str) -> Object {
        self.key(key);
        quote(&mut self.buf, value);
        self
    }

    /// Adds a string member whose value is raw JSON string bytes (as [`string_field`]
    /// returns them), written between quotes as they are.
    pub fn raw_string(mut self, key: &str, raw: &[u8]) -> Object {
        self.key(key);
        self.buf.push(b'"');
        self.buf.extend_from_slice(raw);
        self.buf.push(b'"');
        self
    }

    /// Adds a member whose value is already JSON text: a number, `true`, an object…
    pub fn raw(mut self, key: &str, json: &[u8]) -> Object {
        self.key(key);
        self.buf.extend_from_slice(json);
        self
    }

    /// Adds an integer member.
    pub fn int(self, key: &str, value: i64) -> Object {
        let text = value.to_string();
        self.raw(key, text.as_bytes())
    }

    /// Adds a boolean member.
    pub fn bool(self, key: &str, value: bool) -> Object {
        self.raw(key, if value { b"true" } else { b"false" })
    }

    /// Closes the object and returns its bytes.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push(b'}');
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields() {
        assert_eq!(string_field(br#"{"name":"John"}"#, "name"), Ok(Some(&b"John"[..])));
        assert_eq!(string_field(br#"{"NaMe":"a","name":null}"#, "name"), Ok(Some(&b"a"[..])));
        assert_eq!(string_field(b"null", "name"), Ok(None));
        assert_eq!(string_field(br#"{"name":1}"#, "name"), Err(Malformed));
        assert_eq!(string_field(br#"{"x":01}"#, "name"), Err(Malformed));
        assert_eq!(raw_field(br#"{"code":404,"detail":"x"}"#, "code"), Ok(Some(&b"404"[..])));
        let deep = format!("{{\"x\":{}{}}}", "[".repeat(9999), "]".repeat(9999));
        assert!(valid(deep.as_bytes()));
        let deeper = format!("{{\"x\":{}{}}}", "[".repeat(10000), "]".repeat(10000));
        assert_eq!(string_field(deeper.as_bytes(), "name"), Err(Malformed));
    }

    #[test]
    fn strings() {
        assert_eq!(unescape(br#"a\"b\u00e9\ud83c\udf89\n"#).as_deref(), Some("a\"bé🎉\n"));
        let mut out = Vec::new();
        quote(&mut out, "a\"b\\\u{1}");
        assert_eq!(out, br#""a\"b\\\u0001""#.to_vec());
        assert_eq!(Object::new().string("a", "b").int("n", -3).finish(), br#"{"a":"b","n":-3}"#.to_vec());
        assert_eq!(Object::default().bool("t", true).finish(), br#"{"t":true}"#.to_vec());
        assert_eq!(Object::new().finish(), b"{}".to_vec());
    }
}
