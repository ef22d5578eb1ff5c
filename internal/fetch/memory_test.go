package fetch_test

import (
	"testing"

	"github.com/mycdn/mycdn/internal/fetch"
	"github.com/mycdn/mycdn/meta"
)

func TestReaderMemory(t *testing.T) {
	const chunk = 1 << 20
	file := &meta.File{}
	for i := range uint64(10) {
		file.Blocks = append(file.Blocks, meta.Block{
			Shards: make([]meta.ShardLocation, 5), RequiredShards: 3,
			StartOffset: i * chunk, EndOffset: (i+1)*chunk - 1,
		})
	}
	file.Blocks[9].EndOffset = 9*chunk + 99 // a short last block
	f := fetch.New(fetch.Options{Prefetch: 4})
	perBlock := int64(5*((chunk+16)/3+1) + chunk + 16 + chunk)
	for _, tc := range []struct {
		name        string
		off, length int64
		want        int64
	}{
		{"whole file: prefetch blocks and the one read", 0, -1, 4*perBlock + chunk},
		{"one byte", 5, 1, perBlock + chunk},
		{"across a boundary", chunk - 1, 2, 2*perBlock + chunk},
		{"last block only", 9 * chunk, -1, int64(5*((100+16)/3+1)+100+16+100) + 100},
		{"past the end", 20 * chunk, -1, 0},
	} {
		if got := f.ReaderMemory(file, tc.off, tc.length); got != tc.want {
			t.Errorf("%s: ReaderMemory(%d, %d) = %d, want %d", tc.name, tc.off, tc.length, got, tc.want)
		}
	}
}
