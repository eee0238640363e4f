package runtime

import (
	"context"
	"errors"
	"fmt"
)

// Error is the error every failed call returns: a code, a message for people
// and optional details for programs. Handlers return an *Error to choose the
// code a caller sees; any other error reaches the caller as Unknown with its
// text.
type Error struct {
	Code    Code
	Message string
	// Details are opaque bytes for the application, carried unchanged from
	// the handler to the caller.
	Details []byte

	cause error // local cause, never sent over the wire
}

// NewError returns an error with the given code and message.
func NewError(code Code, msg string) *Error {
	return &Error{Code: code, Message: msg}
}

// Errorf returns an error with the given code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// wrapError returns an error with the code whose message is the cause's text
// and that unwraps to the cause.
func wrapError(code Code, cause error) *Error {
	return &Error{Code: code, Message: cause.Error(), cause: cause}
}

func (e *Error) Error() string {
	if e.Message == "" {
		return e.Code.String()
	}
	return e.Code.String() + ": " + e.Message
}

// Unwrap returns the local cause of the error, if any. A DeadlineExceeded or
// Canceled error unwraps to context.DeadlineExceeded or context.Canceled, so
// errors.Is works with the context errors as with net/http.
func (e *Error) Unwrap() error {
	if e.cause != nil {
		return e.cause
	}
	switch e.Code {
	case DeadlineExceeded:
		return context.DeadlineExceeded
	case Canceled:
		return context.Canceled
	}
	return nil
}

// CodeOf returns the code of err: OK for nil, the code of an *Error found by
// errors.As, DeadlineExceeded or Canceled for the context errors, and Unknown
// for anything else.
func CodeOf(err error) Code {
	if err == nil {
		return OK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return fromContextError(err).Code
}

// fromContextError turns a context error into the matching *Error; any other
// error becomes Unknown.
func fromContextError(err error) *Error {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return wrapError(DeadlineExceeded, err)
	case errors.Is(err, context.Canceled):
		return wrapError(Canceled, err)
	}
	return wrapError(Unknown, err)
}

// toError converts any error into an *Error, keeping an *Error found in the
// chain as it is.
func toError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return fromContextError(err)
}
