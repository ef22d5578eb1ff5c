// Package retry runs an operation again after transient failures, waiting
// with exponential backoff and jitter in between. The operation decides what
// is transient: it marks such errors with [Transient] (or [After], to ask for
// a wait); every other error ends the retries at once.
package retry

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Policy says how often and how patiently to retry. Its zero value retries
// 3 times, waiting 100 ms, then 200 ms, 400 ms (each less up to half at
// random), never more than 5 s.
type Policy struct {
	// Retries is the number of tries after the first; negative means none.
	Retries int
	// Min is the wait before the first retry; it doubles for each next one.
	Min time.Duration
	// Max caps every wait, including one a [After] error asks for.
	Max time.Duration
}

// Defaults of the zero Policy.
const (
	DefaultRetries = 3
	DefaultMin     = 100 * time.Millisecond
	DefaultMax     = 5 * time.Second
)

type transient struct {
	err  error
	wait time.Duration
}

func (e *transient) Error() string { return e.err.Error() }
func (e *transient) Unwrap() error { return e.err }

// Transient marks err as worth retrying. It returns nil for nil.
func Transient(err error) error {
	if err == nil {
		return nil
	}
	return &transient{err: err}
}

// After marks err as worth retrying after wait, as a server's Retry-After
// asks. It returns nil for nil.
func After(err error, wait time.Duration) error {
	if err == nil {
		return nil
	}
	return &transient{err: err, wait: wait}
}

// IsTransient reports whether err is marked as worth retrying.
func IsTransient(err error) bool {
	var t *transient
	return errors.As(err, &t)
}

// Do calls op until it succeeds, fails with an unmarked error, the retries
// are spent, or ctx is done. It returns op's last error, unmarked; when ctx
// ends a wait, its error wraps ctx's and op's last one.
func (p Policy) Do(ctx context.Context, op func(context.Context) error) error {
	retries, lo, hi := p.Retries, p.Min, p.Max
	if retries == 0 {
		retries = DefaultRetries
	}
	if lo <= 0 {
		lo = DefaultMin
	}
	if hi <= 0 {
		hi = DefaultMax
	}
	for attempt := 0; ; attempt++ {
		err := op(ctx)
		var t *transient
		if err == nil || !errors.As(err, &t) {
			return err
		}
		if attempt >= retries || ctx.Err() != nil {
			return t.err
		}
		wait := t.wait
		if wait <= 0 {
			wait = hi
			if attempt < 30 {
				wait = min(lo<<attempt, hi)
			}
			wait -= rand.N(wait/2 + 1)
		}
		timer := time.NewTimer(min(wait, hi))
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("%w (after %d attempts; last: %w)", ctx.Err(), attempt+1, t.err)
		case <-timer.C:
		}
	}
}
