package storetest

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Parallel runs b.N calls from workers goroutines, each calling the
// function that mk made for it with a distinct number from 1 to b.N, and
// reports calls per second as the metric unit (such as "req/s").
func Parallel(b *testing.B, workers int, unit string, mk func() func(i int64) error) {
	b.ReportAllocs()
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range workers {
		f := mk()
		wg.Go(func() {
			for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
				if err := f(i); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), unit)
}
