//! json-codec-rust: the application/json codec (abi/ABI.md §15) in Rust, on the Rust SDK. It
//! serves the codec operations `encode` and `decode` over the `microhost.abi.v1.Message`
//! envelope and answers with the same bytes as the stock json-codec for every message the
//! stock codec accepts: the wire form of application/json is the bare JSON value, and an
//! error reply's wire body is its Go Micro JSON error.
//!
//! Error codes are the stock codec's (400 for a malformed envelope or, from decode, a body
//! that is not JSON; 500 from encode), with details of the same form; the syntax error's
//! wording differs.

use microhost::{json, Error, Request, Result};

fn register() {
    microhost::describe_kind("codec", "json-codec-rust", "1.0.0");
    microhost::handle("encode", encode);
    microhost::handle("decode", decode);
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
        if !json::valid(m.error) {
            return Err(Error::internal("json: the error is not JSON: syntax error"));
        }
        return Ok(m.error.to_vec());
    }
    if m.body.is_empty() && m.kind == RESPONSE {
        return Ok(Vec::new());
    }
    if !json::valid(m.body) {
        return Err(Error::internal("json: the body is not valid JSON: syntax error"));
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
        if !json::valid(m.body) {
            return Err(Error::bad_request("malformed JSON body: syntax error"));
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
