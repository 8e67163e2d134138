//go:build tools

// The gRPC tools the tests run against the services and the protos, pinned by
// this module's go.mod and go.sum: grpcurl (github.com/fullstorydev/grpcurl)
// and protoc-gen-go (google.golang.org/protobuf). build-grpcurl.sh and
// build-protoc-gen-go.sh build them into the test cache.
package tools

import (
	_ "github.com/fullstorydev/grpcurl/cmd/grpcurl"
	_ "google.golang.org/protobuf/cmd/protoc-gen-go"
)
