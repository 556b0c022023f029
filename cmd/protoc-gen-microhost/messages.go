package main

import (
	"strconv"

	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// This file generates each message's JSON methods, MicrohostAppendJSON and
// MicrohostDecodeJSON, which abi/rpc uses instead of encoding/json's reflection. They follow
// encoding/json on protoc-gen-go's structs exactly: fields in declaration order under their
// proto names, zero values left out (the structs' tags say omitempty), numbers as numbers,
// bytes in base64. A message gets them when every field is one the methods handle (see
// supported); any other message keeps encoding/json.

// messages returns the messages of file, nested ones included, in declaration order.
func messages(file *protogen.File) []*protogen.Message {
	var out []*protogen.Message
	var walk func([]*protogen.Message)
	walk = func(ms []*protogen.Message) {
		for _, m := range ms {
			if m.Desc.IsMapEntry() {
				continue
			}
			out = append(out, m)
			walk(m.Messages)
		}
	}
	walk(file.Messages)
	return out
}

// fastMessages returns the messages of file that get JSON methods: those of a proto3 file
// whose fields are all supported, directly and through the messages they hold.
func fastMessages(file *protogen.File) []*protogen.Message {
	if file.Desc.Syntax() != protoreflect.Proto3 {
		return nil
	}
	// verdict caches each message's answer; a message being checked counts as supported, so
	// a recursive message is decided by its other fields.
	verdict := map[*protogen.Message]bool{}
	var ok func(m *protogen.Message) bool
	ok = func(m *protogen.Message) bool {
		if v, seen := verdict[m]; seen {
			return v
		}
		verdict[m] = true
		for _, f := range m.Fields {
			if !supported(file, f) || (f.Message != nil && !ok(f.Message)) {
				verdict[m] = false
				return false
			}
		}
		return true
	}
	var out []*protogen.Message
	for _, m := range messages(file) {
		if ok(m) {
			out = append(out, m)
		}
	}
	return out
}

// supported reports whether the generated methods handle f: a plain proto3 field (no oneof,
// no optional), singular or repeated, of a scalar, an enum, or a message of the same file.
// Maps and oneofs are left to encoding/json.
func supported(file *protogen.File, f *protogen.Field) bool {
	if f.Oneof != nil || f.Desc.IsMap() || f.Desc.Kind() == protoreflect.GroupKind {
		return false
	}
	if f.Desc.Kind() == protoreflect.MessageKind {
		return f.Message.Desc.ParentFile() == file.Desc
	}
	return !f.Desc.HasPresence()
}

// scalar says how the generated code writes and reads one value of a kind.
type scalar struct {
	// zero is the value omitempty leaves out, for the kinds compared with one.
	zero string
	// write is the expression that appends v to b; when canFail, it also returns ok.
	write   string
	canFail bool
	// read is the expression that reads a value from r, of the field's Go type.
	read string
}

// scalarOf tells how a singular value of f, not a message, is written and read.
func scalarOf(g *protogen.GeneratedFile, f *protogen.Field) scalar {
	rpc := func(name string) string { return g.QualifiedGoIdent(rpcPackage.Ident(name)) }
	sc := func(name string) string { return g.QualifiedGoIdent(strconvPackage.Ident(name)) }
	switch f.Desc.Kind() {
	case protoreflect.BoolKind:
		return scalar{zero: "false", write: sc("AppendBool") + "(b, v)", read: "r.Bool()"}
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return scalar{zero: "0", write: sc("AppendInt") + "(b, int64(v), 10)", read: "int32(r.Int(32))"}
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return scalar{zero: "0", write: sc("AppendInt") + "(b, v, 10)", read: "r.Int(64)"}
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return scalar{zero: "0", write: sc("AppendUint") + "(b, uint64(v), 10)", read: "uint32(r.Uint(32))"}
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return scalar{zero: "0", write: sc("AppendUint") + "(b, v, 10)", read: "r.Uint(64)"}
	case protoreflect.FloatKind:
		return scalar{zero: "0", write: rpc("AppendJSONFloat") + "(b, float64(v), 32)", canFail: true, read: "float32(r.Float(32))"}
	case protoreflect.DoubleKind:
		return scalar{zero: "0", write: rpc("AppendJSONFloat") + "(b, v, 64)", canFail: true, read: "r.Float(64)"}
	case protoreflect.StringKind:
		return scalar{zero: `""`, write: g.QualifiedGoIdent(jsonstrPackage.Ident("AppendMarshaled")) + "(b, v)", read: "r.String()"}
	case protoreflect.BytesKind:
		return scalar{write: rpc("AppendJSONBytes") + "(b, v)", read: "r.Bytes()"}
	case protoreflect.EnumKind:
		return scalar{zero: "0", write: sc("AppendInt") + "(b, int64(v), 10)", read: g.QualifiedGoIdent(f.Enum.GoIdent) + "(r.Int(32))"}
	}
	panic("protoc-gen-microhost: no JSON form for kind " + f.Desc.Kind().String())
}

// generateMessageJSON writes m's two JSON methods.
func generateMessageJSON(g *protogen.GeneratedFile, m *protogen.Message) {
	rpcIdent := func(name string) string { return g.QualifiedGoIdent(rpcPackage.Ident(name)) }
	name := m.GoIdent.GoName

	g.P("// MicrohostAppendJSON appends x as encoding/json encodes it, without reflection; false")
	g.P("// means x holds a value only encoding/json can report on (a NaN or an infinity).")
	g.P("func (x *", name, ") MicrohostAppendJSON(b []byte) ([]byte, bool) {")
	g.P("if x == nil {")
	g.P(`return append(b, "null"...), true`)
	g.P("}")
	needOK := false
	for _, f := range m.Fields {
		if f.Desc.Kind() == protoreflect.MessageKind || scalarOf(g, f).canFail {
			needOK = true
		}
	}
	if needOK {
		g.P("ok := true")
	}
	g.P("b = append(b, '{')")
	if len(m.Fields) > 0 {
		g.P("start := len(b)")
	}
	for _, f := range m.Fields {
		key := "`\"" + string(f.Desc.Name()) + "\":`"
		field := "x." + f.GoName
		switch {
		case f.Desc.IsList():
			g.P("if len(", field, ") > 0 {")
			g.P("b = ", rpcIdent("JSONField"), "(b, start, ", key, ")")
			g.P("b = append(b, '[')")
			g.P("for i, v := range ", field, " {")
			g.P("if i > 0 {")
			g.P("b = append(b, ',')")
			g.P("}")
			writeValue(g, f, true)
			g.P("}")
			g.P("b = append(b, ']')")
			g.P("}")
		default:
			test := field + " != nil"
			switch k := f.Desc.Kind(); {
			case k == protoreflect.BytesKind:
				test = "len(" + field + ") > 0"
			case k == protoreflect.BoolKind:
				test = field
			case k != protoreflect.MessageKind:
				test = field + " != " + scalarOf(g, f).zero
			}
			g.P("if ", test, " {")
			g.P("b = ", rpcIdent("JSONField"), "(b, start, ", key, ")")
			g.P("v := ", field)
			writeValue(g, f, false)
			g.P("}")
		}
	}
	g.P("return append(b, '}'), true")
	g.P("}")
	g.P()

	g.P("// MicrohostDecodeJSON decodes a JSON value from r into x, a new message, as")
	g.P("// encoding/json would, without reflection; it fails r on input it leaves to")
	g.P("// encoding/json (an escaped string, a key that is not a field's exact name…).")
	g.P("func (x *", name, ") MicrohostDecodeJSON(r *", rpcIdent("JSONReader"), ") {")
	g.P("if !r.BeginObject() {")
	g.P("return")
	g.P("}")
	g.P("for {")
	g.P("key, more := r.NextKey()")
	g.P("if !more {")
	g.P("return")
	g.P("}")
	g.P("switch string(key) {")
	for _, f := range m.Fields {
		field := "x." + f.GoName
		g.P("case ", strconv.Quote(string(f.Desc.Name())), ":")
		switch {
		case f.Desc.IsList():
			// A second occurrence of the key is left to encoding/json, which merges.
			g.P("if ", field, " != nil {")
			g.P("r.Fail()")
			g.P("return")
			g.P("}")
			g.P("if r.BeginArray() {")
			g.P(field, " = ", goType(g, f, true), "{}")
			g.P("for r.NextElement() {")
			if f.Desc.Kind() == protoreflect.MessageKind {
				g.P("if r.Null() {")
				g.P(field, " = append(", field, ", nil)")
				g.P("continue")
				g.P("}")
				g.P("v := new(", g.QualifiedGoIdent(f.Message.GoIdent), ")")
				g.P("v.MicrohostDecodeJSON(r)")
				g.P(field, " = append(", field, ", v)")
			} else {
				g.P(field, " = append(", field, ", ", scalarOf(g, f).read, ")")
			}
			g.P("}")
			g.P("}")
		case f.Desc.Kind() == protoreflect.MessageKind:
			g.P("if r.Null() {")
			g.P(field, " = nil")
			g.P("continue")
			g.P("}")
			g.P("if ", field, " != nil {")
			g.P("r.Fail()")
			g.P("return")
			g.P("}")
			g.P(field, " = new(", g.QualifiedGoIdent(f.Message.GoIdent), ")")
			g.P(field, ".MicrohostDecodeJSON(r)")
		default:
			// null leaves a scalar as it is.
			g.P("if !r.Null() {")
			g.P(field, " = ", scalarOf(g, f).read)
			g.P("}")
		}
	}
	g.P("default:")
	g.P("r.Fail()")
	g.P("return")
	g.P("}")
	g.P("}")
	g.P("}")
}

// writeValue writes the statements that append v, one value of f, to b. In a list, a nil
// message or nil bytes element is written as null, as encoding/json does.
func writeValue(g *protogen.GeneratedFile, f *protogen.Field, inList bool) {
	if f.Desc.Kind() == protoreflect.MessageKind {
		g.P("if b, ok = v.MicrohostAppendJSON(b); !ok {")
		g.P("return b, false")
		g.P("}")
		return
	}
	s := scalarOf(g, f)
	switch {
	case f.Desc.Kind() == protoreflect.BytesKind && inList:
		g.P("if v == nil {")
		g.P(`b = append(b, "null"...)`)
		g.P("} else {")
		g.P("b = ", s.write)
		g.P("}")
	case s.canFail:
		g.P("if b, ok = ", s.write, "; !ok {")
		g.P("return b, false")
		g.P("}")
	default:
		g.P("b = ", s.write)
	}
}

// goType is f's Go type: of one element, or of the slice when list is set.
func goType(g *protogen.GeneratedFile, f *protogen.Field, list bool) string {
	var t string
	switch f.Desc.Kind() {
	case protoreflect.BoolKind:
		t = "bool"
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		t = "int32"
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		t = "int64"
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		t = "uint32"
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		t = "uint64"
	case protoreflect.FloatKind:
		t = "float32"
	case protoreflect.DoubleKind:
		t = "float64"
	case protoreflect.StringKind:
		t = "string"
	case protoreflect.BytesKind:
		t = "[]byte"
	case protoreflect.EnumKind:
		t = g.QualifiedGoIdent(f.Enum.GoIdent)
	case protoreflect.MessageKind:
		t = "*" + g.QualifiedGoIdent(f.Message.GoIdent)
	}
	if list {
		return "[]" + t
	}
	return t
}
