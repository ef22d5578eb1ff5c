package registryserver_test

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/mycdn/mycdn/internal/registry"
	"github.com/mycdn/mycdn/internal/registry/storetest"
	"github.com/mycdn/mycdn/internal/registryclient"
	"github.com/mycdn/mycdn/internal/registryserver"
	"github.com/mycdn/mycdn/internal/seal"
	"github.com/mycdn/mycdn/internal/testenv"
	"github.com/mycdn/mycdn/meta"
	"github.com/mycdn/mycdn/ref"
)

const (
	benchSize    = 2048
	benchClients = 16
	benchStored  = 2000
)

// BenchmarkRegistry measures GET and PUT requests per second of 2 KiB blobs
// from 16 concurrent clients over loopback HTTP, on the embedded store and
// on PostgreSQL with its durable defaults (fsync and synchronous commit on,
// as Pebble syncs every put).
func BenchmarkRegistry(b *testing.B) {
	for _, st := range benchStores(b) {
		b.Run(st.name, func(b *testing.B) {
			base := serve(b, st.open(b), writeOpts())
			c, err := registryclient.New(base, &registryclient.Options{Token: token})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			for i := range int64(benchStored) {
				data, h := benchBlob(0, i)
				if err := c.Put(b.Context(), h, data); err != nil {
					b.Fatal(err)
				}
			}
			// Gets first, so they do not pay for the compactions and
			// checkpoints that the puts leave behind.
			b.Run("get", func(b *testing.B) {
				parallel(b, func(i int64) error {
					_, h := benchBlob(0, i%benchStored)
					_, err := c.Get(b.Context(), h)
					return err
				})
			})
			b.Run("put", func(b *testing.B) {
				run := benchRuns.Add(1)
				parallel(b, func(i int64) error {
					data, h := benchBlob(run, i)
					return c.Put(b.Context(), h, data)
				})
			})
		})
	}
}

// benchStore opens a store of one kind for a benchmark.
type benchStore struct {
	name string
	open func(b *testing.B) registry.Store
}

// benchStores returns the embedded store and PostgreSQL with its durable
// defaults (fsync and synchronous commit on, as Pebble syncs every put).
func benchStores(b *testing.B) []benchStore {
	pg := testenv.NewPostgres(b, testenv.PostgresOptions{Durable: true})
	return []benchStore{
		{"embedded", func(b *testing.B) registry.Store { return openPebble(b) }},
		{"postgres", func(b *testing.B) registry.Store { return openPostgres(b, pg.NewDatabase(b)) }},
	}
}

// benchBlob returns a distinct 2 KiB blob for run and i. Run 0 holds the
// blobs that gets read; each run of put takes a new number, so that it
// stores new blobs rather than ones an earlier run stored.
func benchBlob(run, i int64) ([]byte, meta.Hash) {
	data, _ := storetest.Blob("registry bench", benchSize)
	binary.LittleEndian.PutUint64(data, uint64(run))
	binary.LittleEndian.PutUint64(data[8:], uint64(i))
	return data, seal.Sum(data)
}

var benchRuns atomic.Int64

// parallel runs b.N calls of f on 2 KiB blobs from benchClients
// goroutines and reports requests per second.
func parallel(b *testing.B, f func(i int64) error) {
	b.SetBytes(benchSize)
	parallelEach(b, func() func(i int64) error { return f })
}

// parallelEach runs b.N calls from benchClients goroutines, each calling
// the function that mk made for it, and reports calls per second.
func parallelEach(b *testing.B, mk func() func(i int64) error) {
	storetest.Parallel(b, benchClients, "req/s", mk)
}

// BenchmarkNames measures names from 16 concurrent clients over loopback
// HTTP on both stores: resolve (one GET) and set (a GET for the nonce and
// ACL, then a signed POST that the registry verifies and stores with a
// compare and set), each client setting a name of its own.
func BenchmarkNames(b *testing.B) {
	for _, st := range benchStores(b) {
		b.Run(st.name, func(b *testing.B) {
			base := serve(b, st.open(b), registryserver.Options{Open: true})
			c, err := registryclient.New(base, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			target := ref.Ref{Lookup: meta.Hash{1}, Key: meta.Hash{2}}
			for i := range benchClients {
				if _, err := c.SetName(b.Context(), &alice, fmt.Sprint("name-", i), target); err != nil {
					b.Fatal(err)
				}
			}
			b.Run("resolve", func(b *testing.B) {
				parallelEach(b, func() func(i int64) error {
					return func(i int64) error {
						_, err := c.Resolve(b.Context(), fmt.Sprint("name-", i%benchClients))
						return err
					}
				})
			})
			b.Run("set", func(b *testing.B) {
				var client atomic.Int64
				parallelEach(b, func() func(i int64) error {
					name := fmt.Sprint("name-", client.Add(1)-1)
					return func(i int64) error {
						_, err := c.SetName(b.Context(), &alice, name, ref.Ref{Lookup: meta.Hash{byte(i)}, Key: meta.Hash{2}})
						return err
					}
				})
			})
		})
	}
}
