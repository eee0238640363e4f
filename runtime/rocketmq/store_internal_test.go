package rocketmq

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mqrpc/mqrpc/runtime/rocketmq/rocketmqtest"
)

// A Store reads in InspectGroup and adds no group of its own to the brokers.
func TestStoresAddNoGroups(t *testing.T) {
	cfg := Config{NameServers: []string{rocketmqtest.NameServer(t)}}
	inspectGroups := func() (all []string, shared bool) {
		s, err := OpenStore(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		addrs := s.brokerAddrs(ctx)
		if len(addrs) == 0 {
			t.Fatal("no broker found")
		}
		for _, addr := range addrs {
			w, err := s.adm.GetAllSubscriptionGroup(ctx, addr, 3*time.Second)
			if err != nil {
				t.Fatalf("subscription groups of %s: %v", addr, err)
			}
			for g := range w.SubscriptionGroupTable {
				switch {
				case g == InspectGroup:
					shared = true
				case strings.HasPrefix(g, InspectGroup):
					all = append(all, g)
				}
			}
		}
		return all, shared
	}
	before, _ := inspectGroups()
	after, shared := inspectGroups()
	if !shared {
		t.Errorf("no broker has the group %s", InspectGroup)
	}
	if len(after) != len(before) {
		t.Errorf("opening stores added groups: %d named %s* before, %d after", len(before), InspectGroup, len(after))
	}
}
