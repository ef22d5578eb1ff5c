package testenv

import (
	"net/netip"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/mycdn/mycdn/internal/registryserver"
	"github.com/mycdn/mycdn/meta"
)

// Network is a whole mycdn network in the test process: n shard stores,
// open to loopback clients, and an open registry.
type Network struct {
	t        testing.TB
	Shards   []*Shard
	Registry *Registry
}

// StartNetwork starts n shard stores and a registry.
func StartNetwork(t testing.TB, n int) *Network {
	t.Helper()
	nw := &Network{t: t, Registry: StartRegistry(t, registryserver.Options{})}
	for range n {
		nw.Shards = append(nw.Shards, StartShard(t, ShardOptions{}))
	}
	return nw
}

// Locations returns where shard i of a block goes: store i, database 0.
func (nw *Network) Locations() []meta.ShardLocation {
	locs := make([]meta.ShardLocation, len(nw.Shards))
	for i, s := range nw.Shards {
		locs[i] = meta.ShardLocation{Host: netip.MustParseAddrPort(s.Addr)}
	}
	return locs
}

// Stop stops shard store i, as if its machine went down.
func (nw *Network) Stop(i int) { nw.Shards[i].Stop() }

// Restart starts shard store i again on its address and data.
func (nw *Network) Restart(i int) {
	nw.t.Helper()
	old := nw.Shards[i]
	old.Stop()
	nw.Shards[i] = StartShard(nw.t, ShardOptions{Dir: old.Dir, Addr: old.Addr})
}

// Commands returns how many times shard store i served command (such as
// "get" or "set") successfully since it started.
func (nw *Network) Commands(i int, command string) int {
	nw.t.Helper()
	return int(counter(nw.t, nw.Shards[i].Registry, "mycdn_shard_commands_total",
		map[string]string{"command": command, "result": "ok"}))
}

// counter returns the value of the counter name with the given labels.
func counter(t testing.TB, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if matches(m, labels) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func matches(m *dto.Metric, labels map[string]string) bool {
	n := 0
	for _, l := range m.GetLabel() {
		if v, ok := labels[l.GetName()]; ok {
			if v != l.GetValue() {
				return false
			}
			n++
		}
	}
	return n == len(labels)
}
