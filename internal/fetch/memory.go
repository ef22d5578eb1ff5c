package fetch

import (
	"github.com/mycdn/mycdn/internal/seal"
	"github.com/mycdn/mycdn/meta"
)

// ReaderMemory returns about the most memory, in bytes, that a [Reader] of
// length bytes of file from off (all bytes from off when length is
// negative) holds at once: the blocks it fetches ahead, each with all n of
// its shards (as when every hedge is sent), the sealed block rebuilt from
// them and its plaintext, and the block being read. Servers use it to bound
// the memory of the readers they run at once.
func (f *Fetcher) ReaderMemory(file *meta.File, off, length int64) int64 {
	var blocks, largest, perBlock int64
	for i := range file.Blocks {
		b := &file.Blocks[i]
		if b.EndOffset < uint64(max(off, 0)) {
			continue
		}
		if length >= 0 && b.StartOffset >= uint64(off)+uint64(length) {
			break
		}
		size := int64(b.EndOffset - b.StartOffset + 1)
		sealed := size + seal.Overhead
		shard := sealed/max(int64(b.RequiredShards), 1) + 1
		blocks++
		largest = max(largest, size)
		perBlock = max(perBlock, int64(len(b.Shards))*shard+sealed+size)
	}
	return min(blocks, int64(f.opts.Prefetch))*perBlock + largest
}
