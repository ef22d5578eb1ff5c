package fetch

import (
	"errors"
	"log/slog"
	"sync"

	"github.com/mycdn/mycdn/internal/retry"
	"github.com/mycdn/mycdn/internal/shardclient"
	"github.com/mycdn/mycdn/meta"
)

// Stores dials the shard stores a [Fetcher] reads from: give its Dial to
// Options.Dial. The Fetcher dials each location once and keeps the client,
// which pools its connections. Clients do not retry, since hedged reads ask
// another store instead. Close closes them all. A Stores is safe for
// concurrent use; its zero value dials without credentials beyond those the
// metadata embeds.
type Stores struct {
	// Auth, when set, returns the credentials for a location whose
	// metadata embeds none, such as those of a configuration.
	Auth func(meta.ShardLocation) shardclient.Auth
	// Log, when set, gets the clients' debug lines.
	Log *slog.Logger

	mu      sync.Mutex
	clients []*shardclient.Client
	closed  bool
}

// Dial returns a client of loc.
func (s *Stores) Dial(loc meta.ShardLocation) (ShardReader, error) {
	o := shardclient.Options{Addr: loc.Host.String(), DB: int(loc.DB), Retry: retry.Policy{Retries: -1}, Logger: s.Log}
	switch {
	case loc.Auth != nil:
		o.Auth.Token = loc.Auth.Token
	case s.Auth != nil:
		o.Auth = s.Auth(loc)
	}
	c, err := shardclient.New(o)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		c.Close()
		return nil, errors.New("fetch: stores closed")
	}
	s.clients = append(s.clients, c)
	return c, nil
}

// Close closes every client dialled; Dial fails after it.
func (s *Stores) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for _, c := range s.clients {
		c.Close()
	}
	s.clients = nil
}
