package rocketmq

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"reflect"
	"strings"

	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/mqrpc/mqrpc/runtime"
)

// Compressed bodies.
//
// A sender may flag a message body compressed (bit 0 of the message's
// sysFlag): Java producers compress bodies over 4 KiB with zlib, and a raw
// producer can set the flag on any bytes. rocketmq-client-go inflates such
// a body with no limit while it decodes a pull result, before the consumer
// sees the message: a 4 MB zlib body can become gigabytes, and a server
// would run out of memory on one message that passed every size check.
//
// So the transport keeps the library from inflating and inflates itself,
// up to Config.MaxMessageSize. The library decodes runs of messages in
// three places: pull results, and the broker's CHECK_TRANSACTION_STATE and
// CONSUME_MESSAGE_DIRECTLY requests. Before it does, defuse puts one zero
// byte in front of each body flagged compressed. No zlib stream starts with
// a zero byte (its compression method would be 0, not deflate's 8), so the
// library's inflater gives up at the first two bytes and hands the body on
// as it is, flag and all; deliveredRequestBody takes the byte off again and
// inflates with the limit.

// defuse returns data, a run of messages as the broker encodes them, with a
// zero byte put in front of every body flagged compressed, and whether it
// changed anything. It walks the messages field by field as
// primitive.DecodeMessage does (which reads fields in order and ignores
// each message's stored size), so that it finds every body that function
// would inflate, even in a run that ends short.
func defuse(data []byte) ([]byte, bool) {
	var flagged []encodedMessage
	for pos := 0; pos < len(data); {
		m, ok := walkMessage(data, pos)
		if !ok {
			break
		}
		if m.compressed {
			flagged = append(flagged, m)
		}
		pos = m.end
	}
	if len(flagged) == 0 {
		return data, false
	}
	out := make([]byte, 0, len(data)+len(flagged))
	prev := 0
	for _, m := range flagged {
		out = append(out, data[prev:m.start]...)
		// The stored size is only reported by the library; it is kept
		// true all the same.
		out = binary.BigEndian.AppendUint32(out, uint32(grow(int32(binary.BigEndian.Uint32(data[m.start:])))))
		out = append(out, data[m.start+4:m.bodyLenAt]...)
		out = binary.BigEndian.AppendUint32(out, uint32(grow(int32(binary.BigEndian.Uint32(data[m.bodyLenAt:])))))
		out = append(out, defusePrefix)
		prev = m.bodyLenAt + 4
	}
	return append(out, data[prev:]...), true
}

// defusePrefix is the byte defuse puts in front of a compressed body.
const defusePrefix = 0

// grow returns n+1, or n when that would overflow.
func grow(n int32) int32 {
	if n == math.MaxInt32 {
		return n
	}
	return n + 1
}

// encodedMessage locates one message in a run.
type encodedMessage struct {
	start      int // offset of its stored size, its first field
	bodyLenAt  int // offset of its body length
	end        int // where the library reads the next message from
	compressed bool
}

// Field sizes of an encoded message (the broker's MessageDecoder), up to
// the body length, whose offset depends on the sysFlag's address flags.
const (
	sysFlagAt      = 4 + 4 + 4 + 4 + 4 + 8 + 8 // stored size, magic, body CRC, queue, flag, queue offset, commit log offset
	afterSysFlag   = 4 + 8                     // sysFlag, born timestamp
	hostV4, hostV6 = 4 + 4, 16 + 4             // address and port
	storeTimestamp = 8
	beforeBodyLen  = 4 + 8 // reconsume times, prepared transaction offset
)

// walkMessage reads the message at pos as primitive.DecodeMessage does. It
// reports false when the run ends before the message's body length: the
// library then reads a length of 0, and an empty body.
func walkMessage(data []byte, pos int) (encodedMessage, bool) {
	if len(data)-pos < sysFlagAt+4 {
		return encodedMessage{}, false
	}
	sysFlag := int32(binary.BigEndian.Uint32(data[pos+sysFlagAt:]))
	p := pos + sysFlagAt + afterSysFlag
	p += hostSize(sysFlag&primitive.FlagBornHostV6 != 0)
	p += storeTimestamp
	p += hostSize(sysFlag&primitive.FlagStoreHostV6 != 0)
	p += beforeBodyLen
	if len(data)-p < 4 {
		return encodedMessage{}, false
	}
	m := encodedMessage{start: pos, bodyLenAt: p, compressed: sysFlag&primitive.FlagCompressed != 0}
	n := int(int32(binary.BigEndian.Uint32(data[p:])))
	if n < 0 {
		// The library cannot read past it either (it panics).
		return encodedMessage{}, false
	}
	p += 4
	p += min(n, len(data)-p) // a short body is cut, not refused
	if p < len(data) {       // topic: one length byte
		n := int(data[p])
		p++
		p += min(n, len(data)-p)
	}
	if len(data)-p >= 2 { // properties: a two-byte length, read only when positive
		n := int(int16(binary.BigEndian.Uint16(data[p:])))
		p += 2
		if n > 0 {
			p += min(n, len(data)-p)
		}
	} else {
		p = len(data)
	}
	m.end = p
	return m, true
}

func hostSize(v6 bool) int {
	if v6 {
		return hostV6
	}
	return hostV4
}

// Compression types of a compressed body, in bits 8-10 of its sysFlag
// (RocketMQ's MessageSysFlag): Java clients since 5.0 set them; 0 is zlib
// from older clients and from this one.
const (
	compressionTypeMask = 0x7 << 8
	compressionLZ4      = 0x1 << 8
	compressionZstd     = 0x2 << 8
	compressionZlib     = 0x3 << 8
)

// deliveredRequestBody returns the body of a consumed message as its sender
// meant it: inflated, when it was flagged compressed, up to limit bytes. A
// body that does not inflate is refused with InvalidArgument, one that
// inflates past limit with ResourceExhausted; either way m itself is left
// as the library gave it (the library counts its cached bytes by
// len(m.Body)).
func deliveredRequestBody(m *primitive.MessageExt, limit int) ([]byte, error) {
	if m.SysFlag&primitive.FlagCompressed == 0 {
		return m.Body, nil
	}
	body := storedBody(m)
	switch t := m.SysFlag & compressionTypeMask; t {
	case 0, compressionZlib:
	case compressionLZ4, compressionZstd:
		name := map[int32]string{compressionLZ4: "LZ4", compressionZstd: "zstd"}[t]
		return nil, runtime.Errorf(runtime.InvalidArgument, "request body is compressed with %s, which mqrpc does not inflate; send it uncompressed or zlib-compressed", name)
	default:
		return nil, runtime.Errorf(runtime.InvalidArgument, "request body is compressed with unknown compression type %d", t>>8)
	}
	out, err := inflate(body, limit)
	switch {
	case errors.Is(err, errInflatesPastLimit):
		return nil, runtime.Errorf(runtime.ResourceExhausted,
			"request body of %d bytes, flagged compressed, inflates to more than %d bytes, the limit", len(body), limit)
	case err != nil:
		return nil, runtime.Errorf(runtime.InvalidArgument, "request body is flagged compressed but does not inflate: %v", err)
	}
	return out, nil
}

// storedBody returns the body of m as the broker stored it: without the
// byte defuse put in front of it when it is flagged compressed.
func storedBody(m *primitive.MessageExt) []byte {
	if m.SysFlag&primitive.FlagCompressed != 0 && len(m.Body) > 0 && m.Body[0] == defusePrefix {
		return m.Body[1:]
	}
	return m.Body
}

// errInflatesPastLimit is inflate's error for a body larger than its limit
// once inflated.
var errInflatesPastLimit = errors.New("body inflates past the limit")

// inflate returns the zlib stream b inflated, or errInflatesPastLimit as
// soon as it has inflated more than limit bytes: it never holds more than
// limit+1 bytes of output, whatever b claims.
func inflate(b []byte, limit int) ([]byte, error) {
	zr, err := zlib.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	r := io.LimitReader(zr, int64(limit)+1)
	// The buffer starts at a guess of the ratio and doubles, rather than
	// growing by append's quarter, up to half the limit; past that it
	// takes limit+1 at once. Reaching the limit so allocates about 1.5
	// times the limit in all.
	out := make([]byte, 0, min(limit+1, max(512, 4*len(b))))
	for len(out) <= limit {
		if len(out) == cap(out) {
			c := 2 * cap(out)
			if c > limit/2 {
				c = limit + 1
			}
			grown := make([]byte, len(out), c)
			copy(grown, out)
			out = grown
		}
		n, err := r.Read(out[len(out):cap(out)])
		out = out[:len(out)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if len(out) > limit {
		return nil, errInflatesPastLimit
	}
	return out, nil
}

// Request codes of the broker's requests whose body is a run of messages,
// which the library decodes, and of a pull, whose response is one.
const (
	codePullMessage           = int16(11)
	codeCheckTransactionState = int16(39)
	codeConsumeDirectly       = int16(309)
	codeSuccess               = int64(0)

	// A reply is sent with one of these; the broker answers SYSTEM_ERROR
	// when it could not push the reply to its requester.
	codeSendReply   = int16(324)
	codeSendReplyV2 = int16(325)
	codeSystemError = int64(1)
	// codeReplyNotPushed replaces SYSTEM_ERROR in the answer to a reply
	// whose push failed: the library retries a send that got
	// SYSTEM_ERROR, but not one that got this, which no broker sends.
	codeReplyNotPushed = int64(-1)
)

// replyNotPushed starts the broker's remark when the requester's
// connection was there but the push over it failed: the requester is
// going or gone, and sending the reply again, through this broker or
// another, would only store it again. ("channel of <client> not found"
// is another remark: then the requester may not have met this broker
// yet, and another may push it.)
const replyNotPushed = "push reply message to "

// remotingClient returns the client's connection to the brokers, a pointer
// to the library's remoting client struct.
func (c libClient) remotingClient() (reflect.Value, error) {
	rc, err := field(c.v.Elem().Elem(), "remoteClient")
	if err != nil {
		return reflect.Value{}, err
	}
	if rc.Kind() != reflect.Interface || rc.IsNil() {
		return reflect.Value{}, errors.New("client's remoteClient is not a set interface")
	}
	p := rc.Elem()
	if p.Kind() != reflect.Pointer || p.Elem().Kind() != reflect.Struct {
		return reflect.Value{}, fmt.Errorf("remoteClient is %s, not a struct pointer", p.Type())
	}
	return p, nil
}

// commandBody returns the index of the Body field of the library's
// RemotingCommand, given a pointer type to it.
func commandBody(cmd reflect.Type) ([]int, error) {
	if cmd.Kind() != reflect.Pointer || cmd.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("remoting command is %s, not a struct pointer", cmd)
	}
	f, ok := cmd.Elem().FieldByName("Body")
	if !ok || f.Type != reflect.TypeFor[[]byte]() {
		return nil, errors.New("RemotingCommand has no Body")
	}
	return f.Index, nil
}

// defuseBrokerRequests has the client defuse the bodies of the broker's
// requests that carry messages before its processors decode them. Like
// onPushedReply, it must be called before the client starts.
func (c libClient) defuseBrokerRequests() error {
	rc, err := c.remotingClient()
	if err != nil {
		return err
	}
	procs, err := field(rc.Elem(), "processors")
	if err != nil {
		return err
	}
	if procs.Kind() != reflect.Map || procs.Type().Key().Kind() != reflect.Int16 {
		return fmt.Errorf("processors is %s, want a map keyed by request code", procs.Type())
	}
	for _, code := range []int16{codeCheckTransactionState, codeConsumeDirectly} {
		key := reflect.ValueOf(code).Convert(procs.Type().Key())
		orig := procs.MapIndex(key)
		if !orig.IsValid() {
			return fmt.Errorf("no processor registered for request code %d", code)
		}
		ft := orig.Type()
		if ft.Kind() != reflect.Func || ft.NumIn() != 2 || ft.In(1) != reflect.TypeFor[net.Addr]() {
			return fmt.Errorf("processor of request code %d is %s, want func(*RemotingCommand, net.Addr)", code, ft)
		}
		body, err := commandBody(ft.In(0))
		if err != nil {
			return err
		}
		procs.SetMapIndex(key, reflect.MakeFunc(ft, func(args []reflect.Value) []reflect.Value {
			if !args[0].IsNil() {
				b := args[0].Elem().FieldByIndex(body)
				if d, changed := defuse(b.Bytes()); changed {
					b.SetBytes(d)
				}
			}
			return orig.Call(args)
		}))
	}
	return nil
}

// defusePullResults has the client defuse every pull result before the
// puller decodes it.
//
// A pull is a request that the client sends and then waits for, on a
// response future it keeps in a table by the request's number (opaque);
// the connection's reader fills in the future's response and closes its
// Done channel, then runs its callback. The library has no hook on
// responses, but every request it sends goes through its interceptor
// chain. So an interceptor, seeing a pull go out, puts a future of its own
// in the table in place of the puller's; when the response comes, that
// future's callback defuses the response's body, hands it to the puller's
// future and closes its Done channel, as the reader would have.
//
// The client's Start sets its interceptor chain (to sign requests when
// there are credentials), so this is called after Start. The interceptor
// field is read without a lock by every send; the library's own sends
// after Start come from its heartbeat and rebalance loops, which hold the
// locks held here while the field is set, or from goroutines that those
// loops or later calls start.
func (c libClient) defusePullResults() error {
	rc, err := c.remotingClient()
	if err != nil {
		return err
	}
	table, err := syncMap(rc.Elem(), "responseTable")
	if err != nil {
		return err
	}
	chain, err := field(rc.Elem(), "interceptor")
	if err != nil {
		return err
	}
	if chain.Type() != reflect.TypeFor[primitive.Interceptor]() {
		return fmt.Errorf("interceptor is %s, not a primitive.Interceptor", chain.Type())
	}
	p, err := newPullProxy(rc)
	if err != nil {
		return err
	}
	next, _ := chain.Interface().(primitive.Interceptor)
	ours := primitive.Interceptor(func(ctx context.Context, req, reply any, invoke primitive.Invoker) error {
		p.intercept(table, req)
		if next != nil {
			return next(ctx, req, reply, invoke)
		}
		return invoke(ctx, req, reply)
	})
	for _, name := range []string{"hbMutex", "rbMutex"} {
		m, err := c.mutex(name)
		if err != nil {
			return err
		}
		if !tryLock(m, lockPatience) {
			return fmt.Errorf("client's %s stayed locked", name)
		}
		defer m.Unlock()
	}
	chain.Set(reflect.ValueOf(ours))
	return nil
}

// pullProxy knows the shapes of the library's RemotingCommand and
// ResponseFuture, checked once, that a pull's interception uses.
type pullProxy struct {
	cmd    reflect.Type // *RemotingCommand
	future reflect.Type // *ResponseFuture
	cbType reflect.Type // func(*ResponseFuture)
	// Field indexes: of the command, and of the future.
	code, flag, opaque, body  []int
	remark                    []int
	response, futOpaque, done []int
}

func newPullProxy(rc reflect.Value) (*pullProxy, error) {
	m := rc.MethodByName("InvokeAsync")
	if !m.IsValid() || m.Type().NumIn() != 4 || m.Type().In(3).Kind() != reflect.Func || m.Type().In(3).NumIn() != 1 {
		return nil, errors.New("remoting client has no InvokeAsync(ctx, addr, request, func(*ResponseFuture)) method")
	}
	p := &pullProxy{cmd: m.Type().In(2), cbType: m.Type().In(3)}
	p.future = p.cbType.In(0)
	var err error
	if p.body, err = commandBody(p.cmd); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		in   reflect.Type
		name string
		kind reflect.Kind
		idx  *[]int
	}{
		{p.cmd, "Code", reflect.Int16, &p.code},
		{p.cmd, "Flag", reflect.Int32, &p.flag},
		{p.cmd, "Opaque", reflect.Int32, &p.opaque},
		{p.cmd, "Remark", reflect.String, &p.remark},
		{p.future, "Opaque", reflect.Int32, &p.futOpaque},
		{p.future, "ResponseCommand", reflect.Pointer, &p.response},
		{p.future, "Done", reflect.Chan, &p.done},
	} {
		if f.in.Kind() != reflect.Pointer || f.in.Elem().Kind() != reflect.Struct {
			return nil, fmt.Errorf("%s is not a struct pointer", f.in)
		}
		sf, ok := f.in.Elem().FieldByName(f.name)
		if !ok || sf.Type.Kind() != f.kind {
			return nil, fmt.Errorf("%s has no %s field of kind %s", f.in.Elem(), f.name, f.kind)
		}
		*f.idx = sf.Index
	}
	st := p.future.Elem()
	if cb, ok := st.FieldByName("callback"); !ok || cb.Type != p.cbType ||
		st.FieldByIndex(p.response).Type != p.cmd || st.FieldByIndex(p.done).Type != reflect.TypeFor[chan bool]() {
		return nil, fmt.Errorf("%s does not hold a %s response, a chan bool Done and a %s callback", st, p.cmd, p.cbType)
	}
	return p, nil
}

// intercept takes the place of the future a pull request or a reply's
// send waits on, if req is one: a pull's response is defused, and a
// reply's answer that says its push failed is made one the library does
// not retry.
func (p *pullProxy) intercept(table interface {
	Load(key any) (any, bool)
	Store(key, value any)
}, req any) {
	cmd := reflect.ValueOf(req)
	if !cmd.IsValid() || cmd.Type() != p.cmd || cmd.IsNil() {
		return
	}
	c := cmd.Elem()
	code := int16(c.FieldByIndex(p.code).Int())
	if c.FieldByIndex(p.flag).Int()&1 != 0 {
		return // a response the client sends
	}
	if code != codePullMessage && code != codeSendReply && code != codeSendReplyV2 {
		return
	}
	opaque := int32(c.FieldByIndex(p.opaque).Int())
	orig, ok := table.Load(opaque)
	if !ok {
		return
	}
	waiter := reflect.ValueOf(orig)
	if waiter.Type() != p.future || waiter.IsNil() {
		return
	}
	proxy := reflect.New(p.future.Elem())
	proxy.Elem().FieldByIndex(p.futOpaque).SetInt(int64(opaque))
	callback := reflect.MakeFunc(p.cbType, func(args []reflect.Value) []reflect.Value {
		res := args[0].Elem().FieldByIndex(p.response)
		switch {
		case res.IsNil():
		case code == codePullMessage && res.Elem().FieldByIndex(p.code).Int() == codeSuccess:
			b := res.Elem().FieldByIndex(p.body)
			if d, changed := defuse(b.Bytes()); changed {
				b.SetBytes(d)
			}
		case code != codePullMessage && res.Elem().FieldByIndex(p.code).Int() == codeSystemError &&
			strings.HasPrefix(res.Elem().FieldByIndex(p.remark).String(), replyNotPushed):
			res.Elem().FieldByIndex(p.code).SetInt(codeReplyNotPushed)
		}
		w := waiter.Elem()
		w.FieldByIndex(p.response).Set(res)
		if done := w.FieldByIndex(p.done); !done.IsNil() {
			done.Close()
		}
		return nil
	})
	cb, err := field(proxy.Elem(), "callback")
	if err != nil {
		return
	}
	cb.Set(callback)
	// The proxy has no Done channel, which the reader then skips, and
	// runs the callback once.
	table.Store(opaque, proxy.Interface())
}
