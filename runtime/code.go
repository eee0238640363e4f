package runtime

import "strconv"

// Code is the status of a call. The values and their meanings are those of
// gRPC, so that a code read from an mqrpc reply means what a gRPC user expects.
type Code uint32

const (
	OK                 Code = 0  // Not an error; returned on success.
	Canceled           Code = 1  // The caller cancelled the call.
	Unknown            Code = 2  // A handler returned an error that carries no code.
	InvalidArgument    Code = 3  // The arguments were malformed or rejected.
	DeadlineExceeded   Code = 4  // The deadline passed before a reply came.
	NotFound           Code = 5  // A requested entity was not found.
	AlreadyExists      Code = 6  // The entity a caller tried to create exists.
	PermissionDenied   Code = 7  // The caller may not run the call.
	ResourceExhausted  Code = 8  // A size, rate or capacity limit was hit.
	FailedPrecondition Code = 9  // The system is not in a state to run the call.
	Aborted            Code = 10 // The call was aborted, typically by a conflict.
	OutOfRange         Code = 11 // A value was past its valid range.
	Unimplemented      Code = 12 // The server does not serve the method.
	Internal           Code = 13 // An invariant broke; a handler panic maps here.
	Unavailable        Code = 14 // The transport could not carry the call; retry may help.
	DataLoss           Code = 15 // Unrecoverable data loss or corruption.
	Unauthenticated    Code = 16 // The caller has no valid credentials.
)

var codeNames = [...]string{
	OK:                 "ok",
	Canceled:           "canceled",
	Unknown:            "unknown",
	InvalidArgument:    "invalid_argument",
	DeadlineExceeded:   "deadline_exceeded",
	NotFound:           "not_found",
	AlreadyExists:      "already_exists",
	PermissionDenied:   "permission_denied",
	ResourceExhausted:  "resource_exhausted",
	FailedPrecondition: "failed_precondition",
	Aborted:            "aborted",
	OutOfRange:         "out_of_range",
	Unimplemented:      "unimplemented",
	Internal:           "internal",
	Unavailable:        "unavailable",
	DataLoss:           "data_loss",
	Unauthenticated:    "unauthenticated",
}

// String returns the code's name in snake case, as connect-go spells it.
func (c Code) String() string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return "code_" + strconv.FormatUint(uint64(c), 10)
}
