package runtime

import "context"

// Invoker performs a call: it is the end of a client interceptor chain.
// results is nil for one-way calls.
type Invoker func(ctx context.Context, method string, args, results any) error

// UnaryClientInterceptor wraps calls made by a Client. It may change ctx,
// inspect args and results, and must call invoke to go on.
type UnaryClientInterceptor func(ctx context.Context, method string, args, results any, invoke Invoker) error

// UnaryHandler runs a method on decoded arguments: the end of a server
// interceptor chain.
type UnaryHandler func(ctx context.Context, args any) (any, error)

// UnaryServerInfo tells a server interceptor which call it wraps.
type UnaryServerInfo struct {
	// Server is the service implementation.
	Server any
	// FullMethod is "/service/method".
	FullMethod string
}

// UnaryServerInterceptor wraps the handling of a call on a Server.
type UnaryServerInterceptor func(ctx context.Context, args any, info *UnaryServerInfo, handler UnaryHandler) (any, error)

// chainClient returns an invoker that runs the interceptors in order, the
// first one outermost, around invoke.
func chainClient(interceptors []UnaryClientInterceptor, invoke Invoker) Invoker {
	for i := len(interceptors) - 1; i >= 0; i-- {
		ic, next := interceptors[i], invoke
		invoke = func(ctx context.Context, method string, args, results any) error {
			return ic(ctx, method, args, results, next)
		}
	}
	return invoke
}

// chainServer returns one interceptor that runs the given ones in order, the
// first one outermost; nil when there are none.
func chainServer(interceptors []UnaryServerInterceptor) UnaryServerInterceptor {
	switch len(interceptors) {
	case 0:
		return nil
	case 1:
		return interceptors[0]
	}
	return func(ctx context.Context, args any, info *UnaryServerInfo, handler UnaryHandler) (any, error) {
		for i := len(interceptors) - 1; i >= 0; i-- {
			ic, next := interceptors[i], handler
			handler = func(ctx context.Context, args any) (any, error) {
				return ic(ctx, args, info, next)
			}
		}
		return handler(ctx, args)
	}
}
