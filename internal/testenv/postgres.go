package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Postgres is a PostgreSQL server run by tests as a child process, in a
// temporary directory, on a free loopback port, with trust authentication.
// As root it runs as the postgres user, since PostgreSQL refuses root.
type Postgres struct {
	// URL connects to the server's "postgres" database as the superuser.
	URL string

	port    int
	dir     string
	cmd     *exec.Cmd
	done    chan struct{} // closed when the server has exited
	waitErr error         // how it exited, once done is closed
	dbs     atomic.Int64
}

// PostgresOptions configure a server.
type PostgresOptions struct {
	// Durable keeps PostgreSQL's defaults of fsync, synchronous_commit and
	// full_page_writes, for benchmarks. Tests leave them off, for speed.
	Durable bool
}

// NewPostgres starts a server that t's cleanup stops, failing t if it
// cannot. Tests that need a database, not a server of their own, call
// [PostgresDB].
func NewPostgres(t testing.TB, opts PostgresOptions) *Postgres {
	t.Helper()
	p, err := StartPostgres(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Errorf("stop postgres: %v", err)
		}
	})
	return p
}

var shared struct {
	enabled atomic.Bool
	once    sync.Once
	pg      *Postgres
	err     error
}

// WithPostgres runs the tests of a package (run is m.Run) with one
// PostgreSQL server shared by all of them, started when a test first calls
// [PostgresDB], and stops the server afterwards. Call it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(testenv.WithPostgres(m.Run)) }
func WithPostgres(run func() int) int {
	shared.enabled.Store(true)
	code := run()
	if shared.pg != nil {
		if err := shared.pg.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "testenv: stop postgres: %v\n", err)
		}
	}
	return code
}

// PostgresDB returns the URL of a new, empty database on the package's
// shared server (see [WithPostgres]), dropped at t's cleanup.
func PostgresDB(t testing.TB) string {
	t.Helper()
	if !shared.enabled.Load() {
		t.Fatal("testenv.PostgresDB: call testenv.WithPostgres(m.Run) from the package's TestMain")
	}
	shared.once.Do(func() { shared.pg, shared.err = StartPostgres(context.Background(), PostgresOptions{}) })
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.pg.NewDatabase(t)
}

// StartPostgres initializes a database cluster in a temporary directory and
// starts a server on it; ctx bounds the start. Call Stop when done.
func StartPostgres(ctx context.Context, opts PostgresOptions) (*Postgres, error) {
	bin, err := postgresBin()
	if err != nil {
		return nil, err
	}
	cred, err := postgresUser()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "mycdn-postgres-")
	if err != nil {
		return nil, fmt.Errorf("testenv: postgres: %w", err)
	}
	p := &Postgres{dir: dir}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, errors.Join(fmt.Errorf("testenv: postgres: %w", err), p.Stop())
		}
	}
	if err := p.start(ctx, bin, cred, opts); err != nil {
		return nil, errors.Join(err, p.Stop())
	}
	return p, nil
}

// postgresBin returns the directory of the newest PostgreSQL server
// binaries: Debian keeps them in /usr/lib/postgresql/<version>/bin, off PATH.
func postgresBin() (string, error) {
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	slices.SortFunc(found, func(a, b string) int { return version(a) - version(b) })
	if len(found) > 0 {
		return filepath.Dir(found[len(found)-1]), nil
	}
	if p, err := exec.LookPath("postgres"); err == nil {
		if _, err := exec.LookPath("initdb"); err == nil {
			return filepath.Dir(p), nil
		}
	}
	return "", errors.New("testenv: PostgreSQL not found (no /usr/lib/postgresql/*/bin/postgres, no postgres and initdb on PATH): install the Debian package postgresql (scripts/test.sh does)")
}

func version(bin string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(bin))))
	return v
}

// postgresUser returns the credential to run PostgreSQL with: the postgres
// user's when running as root, else nil (the current user).
func postgresUser() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("testenv: PostgreSQL refuses to run as root and there is no postgres user to run it as (%w): install the Debian package postgresql, which creates it", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("testenv: postgres user: %w", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}

func (p *Postgres) command(ctx context.Context, bin, name string, cred *syscall.Credential, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(bin, name), args...)
	cmd.Dir = p.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	return cmd
}

func (p *Postgres) start(ctx context.Context, bin string, cred *syscall.Credential, opts PostgresOptions) error {
	data := filepath.Join(p.dir, "data")
	initdb := p.command(ctx, bin, "initdb", cred, "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
	if out, err := initdb.CombinedOutput(); err != nil {
		return fmt.Errorf("testenv: initdb: %w\n%s", err, out)
	}
	port, err := freePort(ctx)
	if err != nil {
		return err
	}
	args := []string{"-D", data, "-p", strconv.Itoa(port), "-k", p.dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200"}
	if !opts.Durable {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	logFile, err := os.Create(filepath.Join(p.dir, "postgres.log"))
	if err != nil {
		return fmt.Errorf("testenv: postgres: %w", err)
	}
	// The server outlives ctx: Stop ends it.
	p.cmd = p.command(context.WithoutCancel(ctx), bin, "postgres", cred, args...)
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	err = p.cmd.Start()
	if err := errors.Join(err, logFile.Close()); err != nil {
		return fmt.Errorf("testenv: start postgres: %w", err)
	}
	p.done = make(chan struct{})
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.done)
	}()
	p.port = port
	p.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	return p.waitReady(ctx, 30*time.Second)
}

func (p *Postgres) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		cctx, ccancel := context.WithTimeout(ctx, 2*time.Second)
		conn, err := pgx.Connect(cctx, p.URL)
		ccancel()
		if err == nil {
			return conn.Close(ctx)
		}
		select {
		case <-p.done:
			return fmt.Errorf("testenv: postgres exited at start (%w): %s", p.waitErr, p.logTail())
		case <-ctx.Done():
			return fmt.Errorf("testenv: postgres not ready after %v: %w: %s", timeout, err, p.logTail())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (p *Postgres) logTail() string {
	b, _ := os.ReadFile(filepath.Join(p.dir, "postgres.log"))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

// NewDatabase creates an empty database and returns its URL; t's cleanup
// drops it.
func (p *Postgres) NewDatabase(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("test_%d", p.dbs.Add(1))
	if err := p.exec(t.Context(), "CREATE DATABASE "+name); err != nil {
		t.Fatalf("testenv: create database: %v", err)
	}
	t.Cleanup(func() {
		if err := p.exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("testenv: drop database: %v", err)
		}
	})
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.port, name)
}

func (p *Postgres) exec(ctx context.Context, sql string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.URL)
	if err != nil {
		return err
	}
	_, err = conn.Exec(ctx, sql)
	return errors.Join(err, conn.Close(ctx))
}

// Stop shuts the server down (a fast shutdown, killed after 30 s) and
// removes its directory.
func (p *Postgres) Stop() error {
	var err error
	if p.done != nil {
		err = p.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			err = errors.Join(errors.New("postgres did not stop in 30 s; killed"), p.cmd.Process.Kill())
			<-p.done
		}
		if errors.Is(err, os.ErrProcessDone) {
			err = nil
		}
	}
	return errors.Join(err, os.RemoveAll(p.dir))
}
