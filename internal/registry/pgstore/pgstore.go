// Package pgstore is the registry's [registry.Store] on PostgreSQL, through
// a pgx connection pool, for production: registries over one database hold
// no state of their own, so several can serve it.
//
// Blobs live in the reference system's table:
//
//	blobs(hash bytea PRIMARY KEY, data bytea, size bigint, created_at timestamptz)
//
// and names, one row each, in
//
//	names(name text PRIMARY KEY, value text, deleted boolean, nonce bigint,
//	      writers bytea[], admins bytea[], op smallint, signer bytea,
//	      signature bytea, updated_at timestamptz)
//
// where writers and admins hold 16-byte Mycelium addresses, in order. A
// name's compare and set is one INSERT … ON CONFLICT DO NOTHING (a new
// name) or UPDATE … WHERE nonce = prev, which PostgreSQL makes atomic
// between registries.
//
// [Open] applies the schema's migrations in order, once, recording them in
// the table schema_migrations; registries that start together take turns
// under an advisory lock. A database made by the reference keeps its data.
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mycdn/mycdn/internal/names"
	"github.com/mycdn/mycdn/internal/registry"
	"github.com/mycdn/mycdn/meta"
)

// migrations are the schema's changes, applied in order; version i+1 is
// migrations[i]. Append new ones; never change an applied one.
var migrations = []string{
	// 1: the reference's table. Blobs are encrypted, so PostgreSQL is told
	// not to try compressing them.
	`CREATE TABLE IF NOT EXISTS blobs (
		hash       bytea PRIMARY KEY,
		data       bytea NOT NULL,
		size       bigint NOT NULL,
		created_at timestamptz NOT NULL DEFAULT now()
	);
	ALTER TABLE blobs ALTER COLUMN data SET STORAGE EXTERNAL`,
	// 2: names (DESIGN §5), one row per name, its tombstone included.
	`CREATE TABLE names (
		name       text PRIMARY KEY CHECK (name ~ '^[a-z0-9-]{1,63}$'),
		value      text NOT NULL,
		deleted    boolean NOT NULL,
		nonce      bigint NOT NULL CHECK (nonce BETWEEN 1 AND 4294967295),
		writers    bytea[] NOT NULL,
		admins     bytea[] NOT NULL,
		op         smallint NOT NULL CHECK (op BETWEEN 0 AND 2),
		signer     bytea NOT NULL CHECK (length(signer) = 32),
		signature  bytea NOT NULL CHECK (length(signature) = 64),
		updated_at timestamptz NOT NULL DEFAULT now()
	)`,
}

// migrationLock is the key of the advisory lock held while migrating.
const migrationLock = 0x6d7963646e // "mycdn"

// DefaultMaxConns is the size of the connection pool when the URL does not
// set pool_max_conns.
const DefaultMaxConns = 16

// Store is a [registry.Store] in a PostgreSQL database. It is safe for
// concurrent use.
type Store struct {
	pool *pgxpool.Pool
}

var _ registry.Store = (*Store)(nil)

// Open connects to the database at url (a PostgreSQL URL or key=value
// string, with the pgx pool's settings such as pool_max_conns; libpq's
// PG* environment variables fill what it leaves out) and migrates its
// schema.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = DefaultMaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	return &Store{pool: pool}, nil
}

// migrate applies the migrations the database lacks, in one transaction.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLock); err != nil {
			return fmt.Errorf("lock for migrations: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    integer PRIMARY KEY,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		var have int
		if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&have); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		if have > len(migrations) {
			return fmt.Errorf("database schema version %d is newer than this program's %d", have, len(migrations))
		}
		for v := have + 1; v <= len(migrations); v++ {
			if _, err := tx.Exec(ctx, migrations[v-1]); err != nil {
				return fmt.Errorf("migration %d: %w", v, err)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version) VALUES ($1)", v); err != nil {
				return fmt.Errorf("migration %d: %w", v, err)
			}
		}
		return nil
	})
}

// Put implements [registry.Store.Put] with an insert that does nothing
// when the hash is stored.
func (s *Store) Put(ctx context.Context, hash meta.Hash, data []byte) error {
	_, err := s.pool.Exec(ctx,
		"INSERT INTO blobs (hash, data, size) VALUES ($1, $2, $3) ON CONFLICT (hash) DO NOTHING",
		hash[:], data, len(data))
	if err != nil {
		return fmt.Errorf("pgstore: put %v: %w", hash, err)
	}
	return nil
}

// Get implements [registry.Store.Get].
func (s *Store) Get(ctx context.Context, hash meta.Hash) ([]byte, error) {
	var data []byte
	err := s.pool.QueryRow(ctx, "SELECT data FROM blobs WHERE hash = $1", hash[:]).Scan(&data)
	if err != nil {
		return nil, fmt.Errorf("pgstore: get %v: %w", hash, notFound(err))
	}
	if data == nil {
		data = []byte{}
	}
	return data, nil
}

// Stat implements [registry.Store.Stat].
func (s *Store) Stat(ctx context.Context, hash meta.Hash) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, "SELECT size FROM blobs WHERE hash = $1", hash[:]).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("pgstore: stat %v: %w", hash, notFound(err))
	}
	return n, nil
}

func notFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return registry.ErrNotFound
	}
	return err
}

// GetName implements [registry.Store.GetName].
func (s *Store) GetName(ctx context.Context, name string) (names.State, error) {
	st := names.State{Name: name}
	var (
		nonce          int64
		op             int16
		writers, admin [][]byte
		signer, sig    []byte
	)
	err := s.pool.QueryRow(ctx,
		"SELECT value, deleted, nonce, writers, admins, op, signer, signature FROM names WHERE name = $1", name).
		Scan(&st.Value, &st.Deleted, &nonce, &writers, &admin, &op, &signer, &sig)
	if errors.Is(err, pgx.ErrNoRows) {
		err = names.ErrNotFound
	}
	if err == nil {
		st.Nonce, st.Op = uint32(nonce), names.Op(op)
		copy(st.Pub[:], signer)
		copy(st.Sig[:], sig)
		st.ACL.Write, err = addrs(writers)
	}
	if err == nil {
		st.ACL.Admin, err = addrs(admin)
	}
	if err != nil {
		return names.State{}, fmt.Errorf("pgstore: get name %q: %w", name, err)
	}
	return st, nil
}

// addrs returns the principals stored as 16-byte values.
func addrs(raw [][]byte) ([]netip.Addr, error) {
	out := make([]netip.Addr, len(raw))
	for i, b := range raw {
		if len(b) != 16 {
			return nil, fmt.Errorf("stored principal of %d bytes", len(b))
		}
		out[i] = netip.AddrFrom16([16]byte(b))
	}
	return out, nil
}

// raw returns principals as 16-byte values, a non-nil slice.
func raw(list []netip.Addr) [][]byte {
	out := make([][]byte, len(list))
	for i, p := range list {
		a := p.As16()
		out[i] = a[:]
	}
	return out
}

// SetName implements [registry.Store.SetName].
func (s *Store) SetName(ctx context.Context, prev uint32, st names.State) error {
	args := []any{st.Name, st.Value, st.Deleted, int64(st.Nonce), raw(st.ACL.Write), raw(st.ACL.Admin),
		int16(st.Op), st.Pub[:], st.Sig[:], int64(prev)}
	sql := `UPDATE names SET value = $2, deleted = $3, nonce = $4, writers = $5, admins = $6, op = $7,
		signer = $8, signature = $9, updated_at = now() WHERE name = $1 AND nonce = $10`
	if prev == 0 {
		sql = `INSERT INTO names (name, value, deleted, nonce, writers, admins, op, signer, signature)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (name) DO NOTHING`
		args = args[:9]
	}
	tag, err := s.pool.Exec(ctx, sql, args...)
	if err == nil && tag.RowsAffected() != 1 {
		err = fmt.Errorf("%w: the stored nonce is not %d", names.ErrConflict, prev)
	}
	if err != nil {
		return fmt.Errorf("pgstore: set name %q: %w", st.Name, err)
	}
	return nil
}

// Ping implements [registry.Store.Ping] by reaching the database.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("pgstore: ping: %w", err)
	}
	return nil
}

// Close implements [registry.Store.Close], closing the pool's connections.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}
