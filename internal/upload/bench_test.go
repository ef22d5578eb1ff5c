package upload_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/mycdn/mycdn/internal/upload"
	"github.com/mycdn/mycdn/internal/vectors"
	"github.com/mycdn/mycdn/meta"
)

// BenchmarkEncodeFile runs the whole encoding pipeline over a 64 MiB file
// with 5 MiB chunks and (k, n) = (3, 5), discarding the shards, with one
// and two chunks in flight.
func BenchmarkEncodeFile(b *testing.B) {
	content := vectors.XOF("bench-file", 64<<20)
	discard := func(context.Context, int, *meta.Block, [][]byte) error { return nil }
	for _, p := range []int{1, 2} {
		b.Run(fmt.Sprintf("parallel%d", p), func(b *testing.B) {
			l := upload.Layout{K: 3, Shards: locations(5), Parallelism: p}
			b.SetBytes(int64(len(content)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := upload.EncodeFile(context.Background(), bytes.NewReader(content), "f", nil, l, discard); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
