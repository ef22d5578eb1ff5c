package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/mycdn/mycdn/meta"
)

// minChunkSize is the smallest chunk the reference system writes; a last
// block that claims fewer bytes was written by an uploader that clamps.
const minChunkSize = 1 << 20

// Size returns the size of file. mycdn writes the last block's end offset
// clamped to the file, but the reference system does not, so when the
// metadata cannot tell which wrote it, Size fetches the last block to learn
// its true length.
func (f *Fetcher) Size(ctx context.Context, file *meta.File) (int64, error) {
	if err := checkOffsets(file); err != nil {
		return 0, err
	}
	n := len(file.Blocks)
	if n == 0 {
		return 0, nil
	}
	last := &file.Blocks[n-1]
	claimed := last.EndOffset - last.StartOffset + 1
	exact := claimed < minChunkSize
	if first := &file.Blocks[0]; n > 1 && claimed < first.EndOffset-first.StartOffset+1 {
		exact = true
	}
	if exact {
		return int64(last.EndOffset) + 1, nil
	}
	buf := f.plainBuffer()
	defer f.releasePlain(buf)
	plain, err := f.Block(ctx, buf, last)
	if err != nil {
		return 0, err
	}
	if uint64(len(plain)) > claimed {
		return 0, fmt.Errorf("%w: last block has %d bytes, more than its %d", ErrBadMetadata, len(plain), claimed)
	}
	return int64(last.StartOffset) + int64(len(plain)), nil
}

// checkOffsets checks that the blocks of file follow each other from 0.
func checkOffsets(file *meta.File) error {
	var next uint64
	for i := range file.Blocks {
		b := &file.Blocks[i]
		if b.StartOffset != next || b.EndOffset < b.StartOffset || b.EndOffset == ^uint64(0) {
			return fmt.Errorf("%w: block %d covers %d-%d, want it to start at %d", ErrBadMetadata, i, b.StartOffset, b.EndOffset, next)
		}
		next = b.EndOffset + 1
	}
	return nil
}

func (f *Fetcher) plainBuffer() []byte {
	if p, ok := f.plains.Get().(*[]byte); ok {
		return (*p)[:0]
	}
	return nil
}

func (f *Fetcher) releasePlain(b []byte) {
	if cap(b) > 0 {
		f.plains.Put(&b)
	}
}

// Open returns a reader of length bytes of file from offset off, or of all
// bytes from off when length is negative. Only the blocks the range touches
// are fetched, up to Prefetch of them ahead of the reader; no byte is
// returned before its block is verified. The caller must Close the reader.
func (f *Fetcher) Open(ctx context.Context, file *meta.File, off, length int64) (*Reader, error) {
	if err := checkOffsets(file); err != nil {
		return nil, err
	}
	if off < 0 {
		return nil, fmt.Errorf("fetch: negative offset %d", off)
	}
	ctx, cancel := context.WithCancel(ctx)
	r := &Reader{f: f, ctx: ctx, cancel: cancel, remain: length, sem: make(chan struct{}, f.opts.Prefetch)}
	for i := range file.Blocks {
		b := &file.Blocks[i]
		if b.EndOffset < uint64(off) {
			continue
		}
		if length >= 0 && b.StartOffset >= uint64(off)+uint64(length) {
			break
		}
		if len(r.blocks) == 0 {
			r.skip = off - int64(b.StartOffset)
		}
		r.blocks = append(r.blocks, b)
		r.last = i == len(file.Blocks)-1
	}
	r.results = make([]chan blockResult, len(r.blocks))
	for i := range r.results {
		r.results[i] = make(chan blockResult, 1)
	}
	r.wg.Add(1)
	go r.prefetch()
	return r, nil
}

type blockResult struct {
	plain []byte
	err   error
}

// Reader reads a range of a file, block by verified block.
type Reader struct {
	f       *Fetcher
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	sem     chan struct{} // a slot per block fetched and not yet consumed
	blocks  []*meta.Block
	last    bool // blocks ends with the file's last block
	results []chan blockResult
	skip    int64 // bytes to drop from the first block
	remain  int64 // bytes left to return; negative: all
	next    int   // index of the next block to consume
	held    []byte
	cur     []byte // unread bytes of the current block
	err     error
}

func (r *Reader) prefetch() {
	defer r.wg.Done()
	for i, b := range r.blocks {
		select {
		case r.sem <- struct{}{}:
		case <-r.ctx.Done():
			return
		}
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			plain, err := r.f.Block(r.ctx, r.f.plainBuffer(), b)
			r.results[i] <- blockResult{plain, err}
		}()
	}
}

// advance makes the next block current, or sets r.err.
func (r *Reader) advance() {
	r.f.releasePlain(r.held)
	r.held = nil
	if r.remain == 0 || r.next == len(r.blocks) {
		r.err = io.EOF
		return
	}
	var res blockResult
	select {
	case res = <-r.results[r.next]:
	case <-r.ctx.Done():
		r.err = r.ctx.Err()
		return
	}
	<-r.sem
	b := r.blocks[r.next]
	r.next++
	if res.err != nil {
		r.err = res.err
		return
	}
	claimed := b.EndOffset - b.StartOffset + 1
	lastOfFile := r.last && r.next == len(r.blocks)
	if n := uint64(len(res.plain)); n > claimed || (n < claimed && !lastOfFile) {
		r.f.releasePlain(res.plain)
		r.err = fmt.Errorf("%w: block at %d has %d bytes, metadata says %d", ErrBadMetadata, b.StartOffset, n, claimed)
		return
	}
	r.held = res.plain
	data := res.plain
	if r.skip > 0 {
		data = data[min(r.skip, int64(len(data))):]
		r.skip = 0
	}
	if r.remain >= 0 && int64(len(data)) > r.remain {
		data = data[:r.remain]
	}
	r.cur = data
}

// Read reads verified bytes of the range.
func (r *Reader) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		r.advance()
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	if r.remain > 0 {
		r.remain -= int64(n)
	}
	return n, nil
}

// WriteTo writes the rest of the range to w, a verified block at a time.
func (r *Reader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		for len(r.cur) == 0 {
			if r.err != nil {
				if errors.Is(r.err, io.EOF) {
					return total, nil
				}
				return total, r.err
			}
			r.advance()
		}
		n, err := w.Write(r.cur)
		total += int64(n)
		r.cur = r.cur[n:]
		if r.remain > 0 {
			r.remain -= int64(n)
		}
		if err != nil {
			return total, err
		}
	}
}

// Close stops fetching and releases the reader's buffers.
func (r *Reader) Close() error {
	r.cancel()
	r.wg.Wait()
	r.f.releasePlain(r.held)
	r.held, r.cur = nil, nil
	for _, ch := range r.results[r.next:] {
		select {
		case res := <-ch:
			r.f.releasePlain(res.plain)
		default:
		}
	}
	if r.err == nil || errors.Is(r.err, io.EOF) {
		r.err = errors.New("fetch: read after Close")
	}
	return nil
}
