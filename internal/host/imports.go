package host

import (
	"context"
	"log/slog"
	"slices"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/microhost/microhost/abi"
)

// instantiateHostModule defines ABI v1's host functions in rt. Every function finds the call
// in progress through its context, checks each guest pointer against the guest's memory and
// faults the call, never the host, when one is out of bounds.
func instantiateHostModule(ctx context.Context, rt wazero.Runtime) error {
	b := rt.NewHostModuleBuilder(abi.ImportModule)
	for name, fn := range hostFunctions {
		sig := hostFunctionTypes[name]
		b.NewFunctionBuilder().WithGoModuleFunction(fn, sig[0], sig[1]).Export(name)
	}
	_, err := b.Instantiate(ctx)
	return err
}

const i32 = api.ValueTypeI32

// hostFunctions are the host functions by name; hostFunctionTypes their params and results.
var hostFunctions = map[string]api.GoModuleFunc{
	abi.ImportRequestEndpoint: requestEndpoint,
	abi.ImportRequestBody:     requestBody,
	abi.ImportRequestHeader:   requestHeader,
	abi.ImportResponseBody:    responseBody,
	abi.ImportResponseHeader:  responseHeader,
	abi.ImportError:           setError,
	abi.ImportLog:             guestLog,
	importPublish:             publish,
	abi.ImportCall:            callService,
	abi.ImportCallResult:      callResult,
	abi.ImportStreamSend:      streamSend,
	abi.ImportStreamRecv:      streamRecv,
	ImportHTTPRequest:         httpRequest,
	ImportHTTPResponseRead:    httpResponseRead,
}

var hostFunctionTypes = map[string][2][]api.ValueType{
	abi.ImportRequestEndpoint: {{i32, i32}, {i32}},
	abi.ImportRequestBody:     {{i32, i32}, {i32}},
	abi.ImportRequestHeader:   {{i32, i32, i32, i32}, {i32}},
	abi.ImportResponseBody:    {{i32, i32}, nil},
	abi.ImportResponseHeader:  {{i32, i32, i32, i32}, nil},
	abi.ImportError:           {{i32, i32, i32}, nil},
	abi.ImportLog:             {{i32, i32, i32}, nil},
	importPublish:             {{i32, i32, i32, i32}, {i32}},
	ImportHTTPRequest:         {{i32, i32}, {i32}},
	ImportHTTPResponseRead:    {{i32, i32}, {i32}},
	abi.ImportCall:            {{i32, i32, i32, i32, i32, i32, i32, i32}, {i32}},
	abi.ImportCallResult:      {{i32, i32}, {i32}},
	abi.ImportStreamSend:      {{i32, i32}, {i32}},
	abi.ImportStreamRecv:      {{i32, i32}, {i32}},
}

// HostFunctionNames lists the host functions of ABI v1, for tools such as inspect.
func HostFunctionNames() []string {
	names := make([]string, 0, len(hostFunctionTypes))
	for n := range hostFunctionTypes {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// inCall returns the request in progress or faults: request functions called outside
// microhost_handle (say, from _initialize) are an ABI violation.
func inCall(ctx context.Context, fn string) *callState {
	s := callFrom(ctx)
	if s == nil || s.req == nil {
		fault("%s called outside %s", fn, abi.ExportHandle)
	}
	return s
}

func requestEndpoint(ctx context.Context, mod api.Module, stack []uint64) {
	s := inCall(ctx, abi.ImportRequestEndpoint)
	buf, capacity := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
	n := uint32(len(s.req.Endpoint))
	if n <= capacity && n > 0 {
		if !mod.Memory().WriteString(buf, s.req.Endpoint) {
			fault("%s: %d bytes at %#x are outside the guest's memory", abi.ImportRequestEndpoint, n, buf)
		}
	}
	stack[0] = api.EncodeU32(n)
}

func requestBody(ctx context.Context, mod api.Module, stack []uint64) {
	s := inCall(ctx, abi.ImportRequestBody)
	stack[0] = api.EncodeU32(copyOut(mod, abi.ImportRequestBody, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]), s.req.Body))
}

func requestHeader(ctx context.Context, mod api.Module, stack []uint64) {
	s := inCall(ctx, abi.ImportRequestHeader)
	key := read(mod, abi.ImportRequestHeader, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]))
	v, ok := lookupHeader(s.req, string(key))
	if !ok {
		stack[0] = api.EncodeI32(-1)
		return
	}
	buf, capacity := api.DecodeU32(stack[2]), api.DecodeU32(stack[3])
	n := uint32(len(v))
	if n <= capacity && n > 0 {
		if !mod.Memory().WriteString(buf, v) {
			fault("%s: %d bytes at %#x are outside the guest's memory", abi.ImportRequestHeader, n, buf)
		}
	}
	stack[0] = api.EncodeU32(n)
}

func responseBody(ctx context.Context, mod api.Module, stack []uint64) {
	s := inCall(ctx, abi.ImportResponseBody)
	b := read(mod, abi.ImportResponseBody, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]))
	// A copy, since the guest's memory outlives neither the call nor its instance; into
	// the caller's buffer when it gave one. Called twice, the second body replaces the first.
	s.rspBody = append(s.req.ReplyTo, b...)
}

func responseHeader(ctx context.Context, mod api.Module, stack []uint64) {
	s := inCall(ctx, abi.ImportResponseHeader)
	key := read(mod, abi.ImportResponseHeader, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]))
	val := read(mod, abi.ImportResponseHeader, api.DecodeU32(stack[2]), api.DecodeU32(stack[3]))
	s.setReplyHeader(key, val)
}

func setError(ctx context.Context, mod api.Module, stack []uint64) {
	s := inCall(ctx, abi.ImportError)
	code := api.DecodeI32(stack[0])
	detail := read(mod, abi.ImportError, api.DecodeU32(stack[1]), api.DecodeU32(stack[2]))
	if code < 400 || code > 599 {
		code = 500
	}
	s.err = abi.NewError("", code, "%s", detail)
}

func guestLog(ctx context.Context, mod api.Module, stack []uint64) {
	level := slog.Level(api.DecodeI32(stack[0]))
	msg := read(mod, abi.ImportLog, api.DecodeU32(stack[1]), api.DecodeU32(stack[2]))
	if s := callFrom(ctx); s != nil {
		s.emitLog(level, msg)
	}
}
