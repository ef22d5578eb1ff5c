package testenv

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestPostgres checks that databases of one server are separate, and that
// Stop ends the server and removes its directory.
func TestPostgres(t *testing.T) {
	p, err := StartPostgres(t.Context(), PostgresOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = p.Stop()
		}
	})
	exec := func(url, sql string) error {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return err
		}
		_, err = conn.Exec(ctx, sql)
		return errors.Join(err, conn.Close(ctx))
	}
	t.Run("databases", func(t *testing.T) { // their cleanup drops them before Stop
		a, b := p.NewDatabase(t), p.NewDatabase(t)
		if a == b {
			t.Fatalf("two databases with one URL %s", a)
		}
		if err := exec(a, "CREATE TABLE only_in_a (x int)"); err != nil {
			t.Fatal(err)
		}
		if err := exec(b, "SELECT * FROM only_in_a"); err == nil {
			t.Fatal("a table of one database is visible in another")
		}
	})

	stopped = true
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	default:
		t.Fatal("the server still runs after Stop")
	}
	if _, err := os.Stat(p.dir); !os.IsNotExist(err) {
		t.Fatalf("the server's directory is left: %v", err)
	}
	if err := exec(p.URL, "SELECT 1"); err == nil {
		t.Fatal("the server answers after Stop")
	}
}
