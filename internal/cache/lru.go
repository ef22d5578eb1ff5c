// Package cache holds bounded caches: an in-memory LRU map bounded by the
// total cost of its values, and a directory of files bounded by their total
// size. Both are safe for concurrent use and never grow past their bound.
package cache

import (
	"container/list"
	"sync"
)

// LRU maps keys to values and evicts the least recently used ones when the
// total cost of its values exceeds its capacity.
type LRU[K comparable, V any] struct {
	mu       sync.Mutex
	capacity int64
	used     int64
	items    map[K]*list.Element
	order    list.List // front: most recently used
	onEvict  func(K, V)
	hits     int64
	misses   int64
}

type entry[K comparable, V any] struct {
	key  K
	val  V
	cost int64
}

// NewLRU returns an LRU holding values of total cost at most capacity.
// onEvict, when not nil, is called with each value evicted to make room,
// after the LRU's lock is released.
func NewLRU[K comparable, V any](capacity int64, onEvict func(K, V)) *LRU[K, V] {
	return &LRU[K, V]{capacity: capacity, items: map[K]*list.Element{}, onEvict: onEvict}
}

// Get returns the value under key and marks it recently used.
func (c *LRU[K, V]) Get(key K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.order.MoveToFront(el)
		c.hits++
		return el.Value.(*entry[K, V]).val, true
	}
	c.misses++
	var zero V
	return zero, false
}

// Add stores val under key with the given cost, evicting others as needed.
// A value costing more than the capacity is not stored.
func (c *LRU[K, V]) Add(key K, val V, cost int64) {
	var evicted []*entry[K, V]
	c.mu.Lock()
	if el, ok := c.items[key]; ok {
		c.remove(el)
	}
	if cost <= c.capacity {
		c.items[key] = c.order.PushFront(&entry[K, V]{key: key, val: val, cost: cost})
		c.used += cost
		for c.used > c.capacity {
			evicted = append(evicted, c.remove(c.order.Back()))
		}
	}
	c.mu.Unlock()
	if c.onEvict != nil {
		for _, e := range evicted {
			c.onEvict(e.key, e.val)
		}
	}
}

func (c *LRU[K, V]) remove(el *list.Element) *entry[K, V] {
	e := c.order.Remove(el).(*entry[K, V])
	delete(c.items, e.key)
	c.used -= e.cost
	return e
}

// Stats returns the number of values, their total cost, and the hits and
// misses of Get so far.
func (c *LRU[K, V]) Stats() (n int, cost, hits, misses int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items), c.used, c.hits, c.misses
}
