package fetch_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/mycdn/mycdn/internal/block"
	"github.com/mycdn/mycdn/internal/fetch"
	"github.com/mycdn/mycdn/internal/retry"
	"github.com/mycdn/mycdn/internal/shardclient"
	"github.com/mycdn/mycdn/internal/testenv"
	"github.com/mycdn/mycdn/meta"
)

// TestUnavailableLastAnswerGood reads a block with too few stores up, many
// times: whatever order the answers come in, and in particular when the
// last one is a good shard, Block fails with ErrUnavailable rather than
// waiting for answers that will never come.
func TestUnavailableLastAnswerGood(t *testing.T) {
	const n, k = 3, 2
	var locs []meta.ShardLocation
	var shards []*testenv.Shard
	for range n {
		s := testenv.StartShard(t, testenv.ShardOptions{})
		shards = append(shards, s)
		locs = append(locs, meta.ShardLocation{Host: netip.MustParseAddrPort(s.Addr)})
	}
	enc, err := block.NewEncoder(k, locs, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, data, err := enc.Encode(0, make([]byte, 100<<10))
	if err != nil {
		t.Fatal(err)
	}
	dial := func(loc meta.ShardLocation) (fetch.ShardReader, error) {
		c, err := shardclient.New(shardclient.Options{Addr: loc.Host.String(), Retry: retry.Policy{Retries: -1}})
		if err == nil {
			t.Cleanup(func() { c.Close() })
		}
		return c, err
	}
	for i, s := range shards {
		c, _ := dial(locs[i])
		if err := c.(*shardclient.Client).Set(context.Background(), b.EncryptedHash[:], data[i]); err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			s.Stop() // one store up: one good shard of the two needed
		}
	}
	for i := range 50 {
		f := fetch.New(fetch.Options{Dial: dial}) // new each time: no latency learnt
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := f.Block(ctx, nil, &b)
		cancel()
		if !errors.Is(err, fetch.ErrUnavailable) {
			t.Fatalf("read %d: %v, want ErrUnavailable", i, err)
		}
	}
}
