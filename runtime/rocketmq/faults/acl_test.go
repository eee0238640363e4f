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
	"sync/atomic"
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
	// mqadmin (broker.sh mqadmin) signs with the keys in conf/tools.yml.
	if err := os.MkdirAll(filepath.Join(home, "conf"), 0o755); err != nil {
		t.Fatal(err)
	}
	tools := fmt.Sprintf("accessKey: %s\nsecretKey: %s\n", aclAccessKey, aclSecretKey)
	if err := os.WriteFile(filepath.Join(home, "conf", "tools.yml"), []byte(tools), 0o600); err != nil {
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

// mqadmin runs RocketMQ's mqadmin on the ACL cluster as its super user and
// fails t unless the output has want: mqadmin exits 0 when its command
// fails.
func mqadmin(t *testing.T, want string, args ...string) {
	t.Helper()
	script := os.Getenv("MQRPC_BROKER_SCRIPT")
	if script == "" {
		script = filepath.Join("..", "..", "..", "tools", "rocketmq", "broker.sh")
	}
	out, err := exec.Command(script, append([]string{"mqadmin"}, args...)...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), want) {
		t.Fatalf("mqadmin %v: %v, want %q in its output:\n%s", args, err, want, out)
	}
}

// With access control on, a user the broker knows, signing right, but with
// no permission to publish to a service's topic is refused at send: a raw
// send with its keys stores nothing there, and an mqrpc client with
// them fails at once with Unavailable, its handler never run. The same
// user publishes to a topic it was given (so the refusal is the topic's
// permission, not a bad key). This is the broker's defence against
// messages no client should send, such as bodies crafted to hurt servers.
func TestPublishWithoutPermissionIsRefused(t *testing.T) {
	ns := aclCluster(t)
	super := func() *rocketmq.Transport {
		tr, err := rocketmq.New(rocketmq.Config{NameServers: []string{ns}, AccessKey: aclAccessKey, SecretKey: aclSecretKey})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = tr.Close() })
		return tr
	}
	stamp := time.Now().UnixNano()
	topic := fmt.Sprintf("acl_calc_%d", stamp)
	open := fmt.Sprintf("acl_open_%d", stamp)
	calls := &countingCalculator{}
	srv := runtime.NewServer(super(), runtime.WithServiceTopic(calculator.CalculatorServiceName, topic))
	if err := calculator.RegisterCalculator(srv, calls); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.GracefulStop)
	if err := super().CreateTopic(open); err != nil {
		t.Fatal(err)
	}

	const user, secret = "caller", "caller-secret"
	mqadmin(t, "success", "createUser", "-n", ns, "-c", "DefaultCluster", "-u", user, "-p", secret, "-t", "Normal")
	mqadmin(t, "success", "createAcl", "-n", ns, "-c", "DefaultCluster", "-s", "User:"+user, "-r", "Topic:"+open, "-a", "Pub", "-d", "Allow")

	tr, err := rocketmq.New(rocketmq.Config{NameServers: []string{ns}, AccessKey: user, SecretKey: secret})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	// A raw send: any body, with no mqrpc client in between.
	send := func(to string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return tr.Send(ctx, &runtime.Message{Topic: to, Tag: "Add", Body: []byte{0x92, 2, 3}})
	}
	if err := send(open); err != nil {
		t.Fatalf("send to %s, which the user may publish to: %v", open, err)
	}
	err = send(topic)
	if err == nil {
		t.Fatalf("send to the service topic %s by a user without permission succeeded", topic)
	}
	if !strings.Contains(err.Error(), "no permission") {
		t.Fatalf("send to the service topic: %v, want a refusal for want of permission", err)
	}
	t.Logf("raw send refused: %v", err)

	c, err := runtime.NewClient(tr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	_, err = calculator.NewCalculatorClient(c, runtime.WithTopic(topic)).Add(ctx, 2, 3)
	if runtime.CodeOf(err) != runtime.Unavailable || time.Since(start) > 5*time.Second {
		t.Errorf("mqrpc call by a user without permission: %v after %v, want Unavailable at once", err, time.Since(start))
	}
	t.Logf("mqrpc client refused: %v", err)

	store, err := rocketmq.OpenStore(rocketmq.Config{NameServers: []string{ns}, AccessKey: aclAccessKey, SecretKey: aclSecretKey})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var stored int
	err = store.Scan(context.Background(), topic, time.Now().Add(-time.Minute), time.Now(), func(*rocketmq.StoredMessage) error {
		stored++
		return nil
	})
	if err != nil || stored != 0 {
		t.Errorf("the service topic holds %d messages (%v), want none", stored, err)
	}
	if n := calls.n.Load(); n != 0 {
		t.Errorf("the server ran %d calls, want none", n)
	}
}

// countingCalculator is the example calculator, counting the calls it runs.
type countingCalculator struct {
	calculator.Server
	n atomic.Int64
}

func (c *countingCalculator) Add(ctx context.Context, a, b int) (int, error) {
	c.n.Add(1)
	return c.Server.Add(ctx, a, b)
}
