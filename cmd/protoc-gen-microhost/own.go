package main

import (
	"fmt"
	"strconv"

	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// This file generates the message and enum types of messages=microhost, and the protobuf
// methods of every message: those of its own types, written out field by field, and those of
// protoc-gen-go's types, which call the protobuf runtime.

// checkOwnMessages reports why the files gen generates cannot have their own message types:
// a file that is not proto3, a message with a field the generated code does not handle (a
// oneof, an optional field, a message of another file), or a method whose request or reply is
// a message of a file this run does not generate.
func checkOwnMessages(gen *protogen.Plugin) error {
	for _, file := range gen.Files {
		if !file.Generate {
			continue
		}
		if file.Desc.Syntax() != protoreflect.Proto3 {
			return fmt.Errorf("%s: messages=%s needs proto3: generate this file with protoc-gen-go's messages", file.Desc.Path(), messagesMicrohost)
		}
		for _, m := range messages(file) {
			for _, f := range m.Fields {
				if !ownSupported(file, f) {
					return fmt.Errorf("%s: field %s: messages=%s handles scalars, enums, bytes, messages of the same file, repeated ones of those and maps of them, not oneofs, optional fields or messages of other files: generate this file with protoc-gen-go's messages", file.Desc.Path(), f.Desc.FullName(), messagesMicrohost)
				}
			}
		}
		for _, s := range file.Services {
			for _, m := range s.Methods {
				for _, msg := range []*protogen.Message{m.Input, m.Output} {
					if f, ok := gen.FilesByPath[msg.Desc.ParentFile().Path()]; !ok || !f.Generate {
						return fmt.Errorf("%s: method %s: messages=%s needs %s generated in the same run (a well-known type cannot be): generate this file with protoc-gen-go's messages", file.Desc.Path(), m.Desc.FullName(), messagesMicrohost, msg.Desc.FullName())
					}
				}
			}
		}
	}
	return nil
}

// ownSupported reports whether messages=microhost declares f: what the JSON methods handle
// (see supported), and maps whose values are of those kinds. A message with a map has no
// JSON methods, so encoding/json encodes it, as it does protoc-gen-go's.
func ownSupported(file *protogen.File, f *protogen.Field) bool {
	if !f.Desc.IsMap() {
		return supported(file, f)
	}
	return f.Oneof == nil && supported(file, f.Message.Fields[1])
}

// fieldType is f's Go type in the struct: a slice for a list, a map for a map.
func fieldType(g *protogen.GeneratedFile, f *protogen.Field) string {
	if f.Desc.IsMap() {
		return "map[" + goType(g, f.Message.Fields[0], false) + "]" + goType(g, f.Message.Fields[1], false)
	}
	return goType(g, f, f.Desc.IsList())
}

// allEnums returns the enums of file, those nested in messages included, in declaration order.
func allEnums(file *protogen.File) []*protogen.Enum {
	out := append([]*protogen.Enum(nil), file.Enums...)
	for _, m := range messages(file) {
		out = append(out, m.Enums...)
	}
	return out
}

// typeDoc writes the doc comment of a declared type: the .proto's leading comment, or a
// line naming what it declares when the .proto has none.
func typeDoc(g *protogen.GeneratedFile, name, what string, full protoreflect.FullName, leading protogen.Comments) {
	if leading == "" {
		g.P("// ", name, " is the ", what, " ", full, ".")
	}
	comments(g, leading, false)
}

// generateEnum declares e as protoc-gen-go does, without its descriptor: an int32 type, a
// constant per value, the maps between names and numbers, and String.
func generateEnum(g *protogen.GeneratedFile, e *protogen.Enum) {
	name := e.GoIdent.GoName
	typeDoc(g, name, "enum", e.Desc.FullName(), e.Comments.Leading)
	g.P("type ", name, " int32")
	g.P()
	g.P("const (")
	for _, v := range e.Values {
		comments(g, v.Comments.Leading, false)
		g.P(v.GoIdent.GoName, " ", name, " = ", v.Desc.Number())
	}
	g.P(")")
	g.P()
	g.P("// ", name, "_name maps the numbers of ", name, " to their names, the first of aliases.")
	g.P("var ", name, "_name = map[int32]string{")
	seen := map[protoreflect.EnumNumber]bool{}
	for _, v := range e.Values {
		if !seen[v.Desc.Number()] {
			seen[v.Desc.Number()] = true
			g.P(v.Desc.Number(), ": ", strconv.Quote(string(v.Desc.Name())), ",")
		}
	}
	g.P("}")
	g.P()
	g.P("// ", name, "_value maps the names of ", name, " to their numbers.")
	g.P("var ", name, "_value = map[string]int32{")
	for _, v := range e.Values {
		g.P(strconv.Quote(string(v.Desc.Name())), ": ", v.Desc.Number(), ",")
	}
	g.P("}")
	g.P()
	g.P("// Enum returns a pointer to a copy of x.")
	g.P("func (x ", name, ") Enum() *", name, " {")
	g.P("p := new(", name, ")")
	g.P("*p = x")
	g.P("return p")
	g.P("}")
	g.P()
	g.P("// String returns the name of x, or its number when it has none.")
	g.P("func (x ", name, ") String() string {")
	g.P("if s, ok := ", name, "_name[int32(x)]; ok {")
	g.P("return s")
	g.P("}")
	g.P("return ", g.QualifiedGoIdent(strconvPackage.Ident("Itoa")), "(int(x))")
	g.P("}")
}

// generateStruct declares m as protoc-gen-go does, without its descriptor and internal
// state: the same fields and JSON tags, so encoding/json treats both alike, a getter per
// field and Reset.
func generateStruct(g *protogen.GeneratedFile, m *protogen.Message) {
	name := m.GoIdent.GoName
	typeDoc(g, name, "message", m.Desc.FullName(), m.Comments.Leading)
	g.P("type ", name, " struct {")
	for _, f := range m.Fields {
		comments(g, f.Comments.Leading, false)
		g.P(f.GoName, " ", fieldType(g, f), " `json:\"", f.Desc.Name(), ",omitempty\"`")
	}
	g.P("}")
	g.P()
	g.P("// Reset sets every field of x to its zero value.")
	g.P("func (x *", name, ") Reset() {")
	g.P("*x = ", name, "{}")
	g.P("}")
	for _, f := range m.Fields {
		zero := "nil"
		switch k := f.Desc.Kind(); {
		case f.Desc.IsList() || f.Desc.IsMap() || k == protoreflect.BytesKind || k == protoreflect.MessageKind:
		case k == protoreflect.BoolKind:
			zero = "false"
		case k == protoreflect.StringKind:
			zero = `""`
		default:
			zero = "0"
		}
		g.P()
		g.P("// Get", f.GoName, " returns x.", f.GoName, ", or its zero value when x is nil.")
		g.P("func (x *", name, ") Get", f.GoName, "() ", fieldType(g, f), " {")
		g.P("if x != nil {")
		g.P("return x.", f.GoName)
		g.P("}")
		g.P("return ", zero)
		g.P("}")
	}
}

// generateProtoRuntimeMethods writes rpc.Message's methods for m, a protoc-gen-go message:
// they call the protobuf runtime.
func generateProtoRuntimeMethods(g *protogen.GeneratedFile, m *protogen.Message) {
	name := m.GoIdent.GoName
	proto := func(ident string) string { return g.QualifiedGoIdent(protoPackage.Ident(ident)) }
	g.P("// MicrohostAppendProto appends x's protobuf binary encoding to b.")
	g.P("func (x *", name, ") MicrohostAppendProto(b []byte) ([]byte, error) {")
	g.P("return ", proto("MarshalOptions"), "{}.MarshalAppend(b, x)")
	g.P("}")
	g.P()
	g.P("// MicrohostDecodeProto resets x, then decodes b, protobuf binary, into it.")
	g.P("func (x *", name, ") MicrohostDecodeProto(b []byte) error {")
	g.P("return ", proto("Unmarshal"), "(b, x)")
	g.P("}")
	g.P()
	g.P("// MicrohostReset sets every field of x to its zero value.")
	g.P("func (x *", name, ") MicrohostReset() {")
	g.P(proto("Reset"), "(x)")
	g.P("}")
}

// wireForm says how one value of a kind is written and read in the protobuf binary encoding.
type wireForm struct {
	// typ is the value's wire type.
	typ protowire.Type
	// write is the expression that appends the value %[1]s to b.
	write string
	// consume names the protowire function that reads a value of typ.
	consume string
	// read is the expression that turns %[1]s, what consume read, into the field's Go value.
	read string
	// fixed is the size of a fixed-size value, 0 for a varint or a length-delimited one.
	fixed int
}

// wireFormOf tells how f's values, not messages, are written and read.
func wireFormOf(g *protogen.GeneratedFile, f *protogen.Field) wireForm {
	pw := func(name string) string { return g.QualifiedGoIdent(protowirePackage.Ident(name)) }
	math := func(name string) string { return g.QualifiedGoIdent(mathPackage.Ident(name)) }
	varint := func(write, read string) wireForm {
		return wireForm{typ: protowire.VarintType, write: pw("AppendVarint") + "(b, " + write + ")", consume: "ConsumeVarint", read: read}
	}
	fixed32 := func(write, read string) wireForm {
		return wireForm{typ: protowire.Fixed32Type, write: pw("AppendFixed32") + "(b, " + write + ")", consume: "ConsumeFixed32", read: read, fixed: 4}
	}
	fixed64 := func(write, read string) wireForm {
		return wireForm{typ: protowire.Fixed64Type, write: pw("AppendFixed64") + "(b, " + write + ")", consume: "ConsumeFixed64", read: read, fixed: 8}
	}
	switch f.Desc.Kind() {
	case protoreflect.BoolKind:
		return varint(pw("EncodeBool")+"(%[1]s)", pw("DecodeBool")+"(%[1]s)")
	case protoreflect.Int32Kind:
		return varint("uint64(%[1]s)", "int32(%[1]s)")
	case protoreflect.Int64Kind:
		return varint("uint64(%[1]s)", "int64(%[1]s)")
	case protoreflect.Uint32Kind:
		return varint("uint64(%[1]s)", "uint32(%[1]s)")
	case protoreflect.Uint64Kind:
		return varint("%[1]s", "%[1]s")
	case protoreflect.Sint32Kind:
		return varint(pw("EncodeZigZag")+"(int64(%[1]s))", "int32("+pw("DecodeZigZag")+"(%[1]s & "+math("MaxUint32")+"))")
	case protoreflect.Sint64Kind:
		return varint(pw("EncodeZigZag")+"(%[1]s)", pw("DecodeZigZag")+"(%[1]s)")
	case protoreflect.EnumKind:
		return varint("uint64(%[1]s)", g.QualifiedGoIdent(f.Enum.GoIdent)+"(%[1]s)")
	case protoreflect.Fixed32Kind:
		return fixed32("%[1]s", "%[1]s")
	case protoreflect.Sfixed32Kind:
		return fixed32("uint32(%[1]s)", "int32(%[1]s)")
	case protoreflect.FloatKind:
		return fixed32(math("Float32bits")+"(%[1]s)", math("Float32frombits")+"(%[1]s)")
	case protoreflect.Fixed64Kind:
		return fixed64("%[1]s", "%[1]s")
	case protoreflect.Sfixed64Kind:
		return fixed64("uint64(%[1]s)", "int64(%[1]s)")
	case protoreflect.DoubleKind:
		return fixed64(math("Float64bits")+"(%[1]s)", math("Float64frombits")+"(%[1]s)")
	case protoreflect.StringKind:
		return wireForm{typ: protowire.BytesType, write: pw("AppendString") + "(b, %[1]s)", consume: "ConsumeBytes", read: "string(%[1]s)"}
	case protoreflect.BytesKind:
		// A list keeps an empty element as an empty slice, a singular field as nil, as the
		// protobuf runtime does.
		read := "append([]byte(nil), %[1]s...)"
		if f.Desc.IsList() {
			read = "append([]byte{}, %[1]s...)"
		}
		return wireForm{typ: protowire.BytesType, write: pw("AppendBytes") + "(b, %[1]s)", consume: "ConsumeBytes", read: read}
	}
	panic("protoc-gen-microhost: no wire form for kind " + f.Desc.Kind().String())
}

// packable reports whether f is a list the encoding packs: one of numbers, enums or bools.
func packable(f *protogen.Field) bool {
	switch f.Desc.Kind() {
	case protoreflect.StringKind, protoreflect.BytesKind, protoreflect.MessageKind:
		return false
	}
	return f.Desc.IsList()
}

// tagBytes is the Go expression of the bytes of f's tag with wire type typ, as appended.
func tagBytes(f *protogen.Field, typ protowire.Type) string {
	s := ""
	for i, c := range protowire.AppendTag(nil, f.Desc.Number(), typ) {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("0x%02x", c)
	}
	return s
}

// byNumber returns m's fields in order of field number, the order the encoding writes them in.
func byNumber(m *protogen.Message) []*protogen.Field {
	fields := append([]*protogen.Field(nil), m.Fields...)
	for i := 1; i < len(fields); i++ {
		for j := i; j > 0 && fields[j].Desc.Number() < fields[j-1].Desc.Number(); j-- {
			fields[j], fields[j-1] = fields[j-1], fields[j]
		}
	}
	return fields
}

// emitParseCheck writes the return of protowire's error when n, what a protowire function
// consumed, is negative.
func emitParseCheck(g *protogen.GeneratedFile, n string) {
	g.P("if ", n, " < 0 {")
	g.P("return ", g.QualifiedGoIdent(protowirePackage.Ident("ParseError")), "(", n, ")")
	g.P("}")
}

// emitUTF8Check writes the refusal of v, a value of the string field f (a string when valid is
// "ValidString", bytes when "Valid"), when it is not UTF-8; ret comes before the error in the
// return ("b, " in an append method).
func emitUTF8Check(g *protogen.GeneratedFile, valid, v string, f *protogen.Field, ret string) {
	g.P("if !", g.QualifiedGoIdent(utf8Package.Ident(valid)), "(", v, ") {")
	g.P("return ", ret, g.QualifiedGoIdent(rpcPackage.Ident("ProtoInvalidUTF8")), "(", strconv.Quote(string(f.Desc.FullName())), ")")
	g.P("}")
}

// emitAppendMessage writes the encoding of expr, a message, as a length-delimited field of
// tag (tagBytes), measured from start, a fresh variable name; comment follows the tag.
func emitAppendMessage(g *protogen.GeneratedFile, tag, expr, start, comment string) {
	g.P("b = append(b, ", tag, ")", comment)
	g.P(start, " := len(b)")
	g.P("if b, err = ", expr, ".MicrohostAppendProto(b); err != nil {")
	g.P("return b, err")
	g.P("}")
	g.P("b = ", g.QualifiedGoIdent(rpcPackage.Ident("ProtoLengthPrefix")), "(b, ", start, ")")
}

// generateMessageProto writes rpc.Message's methods for m, one of messages=microhost's own
// types, with a decoding method that merges, which nested messages share.
func generateMessageProto(g *protogen.GeneratedFile, m *protogen.Message) {
	name := m.GoIdent.GoName
	pw := func(ident string) string { return g.QualifiedGoIdent(protowirePackage.Ident(ident)) }
	rpcIdent := func(ident string) string { return g.QualifiedGoIdent(rpcPackage.Ident(ident)) }
	hasMessage := false
	for _, f := range m.Fields {
		if f.Desc.Kind() == protoreflect.MessageKind && (!f.Desc.IsMap() || f.Message.Fields[1].Desc.Kind() == protoreflect.MessageKind) {
			hasMessage = true
		}
	}

	g.P("// MicrohostAppendProto appends x's protobuf binary encoding to b, as the protobuf runtime")
	g.P("// encodes the same message: fields in order of number, zero values left out, lists of")
	g.P("// numbers packed.")
	g.P("func (x *", name, ") MicrohostAppendProto(b []byte) ([]byte, error) {")
	g.P("if x == nil {")
	g.P("return b, nil")
	g.P("}")
	if hasMessage {
		g.P("var err error")
	}
	for _, f := range byNumber(m) {
		field := "x." + f.GoName
		comment := " // " + string(f.Desc.Name())
		switch {
		case f.Desc.IsMap():
			generateMapAppend(g, f)
		case f.Desc.Kind() == protoreflect.MessageKind && f.Desc.IsList():
			g.P("for _, v := range ", field, " {")
			emitAppendMessage(g, tagBytes(f, protowire.BytesType), "v", "start", comment)
			g.P("}")
		case f.Desc.Kind() == protoreflect.MessageKind:
			g.P("if ", field, " != nil {")
			emitAppendMessage(g, tagBytes(f, protowire.BytesType), field, "start", comment)
			g.P("}")
		case packable(f):
			w := wireFormOf(g, f)
			g.P("if len(", field, ") > 0 {")
			g.P("b = append(b, ", tagBytes(f, protowire.BytesType), ")", comment)
			if w.fixed > 0 {
				g.P("b = ", pw("AppendVarint"), "(b, uint64(len(", field, "))*", w.fixed, ")")
				g.P("for _, v := range ", field, " {")
				g.P("b = ", fmt.Sprintf(w.write, "v"))
				g.P("}")
			} else {
				g.P("start := len(b)")
				g.P("for _, v := range ", field, " {")
				g.P("b = ", fmt.Sprintf(w.write, "v"))
				g.P("}")
				g.P("b = ", rpcIdent("ProtoLengthPrefix"), "(b, start)")
			}
			g.P("}")
		case f.Desc.IsList():
			w := wireFormOf(g, f)
			g.P("for _, v := range ", field, " {")
			if f.Desc.Kind() == protoreflect.StringKind {
				emitUTF8Check(g, "ValidString", "v", f, "b, ")
			}
			g.P("b = append(b, ", tagBytes(f, w.typ), ")", comment)
			g.P("b = ", fmt.Sprintf(w.write, "v"))
			g.P("}")
		default:
			w := wireFormOf(g, f)
			var test string
			switch f.Desc.Kind() {
			case protoreflect.BoolKind:
				test = field
			case protoreflect.StringKind:
				test = field + ` != ""`
			case protoreflect.BytesKind:
				test = "len(" + field + ") > 0"
			case protoreflect.FloatKind:
				// -0 is written, as the protobuf runtime writes it: only +0 is the default.
				test = g.QualifiedGoIdent(mathPackage.Ident("Float32bits")) + "(" + field + ") != 0"
			case protoreflect.DoubleKind:
				test = g.QualifiedGoIdent(mathPackage.Ident("Float64bits")) + "(" + field + ") != 0"
			default:
				test = field + " != 0"
			}
			g.P("if ", test, " {")
			if f.Desc.Kind() == protoreflect.StringKind {
				emitUTF8Check(g, "ValidString", field, f, "b, ")
			}
			g.P("b = append(b, ", tagBytes(f, w.typ), ")", comment)
			g.P("b = ", fmt.Sprintf(w.write, field))
			g.P("}")
		}
	}
	g.P("return b, nil")
	g.P("}")
	g.P()

	g.P("// MicrohostDecodeProto resets x, then decodes b, protobuf binary, into it, as the")
	g.P("// protobuf runtime decodes the same message, except that fields x does not know are")
	g.P("// dropped, not kept.")
	g.P("func (x *", name, ") MicrohostDecodeProto(b []byte) error {")
	g.P("*x = ", name, "{}")
	g.P("return x.microhostMergeProto(b, ", rpcIdent("ProtoDepthLimit"), ")")
	g.P("}")
	g.P()
	g.P("// MicrohostReset sets every field of x to its zero value.")
	g.P("func (x *", name, ") MicrohostReset() {")
	g.P("*x = ", name, "{}")
	g.P("}")
	g.P()

	g.P("// microhostMergeProto decodes b into x, over what x holds: a field that occurs again")
	g.P("// replaces a value, extends a list or merges into a message. depth is how much deeper")
	g.P("// messages may nest.")
	g.P("func (x *", name, ") microhostMergeProto(b []byte, depth int) error {")
	g.P("if depth--; depth < 0 {")
	g.P("return ", rpcIdent("ErrProtoDepth"))
	g.P("}")
	g.P("for len(b) > 0 {")
	g.P("num, typ, n := ", pw("ConsumeTag"), "(b)")
	emitParseCheck(g, "n")
	g.P("if num > ", pw("MaxValidNumber"), " {")
	g.P("return ", rpcIdent("ErrProtoFieldNumber"))
	g.P("}")
	g.P("b = b[n:]")
	if len(m.Fields) > 0 {
		g.P("switch num {")
		for _, f := range m.Fields {
			generateFieldDecode(g, f)
		}
		g.P("}")
	}
	g.P("// A field x does not know, or one of a wire type its field does not have, is skipped,")
	g.P("// as the protobuf runtime sets it aside.")
	g.P("n = ", pw("ConsumeFieldValue"), "(num, typ, b)")
	emitParseCheck(g, "n")
	g.P("b = b[n:]")
	g.P("}")
	g.P("return nil")
	g.P("}")
}

// generateFieldDecode writes the case of the decoding switch for f: a value of f's wire type
// (or, for a packable list, a packed run) is read and the loop continues; any other wire type
// falls through to be skipped.
func generateFieldDecode(g *protogen.GeneratedFile, f *protogen.Field) {
	pw := func(ident string) string { return g.QualifiedGoIdent(protowirePackage.Ident(ident)) }
	field := "x." + f.GoName
	// consume writes the reading of one value of form w into v, and the advance past it.
	consume := func(w wireForm, from string) {
		g.P("v, n := ", pw(w.consume), "(", from, ")")
		emitParseCheck(g, "n")
		g.P(from, " = ", from, "[n:]")
	}
	g.P("case ", f.Desc.Number(), ": // ", f.Desc.Name())
	if f.Desc.IsMap() {
		generateMapDecode(g, f)
		return
	}
	if f.Desc.Kind() == protoreflect.MessageKind {
		msg := g.QualifiedGoIdent(f.Message.GoIdent)
		g.P("if typ == ", pw("BytesType"), " {")
		consume(wireForm{consume: "ConsumeBytes"}, "b")
		if f.Desc.IsList() {
			g.P("m := new(", msg, ")")
			g.P("if err := m.microhostMergeProto(v, depth); err != nil {")
			g.P("return err")
			g.P("}")
			g.P(field, " = append(", field, ", m)")
		} else {
			g.P("if ", field, " == nil {")
			g.P(field, " = new(", msg, ")")
			g.P("}")
			g.P("if err := ", field, ".microhostMergeProto(v, depth); err != nil {")
			g.P("return err")
			g.P("}")
		}
		g.P("continue")
		g.P("}")
		return
	}
	w := wireFormOf(g, f)
	if packable(f) {
		g.P("if typ == ", pw("BytesType"), " {")
		consume(wireForm{consume: "ConsumeBytes"}, "b")
		g.P("for len(v) > 0 {")
		g.P("e, n := ", pw(w.consume), "(v)")
		emitParseCheck(g, "n")
		g.P("v = v[n:]")
		g.P(field, " = append(", field, ", ", fmt.Sprintf(w.read, "e"), ")")
		g.P("}")
		g.P("continue")
		g.P("}")
	}
	g.P("if typ == ", pw(wireTypeName(w.typ)), " {")
	consume(w, "b")
	if f.Desc.Kind() == protoreflect.StringKind {
		emitUTF8Check(g, "Valid", "v", f, "")
	}
	if f.Desc.IsList() {
		g.P(field, " = append(", field, ", ", fmt.Sprintf(w.read, "v"), ")")
	} else {
		g.P(field, " = ", fmt.Sprintf(w.read, "v"))
	}
	g.P("continue")
	g.P("}")
}

// wireTypeName is the name of protowire's constant for typ.
func wireTypeName(typ protowire.Type) string {
	switch typ {
	case protowire.VarintType:
		return "VarintType"
	case protowire.Fixed32Type:
		return "Fixed32Type"
	case protowire.Fixed64Type:
		return "Fixed64Type"
	default:
		return "BytesType"
	}
}

// generateMapAppend writes the encoding of f, a map: an entry per key, in the order of the
// keys (the protobuf runtime's deterministic order; its default order is Go's map order,
// which is random), each a message of the key (field 1) and the value (field 2), both
// written even when zero, as the runtime writes them.
func generateMapAppend(g *protogen.GeneratedFile, f *protogen.Field) {
	key, val := f.Message.Fields[0], f.Message.Fields[1]
	field := "x." + f.GoName
	rpcIdent := func(ident string) string { return g.QualifiedGoIdent(rpcPackage.Ident(ident)) }
	if key.Desc.Kind() == protoreflect.BoolKind {
		g.P("for _, k := range []bool{false, true} {")
		g.P("v, ok := ", field, "[k]")
		g.P("if !ok {")
		g.P("continue")
		g.P("}")
	} else {
		g.P("for _, k := range ", g.QualifiedGoIdent(slicesPackage.Ident("Sorted")), "(", g.QualifiedGoIdent(mapsPackage.Ident("Keys")), "(", field, ")) {")
		g.P("v := ", field, "[k]")
	}
	g.P("b = append(b, ", tagBytes(f, protowire.BytesType), ") // ", f.Desc.Name())
	g.P("start := len(b)")
	for _, e := range []struct {
		f *protogen.Field
		v string
	}{{key, "k"}, {val, "v"}} {
		if e.f.Desc.Kind() == protoreflect.MessageKind {
			emitAppendMessage(g, tagBytes(e.f, protowire.BytesType), e.v, "vstart", "")
			continue
		}
		w := wireFormOf(g, e.f)
		if e.f.Desc.Kind() == protoreflect.StringKind {
			emitUTF8Check(g, "ValidString", e.v, f, "b, ")
		}
		g.P("b = append(b, ", tagBytes(e.f, w.typ), ")")
		g.P("b = ", fmt.Sprintf(w.write, e.v))
	}
	g.P("b = ", rpcIdent("ProtoLengthPrefix"), "(b, start)")
	g.P("}")
}

// generateMapDecode writes the body of the decoding case of f, a map: one entry, whose key
// and value default to zero (a message value to an empty message) when the entry leaves them
// out, and whose key, when it occurs again, replaces the value.
func generateMapDecode(g *protogen.GeneratedFile, f *protogen.Field) {
	key, val := f.Message.Fields[0], f.Message.Fields[1]
	field := "x." + f.GoName
	pw := func(ident string) string { return g.QualifiedGoIdent(protowirePackage.Ident(ident)) }
	g.P("if typ == ", pw("BytesType"), " {")
	g.P("entry, n := ", pw("ConsumeBytes"), "(b)")
	emitParseCheck(g, "n")
	g.P("b = b[n:]")
	g.P("var k ", goType(g, key, false))
	g.P("var v ", goType(g, val, false))
	g.P("for len(entry) > 0 {")
	g.P("enum, etyp, en := ", pw("ConsumeTag"), "(entry)")
	emitParseCheck(g, "en")
	g.P("if enum > ", pw("MaxValidNumber"), " {")
	g.P("return ", g.QualifiedGoIdent(rpcPackage.Ident("ErrProtoFieldNumber")))
	g.P("}")
	g.P("entry = entry[en:]")
	for _, e := range []struct {
		f *protogen.Field
		v string
	}{{key, "k"}, {val, "v"}} {
		if e.f.Desc.Kind() == protoreflect.MessageKind {
			g.P("if enum == 2 && etyp == ", pw("BytesType"), " {")
			g.P("mv, mn := ", pw("ConsumeBytes"), "(entry)")
			emitParseCheck(g, "mn")
			g.P("entry = entry[mn:]")
			g.P("if v == nil {")
			g.P("v = new(", g.QualifiedGoIdent(e.f.Message.GoIdent), ")")
			g.P("}")
			g.P("if err := v.microhostMergeProto(mv, depth); err != nil {")
			g.P("return err")
			g.P("}")
			g.P("continue")
			g.P("}")
			continue
		}
		w := wireFormOf(g, e.f)
		g.P("if enum == ", e.f.Desc.Number(), " && etyp == ", pw(wireTypeName(w.typ)), " {")
		g.P("ev, evn := ", pw(w.consume), "(entry)")
		emitParseCheck(g, "evn")
		g.P("entry = entry[evn:]")
		if e.f.Desc.Kind() == protoreflect.StringKind {
			emitUTF8Check(g, "Valid", "ev", f, "")
		}
		read := w.read
		if e.f.Desc.Kind() == protoreflect.BytesKind {
			read = "append([]byte{}, %[1]s...)"
		}
		g.P(e.v, " = ", fmt.Sprintf(read, "ev"))
		g.P("continue")
		g.P("}")
	}
	g.P("en = ", pw("ConsumeFieldValue"), "(enum, etyp, entry)")
	emitParseCheck(g, "en")
	g.P("entry = entry[en:]")
	g.P("}")
	if val.Desc.Kind() == protoreflect.MessageKind {
		g.P("if v == nil {")
		g.P("v = new(", g.QualifiedGoIdent(val.Message.GoIdent), ")")
		g.P("}")
	}
	g.P("if ", field, " == nil {")
	g.P(field, " = ", fieldType(g, f), "{}")
	g.P("}")
	g.P(field, "[k] = v")
	g.P("continue")
	g.P("}")
}
