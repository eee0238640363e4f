package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/mqrpc/mqrpc/runtime"
)

func TestCodeOf(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want runtime.Code
	}{
		{"nil", nil, runtime.OK},
		{"*Error", runtime.NewError(runtime.NotFound, "gone"), runtime.NotFound},
		{"*Error with OK code", runtime.NewError(runtime.OK, ""), runtime.OK},
		{"Errorf", runtime.Errorf(runtime.Aborted, "conflict on %s", "row"), runtime.Aborted},
		{"wrapped *Error", fmt.Errorf("load user: %w", runtime.NewError(runtime.PermissionDenied, "no")), runtime.PermissionDenied},
		{"doubly wrapped *Error", fmt.Errorf("a: %w", fmt.Errorf("b: %w", runtime.NewError(runtime.DataLoss, "x"))), runtime.DataLoss},
		{"joined with a plain error", errors.Join(io.EOF, runtime.NewError(runtime.OutOfRange, "x")), runtime.OutOfRange},
		{"*Error outermost wins", fmt.Errorf("%w: %w", runtime.NewError(runtime.Internal, "a"), runtime.NewError(runtime.Unavailable, "b")), runtime.Internal},
		{"context.DeadlineExceeded", context.DeadlineExceeded, runtime.DeadlineExceeded},
		{"context.Canceled", context.Canceled, runtime.Canceled},
		{"wrapped context.Canceled", fmt.Errorf("send: %w", context.Canceled), runtime.Canceled},
		{"cause of an expired context", expiredContextErr(), runtime.DeadlineExceeded},
		{"plain error", errors.New("boom"), runtime.Unknown},
		{"io.EOF", io.EOF, runtime.Unknown},
		{"wrapped plain error", fmt.Errorf("x: %w", io.ErrUnexpectedEOF), runtime.Unknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := runtime.CodeOf(tt.err); got != tt.want {
				t.Errorf("CodeOf(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func expiredContextErr() error {
	ctx, cancel := context.WithTimeout(context.Background(), -1)
	defer cancel()
	return ctx.Err()
}

func TestErrorIsContextError(t *testing.T) {
	tests := []struct {
		name             string
		err              error
		deadlineExceeded bool
		canceled         bool
	}{
		{"DeadlineExceeded", runtime.NewError(runtime.DeadlineExceeded, "no reply"), true, false},
		{"wrapped DeadlineExceeded", fmt.Errorf("call: %w", runtime.Errorf(runtime.DeadlineExceeded, "x")), true, false},
		{"Canceled", runtime.NewError(runtime.Canceled, "client closed"), false, true},
		{"Unavailable", runtime.NewError(runtime.Unavailable, "down"), false, false},
		{"Unknown", runtime.NewError(runtime.Unknown, "deadline exceeded"), false, false},
		{"OK", runtime.NewError(runtime.OK, ""), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := errors.Is(tt.err, context.DeadlineExceeded); got != tt.deadlineExceeded {
				t.Errorf("errors.Is(%v, context.DeadlineExceeded) = %v, want %v", tt.err, got, tt.deadlineExceeded)
			}
			if got := errors.Is(tt.err, context.Canceled); got != tt.canceled {
				t.Errorf("errors.Is(%v, context.Canceled) = %v, want %v", tt.err, got, tt.canceled)
			}
		})
	}
}

func TestErrorText(t *testing.T) {
	tests := []struct {
		err  *runtime.Error
		want string
	}{
		{runtime.NewError(runtime.NotFound, "user 7"), "not_found: user 7"},
		{runtime.NewError(runtime.Internal, ""), "internal"},
		{runtime.Errorf(runtime.InvalidArgument, "a=%d", 3), "invalid_argument: a=3"},
		{&runtime.Error{Code: 99, Message: "odd"}, "code_99: odd"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestErrorAs(t *testing.T) {
	in := &runtime.Error{Code: runtime.FailedPrecondition, Message: "not ready", Details: []byte{1, 2}}
	var e *runtime.Error
	if !errors.As(fmt.Errorf("wrap: %w", in), &e) || e != in {
		t.Fatalf("errors.As did not find the *Error")
	}
	if errors.Unwrap(in) != nil {
		t.Errorf("a FailedPrecondition error without a cause unwraps to %v, want nil", errors.Unwrap(in))
	}
}
