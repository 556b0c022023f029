//! json-codec-rust: the application/json codec (abi/ABI.md §15) in Rust, on the Rust SDK. It
//! serves the codec operations `encode` and `decode` over the `microhost.abi.v1.Message`
//! envelope and answers with the same bytes as the stock json-codec for every message the
//! stock codec accepts: the wire form of application/json is the bare JSON value, and an
//! error reply's wire body is its Go Micro JSON error.
//!
//! Errors are the stock codec's too: 400 for a malformed envelope or, from decode, a body that
//! is not JSON, 500 from encode, with the same detail for JSON syntax errors (Go's
//! encoding/json wording and offset); a malformed envelope's detail names the field but words
//! the protobuf error its own way.

use microhost::{Endpoint, Error, Request, Result};

fn register() {
    microhost::describe_kind("codec", "json-codec-rust", "1.0.0");
    // The content types a codec serves are declared on its operations (abi/codec.md).
    let op = |name| Endpoint::new(name).metadata("content_types", "application/json");
    microhost::handle_endpoint(op("encode"), encode);
    microhost::handle_endpoint(op("decode"), decode);
}

microhost::module!(register);

const CONTENT_TYPE: &[u8] = b"application/json";
const REQUEST: i32 = 1;
const RESPONSE: i32 = 2;

/// The envelope's fields a JSON codec reads; byte fields borrow the request body.
#[derive(Default)]
struct Message<'a> {
    kind: i32,
    error: &'a [u8],
    body: &'a [u8],
}

/// A protobuf wire-format reader over the envelope (proto3: unknown fields skipped, the last
/// of a repeated scalar kept).
struct Wire<'a> {
    b: &'a [u8],
}

impl<'a> Wire<'a> {
    fn varint(&mut self) -> std::result::Result<u64, &'static str> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let c = *self.b.get(i).ok_or("unexpected EOF")?;
            if i == 9 && c > 1 {
                return Err("variable length integer overflow");
            }
            v |= ((c & 0x7f) as u64) << (7 * i);
            if c < 0x80 {
                self.b = &self.b[i + 1..];
                return Ok(v);
            }
        }
        Err("variable length integer overflow")
    }

    fn tag(&mut self) -> std::result::Result<(u64, u8), &'static str> {
        let t = self.varint()?;
        let (num, typ) = (t >> 3, (t & 7) as u8);
        if num == 0 || num > (1 << 29) - 1 {
            return Err("invalid field number");
        }
        Ok((num, typ))
    }

    fn bytes(&mut self) -> std::result::Result<&'a [u8], &'static str> {
        let n = self.varint()?;
        if n > self.b.len() as u64 {
            return Err("unexpected EOF");
        }
        let (v, rest) = self.b.split_at(n as usize);
        self.b = rest;
        Ok(v)
    }

    fn fixed(&mut self, n: usize) -> std::result::Result<(), &'static str> {
        if self.b.len() < n {
            return Err("unexpected EOF");
        }
        self.b = &self.b[n..];
        Ok(())
    }

    /// Skips the value of field num of wire type typ, groups included.
    fn skip(&mut self, num: u64, typ: u8) -> std::result::Result<(), &'static str> {
        match typ {
            0 => self.varint().map(|_| ()),
            1 => self.fixed(8),
            2 => self.bytes().map(|_| ()),
            5 => self.fixed(4),
            3 => loop {
                let (n, t) = self.tag()?;
                if t == 4 {
                    return if n == num { Ok(()) } else { Err("mismatching end group marker") };
                }
                self.skip(n, t)?;
            },
            4 => Err("mismatching end group marker"),
            _ => Err("invalid wire type"),
        }
    }
}

fn malformed(what: &str) -> String {
    format!("malformed message envelope: {what}")
}

/// Reads the envelope, checking its header entries as the stock codec does.
fn unmarshal(b: &[u8]) -> std::result::Result<Message<'_>, String> {
    let mut m = Message::default();
    let mut w = Wire { b };
    while !w.b.is_empty() {
        let (num, typ) = w.tag().map_err(malformed)?;
        match (num, typ) {
            (1, 0) => m.kind = w.varint().map_err(|e| malformed(&format!("type: {e}")))? as i32,
            (2..=8, 2) => {
                let v = w.bytes().map_err(|e| malformed(&format!("field {num}: {e}")))?;
                match num {
                    5 => m.error = v,
                    7 => m.body = v,
                    8 => check_entry(v).map_err(|e| malformed(&format!("header entry: {e}")))?,
                    _ => {} // id, service, endpoint, content type: a JSON codec needs none
                }
            }
            _ => w.skip(num, typ).map_err(|e| malformed(&format!("field {num}: {e}")))?,
        }
    }
    Ok(m)
}

fn check_entry(b: &[u8]) -> std::result::Result<(), &'static str> {
    let mut w = Wire { b };
    while !w.b.is_empty() {
        let (num, typ) = w.tag()?;
        if (num == 1 || num == 2) && typ == 2 {
            w.bytes()?;
        } else {
            w.skip(num, typ)?;
        }
    }
    Ok(())
}

fn check_type(kind: i32) -> std::result::Result<(), String> {
    match kind {
        REQUEST | RESPONSE => Ok(()),
        k => Err(format!("message type must be request or response, not message type {k}")),
    }
}

/// encode answers with the wire bytes of the message: the body, or an error reply's error.
fn encode(req: &Request) -> Result {
    let m = unmarshal(&req.body).map_err(|e| Error::bad_request(format!("encode: {e}")))?;
    check_type(m.kind).map_err(Error::internal)?;
    if m.kind == RESPONSE && !m.error.is_empty() {
        if let Err(e) = validate(m.error) {
            return Err(Error::internal(format!("json: the error is not JSON: {e}")));
        }
        return Ok(m.error.to_vec());
    }
    if m.body.is_empty() && m.kind == RESPONSE {
        return Ok(Vec::new());
    }
    if let Err(e) = validate(m.body) {
        return Err(Error::internal(format!("json: the body is not valid JSON: {e}")));
    }
    Ok(m.body.to_vec())
}

/// decode answers with the message the wire carries: its type, the content type
/// application/json and the body.
fn decode(req: &Request) -> Result {
    let m = unmarshal(&req.body).map_err(|e| Error::bad_request(format!("decode: {e}")))?;
    check_type(m.kind).map_err(Error::bad_request)?;
    let mut body: &[u8] = &[];
    if !(m.body.is_empty() && m.kind == RESPONSE) {
        if let Err(e) = validate(m.body) {
            return Err(Error::bad_request(format!("malformed JSON body: {e}")));
        }
        body = m.body;
    }
    // The envelope as the stock codec writes it: type, content_type, body.
    let mut out = Vec::with_capacity(body.len() + 32);
    out.push(1 << 3);
    put_varint(&mut out, m.kind as i64 as u64);
    for (num, field) in [(6u8, CONTENT_TYPE), (7, body)] {
        if !field.is_empty() {
            out.push(num << 3 | 2);
            put_varint(&mut out, field.len() as u64);
            out.extend_from_slice(field);
        }
    }
    Ok(out)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// The deepest nesting accepted, as encoding/json's.
const MAX_DEPTH: usize = 10000;

/// Checks that b is one JSON value with optional white space around it, and reports the
/// first error as the stock codec's scanner does: the same words at the same offset. It
/// keeps an explicit stack of open containers instead of recursing.
fn validate(b: &[u8]) -> std::result::Result<(), String> {
    let i = value(b, ws(b, 0))?;
    let i = ws(b, i);
    if i != b.len() {
        return Err(unexpected(b, i, "after top-level value"));
    }
    Ok(())
}

fn ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

fn unexpected(b: &[u8], i: usize, what: &str) -> String {
    if i >= b.len() {
        return format!("unexpected end of JSON input at offset {i}");
    }
    format!("invalid character {} {what} at offset {i}", quote_byte(b[i]))
}

/// quote_byte is Go's %q of a byte: a quoted character literal of the rune of that value.
fn quote_byte(c: u8) -> String {
    match c {
        b'\'' => "'\\''".to_string(),
        b'\\' => "'\\\\'".to_string(),
        0x07 => "'\\a'".to_string(),
        0x08 => "'\\b'".to_string(),
        0x0c => "'\\f'".to_string(),
        b'\n' => "'\\n'".to_string(),
        b'\r' => "'\\r'".to_string(),
        b'\t' => "'\\t'".to_string(),
        0x0b => "'\\v'".to_string(),
        0x20..=0x7e => format!("'{}'", c as char),
        0x00..=0x1f | 0x7f => format!("'\\x{c:02x}'"),
        0x80..=0xa0 | 0xad => format!("'\\u{:04x}'", c as u32),
        _ => format!("'{}'", c as char),
    }
}

/// Eight copies of the byte 0x01, and of 0x80: the constants of the word-at-a-time tests.
const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Reports whether any of the eight bytes of w (read little-endian) ends or escapes a plain
/// run of string: a quote, a backslash or a control character (below 0x20). Each test is the
/// classic "has a byte below n" bit trick, which can report false positives only above a true
/// one, so a false answer is exact.
#[inline]
fn special(w: u64) -> bool {
    let below = |v: u64, n: u64| v.wrapping_sub(ONES * n) & !v & HIGHS;
    (below(w ^ (ONES * b'"' as u64), 1) | below(w ^ (ONES * b'\\' as u64), 1) | below(w, 0x20)) != 0
}

/// Returns the index of the first byte from i that is a quote, a backslash or a control
/// character, or a little before it: it skips whole words of eight plain bytes, and leaves
/// the last word, and the one that holds such a byte, to the byte-at-a-time loop.
#[inline]
fn plain_run(b: &[u8], mut i: usize) -> usize {
    while let Some(w) = b.get(i..i + 8) {
        if special(u64::from_le_bytes(w.try_into().unwrap())) {
            break;
        }
        i += 8;
    }
    i
}

fn string(b: &[u8], mut i: usize) -> std::result::Result<usize, String> {
    i += 1; // the opening quote
    while i < b.len() {
        i = plain_run(b, i);
        if i >= b.len() {
            break;
        }
        let c = b[i];
        if c == b'"' {
            return Ok(i + 1);
        }
        if c == b'\\' {
            if i + 1 >= b.len() {
                return Err(unexpected(b, i + 1, ""));
            }
            match b[i + 1] {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i += 2,
                b'u' => {
                    for k in 2..6 {
                        if i + k >= b.len() {
                            return Err(unexpected(b, i + k, ""));
                        }
                        if !b[i + k].is_ascii_hexdigit() {
                            return Err(unexpected(b, i + k, "in \\u hexadecimal character escape"));
                        }
                    }
                    i += 6;
                }
                _ => return Err(unexpected(b, i + 1, "in string escape code")),
            }
        } else if c < 0x20 {
            return Err(unexpected(b, i, "in string literal"));
        } else {
            i += 1;
        }
    }
    Err(unexpected(b, i, ""))
}

fn digits(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    i
}

fn number(b: &[u8], mut i: usize) -> std::result::Result<usize, String> {
    if b[i] == b'-' {
        i += 1;
    }
    if i >= b.len() {
        return Err(unexpected(b, i, ""));
    }
    if b[i] == b'0' {
        i += 1;
    } else if b[i].is_ascii_digit() {
        i = digits(b, i);
    } else {
        return Err(unexpected(b, i, "in numeric literal"));
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if i >= b.len() || !b[i].is_ascii_digit() {
            return Err(unexpected(b, i, "after decimal point in numeric literal"));
        }
        i = digits(b, i);
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if i >= b.len() || !b[i].is_ascii_digit() {
            return Err(unexpected(b, i, "in exponent of numeric literal"));
        }
        i = digits(b, i);
    }
    Ok(i)
}

fn literal(b: &[u8], i: usize, lit: &str) -> std::result::Result<usize, String> {
    for (k, &c) in lit.as_bytes().iter().enumerate() {
        if i + k >= b.len() || b[i + k] != c {
            return Err(unexpected(b, i + k, &format!("in literal {lit}")));
        }
    }
    Ok(i + lit.len())
}

/// Checks the value at i (not white space) and returns the index past it.
fn value(b: &[u8], mut i: usize) -> std::result::Result<usize, String> {
    let mut open: Vec<u8> = Vec::new();
    // What comes next: a value, or an object key.
    let mut want_key = false;
    loop {
        if std::mem::take(&mut want_key) {
            if i >= b.len() || b[i] != b'"' {
                return Err(unexpected(b, i, "looking for beginning of object key string"));
            }
            i = ws(b, string(b, i)?);
            if i >= b.len() || b[i] != b':' {
                return Err(unexpected(b, i, "after object key"));
            }
            i = ws(b, i + 1);
        }
        if i >= b.len() {
            return Err(unexpected(b, i, ""));
        }
        match b[i] {
            c @ (b'{' | b'[') => {
                if open.len() + 1 > MAX_DEPTH {
                    return Err(format!("exceeded max depth of {MAX_DEPTH} at offset {i}"));
                }
                let close = if c == b'{' { b'}' } else { b']' };
                i = ws(b, i + 1);
                if i < b.len() && b[i] == close {
                    i += 1;
                } else {
                    open.push(c);
                    want_key = c == b'{';
                    continue;
                }
            }
            b'"' => i = string(b, i)?,
            b'-' | b'0'..=b'9' => i = number(b, i)?,
            b't' => i = literal(b, i, "true")?,
            b'f' => i = literal(b, i, "false")?,
            b'n' => i = literal(b, i, "null")?,
            _ => return Err(unexpected(b, i, "looking for beginning of value")),
        }
        // After a value: close containers, or move on to the next member or element.
        loop {
            let top = match open.last() {
                None => return Ok(i),
                Some(&c) => c,
            };
            i = ws(b, i);
            if i >= b.len() {
                return Err(unexpected(b, i, ""));
            }
            let (close, what) = if top == b'{' { (b'}', "after object key:value pair") } else { (b']', "after array element") };
            if b[i] == b',' {
                i = ws(b, i + 1);
                want_key = top == b'{';
                break;
            }
            if b[i] != close {
                return Err(unexpected(b, i, what));
            }
            open.pop();
            i += 1;
        }
    }
}
