package gateway_test

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"

	"github.com/mycdn/mycdn/internal/block"
	"github.com/mycdn/mycdn/internal/gateway"
	"github.com/mycdn/mycdn/internal/registryclient"
	"github.com/mycdn/mycdn/internal/shardclient"
	"github.com/mycdn/mycdn/internal/upload"
	"github.com/mycdn/mycdn/ref"
)

// benchSize is the file of the single-stream benchmarks.
const benchSize = 256 << 20

// BenchmarkDownload reads one 256 MiB file (5 MiB chunks, k = 3 of n = 5,
// stores and registry in this process) every way, in one run: the parts
// (k shards of each block from the stores; opening and verifying blocks
// already in memory), the fetch package directly, and the gateway over
// HTTP/1.1 with cold and warm caches and with two stores down.
func BenchmarkDownload(b *testing.B) {
	e := newEnv(b, envOptions{n: 5, k: 3})
	up, err := upload.New(upload.Options{K: 3, Shards: e.nw.Locations(), Stores: benchStores(b, e), Registry: benchRegistry(b, e)})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	obj, err := up.Reader(ctx, io.LimitReader(rand.NewChaCha8([32]byte{1}), benchSize), "big.bin", "")
	if err != nil {
		b.Fatal(err)
	}
	file := metadata(b, e, obj.Ref)

	b.Run("parts/shards", func(b *testing.B) {
		b.SetBytes(benchSize)
		b.ReportAllocs()
		clients := benchClients(b, e)
		bufs := make([][]byte, 3)
		for b.Loop() {
			for i := range file.Blocks {
				blk := &file.Blocks[i]
				var wg sync.WaitGroup
				for s := range 3 {
					wg.Go(func() {
						var err error
						if bufs[s], err = clients[s].Get(ctx, blk.EncryptedHash[:], bufs[s][:0]); err != nil {
							b.Error(err)
						}
					})
				}
				wg.Wait()
			}
		}
	})
	b.Run("parts/open", func(b *testing.B) {
		clients := benchClients(b, e)
		blk := &file.Blocks[0]
		shards := make([][]byte, 5)
		for s := range 3 {
			if shards[s], err = clients[s].Get(ctx, blk.EncryptedHash[:], nil); err != nil {
				b.Fatal(err)
			}
		}
		var dec block.Decoder
		var out []byte
		b.SetBytes(int64(blk.EndOffset - blk.StartOffset + 1))
		b.ReportAllocs()
		for b.Loop() {
			if out, err = dec.Open(out[:0], blk, shards); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fetch", func(b *testing.B) {
		b.SetBytes(benchSize)
		b.ReportAllocs()
		for b.Loop() {
			rd, err := e.fetcher.Open(ctx, file, 0, -1)
			if err != nil {
				b.Fatal(err)
			}
			if n, err := rd.WriteTo(io.Discard); err != nil || n != benchSize {
				b.Fatal(n, err)
			}
			rd.Close()
		}
	})
	b.Run("gateway/cold", func(b *testing.B) {
		benchGet(b, e, obj.Ref) // e has no caches
	})
	b.Run("gateway/warm", func(b *testing.B) {
		warm := newEnv(b, envOptions{nw: e.nw, caches: gateway.NewCaches(2*benchSize, nil)})
		get(b, warm, warm.pathURL(obj.Ref, ""))
		benchGet(b, warm, obj.Ref)
	})
	b.Run("gateway/cold-two-down", func(b *testing.B) {
		e.nw.Stop(0)
		e.nw.Stop(2)
		defer e.nw.Restart(0)
		defer e.nw.Restart(2)
		benchGet(b, e, obj.Ref)
	})
}

// BenchmarkSmallFile asks for a 10 KiB file from 16 clients at once through
// a gateway with warm caches, and alone, cold and warm: then ns/op is the
// latency of one request.
func BenchmarkSmallFile(b *testing.B) {
	caches := gateway.NewCaches(64<<20, nil)
	e := newEnv(b, envOptions{n: 5, k: 3, caches: caches})
	r := e.put("small.bin", "", random(10<<10, 9))
	url := e.pathURL(r, "")
	b.Run("warm/16-clients", func(b *testing.B) {
		get(b, e, url)
		b.SetBytes(10 << 10)
		b.ReportAllocs()
		b.SetParallelism(8) // 16 on 2 cores
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				get(b, e, url)
			}
		})
	})
	b.Run("one/warm", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			get(b, e, url)
		}
	})
	b.Run("one/cold", func(b *testing.B) {
		cold := newEnv(b, envOptions{nw: e.nw}) // no caches: registry and stores every time
		url := cold.pathURL(r, "")
		b.ReportAllocs()
		for b.Loop() {
			get(b, cold, url)
		}
	})
}

func benchGet(b *testing.B, e *env, r ref.Ref) {
	b.SetBytes(benchSize)
	b.ReportAllocs()
	for b.Loop() {
		if n := get(b, e, e.pathURL(r, "")); n != benchSize {
			b.Fatalf("%d bytes", n)
		}
	}
}

// get reads url to the end and returns its length. It may run on any
// goroutine: it reports errors with b.Error.
func get(b *testing.B, e *env, url string) int64 {
	req, _ := http.NewRequestWithContext(context.Background(), "GET", url, nil)
	resp, err := e.client.Do(req)
	if err != nil {
		b.Error(err)
		return 0
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || resp.StatusCode != 200 {
		b.Errorf("%d: %v", resp.StatusCode, err)
	}
	return n
}

func benchClients(b *testing.B, e *env) []*shardclient.Client {
	var out []*shardclient.Client
	for _, s := range e.nw.Shards {
		c, err := shardclient.New(shardclient.Options{Addr: s.Addr})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		out = append(out, c)
	}
	return out
}

func benchStores(b *testing.B, e *env) []upload.ShardStore {
	var out []upload.ShardStore
	for _, c := range benchClients(b, e) {
		out = append(out, c)
	}
	return out
}

func benchRegistry(b *testing.B, e *env) *registryclient.Client {
	reg, err := registryclient.New(e.nw.Registry.URL, nil)
	if err != nil {
		b.Fatal(err)
	}
	return reg
}
