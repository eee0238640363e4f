package runtime_test

import (
	"testing"

	"github.com/mqrpc/mqrpc/runtime"
)

func TestCodeString(t *testing.T) {
	tests := []struct {
		code runtime.Code
		want string
	}{
		{runtime.OK, "ok"},
		{runtime.Canceled, "canceled"},
		{runtime.Unknown, "unknown"},
		{runtime.InvalidArgument, "invalid_argument"},
		{runtime.DeadlineExceeded, "deadline_exceeded"},
		{runtime.NotFound, "not_found"},
		{runtime.AlreadyExists, "already_exists"},
		{runtime.PermissionDenied, "permission_denied"},
		{runtime.ResourceExhausted, "resource_exhausted"},
		{runtime.FailedPrecondition, "failed_precondition"},
		{runtime.Aborted, "aborted"},
		{runtime.OutOfRange, "out_of_range"},
		{runtime.Unimplemented, "unimplemented"},
		{runtime.Internal, "internal"},
		{runtime.Unavailable, "unavailable"},
		{runtime.DataLoss, "data_loss"},
		{runtime.Unauthenticated, "unauthenticated"},
		{17, "code_17"},
		{1 << 31, "code_2147483648"},
		{^runtime.Code(0), "code_4294967295"},
	}
	for _, tt := range tests {
		if got := tt.code.String(); got != tt.want {
			t.Errorf("Code(%d).String() = %q, want %q", uint32(tt.code), got, tt.want)
		}
	}
}

// The values are gRPC's, so that codes mean the same on both.
func TestCodeValuesMatchGRPC(t *testing.T) {
	codes := []runtime.Code{
		runtime.OK, runtime.Canceled, runtime.Unknown, runtime.InvalidArgument,
		runtime.DeadlineExceeded, runtime.NotFound, runtime.AlreadyExists,
		runtime.PermissionDenied, runtime.ResourceExhausted, runtime.FailedPrecondition,
		runtime.Aborted, runtime.OutOfRange, runtime.Unimplemented, runtime.Internal,
		runtime.Unavailable, runtime.DataLoss, runtime.Unauthenticated,
	}
	for i, c := range codes {
		if int(c) != i {
			t.Errorf("%v = %d, want %d as in gRPC", c, uint32(c), i)
		}
	}
}
