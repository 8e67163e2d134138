//go:build tools

// The grpcurl command line (github.com/fullstorydev/grpcurl), pinned by this
// module's go.mod and go.sum; build-grpcurl.sh builds it into the test cache.
package tools

import _ "github.com/fullstorydev/grpcurl/cmd/grpcurl"
