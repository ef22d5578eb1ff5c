package shardclient_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/mycdn/mycdn/internal/shardclient"
	"github.com/mycdn/mycdn/internal/testenv"
)

// shardSize is a typical shard: a 5 MiB chunk sealed and split in 3.
const shardSize = 1_782_592

// benchKeys is how many distinct keys the SET and GET benchmarks cycle
// through.
const benchKeys = 64

type benchBackend struct {
	name string
	addr string
}

// benchBackends starts our server (the mycdnd binary, as deployed) and
// stock redis-server twice: as configured by default (no persistence) and
// with every write fsynced (appendfsync always), which is what our server
// does.
func benchBackends(b *testing.B) []benchBackend {
	bin := testenv.Build(b, "mycdnd")
	ours := testenv.StartShardProcess(b, bin, b.TempDir())
	plain := testenv.StartRedis(b)
	durable := testenv.StartRedis(b, "--appendonly", "yes", "--appendfsync", "always")
	return []benchBackend{{"ours", ours.Addr}, {"redis", plain.Addr}, {"redis-fsync", durable.Addr}}
}

// keys are the benchmarks' keys: kN for N below benchKeys.
var keys = func() [][]byte {
	k := make([][]byte, benchKeys)
	for i := range k {
		k[i] = fmt.Appendf(nil, "k%d", i)
	}
	return k
}()

// parallel runs op b.N times over conns goroutines, each with its own
// value buffer.
func parallel(b *testing.B, conns int, op func(i int, buf []byte) ([]byte, error)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for range conns {
		wg.Go(func() {
			buf := make([]byte, 0, shardSize)
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				var err error
				if buf, err = op(i, buf[:0]); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func benchValue() []byte { return randBytes(7, shardSize) }

// BenchmarkSet stores 1.7 MiB values over 1, 4 and 16 connections.
func BenchmarkSet(b *testing.B) {
	value := benchValue()
	for _, be := range benchBackends(b) {
		for _, conns := range []int{1, 4, 16} {
			b.Run(fmt.Sprintf("%s/conns=%d", be.name, conns), func(b *testing.B) {
				c := newClient(b, shardclient.Options{Addr: be.addr, PoolSize: conns})
				b.SetBytes(shardSize)
				b.ReportAllocs()
				parallel(b, conns, func(i int, buf []byte) ([]byte, error) {
					return buf, c.Set(context.Background(), keys[i%benchKeys], value)
				})
			})
		}
	}
}

// BenchmarkGet reads 1.7 MiB values over 1, 4 and 16 connections into
// reused buffers; "go-redis" reads our server with go-redis for comparison.
func BenchmarkGet(b *testing.B) {
	value := benchValue()
	ctx := context.Background()
	for _, be := range benchBackends(b) {
		c := newClient(b, shardclient.Options{Addr: be.addr})
		for i := range benchKeys {
			if err := c.Set(ctx, keys[i], value); err != nil {
				b.Fatal(err)
			}
		}
		for _, conns := range []int{1, 4, 16} {
			b.Run(fmt.Sprintf("%s/conns=%d", be.name, conns), func(b *testing.B) {
				c := newClient(b, shardclient.Options{Addr: be.addr, PoolSize: conns})
				b.SetBytes(shardSize)
				b.ReportAllocs()
				parallel(b, conns, func(i int, buf []byte) ([]byte, error) {
					return c.Get(ctx, keys[i%benchKeys], buf)
				})
			})
		}
		if be.name == "ours" {
			b.Run("ours/go-redis/conns=1", func(b *testing.B) {
				rdb := redis.NewClient(&redis.Options{Addr: be.addr, PoolSize: 1})
				defer rdb.Close()
				b.SetBytes(shardSize)
				b.ReportAllocs()
				parallel(b, 1, func(i int, buf []byte) ([]byte, error) {
					_, err := rdb.Get(ctx, string(keys[i%benchKeys])).Bytes()
					return buf, err
				})
			})
		}
	}
}

// BenchmarkColdGet reads b.N distinct 1.7 MiB values once each, over 4
// connections, from our server restarted on its directory after the page
// cache was dropped (as root). It reports the bytes the store takes on disk
// per byte of value stored.
func BenchmarkColdGet(b *testing.B) {
	bin := testenv.Build(b, "mycdnd")
	dir := b.TempDir()
	value := benchValue()
	written := 0
	b.Run("ours/conns=4", func(b *testing.B) {
		p := testenv.StartShardProcess(b, bin, dir)
		c := newClient(b, shardclient.Options{Addr: p.Addr, PoolSize: 4})
		for ; written < b.N; written++ {
			if err := c.Set(context.Background(), fmt.Appendf(nil, "cold%d", written), value); err != nil {
				b.Fatal(err)
			}
		}
		c.Close()
		p.Stop(b)
		disk := float64(diskUsage(b, dir)) / float64(written*shardSize)
		if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3"), 0); err != nil {
			b.Logf("page cache not dropped (%v): figures are warm reads", err)
		}
		p = testenv.StartShardProcess(b, bin, dir)
		c = newClient(b, shardclient.Options{Addr: p.Addr, PoolSize: 4})
		b.SetBytes(shardSize)
		b.ReportAllocs()
		parallel(b, 4, func(i int, buf []byte) ([]byte, error) {
			return c.Get(context.Background(), fmt.Appendf(nil, "cold%d", i), buf)
		})
		b.ReportMetric(disk, "disk-bytes/byte")
	})
}

// diskUsage returns the bytes of disk the files under dir take.
func diskUsage(b *testing.B, dir string) int64 {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			n += st.Blocks * 512
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return n
}
