#!/usr/bin/env bash
# protoc and protoc-gen-go: `make generate` runs protoc (the generated Go code is committed, so
# only changing a .proto file needs it), and the tests of cmd/protoc-gen-microhost run it to
# check the generator's output and that the committed code is current.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/deps-lib.sh
if ! command -v protoc >/dev/null 2>&1; then
	echo "deps: installing protoc"
	apt_install protobuf-compiler libprotobuf-dev
fi
# The well-known types' .proto files (google/protobuf/timestamp.proto…), which the plugin's
# tests import, come with libprotobuf-dev, which protobuf-compiler only recommends.
wkt=$(mktemp -d)
printf 'syntax = "proto3";\nimport "google/protobuf/timestamp.proto";\n' >"$wkt/wkt.proto"
if ! protoc --proto_path="$wkt" --descriptor_set_out=/dev/null "$wkt/wkt.proto" >/dev/null 2>&1; then
	echo "deps: installing the well-known types' .proto files"
	apt_install libprotobuf-dev
fi
rm -rf "$wkt"
if ! command -v protoc-gen-go >/dev/null 2>&1 && [ ! -x "$(go env GOPATH)/bin/protoc-gen-go" ]; then
	quietly protoc-gen-go go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
fi
