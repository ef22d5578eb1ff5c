package shardserver

import (
	"context"
	"math/bits"
	"sync"

	"golang.org/x/sync/semaphore"
)

// pool hands out buffers for large values in power-of-two size classes and
// bounds the bytes held by all of them together: get blocks while the
// bound is reached, so concurrent uploads never grow memory past it.
type pool struct {
	budget  *semaphore.Weighted
	classes [maxClass + 1]sync.Pool
}

const (
	minClass = 17 // 128 KiB
	maxClass = 27 // 128 MiB
)

// buffer is a pooled buffer; b has the length asked for.
type buffer struct {
	b     []byte
	class int
}

func newPool(budget int64) *pool {
	return &pool{budget: semaphore.NewWeighted(budget)}
}

func classOf(n int) int {
	return max(minClass, bits.Len(uint(n-1)))
}

// get returns a buffer of n bytes, waiting for budget until ctx is done. n
// must not exceed the budget or 1<<maxClass.
func (p *pool) get(ctx context.Context, n int) (*buffer, error) {
	c := classOf(n)
	if err := p.budget.Acquire(ctx, 1<<c); err != nil {
		return nil, err
	}
	if v, ok := p.classes[c].Get().(*buffer); ok {
		v.b = v.b[:n]
		return v, nil
	}
	return &buffer{b: make([]byte, n, 1<<c), class: c}, nil
}

// put returns a buffer to the pool.
func (p *pool) put(b *buffer) {
	p.classes[b.class].Put(b)
	p.budget.Release(1 << b.class)
}
