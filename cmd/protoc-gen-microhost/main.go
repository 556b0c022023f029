// Command protoc-gen-microhost is a protoc plugin that generates microhost handler and client
// code for the services of a .proto file, and either works on protoc-gen-go's message types
// (the default, messages=go) or declares message types of its own (messages=microhost):
//
//	go install github.com/microhost/microhost/cmd/protoc-gen-microhost@latest
//	protoc --microhost_out=. --microhost_opt=paths=source_relative,messages=microhost greeter.proto
//	protoc --go_out=. --go_opt=paths=source_relative \
//		--microhost_out=. --microhost_opt=paths=source_relative greeter.proto
//
// For each file with services, messages or enums it writes NAME.microhost.go into the Go
// package of the messages. Every message gets the methods of rpc.Message (its protobuf
// encoding, through the protobuf runtime for protoc-gen-go's types, generated code for its
// own). Each message whose fields are all scalars, enums, bytes, repeated ones of those or
// messages of the same file gets MicrohostAppendJSON and MicrohostDecodeJSON, which abi/rpc
// uses in place of encoding/json's reflection, with the same results. messages=microhost
// takes only files whose messages are all of that kind or maps of it, so that its types need
// no protobuf runtime: a handler module built on them is half the size and starts in half the time. For
// each service Greeter the file holds:
//
//   - GreeterHandler, the interface a Go handler module implements (one method per RPC,
//     Hello(req *HelloRequest, rsp *HelloResponse) error), and RegisterGreeterHandler, which
//     serves its methods as the module's endpoints ("Greeter.Hello") in JSON or protobuf by
//     the request's Content-Type;
//   - GreeterClient and NewGreeterClient(name, caller), a typed client that calls the service
//     registered as name through an rpc.Caller: from a handler module with rpc.GuestCaller,
//     from a Go program with host/client/rpccaller.
//
// Streaming methods get Go Micro's shapes, over typed streams: a server-streaming Watch is
// Watch(req *GetRequest, stream Greeter_WatchStream) error in the handler and
// Watch(ctx, req, opts...) (Greeter_WatchClientStream, error) in the client; a
// client-streaming or bidirectional Sync is Sync(stream Greeter_SyncStream) error and
// Sync(ctx, opts...) (Greeter_SyncClientStream, error). The streams' work is in abi/rpc.
// Only a Go program can open a stream (through host/client/rpccaller): inside a module,
// rpc.GuestCaller's streams fail with 501. A message of a file not generated in the same run
// (a well-known type) is adapted with rpcproto.Of. Besides messages, the plugin takes
// protoc-gen-go's common parameters (paths, module, M).
package main

import (
	"flag"
	"fmt"
	"os"

	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/types/pluginpb"
)

// version is the plugin's version, printed by --version.
const version = "1.0.0"

func main() {
	if len(os.Args) == 2 && (os.Args[1] == "--version" || os.Args[1] == "-version") {
		fmt.Println("protoc-gen-microhost", version)
		return
	}
	if len(os.Args) > 1 {
		fmt.Fprintln(os.Stderr, "protoc-gen-microhost is a protoc plugin: run it through protoc, as in\n\tprotoc --go_out=. --microhost_out=. greeter.proto")
		os.Exit(2)
	}
	var flags flag.FlagSet
	messages := flags.String("messages", messagesGo, "whose message types the generated code uses: go (protoc-gen-go's) or microhost (its own)")
	protogen.Options{ParamFunc: flags.Set}.Run(func(gen *protogen.Plugin) error {
		gen.SupportedFeatures = uint64(pluginpb.CodeGeneratorResponse_FEATURE_PROTO3_OPTIONAL)
		switch *messages {
		case messagesGo, messagesMicrohost:
		default:
			return fmt.Errorf("messages=%s: want messages=%s (protoc-gen-go's message types, the default) or messages=%s (its own)", *messages, messagesGo, messagesMicrohost)
		}
		own := *messages == messagesMicrohost
		if own {
			if err := checkOwnMessages(gen); err != nil {
				return err
			}
		}
		for _, f := range gen.Files {
			if f.Generate {
				generateFile(gen, f, own)
			}
		}
		return nil
	})
}
