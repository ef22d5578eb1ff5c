// Command rawshards writes to shard stores exactly the shard bytes that
// uploading a file of -size bytes would write, with no reading, sealing or
// coding: the raw floor that scripts/bench-upload.sh compares
// "mycdnctl upload" against.
package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"flag"
	"fmt"
	"log"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/mycdn/mycdn/internal/erasure"
	"github.com/mycdn/mycdn/internal/seal"
	"github.com/mycdn/mycdn/internal/shardclient"
)

func main() {
	stores := flag.String("stores", "", "comma-separated host:port of the shard stores, one per shard")
	size := flag.Int64("size", 1<<30, "file size in bytes")
	chunk := flag.Int("chunk", 5<<20, "chunk size in bytes")
	k := flag.Int("k", 3, "shards that rebuild a block")
	parallel := flag.Int("parallel", 4, "chunks in flight, as mycdnctl upload --parallel")
	flag.Parse()
	addrs := strings.Split(*stores, ",")
	if *stores == "" || *k < 1 || *k >= len(addrs) {
		log.Fatal("rawshards: want -stores with more than -k addresses")
	}
	coder, err := erasure.New(*k, len(addrs))
	if err != nil {
		log.Fatal(err)
	}
	clients := make([]*shardclient.Client, len(addrs))
	for i, a := range addrs {
		if clients[i], err = shardclient.New(shardclient.Options{Addr: a, PoolSize: *parallel + 1}); err != nil {
			log.Fatal(err)
		}
	}
	// One random shard per store, of the size a full chunk's shards have.
	shard := make([]byte, coder.ShardSize(*chunk+seal.Overhead))
	rand.Read(shard)

	ctx := context.Background()
	start := time.Now()
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(*parallel)
	var written int64
	for i := int64(0); i*int64(*chunk) < *size; i++ {
		key := make([]byte, 16)
		binary.BigEndian.PutUint64(key, uint64(start.UnixNano()))
		binary.BigEndian.PutUint64(key[8:], uint64(i))
		g.Go(func() error {
			var sg errgroup.Group
			for _, c := range clients {
				sg.Go(func() error { return c.Set(ctx, key, shard) })
			}
			return sg.Wait()
		})
		written += int64(len(shard) * len(clients))
	}
	if err := g.Wait(); err != nil {
		log.Fatal(err)
	}
	took := time.Since(start)
	fmt.Printf("raw shard writes: %d MiB of file as %d MiB of shards in %.2f s: %.0f MB/s of file\n",
		*size>>20, written>>20, took.Seconds(), float64(*size)/took.Seconds()/1e6)
}
