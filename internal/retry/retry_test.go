package retry_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mycdn/mycdn/internal/retry"
)

var errFlaky = errors.New("flaky")

func TestDo(t *testing.T) {
	fast := retry.Policy{Retries: 4, Min: time.Millisecond, Max: 5 * time.Millisecond}
	calls := 0
	err := fast.Do(context.Background(), func(context.Context) error {
		calls++
		if calls < 3 {
			return retry.Transient(errFlaky)
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("recovering op: err %v after %d calls, want nil after 3", err, calls)
	}

	calls = 0
	err = fast.Do(context.Background(), func(context.Context) error { calls++; return retry.Transient(errFlaky) })
	if !errors.Is(err, errFlaky) || retry.IsTransient(err) || calls != 5 {
		t.Fatalf("failing op: err %v after %d calls, want errFlaky unmarked after 5", err, calls)
	}

	calls = 0
	permanent := errors.New("no permission")
	err = fast.Do(context.Background(), func(context.Context) error { calls++; return permanent })
	if err != permanent || calls != 1 {
		t.Fatalf("permanent error: err %v after %d calls, want it after 1", err, calls)
	}

	calls = 0
	none := retry.Policy{Retries: -1}
	if err := none.Do(context.Background(), func(context.Context) error { calls++; return retry.Transient(errFlaky) }); calls != 1 || err != errFlaky {
		t.Fatalf("Retries -1: %d calls, err %v", calls, err)
	}
}

func TestDoStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	slow := retry.Policy{Retries: 100, Min: time.Hour, Max: time.Hour}
	start := time.Now()
	err := slow.Do(ctx, func(context.Context) error { return retry.Transient(errFlaky) })
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, errFlaky) {
		t.Fatalf("err = %v, want the deadline and the last error", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatal("Do waited past its context")
	}
}

func TestAfterIsCapped(t *testing.T) {
	p := retry.Policy{Retries: 1, Max: 10 * time.Millisecond}
	start := time.Now()
	calls := 0
	err := p.Do(context.Background(), func(context.Context) error {
		calls++
		if calls == 1 {
			return retry.After(errFlaky, time.Hour)
		}
		return nil
	})
	if err != nil || calls != 2 || time.Since(start) > 5*time.Second {
		t.Fatalf("After: err %v, %d calls, %v", err, calls, time.Since(start))
	}
	if retry.Transient(nil) != nil || retry.After(nil, time.Second) != nil {
		t.Fatal("marking nil gives an error")
	}
}
