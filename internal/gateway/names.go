package gateway

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/mycdn/mycdn/internal/cache"
	"github.com/mycdn/mycdn/internal/names"
	"github.com/mycdn/mycdn/ref"
)

// maxNames bounds the names kept resolved.
const maxNames = 10000

// nameCache keeps resolved names for a short time, and names that resolve
// to nothing for a shorter one, so that a busy site costs the registry one
// lookup per TTL and a new version shows within it.
type nameCache struct {
	resolver NameResolver
	ttl      time.Duration
	lru      *cache.LRU[string, resolved]
	flight   singleflight.Group
}

type resolved struct {
	ref     ref.Ref
	err     error // names.ErrNotFound, kept
	expires time.Time
}

func newNameCache(r NameResolver, ttl time.Duration) *nameCache {
	return &nameCache{resolver: r, ttl: ttl, lru: cache.NewLRU[string, resolved](maxNames, nil)}
}

// resolve returns the reference name holds.
func (c *nameCache) resolve(ctx context.Context, name string) (ref.Ref, error) {
	if err := names.Check(name); err != nil {
		return ref.Ref{}, err
	}
	if c.resolver == nil {
		return ref.Ref{}, fmt.Errorf("%w: this gateway resolves no names", names.ErrNotFound)
	}
	if r, ok := c.lru.Get(name); ok && time.Now().Before(r.expires) {
		return r.ref, r.err
	}
	v, err, _ := c.flight.Do(name, func() (any, error) {
		// One lookup serves every request waiting for it, whoever cancels.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		rf, err := c.resolver.Resolve(ctx, name)
		switch {
		case err == nil:
			c.lru.Add(name, resolved{ref: rf, expires: time.Now().Add(c.ttl)}, 1)
		case errors.Is(err, names.ErrNotFound):
			c.lru.Add(name, resolved{err: err, expires: time.Now().Add(c.ttl / 3)}, 1)
		}
		return rf, err
	})
	if err != nil {
		return ref.Ref{}, err
	}
	return v.(ref.Ref), nil
}
