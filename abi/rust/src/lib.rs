//! The Rust guest SDK for microhost's ABI version 1 (`abi/ABI.md`): a safe API over the host
//! imports, with no dependency beyond the standard library.
//!
//! A module registers its endpoints with closures in a function that [`module!`] runs once
//! per instance, before the first call:
//!
//! ```ignore
//! use microhost::{json, Error};
//!
//! fn register() {
//!     microhost::describe("greeter", "1.0.0");
//!     microhost::handle("Greeter.Hello", |req| {
//!         let name = json::string_field(&req.body, "name")
//!             .map_err(|_| Error::bad_request("malformed JSON request"))?
//!             .unwrap_or_default();
//!         Ok(json::Object::new().raw_string("greeting", name).finish())
//!     });
//! }
//!
//! microhost::module!(register);
//! ```
//!
//! Build for `wasm32-unknown-unknown` (no WASI imports) or `wasm32-wasi` as a `cdylib`; see
//! abi/rust/README.md.

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

pub mod json;

/// The raw host functions of ABI §5, §12.2, §16 and §17. Prefer the safe API.
pub mod sys {
    #[cfg(target_arch = "wasm32")]
    #[link(wasm_import_module = "microhost")]
    extern "C" {
        pub fn request_endpoint(buf: *mut u8, cap: u32) -> u32;
        pub fn request_body(buf: *mut u8, cap: u32) -> u32;
        pub fn request_header(key: *const u8, key_len: u32, buf: *mut u8, cap: u32) -> i32;
        pub fn response_body(ptr: *const u8, len: u32);
        pub fn response_header(key: *const u8, key_len: u32, val: *const u8, val_len: u32);
        pub fn error(code: i32, detail: *const u8, detail_len: u32);
        pub fn log(level: i32, msg: *const u8, msg_len: u32);
        pub fn call(
            service: *const u8,
            service_len: u32,
            endpoint: *const u8,
            endpoint_len: u32,
            content_type: *const u8,
            content_type_len: u32,
            body: *const u8,
            body_len: u32,
        ) -> i32;
        pub fn call_result(buf: *mut u8, cap: u32) -> i32;
        pub fn publish(topic: *const u8, topic_len: u32, body: *const u8, body_len: u32) -> i32;
        pub fn stream_send(ptr: *const u8, len: u32) -> i32;
        pub fn stream_recv(buf: *mut u8, cap: u32) -> i32;
    }

    // Off wasm32 (unit tests of a module's own logic on the build machine) there is no host:
    // a request has nothing, replies go nowhere, calls and publications fail with 503.
    #[cfg(not(target_arch = "wasm32"))]
    mod native {
        pub unsafe fn request_endpoint(_: *mut u8, _: u32) -> u32 { 0 }
        pub unsafe fn request_body(_: *mut u8, _: u32) -> u32 { 0 }
        pub unsafe fn request_header(_: *const u8, _: u32, _: *mut u8, _: u32) -> i32 { -1 }
        pub unsafe fn response_body(_: *const u8, _: u32) {}
        pub unsafe fn response_header(_: *const u8, _: u32, _: *const u8, _: u32) {}
        pub unsafe fn error(_: i32, _: *const u8, _: u32) {}
        pub unsafe fn log(_: i32, msg: *const u8, len: u32) {
            let msg = std::slice::from_raw_parts(msg, len as usize);
            eprintln!("{}", String::from_utf8_lossy(msg));
        }
        #[allow(clippy::too_many_arguments)]
        pub unsafe fn call(_: *const u8, _: u32, _: *const u8, _: u32, _: *const u8, _: u32, _: *const u8, _: u32) -> i32 { -1 }
        pub unsafe fn call_result(buf: *mut u8, cap: u32) -> i32 {
            let text = br#"{"id":"","code":503,"detail":"no host: not running on wasm32","status":"Service Unavailable"}"#;
            if text.len() <= cap as usize {
                std::ptr::copy_nonoverlapping(text.as_ptr(), buf, text.len());
            }
            text.len() as i32
        }
        pub unsafe fn publish(_: *const u8, _: u32, _: *const u8, _: u32) -> i32 { 503 }
        pub unsafe fn stream_send(_: *const u8, _: u32) -> i32 { 400 }
        pub unsafe fn stream_recv(_: *mut u8, _: u32) -> i32 { -2 }
    }
    #[cfg(not(target_arch = "wasm32"))]
    pub use native::*;
}

/// A failed call: a Go Micro error's HTTP status code and detail. The host adds the
/// service name as `id` and the status text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub code: i32,
    pub detail: String,
}

impl Error {
    pub fn new(code: i32, detail: impl Into<String>) -> Error {
        Error { code, detail: detail.into() }
    }
    /// A 400 error.
    pub fn bad_request(detail: impl Into<String>) -> Error {
        Error::new(400, detail)
    }
    /// A 404 error.
    pub fn not_found(detail: impl Into<String>) -> Error {
        Error::new(404, detail)
    }
    /// A 500 error.
    pub fn internal(detail: impl Into<String>) -> Error {
        Error::new(500, detail)
    }
    /// Parses a Go Micro JSON error (`{"id":…,"code":…,"detail":…,"status":…}`); text that
    /// is not one becomes a 500 carrying the text.
    pub fn parse(text: &[u8]) -> Error {
        let code = json::raw_field(text, "code")
            .ok()
            .flatten()
            .and_then(|c| std::str::from_utf8(c).ok()?.parse::<i32>().ok());
        let detail = json::string_field(text, "detail").ok().flatten().and_then(json::unescape);
        match (code, detail) {
            (Some(code), Some(detail)) => Error { code, detail },
            (Some(code), None) => Error { code, detail: String::new() },
            _ => Error::internal(String::from_utf8_lossy(text).into_owned()),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (code {})", self.detail, self.code)
    }
}

impl std::error::Error for Error {}

impl From<json::Malformed> for Error {
    fn from(_: json::Malformed) -> Error {
        Error::bad_request("malformed JSON request")
    }
}

/// What a handler returns: the reply body, or an error.
pub type Result<T = Vec<u8>> = std::result::Result<T, Error>;

/// One call: the endpoint (or topic, or plugin operation) and the request body, in the
/// request's content type. Headers are read from the host on demand.
#[derive(Debug)]
pub struct Request {
    pub endpoint: String,
    pub body: Vec<u8>,
}

impl Request {
    /// A request header or metadata value, looked up case-insensitively (`Content-Type`,
    /// `Micro-Id`, the caller's metadata…), or `None` when absent. Invalid UTF-8 is replaced.
    pub fn header(&self, key: &str) -> Option<String> {
        self.header_bytes(key).map(|v| String::from_utf8(v).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
    }

    /// A request header's raw bytes, or `None` when absent.
    pub fn header_bytes(&self, key: &str) -> Option<Vec<u8>> {
        let mut buf: Vec<u8> = Vec::new();
        loop {
            let n = unsafe { sys::request_header(key.as_ptr(), key.len() as u32, buf.as_mut_ptr(), buf.capacity() as u32) };
            if n < 0 {
                return None;
            }
            let n = n as usize;
            if n <= buf.capacity() {
                unsafe { buf.set_len(n) };
                return Some(buf);
            }
            buf.reserve_exact(n);
        }
    }

    /// The request's content type (`application/json` for a JSON body).
    pub fn content_type(&self) -> String {
        self.header("Content-Type").unwrap_or_default()
    }

    /// Adds a metadata key and value to the reply (the caller reads it as a header).
    pub fn set_header(&self, key: &str, value: &str) {
        unsafe { sys::response_header(key.as_ptr(), key.len() as u32, value.as_ptr(), value.len() as u32) }
    }
}

/// The levels of [`log`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Debug = -4,
    Info = 0,
    Warn = 4,
    Error = 8,
}

/// Writes msg to the host's log at level, tagged with the module's name.
pub fn log(level: Level, msg: &str) {
    unsafe { sys::log(level as i32, msg.as_ptr(), msg.len() as u32) }
}

/// Writes msg to the host's log at the info level.
pub fn info(msg: &str) {
    log(Level::Info, msg)
}

/// Calls `endpoint` ("Service.Method") of `service` through the host's client: registry
/// lookup, node selection, retries, bounded by the current request's deadline, carrying its
/// metadata. body is in content_type (`application/json` when empty), and so is the reply.
/// A failure is the Go Micro error: the callee's own, or the client's (408, 502, 503…).
pub fn call(service: &str, endpoint: &str, content_type: &str, body: &[u8]) -> Result {
    if service.is_empty() || endpoint.is_empty() {
        return Err(Error::bad_request("call: the service and the endpoint are required"));
    }
    let n = unsafe {
        sys::call(
            service.as_ptr(),
            service.len() as u32,
            endpoint.as_ptr(),
            endpoint.len() as u32,
            content_type.as_ptr(),
            content_type.len() as u32,
            body.as_ptr(),
            body.len() as u32,
        )
    };
    let len = if n >= 0 { n } else { unsafe { sys::call_result(std::ptr::null_mut(), 0) } };
    let mut buf = vec![0u8; len.max(0) as usize];
    unsafe { sys::call_result(buf.as_mut_ptr(), buf.len() as u32) };
    if n >= 0 {
        Ok(buf)
    } else {
        Err(Error::parse(&buf))
    }
}

/// Publishes body on topic through the host's broker and waits until every subscriber has
/// it, or the host gave up on some. A failure's code is the host's status: 400 bad topic,
/// 403 the module's publishes grant does not cover the topic, 408 deadline, 502 no
/// subscriber got it, 503 no broker.
pub fn publish(topic: &str, body: &[u8]) -> Result<()> {
    let status = unsafe { sys::publish(topic.as_ptr(), topic.len() as u32, body.as_ptr(), body.len() as u32) };
    match status {
        0 => Ok(()),
        400 => Err(Error::new(400, format!("publish {topic}: bad topic"))),
        403 => Err(Error::new(403, format!("publish {topic}: the module's publishes grant does not cover the topic"))),
        408 => Err(Error::new(408, format!("publish {topic}: the deadline passed"))),
        502 => Err(Error::new(502, format!("publish {topic}: no subscriber got the message"))),
        503 => Err(Error::new(503, format!("publish {topic}: no broker"))),
        code => Err(Error::new(code, format!("publish {topic}: failed with status {code}"))),
    }
}

/// The stream a request opened (see [`handle_stream`]).
pub struct Stream {
    _private: (),
}

impl Stream {
    /// Sends one message to the client. Fails with 400 when the request is not a stream,
    /// 408 once the deadline passed, 499 when the client is gone; the handler should then
    /// return.
    pub fn send(&mut self, msg: &[u8]) -> Result<()> {
        match unsafe { sys::stream_send(msg.as_ptr(), msg.len() as u32) } {
            0 => Ok(()),
            code => Err(Error::new(code, format!("stream: send failed with status {code}"))),
        }
    }

    /// Waits for the client's next message: `Ok(None)` once the client closed its side, an
    /// error (499) when no message can come.
    pub fn recv(&mut self) -> Result<Option<Vec<u8>>> {
        let mut buf: Vec<u8> = Vec::with_capacity(4096);
        loop {
            let n = unsafe { sys::stream_recv(buf.as_mut_ptr(), buf.capacity() as u32) };
            match n {
                -1 => return Ok(None),
                n if n < 0 => return Err(Error::new(499, "stream: receive: no message can come (the client is gone or the deadline passed)")),
                n if n as usize <= buf.capacity() => {
                    unsafe { buf.set_len(n as usize) };
                    return Ok(Some(buf));
                }
                // Too big: the message stays pending; ask again with room for it.
                n => buf.reserve_exact(n as usize),
            }
        }
    }
}

/// One endpoint's (or operation's) entry in the descriptor.
#[derive(Clone, Debug, Default)]
pub struct Endpoint {
    name: String,
    request: String,
    response: String,
    metadata: Vec<(String, String)>,
}

impl Endpoint {
    pub fn new(name: &str) -> Endpoint {
        Endpoint { name: name.to_string(), ..Endpoint::default() }
    }
    /// Names the request message type, for the registry.
    pub fn request(mut self, name: &str) -> Endpoint {
        self.request = name.to_string();
        self
    }
    /// Names the response message type, for the registry.
    pub fn response(mut self, name: &str) -> Endpoint {
        self.response = name.to_string();
        self
    }
    /// Adds a metadata key and value (replacing an earlier value of the key).
    pub fn metadata(mut self, key: &str, value: &str) -> Endpoint {
        self.metadata.retain(|(k, _)| k != key);
        self.metadata.push((key.to_string(), value.to_string()));
        self
    }
}

type Unary = dyn Fn(&Request) -> Result;
type Streaming = dyn Fn(&Request, &mut Stream) -> Result<()>;

enum Handler {
    Unary(Rc<Unary>),
    Stream(Rc<Streaming>),
}

struct Registry {
    kind: String,
    name: String,
    version: String,
    endpoints: Vec<(Endpoint, Handler)>,
    descriptor: Vec<u8>,
}

thread_local! {
    static REGISTRY: RefCell<Registry> = RefCell::new(Registry {
        kind: "handler".to_string(),
        name: String::new(),
        version: String::new(),
        endpoints: Vec::new(),
        descriptor: Vec::new(),
    });
}

/// Names the module, a handler, and its version.
pub fn describe(name: &str, version: &str) {
    describe_kind("handler", name, version)
}

/// Names a module of another kind: `subscriber`, or a plugin (`codec`, `selector`,
/// `transport`, `broker`, `registry`), whose operations are its endpoints.
pub fn describe_kind(kind: &str, name: &str, version: &str) {
    REGISTRY.with(|r| {
        let mut r = r.borrow_mut();
        r.kind = kind.to_string();
        r.name = name.to_string();
        r.version = version.to_string();
    })
}

fn register(e: Endpoint, h: Handler) {
    REGISTRY.with(|r| {
        let mut r = r.borrow_mut();
        r.endpoints.retain(|(have, _)| have.name != e.name);
        r.endpoints.push((e, h));
    })
}

/// Serves the endpoint (or plugin operation) `name` with f, which returns the reply body or
/// an error.
pub fn handle<F: Fn(&Request) -> Result + 'static>(name: &str, f: F) {
    handle_endpoint(Endpoint::new(name), f)
}

/// Serves an endpoint described in full (message type names, metadata).
pub fn handle_endpoint<F: Fn(&Request) -> Result + 'static>(e: Endpoint, f: F) {
    register(e, Handler::Unary(Rc::new(f)))
}

/// Subscribes to topic (ABI §12.1): each message is one call of f, whose request carries the
/// topic as its endpoint, the message as its body and `Micro-Topic`, `Micro-Id` and the
/// publisher's metadata as headers. `Ok` accepts the message; a 4xx error refuses it for
/// good, anything else makes the publisher retry.
pub fn subscribe<F: Fn(&Request) -> Result<()> + 'static>(topic: &str, f: F) {
    let e = Endpoint::new(topic).metadata("subscriber", "true").metadata("topic", topic);
    register(e, Handler::Unary(Rc::new(move |req: &Request| f(req).map(|()| Vec::new()))))
}

/// Serves a streaming endpoint (ABI §17): the request body is the client's first message; f
/// sends and receives on the stream, and its return ends the stream (an error ends it with
/// that error after the messages sent).
pub fn handle_stream<F: Fn(&Request, &mut Stream) -> Result<()> + 'static>(name: &str, f: F) {
    handle_stream_endpoint(Endpoint::new(name), f)
}

/// [`handle_stream`] for an endpoint described in full; the `stream` metadata is set.
pub fn handle_stream_endpoint<F: Fn(&Request, &mut Stream) -> Result<()> + 'static>(e: Endpoint, f: F) {
    register(e.metadata("stream", "true"), Handler::Stream(Rc::new(f)))
}

fn build_descriptor(r: &Registry) -> Vec<u8> {
    let mut d = Vec::new();
    d.extend_from_slice(b"{\"kind\":");
    json::quote(&mut d, &r.kind);
    d.extend_from_slice(b",\"name\":");
    json::quote(&mut d, &r.name);
    if !r.version.is_empty() {
        d.extend_from_slice(b",\"version\":");
        json::quote(&mut d, &r.version);
    }
    if !r.endpoints.is_empty() {
        d.extend_from_slice(b",\"endpoints\":[");
        for (i, (e, _)) in r.endpoints.iter().enumerate() {
            d.extend_from_slice(if i == 0 { b"{\"name\":" } else { b",{\"name\":" });
            json::quote(&mut d, &e.name);
            for (key, val) in [("request", &e.request), ("response", &e.response)] {
                if !val.is_empty() {
                    d.push(b',');
                    json::quote(&mut d, key);
                    d.push(b':');
                    json::quote(&mut d, val);
                }
            }
            if !e.metadata.is_empty() {
                d.extend_from_slice(b",\"metadata\":{");
                for (j, (k, v)) in e.metadata.iter().enumerate() {
                    if j > 0 {
                        d.push(b',');
                    }
                    json::quote(&mut d, k);
                    d.push(b':');
                    json::quote(&mut d, v);
                }
                d.push(b'}');
            }
            d.push(b'}');
        }
        d.push(b']');
    }
    d.push(b'}');
    d
}

thread_local! {
    static STARTED: std::cell::Cell<bool> = std::cell::Cell::new(false);
}

/// Runs init once per instance: installs a panic hook that logs the panic through the host,
/// then init's registrations.
#[doc(hidden)]
pub fn __start(init: fn()) {
    if STARTED.with(|s| s.replace(true)) {
        return;
    }
    std::panic::set_hook(Box::new(|info| log(Level::Error, &format!("panic: {info}"))));
    init();
}

#[doc(hidden)]
pub fn __describe(init: fn()) -> u64 {
    __start(init);
    REGISTRY.with(|r| {
        let mut r = r.borrow_mut();
        if r.descriptor.is_empty() {
            r.descriptor = build_descriptor(&r);
        }
        ((r.descriptor.as_ptr() as u64) << 32) | r.descriptor.len() as u64
    })
}

thread_local! {
    /// The last call's request, whose buffers the next call reuses.
    static SCRATCH: RefCell<Option<Request>> = RefCell::new(None);
}

/// Reads the call's endpoint and body into a request whose buffers are reused across calls.
fn read_request(endpoint_len: u32, body_len: u32) -> Request {
    let (mut endpoint, mut body) = match SCRATCH.with(|s| s.borrow_mut().take()) {
        Some(r) => (r.endpoint.into_bytes(), r.body),
        None => (Vec::new(), Vec::new()),
    };
    endpoint.clear();
    endpoint.resize(endpoint_len as usize, 0);
    body.clear();
    body.reserve(body_len as usize);
    unsafe {
        sys::request_endpoint(endpoint.as_mut_ptr(), endpoint_len);
        // The host copies the body when it fits, which it does in body_len bytes: the
        // bytes are then initialised without zeroing them first.
        if sys::request_body(body.as_mut_ptr(), body_len) == body_len {
            body.set_len(body_len as usize);
        } else {
            body.resize(body_len as usize, 0);
        }
    }
    let endpoint = String::from_utf8(endpoint).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    Request { endpoint, body }
}

#[doc(hidden)]
pub fn __handle(init: fn(), endpoint_len: u32, body_len: u32) -> u32 {
    __start(init);
    let req = read_request(endpoint_len, body_len);
    let handler = REGISTRY.with(|r| {
        r.borrow().endpoints.iter().find(|(e, _)| e.name == req.endpoint).map(|(_, h)| match h {
            Handler::Unary(f) => Handler::Unary(f.clone()),
            Handler::Stream(f) => Handler::Stream(f.clone()),
        })
    });
    let result = match handler {
        Some(Handler::Unary(f)) => f(&req),
        Some(Handler::Stream(f)) => f(&req, &mut Stream { _private: () }).map(|()| Vec::new()),
        None => Err(Error::not_found(format!("unknown endpoint {}", req.endpoint))),
    };
    // Keep the buffers for the next call, unless they are large.
    if req.body.capacity() <= 1 << 20 {
        SCRATCH.with(|s| *s.borrow_mut() = Some(req));
    }
    match result {
        Ok(reply) => {
            unsafe { sys::response_body(reply.as_ptr(), reply.len() as u32) };
            0
        }
        Err(e) => {
            unsafe { sys::error(e.code, e.detail.as_ptr(), e.detail.len() as u32) };
            1
        }
    }
}

/// Defines the module's exports (the ABI marker, `microhost_describe`, `microhost_handle`)
/// in the crate that uses it, around init, the function that registers the endpoints. The
/// host calls no initializer: init runs on an instance's first call into the module. Use it
/// once, in the `cdylib` crate.
#[macro_export]
macro_rules! module {
    ($init:path) => {
        #[no_mangle]
        pub extern "C" fn microhost_abi_version_1() {}

        #[no_mangle]
        pub extern "C" fn microhost_describe() -> u64 {
            $crate::__describe($init)
        }

        #[no_mangle]
        pub extern "C" fn microhost_handle(endpoint_len: u32, body_len: u32) -> u32 {
            $crate::__handle($init, endpoint_len, body_len)
        }
    };
}
