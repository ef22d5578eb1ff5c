package pgstore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/mycdn/mycdn/internal/names"
	"github.com/mycdn/mycdn/internal/registry"
	"github.com/mycdn/mycdn/internal/registry/storetest"
	"github.com/mycdn/mycdn/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.WithPostgres(m.Run)) }

func open(t *testing.T, url string) *Store {
	t.Helper()
	s, err := Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) registry.Store {
		s, err := Open(t.Context(), testenv.PostgresDB(t))
		if err != nil {
			t.Fatal(err)
		}
		return s // the suite closes it
	})
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := conn.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return conn
}

func exec(t *testing.T, url, sql string, args ...any) {
	t.Helper()
	if _, err := connect(t, url).Exec(t.Context(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func query[T any](t *testing.T, url, sql string, args ...any) T {
	t.Helper()
	conn := connect(t, url)
	var v T
	if err := conn.QueryRow(t.Context(), sql, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return v
}

// TestOneCopy checks in the table itself that a blob stored twice, by two
// stores over one database, is one row with the reference's columns.
func TestOneCopy(t *testing.T) {
	url := testenv.PostgresDB(t)
	a, b := open(t, url), open(t, url)
	data, h := storetest.Blob("one copy", 2048)
	for _, s := range []*Store{a, b, a} {
		if err := s.Put(t.Context(), h, data); err != nil {
			t.Fatal(err)
		}
	}
	if n := query[int64](t, url, "SELECT count(*) FROM blobs WHERE hash = $1", h[:]); n != 1 {
		t.Fatalf("%d rows for one blob", n)
	}
	if n := query[int64](t, url, "SELECT size FROM blobs WHERE hash = $1 AND data = $2 AND created_at <= now()", h[:], data); n != 2048 {
		t.Fatalf("size column %d, want 2048", n)
	}
	if got, err := b.Get(t.Context(), h); err != nil || string(got) != string(data) {
		t.Fatalf("the other store reads %d bytes, %v", len(got), err)
	}
}

// TestMigrations checks that stores opening one database together migrate
// it once, that a reopened store keeps the data, and that a database from a
// newer program is refused.
func TestMigrations(t *testing.T) {
	url := testenv.PostgresDB(t)
	var wg sync.WaitGroup
	stores := make([]*Store, 4)
	errs := make([]error, len(stores))
	for i := range stores {
		wg.Go(func() { stores[i], errs[i] = Open(t.Context(), url) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("store %d: %v", i, err)
		}
		t.Cleanup(func() {
			if err := stores[i].Close(); err != nil {
				t.Error(err)
			}
		})
	}
	if n := query[int64](t, url, "SELECT count(*) FROM schema_migrations"); n != int64(len(migrations)) {
		t.Fatalf("%d migrations recorded, want %d", n, len(migrations))
	}
	data, h := storetest.Blob("kept", 100)
	if err := stores[0].Put(t.Context(), h, data); err != nil {
		t.Fatal(err)
	}
	s := open(t, url)
	if got, err := s.Get(t.Context(), h); err != nil || string(got) != string(data) {
		t.Fatalf("after reopening: %d bytes, %v", len(got), err)
	}

	exec(t, url, "INSERT INTO schema_migrations (version) VALUES (999)")
	if _, err := Open(t.Context(), url); err == nil {
		t.Fatal("opened a database with a newer schema")
	}
}

// TestReferenceTable checks that a database holding the reference's table,
// made before mycdn, is adopted with its rows.
func TestReferenceTable(t *testing.T) {
	url := testenv.PostgresDB(t)
	data, h := storetest.Blob("from the reference", 300)
	exec(t, url, `CREATE TABLE blobs (hash bytea PRIMARY KEY, data bytea NOT NULL, size bigint NOT NULL,
		created_at timestamptz NOT NULL DEFAULT now())`)
	exec(t, url, "INSERT INTO blobs (hash, data, size) VALUES ($1, $2, $3)", h[:], data, len(data))
	s := open(t, url)
	if got, err := s.Get(t.Context(), h); err != nil || string(got) != string(data) {
		t.Fatalf("reference row: %d bytes, %v", len(got), err)
	}
}

func TestBadURL(t *testing.T) {
	if _, err := Open(t.Context(), "postgres://127.0.0.1:1/x?connect_timeout=1"); err == nil {
		t.Fatal("opened a store with no server")
	}
	if _, err := Open(t.Context(), "::not a url::"); err == nil {
		t.Fatal("opened a store with a bad URL")
	}
}

// TestOwnerRole checks what docs/registry.md promises: a role that only
// owns its database can run the registry, migrations included.
func TestOwnerRole(t *testing.T) {
	admin := testenv.PostgresDB(t)
	exec(t, admin, "CREATE ROLE mycdn_owner LOGIN")
	exec(t, admin, "CREATE DATABASE mycdn_owned OWNER mycdn_owner")
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), admin)
		if err != nil {
			t.Error(err)
			return
		}
		defer func() { _ = conn.Close(context.Background()) }()
		for _, sql := range []string{"DROP DATABASE mycdn_owned WITH (FORCE)", "DROP ROLE mycdn_owner"} {
			if _, err := conn.Exec(context.Background(), sql); err != nil {
				t.Error(err)
			}
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	u.User, u.Path = url.User("mycdn_owner"), "/mycdn_owned"
	for range 2 { // the first start migrates, the second checks
		s := open(t, u.String())
		data, h := storetest.Blob("owned", 100)
		if err := s.Put(t.Context(), h, data); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestNamesAcrossStores checks that registries over one database share
// names, and that of two changes from the same nonce by two of them exactly
// one wins; and that the row holds the state in its columns.
func TestNamesAcrossStores(t *testing.T) {
	url := testenv.PostgresDB(t)
	a, b := open(t, url), open(t, url)
	st := storetest.NameState("shared", "first", 1, 1)
	if err := a.SetName(t.Context(), 0, st); err != nil {
		t.Fatal(err)
	}
	if got, err := b.GetName(t.Context(), "shared"); err != nil || got.Value != st.Value {
		t.Fatalf("the other store reads %+v, %v", got, err)
	}
	for round := range uint32(20) {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, s := range []*Store{a, b} {
			wg.Go(func() {
				errs[i] = s.SetName(t.Context(), round+1, storetest.NameState("shared", fmt.Sprint(round, i), round+2, i))
			})
		}
		wg.Wait()
		if (errs[0] == nil) == (errs[1] == nil) {
			t.Fatalf("round %d: %v and %v; want exactly one to win", round, errs[0], errs[1])
		}
		for _, err := range errs {
			if err != nil && !errors.Is(err, names.ErrConflict) {
				t.Fatalf("round %d: %v", round, err)
			}
		}
	}
	if n := query[int64](t, url, "SELECT nonce FROM names WHERE name = 'shared' AND cardinality(admins) = 2 AND NOT deleted"); n != 21 {
		t.Fatalf("nonce column %d, want 21", n)
	}
}
