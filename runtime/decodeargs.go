package runtime

import (
	"errors"
	"fmt"

	"github.com/mqrpc/mqrpc/codec"
)

// decodeArgs decodes a request body into args within the server's decode
// limits. A body that would make decoding allocate more than its size
// allows is ResourceExhausted, as an oversized message is; anything else
// wrong with it (malformed, nested too deeply, a wrong argument count, an
// integer that does not fit its parameter) is InvalidArgument. The error
// unwraps to the codec's, so errors.Is(err, codec.ErrTooDeep) holds.
func (s *Server) decodeArgs(c codec.Codec, body []byte, args any, method string) *Error {
	var err error
	if lc, ok := c.(codec.LimitedCodec); ok {
		err = lc.UnmarshalLimited(body, args, s.opts.decodeLimits)
	} else {
		err = c.Unmarshal(body, args)
	}
	if err == nil {
		return nil
	}
	code := InvalidArgument
	if errors.Is(err, codec.ErrTooLarge) {
		code = ResourceExhausted
	}
	return wrapError(code, fmt.Errorf("decode arguments of %s: %w", method, err))
}
