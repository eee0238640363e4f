package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/mqrpc/mqrpc/internal/testservice"
	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/memtransport"
)

// directory is a Probe whose Echo looks a name up and fails with NotFound.
type directory struct{ testservice.Server }

func (directory) Echo(_ context.Context, name string) (string, error) {
	if name != "ann" {
		return "", runtime.Errorf(runtime.NotFound, "no user %q", name)
	}
	return name, nil
}

// A handler returns an *Error to choose the code its caller sees; the
// caller reads it with CodeOf, or the whole error with errors.As.
func ExampleErrorf() {
	tr := memtransport.New()
	defer tr.Close()
	srv := runtime.NewServer(tr)
	if err := testservice.RegisterProbe(srv, directory{}); err != nil {
		log.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		log.Fatal(err)
	}
	defer srv.GracefulStop()
	client, err := runtime.NewClient(tr)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	_, err = testservice.NewProbeClient(client).Echo(context.Background(), "bob")
	fmt.Println(err)
	fmt.Println(runtime.CodeOf(err) == runtime.NotFound)
	var e *runtime.Error
	if errors.As(err, &e) {
		fmt.Printf("code %d (%v), message %q\n", e.Code, e.Code, e.Message)
	}
	// Output:
	// not_found: no user "bob"
	// true
	// code 5 (not_found), message "no user \"bob\""
}

// A call that gets no reply by its deadline fails with DeadlineExceeded,
// which errors.Is also reports as context.DeadlineExceeded. No server
// consumes the request here: it waits in the queue.
func ExampleCodeOf() {
	tr := memtransport.New()
	defer tr.Close()
	client, err := runtime.NewClient(tr)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	probe := testservice.NewProbeClient(client, runtime.WithTimeout(20*time.Millisecond))
	_, err = probe.Echo(context.Background(), "anyone there?")
	fmt.Println(runtime.CodeOf(err))
	fmt.Println(errors.Is(err, context.DeadlineExceeded))
	fmt.Println(runtime.CodeOf(nil), runtime.CodeOf(errors.New("plain")))
	// Output:
	// deadline_exceeded
	// true
	// ok unknown
}
