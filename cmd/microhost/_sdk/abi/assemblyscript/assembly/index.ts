// @microhost/guest: the AssemblyScript guest SDK for microhost's ABI version 1 (abi/ABI.md).
//
// A handler module registers its endpoints at the top level of its entry file and re-exports
// the three ABI exports:
//
//   import { describe, handle, replyString, Request } from "@microhost/guest";
//   export { microhost_abi_version_1, microhost_describe, microhost_handle } from "@microhost/guest";
//
//   describe("greeter", "1.0.0");
//   handle("Greeter.Hello", (req: Request): i32 => replyString("{\"greeting\":\"Hello\"}"));
//
// Build it with asconfig.json's options (see README.md): --exportStart _initialize and
// --use abort=microhostAbort.

// ---- Host functions (ABI §5), imported from the "microhost" namespace. ----

// @ts-ignore: decorator
@external("microhost", "request_endpoint")
declare function hostRequestEndpoint(buf: usize, cap: u32): u32;

// @ts-ignore: decorator
@external("microhost", "request_body")
declare function hostRequestBody(buf: usize, cap: u32): u32;

// @ts-ignore: decorator
@external("microhost", "request_header")
declare function hostRequestHeader(key: usize, keyLen: u32, buf: usize, cap: u32): i32;

// @ts-ignore: decorator
@external("microhost", "response_body")
declare function hostResponseBody(ptr: usize, len: u32): void;

// @ts-ignore: decorator
@external("microhost", "response_header")
declare function hostResponseHeader(key: usize, keyLen: u32, val: usize, valLen: u32): void;

// @ts-ignore: decorator
@external("microhost", "error")
declare function hostError(code: i32, detail: usize, detailLen: u32): void;

// @ts-ignore: decorator
@external("microhost", "log")
declare function hostLog(level: i32, msg: usize, msgLen: u32): void;

// ---- Statuses, log levels, kinds. ----

/** OK is the status of a call that replied; reply* functions return it. */
export const OK: i32 = 0;
/** FAILED is the status of a call that failed; fail returns it. */
export const FAILED: i32 = 1;

export const LOG_DEBUG: i32 = -4;
export const LOG_INFO: i32 = 0;
export const LOG_WARN: i32 = 4;
export const LOG_ERROR: i32 = 8;

// ---- Requests and registrations. ----

/** Request is one call. Its body is only valid until the handler returns. */
export class Request {
  constructor(
    /** The endpoint called, such as "Greeter.Hello". */
    public endpoint: string,
    /** The request body in the request's content type. */
    public body: Uint8Array,
  ) {}

  /** The body decoded as UTF-8. */
  bodyString(): string {
    return String.UTF8.decodeUnsafe(this.body.dataStart, <usize>this.body.length);
  }

  /** A request header or metadata value, looked up case-insensitively; null when absent. */
  header(key: string): string | null {
    const k = String.UTF8.encode(key);
    const kp = changetype<usize>(k);
    const kl = <u32>k.byteLength;
    const n = hostRequestHeader(kp, kl, 0, 0);
    if (n < 0) return null;
    if (n == 0) return "";
    const buf = new ArrayBuffer(n);
    hostRequestHeader(kp, kl, changetype<usize>(buf), <u32>n);
    return String.UTF8.decode(buf);
  }
}

/** Handler serves one endpoint; it returns what reply* or fail return. */
export type Handler = (req: Request) => i32;

class Endpoint {
  /** The name as UTF-8, compared with each call's endpoint without decoding it. */
  nameUTF8: ArrayBuffer;

  constructor(
    public name: string,
    public request: string,
    public response: string,
    public fn: Handler,
  ) {
    this.nameUTF8 = String.UTF8.encode(name);
  }

  is(ptr: usize, len: u32): bool {
    return <u32>this.nameUTF8.byteLength == len && memory.compare(changetype<usize>(this.nameUTF8), ptr, <usize>len) == 0;
  }
}

let moduleKind = "handler";
let moduleName = "";
let moduleVersion = "";
const endpoints = new Array<Endpoint>();

/** describe names a handler module and its version. Call it at the top level. */
export function describe(name: string, version: string): void {
  describeKind("handler", name, version);
}

/** describeKind names a module of another kind ("codec", "selector", ...) and its version. */
export function describeKind(kind: string, name: string, version: string): void {
  moduleKind = kind;
  moduleName = name;
  moduleVersion = version;
}

/** handle registers fn for an endpoint; request and response name its message types. */
export function handle(endpoint: string, fn: Handler, request: string = "", response: string = ""): void {
  for (let i = 0; i < endpoints.length; i++) {
    if (endpoints[i].name == endpoint) {
      endpoints[i] = new Endpoint(endpoint, request, response, fn);
      return;
    }
  }
  endpoints.push(new Endpoint(endpoint, request, response, fn));
}

// ---- Replies, errors, headers, logs. ----

/** reply sets the reply body (the host copies it) and returns OK. */
export function reply(body: Uint8Array): i32 {
  hostResponseBody(body.dataStart, <u32>body.length);
  return OK;
}

/** replyString sets a reply body from a string, as UTF-8, and returns OK. */
export function replyString(body: string): i32 {
  const b = String.UTF8.encode(body);
  hostResponseBody(changetype<usize>(b), <u32>b.byteLength);
  return OK;
}

/** fail fails the call with a Go Micro error of code (400, 404, 500, ...) and returns FAILED. */
export function fail(code: i32, detail: string): i32 {
  const b = String.UTF8.encode(detail);
  hostError(code, changetype<usize>(b), <u32>b.byteLength);
  return FAILED;
}

/** setHeader adds a metadata key and value to the reply. */
export function setHeader(key: string, value: string): void {
  const k = String.UTF8.encode(key);
  const v = String.UTF8.encode(value);
  hostResponseHeader(changetype<usize>(k), <u32>k.byteLength, changetype<usize>(v), <u32>v.byteLength);
}

/** log writes msg to the host's log at level (LOG_DEBUG ... LOG_ERROR). */
export function log(level: i32, msg: string): void {
  const b = String.UTF8.encode(msg);
  hostLog(level, changetype<usize>(b), <u32>b.byteLength);
}

/**
 * microhostAbort is the runtime's abort handler (select it with --use abort=microhostAbort):
 * it logs the message and traps, so the host fails the call and replaces the instance.
 */
// @ts-ignore: decorator
@global
export function microhostAbort(message: string | null, fileName: string | null, line: u32, column: u32): void {
  let msg = "abort";
  if (message !== null) msg += ": " + message;
  if (fileName !== null) msg += " at " + fileName + ":" + line.toString() + ":" + column.toString();
  log(LOG_ERROR, msg);
  unreachable();
}

// ---- Byte building. ----

/** Bytes is a growable byte buffer for building replies. */
export class Bytes {
  private buf: Uint8Array = new Uint8Array(64);
  /** The number of bytes written. */
  length: i32 = 0;

  private grow(extra: i32): void {
    const need = this.length + extra;
    if (need <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < need) cap *= 2;
    const grown = new Uint8Array(cap);
    memory.copy(grown.dataStart, this.buf.dataStart, <usize>this.length);
    this.buf = grown;
  }

  /** append adds bytes. */
  append(b: Uint8Array): Bytes {
    this.grow(b.length);
    memory.copy(this.buf.dataStart + <usize>this.length, b.dataStart, <usize>b.length);
    this.length += b.length;
    return this;
  }

  /** appendString adds a string as UTF-8. */
  appendString(s: string): Bytes {
    return this.append(Uint8Array.wrap(String.UTF8.encode(s)));
  }

  /** bytes returns a view of the bytes written. */
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

// ---- A small JSON reader: one string field of an object. ----

/** JSON_FOUND: the member is a string; JsonField.start/end bound its raw bytes. */
export const JSON_FOUND: i32 = 1;
/** JSON_ABSENT: the member is missing or null. */
export const JSON_ABSENT: i32 = 0;
/** JSON_MALFORMED: not valid JSON, not an object, or the member is neither string nor null. */
export const JSON_MALFORMED: i32 = -1;

/** JSON_MAX_DEPTH bounds nesting; the document's object is level 1, as in Go's encoding/json. */
export const JSON_MAX_DEPTH: i32 = 10000;

/** JsonField is what jsonStringField found. */
export class JsonField {
  constructor(
    public status: i32,
    /** Offset of the string's first byte after its opening quote. */
    public start: i32,
    /** Offset of the string's closing quote. */
    public end: i32,
  ) {}
}

function at(s: Uint8Array, i: i32): i32 {
  return i < s.length ? <i32>unchecked(s[i]) : -1;
}

function ws(s: Uint8Array, i: i32): i32 {
  while (i < s.length) {
    const c = unchecked(s[i]);
    if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) break;
    i++;
  }
  return i;
}

function isHex(c: i32): bool {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);
}

// scanString checks the string whose quote is at i; returns the index past its closing
// quote, or -1.
function scanString(s: Uint8Array, i: i32): i32 {
  i++;
  while (true) {
    let c = at(s, i);
    if (c < 0x20) return -1; // end of input, or a raw control character
    if (c == 0x22) return i + 1;
    if (c != 0x5c) {
      i++;
      continue;
    }
    c = at(s, i + 1);
    if (c == 0x75) { // \uXXXX
      for (let k = 2; k < 6; k++) if (!isHex(at(s, i + k))) return -1;
      i += 6;
    } else if (c == 0x22 || c == 0x5c || c == 0x2f || c == 0x62 || c == 0x66 || c == 0x6e || c == 0x72 || c == 0x74) {
      i += 2;
    } else {
      return -1;
    }
  }
  return -1;
}

function digits(s: Uint8Array, i: i32): i32 {
  const start = i;
  while (i < s.length && unchecked(s[i]) >= 0x30 && unchecked(s[i]) <= 0x39) i++;
  return i > start ? i : -1;
}

function scanNumber(s: Uint8Array, i: i32): i32 {
  if (at(s, i) == 0x2d) i++;
  if (at(s, i) == 0x30) i++;
  else if ((i = digits(s, i)) < 0) return -1;
  if (at(s, i) == 0x2e && (i = digits(s, i + 1)) < 0) return -1;
  const c = at(s, i);
  if (c == 0x65 || c == 0x45) {
    i++;
    const sign = at(s, i);
    if (sign == 0x2b || sign == 0x2d) i++;
    if ((i = digits(s, i)) < 0) return -1;
  }
  return i;
}

function word(s: Uint8Array, i: i32, w: string): bool {
  if (i + w.length > s.length) return false;
  for (let k = 0; k < w.length; k++) if (<i32>unchecked(s[i + k]) != w.charCodeAt(k)) return false;
  return true;
}

const closers = new Uint8Array(JSON_MAX_DEPTH);

// scanValue checks the value at i, nested depth levels deep, without recursion; returns the
// index past it, or -1.
function scanValue(s: Uint8Array, i: i32, depth: i32): i32 {
  let top = 0;
  let wantKey = false;
  while (true) {
    if (wantKey) {
      // An object member: "key" : value.
      if (at(s, i) != 0x22 || (i = scanString(s, i)) < 0) return -1;
      i = ws(s, i);
      if (at(s, i) != 0x3a) return -1;
      i = ws(s, i + 1);
      wantKey = false;
    }
    let c = at(s, i);
    if (c == 0x7b || c == 0x5b) { // { or [
      if (depth + top + 1 > JSON_MAX_DEPTH) return -1;
      const close = c == 0x7b ? 0x7d : 0x5d;
      i = ws(s, i + 1);
      if (at(s, i) == close) {
        i++;
      } else {
        unchecked(closers[top++] = <u8>close);
        wantKey = close == 0x7d;
        continue;
      }
    } else if (c == 0x22) {
      if ((i = scanString(s, i)) < 0) return -1;
    } else if (c == 0x2d || (c >= 0x30 && c <= 0x39)) {
      if ((i = scanNumber(s, i)) < 0) return -1;
    } else if (word(s, i, "true")) {
      i += 4;
    } else if (word(s, i, "false")) {
      i += 5;
    } else if (word(s, i, "null")) {
      i += 4;
    } else {
      return -1;
    }
    // After a value: close containers, or move on to the next element.
    while (true) {
      if (top == 0) return i;
      i = ws(s, i);
      c = at(s, i);
      const close = <i32>unchecked(closers[top - 1]);
      if (c == close) {
        top--;
        i++;
        continue;
      }
      if (c != 0x2c) return -1;
      i = ws(s, i + 1);
      wantKey = close == 0x7d;
      break;
    }
  }
  return -1;
}

function keyIs(s: Uint8Array, start: i32, end: i32, want: string): bool {
  if (end - start != want.length) return false;
  for (let k = 0; k < want.length; k++) {
    let a = <i32>unchecked(s[start + k]);
    let b = want.charCodeAt(k);
    if (a >= 0x41 && a <= 0x5a) a += 0x20;
    if (b >= 0x41 && b <= 0x5a) b += 0x20;
    if (a != b) return false;
  }
  return true;
}

/**
 * jsonStringField checks that doc is one JSON object (or null) and finds its member key,
 * matched as Go's encoding/json matches struct fields: exactly or ASCII case-insensitively,
 * the last one winning, null leaving it unset. With JSON_FOUND, start and end bound the
 * string's raw bytes between its quotes: escapes such as \" and \u00e9 are left as they
 * are, so the bytes can be copied into another JSON string unchanged. Member names are
 * compared as written, without decoding escapes in them.
 */
export function jsonStringField(doc: Uint8Array, key: string): JsonField {
  const malformed = new JsonField(JSON_MALFORMED, 0, 0);
  const field = new JsonField(JSON_ABSENT, 0, 0);
  let i = ws(doc, 0);
  if (word(doc, i, "null")) {
    i += 4;
  } else {
    if (at(doc, i) != 0x7b) return malformed;
    i = ws(doc, i + 1);
    if (at(doc, i) == 0x7d) {
      i++;
    } else {
      while (true) {
        if (at(doc, i) != 0x22) return malformed;
        const k = i + 1;
        if ((i = scanString(doc, i)) < 0) return malformed;
        const match = keyIs(doc, k, i - 1, key);
        i = ws(doc, i);
        if (at(doc, i) != 0x3a) return malformed;
        i = ws(doc, i + 1);
        if (match && at(doc, i) == 0x22) {
          const v = i + 1;
          if ((i = scanString(doc, i)) < 0) return malformed;
          field.status = JSON_FOUND;
          field.start = v;
          field.end = i - 1;
        } else if (match && word(doc, i, "null")) {
          i += 4;
        } else if (match) {
          return malformed;
        } else if ((i = scanValue(doc, i, 1)) < 0) {
          return malformed;
        }
        i = ws(doc, i);
        const c = at(doc, i);
        if (c == 0x7d) {
          i++;
          break;
        }
        if (c != 0x2c) return malformed;
        i = ws(doc, i + 1);
      }
    }
  }
  if (ws(doc, i) != doc.length) return malformed;
  return field;
}

// ---- The exports (ABI §1). Re-export them from the module's entry file. ----

function quote(s: string): string {
  let out = "\"";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c == 0x22 || c == 0x5c) {
      out += "\\" + String.fromCharCode(c);
    } else if (c < 0x20) {
      out += "\\u00" + (c < 0x10 ? "0" : "") + c.toString(16);
    } else {
      out += String.fromCharCode(c);
    }
  }
  return out + "\"";
}

let descriptor: ArrayBuffer = new ArrayBuffer(0);
let scratch: ArrayBuffer = new ArrayBuffer(0);

/** The ABI v1 marker; never called. */
export function microhost_abi_version_1(): void {}

/** Returns the descriptor JSON as ptr<<32 | len. */
export function microhost_describe(): u64 {
  let d = "{\"kind\":" + quote(moduleKind) + ",\"name\":" + quote(moduleName);
  if (moduleVersion.length > 0) d += ",\"version\":" + quote(moduleVersion);
  if (endpoints.length > 0) {
    d += ",\"endpoints\":[";
    for (let i = 0; i < endpoints.length; i++) {
      const e = endpoints[i];
      if (i > 0) d += ",";
      d += "{\"name\":" + quote(e.name);
      if (e.request.length > 0) d += ",\"request\":" + quote(e.request);
      if (e.response.length > 0) d += ",\"response\":" + quote(e.response);
      d += "}";
    }
    d += "]";
  }
  d += "}";
  descriptor = String.UTF8.encode(d);
  return (<u64>changetype<usize>(descriptor) << 32) | <u64>descriptor.byteLength;
}

/** Serves one call: reads the endpoint and body and runs the endpoint's handler. */
export function microhost_handle(endpointLen: u32, bodyLen: u32): u32 {
  if (<u64>endpointLen + <u64>bodyLen > <u64>i32.MAX_VALUE) return fail(500, "out of memory");
  const n = <i32>(endpointLen + bodyLen);
  if (scratch.byteLength < n) scratch = new ArrayBuffer(n);
  const base = changetype<usize>(scratch);
  hostRequestEndpoint(base, endpointLen);
  hostRequestBody(base + <usize>endpointLen, bodyLen);
  for (let i = 0; i < endpoints.length; i++) {
    const e = endpoints[i];
    if (e.is(base, endpointLen)) {
      const req = new Request(e.name, Uint8Array.wrap(scratch, <i32>endpointLen, <i32>bodyLen));
      return e.fn(req) == OK ? OK : FAILED;
    }
  }
  return fail(404, "unknown endpoint " + String.UTF8.decodeUnsafe(base, <usize>endpointLen));
}
