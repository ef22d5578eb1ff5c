// Package upload turns content into sealed, erasure-coded blocks and the
// metadata that lists them.
package upload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/mycdn/mycdn/internal/block"
	"github.com/mycdn/mycdn/internal/seal"
	"github.com/mycdn/mycdn/meta"
)

// Chunk sizes, in bytes.
const (
	MinChunkSize     = 1 << 20
	MaxChunkSize     = 5 << 20
	DefaultChunkSize = MaxChunkSize
)

// Layout says how a file is cut and spread.
type Layout struct {
	// ChunkSize is the plaintext size of every block but the last, between
	// MinChunkSize and MaxChunkSize; zero means DefaultChunkSize.
	ChunkSize int
	// K is the number of shards that rebuild a block (required_shards).
	K int
	// Shards lists where shard i of every block goes, as written in the
	// metadata (with credentials only when they are to be embedded).
	Shards []meta.ShardLocation
	// Nonces chooses the nonce of each chunk; nil derives them from the
	// content and the layout (see seal.ChunkNonces).
	Nonces block.NonceFunc
	// Parallelism is the number of chunks in flight; zero means GOMAXPROCS.
	// Memory stays within about Parallelism x ChunkSize x (1 + n/k).
	Parallelism int
}

func (l *Layout) chunkSize() int {
	if l.ChunkSize == 0 {
		return DefaultChunkSize
	}
	return l.ChunkSize
}

func (l *Layout) parallelism() int {
	if l.Parallelism <= 0 {
		return runtime.GOMAXPROCS(0)
	}
	return l.Parallelism
}

// Validate reports whether l can be used.
func (l *Layout) Validate() error {
	if cs := l.chunkSize(); cs < MinChunkSize || cs > MaxChunkSize {
		return fmt.Errorf("chunk size %d: want %d to %d bytes (1-5 MiB)", cs, MinChunkSize, MaxChunkSize)
	}
	if _, err := block.NewEncoder(l.K, l.Shards, nil); err != nil {
		return fmt.Errorf("%d of %d shards: %w", l.K, len(l.Shards), err)
	}
	return nil
}

// chunkBuffers holds plaintext buffers of MaxChunkSize bytes, so that
// uploading many small files does not allocate a chunk for each.
var chunkBuffers = sync.Pool{New: func() any {
	b := make([]byte, MaxChunkSize)
	return &b
}}

// A Sink stores the shards of block index. EncodeFile calls it from several
// goroutines at once; shards are valid only until it returns. The block's
// offsets are set.
type Sink func(ctx context.Context, index int, b *meta.Block, shards [][]byte) error

// EncodeFile reads r to its end, cuts it into chunks, seals and codes each
// into a block and hands the block and its shards to sink, several chunks at
// a time. Once sink has returned for every block, it returns the File
// metadata, with name and mime as given and the blocks in order. The last
// block's EndOffset is clamped to the end of the file. On error nothing is
// returned and the caller must not publish anything.
func EncodeFile(ctx context.Context, r io.Reader, name string, mime *string, l Layout, sink Sink) (*meta.File, error) {
	if err := l.Validate(); err != nil {
		return nil, fmt.Errorf("upload: %w", err)
	}
	chunkSize, workers := l.chunkSize(), l.parallelism()

	type job struct {
		index int
		plain []byte
	}
	free := make(chan []byte, workers) // plaintext buffers, taken on first use
	for range workers {
		free <- nil
	}
	defer func() { // return the buffers that came back; others are garbage
		for {
			select {
			case buf := <-free:
				if buf != nil {
					chunkBuffers.Put(&buf)
				}
			default:
				return
			}
		}
	}()
	jobs := make(chan job)
	g, ctx := errgroup.WithContext(ctx)

	content := seal.NewHasher()
	var size uint64
	g.Go(func() error {
		defer close(jobs)
		for index := 0; ; index++ {
			var buf []byte
			select {
			case buf = <-free:
			case <-ctx.Done():
				return ctx.Err()
			}
			if buf == nil {
				buf = (*chunkBuffers.Get().(*[]byte))[:chunkSize]
			}
			n, err := io.ReadFull(r, buf)
			if n == 0 {
				free <- buf
			} else {
				content.Write(buf[:n])
				size += uint64(n)
				select {
				case jobs <- job{index, buf[:n]}:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			switch {
			case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
				return nil
			case err != nil:
				return fmt.Errorf("upload: read at offset %d: %w", size, err)
			}
		}
	})

	var (
		mu     sync.Mutex
		blocks []meta.Block
	)
	for range workers {
		enc, err := block.NewEncoder(l.K, l.Shards, l.Nonces)
		if err != nil {
			return nil, fmt.Errorf("upload: %w", err) // Validate checked the layout
		}
		g.Go(func() error {
			for j := range jobs {
				b, shards, err := enc.Encode(j.index, j.plain)
				if err != nil {
					return fmt.Errorf("upload: %w", err)
				}
				b.StartOffset = uint64(j.index) * uint64(chunkSize)
				b.EndOffset = b.StartOffset + uint64(len(j.plain)) - 1
				free <- j.plain[:chunkSize]
				if err := sink(ctx, j.index, &b, shards); err != nil {
					return fmt.Errorf("upload: block %d: %w", j.index, err)
				}
				mu.Lock()
				for len(blocks) <= j.index {
					blocks = append(blocks, meta.Block{})
				}
				blocks[j.index] = b
				mu.Unlock()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return &meta.File{ContentHash: content.Sum(), Name: name, Mime: mime, Blocks: blocks}, nil
}
