// Package abi holds the names, numbers and records of microhost's guest ABI, version 1.
//
// The specification is ABI.md beside this file; this package is its Go form, shared by the
// host and by Go tooling. Nothing here depends on wazero, so guest-side and host-side code
// can both import it.
package abi

// Version is the ABI major version this host speaks. A module announces the version it was
// built for by exporting a function named MarkerPrefix followed by the number.
const Version = 1

// MarkerPrefix is the start of the marker export's name: "microhost_abi_version_1" marks an
// ABI v1 module. The marker takes no parameters and returns nothing; only its name matters.
const MarkerPrefix = "microhost_abi_version_"

// ImportModule is the namespace of every host function a guest may import.
const ImportModule = "microhost"

// Names of the functions a module exports.
const (
	// ExportMarker is the ABI v1 marker export.
	ExportMarker = "microhost_abi_version_1"
	// ExportDescribe returns the module's descriptor: () -> i64 packing ptr<<32|len of a
	// UTF-8 JSON document in guest memory.
	ExportDescribe = "microhost_describe"
	// ExportHandle serves one request: (endpoint_len i32, body_len i32) -> i32 status.
	ExportHandle = "microhost_handle"
	// ExportMemory is the guest's linear memory, which the host reads and writes.
	ExportMemory = "memory"
	// ExportInitialize is the WASI reactor initializer; the host calls it once per
	// instance when present.
	ExportInitialize = "_initialize"
)

// Names of the host functions in ImportModule.
const (
	// ImportRequestEndpoint copies the endpoint name: (buf i32, cap i32) -> i32 length.
	ImportRequestEndpoint = "request_endpoint"
	// ImportRequestBody copies the request body: (buf i32, cap i32) -> i32 length.
	ImportRequestBody = "request_body"
	// ImportRequestHeader copies one request header or metadata value:
	// (key i32, key_len i32, buf i32, cap i32) -> i32 length, or -1 when absent.
	ImportRequestHeader = "request_header"
	// ImportResponseBody sets the reply body: (ptr i32, len i32).
	ImportResponseBody = "response_body"
	// ImportResponseHeader adds reply metadata: (key i32, key_len i32, val i32, val_len i32).
	ImportResponseHeader = "response_header"
	// ImportError sets the call's error: (code i32, detail i32, detail_len i32).
	ImportError = "error"
	// ImportLog writes a log record: (level i32, msg i32, msg_len i32).
	ImportLog = "log"
	// ImportCall calls another service by name through the host's client pipeline, with the
	// current request's deadline and metadata: (service i32, service_len i32, endpoint i32,
	// endpoint_len i32, content_type i32, content_type_len i32, body i32, body_len i32) ->
	// i32, the reply's length, or -1 when the call failed (see ABI.md, "Calling services").
	ImportCall = "call"
	// ImportCallResult copies the last call's reply body, or its Go Micro JSON error text
	// after a failure, if it fits: (buf i32, cap i32) -> i32 length.
	ImportCallResult = "call_result"
	// ImportStreamSend sends one message on the stream the current request opened:
	// (ptr i32, len i32) -> i32, 0 when sent, else a Go Micro code (400 when the request is
	// not a stream, 408 past the deadline, 499 when the client is gone; see ABI.md,
	// "Streams").
	ImportStreamSend = "stream_send"
	// ImportStreamRecv waits for the client's next message on the stream and copies it if
	// it fits: (buf i32, cap i32) -> i32, its length (a message that does not fit stays
	// pending for the next call), StreamEnd after the client's last message, StreamFailed
	// on an error.
	ImportStreamRecv = "stream_recv"
)

// Results of ImportStreamRecv besides a length.
const (
	// StreamEnd means the client closed its side of the stream: no message follows.
	StreamEnd = -1
	// StreamFailed means no message can be received: the request is not a stream, the
	// client is gone, or the deadline passed.
	StreamFailed = -2
)

// Status values a guest returns from ExportHandle.
const (
	// StatusOK means the reply body (possibly empty) is the answer.
	StatusOK = 0
	// StatusError means the call failed; the error set through ImportError, or a generic
	// 500 when none was set, is the answer.
	StatusError = 1
)

// Log levels for ImportLog; they match log/slog's levels.
const (
	LogDebug = -4
	LogInfo  = 0
	LogWarn  = 4
	LogError = 8
)

// Kinds of module a descriptor may declare. Every kind uses the same exports: a component
// plugin's operations (a codec's "encode", say) are called through ExportHandle exactly as a
// handler's endpoints are, with the operation's name in place of the endpoint.
const (
	KindHandler    = "handler"
	KindSubscriber = "subscriber"
	KindCodec      = "codec"
	KindSelector   = "selector"
	KindTransport  = "transport"
	KindBroker     = "broker"
	KindRegistry   = "registry"
)

// Kinds lists every kind a descriptor may declare.
var Kinds = []string{KindHandler, KindSubscriber, KindCodec, KindSelector, KindTransport, KindBroker, KindRegistry}
