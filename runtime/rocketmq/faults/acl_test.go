//go:build brokerfaults

package faults_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mqrpc/mqrpc/examples/calculator/calculator"
	"github.com/mqrpc/mqrpc/runtime"
	"github.com/mqrpc/mqrpc/runtime/rocketmq"
)

// The user tools/rocketmq/acl.conf creates on the ACL broker.
const aclAccessKey, aclSecretKey = "mqrpc", "mqrpc-secret"

// aclCluster starts a name server and a broker that require signed
// requests (tools/rocketmq/acl.conf), beside the cluster the other tests
// use, and returns its name server; the test stops it at its end.
func aclCluster(t *testing.T) string {
	t.Helper()
	offset := 500
	if s := os.Getenv("ROCKETMQ_PORT_OFFSET"); s != "" {
		base, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("ROCKETMQ_PORT_OFFSET=%q: %v", s, err)
		}
		offset += base
	}
	home := t.TempDir()
	repoLib, err := filepath.Abs(filepath.Join("..", "..", "..", ".rocketmq", "lib"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(repoLib, filepath.Join(home, "lib")); err != nil {
		t.Fatal(err)
	}
	conf, err := filepath.Abs(filepath.Join("..", "..", "..", "tools", "rocketmq", "acl.conf"))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("ROCKETMQ_HOME_DIR", home)
	t.Setenv("ROCKETMQ_PORT_OFFSET", strconv.Itoa(offset))
	t.Setenv("ROCKETMQ_BROKER_CONF_EXTRA", conf)
	brokerScript(t, "up")
	t.Cleanup(func() { brokerScript(t, "down") })
	return fmt.Sprintf("127.0.0.1:%d", 9876+offset)
}

// On a cluster with access control, a server and a client that hold a
// user's keys create their topic and call each other, so does the mqrpc
// command, and the calls can be read back from the store with the same
// keys; a client with a wrong secret or none is refused at once with
// Unavailable, saying why.
func TestClusterWithAccessControl(t *testing.T) {
	ns := aclCluster(t)
	open := func(access, secret string) *rocketmq.Transport {
		tr, err := rocketmq.New(rocketmq.Config{NameServers: []string{ns}, AccessKey: access, SecretKey: secret})
		if err != nil {
			t.Fatalf("New with key %q: %v", access, err)
		}
		t.Cleanup(func() { _ = tr.Close() })
		return tr
	}
	topic := fmt.Sprintf("acl_calc_%d", time.Now().UnixNano())
	srv := runtime.NewServer(open(aclAccessKey, aclSecretKey), runtime.WithServiceTopic(calculator.CalculatorServiceName, topic))
	if err := calculator.RegisterCalculator(srv, calculator.Server{}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatalf("server start with the user's keys: %v", err)
	}
	t.Cleanup(srv.GracefulStop)

	call := func(tr *rocketmq.Transport) (int, error) {
		c, err := runtime.NewClient(tr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		return calculator.NewCalculatorClient(c, runtime.WithTopic(topic)).Add(ctx, 2, 3)
	}
	if sum, err := call(open(aclAccessKey, aclSecretKey)); err != nil || sum != 5 {
		t.Fatalf("Add(2, 3) with the user's keys = %d, %v; want 5", sum, err)
	}
	for _, c := range []struct{ name, access, secret string }{
		{"wrong secret", aclAccessKey, "not-the-secret"},
		{"no keys", "", ""},
	} {
		start := time.Now()
		_, err := call(open(c.access, c.secret))
		var e *runtime.Error
		if !errors.As(err, &e) || e.Code != runtime.Unavailable {
			t.Errorf("%s: error %v, want Unavailable", c.name, err)
			continue
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("%s: refused after %v, want at once rather than at the deadline", c.name, took)
		}
		t.Logf("%s: %v", c.name, err)
	}

	// The mqrpc command signs with -access-key and $MQRPC_SECRET_KEY.
	bin := filepath.Join(t.TempDir(), "mqrpc")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/mqrpc/mqrpc/cmd/mqrpc").CombinedOutput(); err != nil {
		t.Fatalf("go build cmd/mqrpc: %v\n%s", err, out)
	}
	mqrpc := func(secret string) (string, error) {
		cmd := exec.Command(bin, "call", "-namesrv", ns, "-access-key", aclAccessKey, "-topic", topic,
			calculator.CalculatorServiceName+"/Add", "[2,3]")
		cmd.Env = append(os.Environ(), "MQRPC_SECRET_KEY="+secret)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := mqrpc(aclSecretKey); err != nil || !strings.HasPrefix(out, "[5]\n") {
		t.Errorf("mqrpc call with the user's keys: %v\n%s", err, out)
	}
	if out, err := mqrpc("not-the-secret"); err == nil || !strings.Contains(out, "check signature failed") {
		t.Errorf("mqrpc call with a wrong secret: %v, want a failure that says why\n%s", err, out)
	}

	store, err := rocketmq.OpenStore(rocketmq.Config{NameServers: []string{ns}, AccessKey: aclAccessKey, SecretKey: aclSecretKey})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var methods []string
	err = store.Scan(context.Background(), topic, time.Now().Add(-time.Minute), time.Now(), func(m *rocketmq.StoredMessage) error {
		methods = append(methods, m.Properties[runtime.PropMethod])
		return nil
	})
	// Add's request from the Go client and the one from the command (which
	// asks the server to describe the service first).
	want := []string{calculator.Calculator_Add_FullMethodName, runtime.FullMethodName(calculator.CalculatorServiceName, runtime.DescribeMethod), calculator.Calculator_Add_FullMethodName}
	if err != nil || !slices.Equal(methods, want) {
		t.Errorf("the store read %v, %v from %s; want %v", methods, err, topic, want)
	}
}
