package gateway

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mycdn/mycdn/meta"
)

// Metrics are the gateway's Prometheus metrics.
type Metrics struct {
	requests    *prometheus.CounterVec
	bytes       prometheus.Counter
	shardReads  *prometheus.HistogramVec
	shardErrors *prometheus.CounterVec
}

// NewMetrics registers the gateway's metrics with reg. cacheStats, when
// not nil, reports the hits and misses of the block and metadata caches.
func NewMetrics(reg prometheus.Registerer, cacheStats func() (hits, misses int64)) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mycdn_gateway_requests_total", Help: "HTTP requests by method and status.",
		}, []string{"method", "code"}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mycdn_gateway_response_bytes_total", Help: "Bytes of response bodies sent.",
		}),
		shardReads: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "mycdn_gateway_shard_read_seconds", Help: "Latency of shard reads by store.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"store"}),
		shardErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mycdn_gateway_shard_read_errors_total", Help: "Failed shard reads by store.",
		}, []string{"store"}),
	}
	reg.MustRegister(m.requests, m.bytes, m.shardReads, m.shardErrors)
	if cacheStats != nil {
		reg.MustRegister(
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "mycdn_gateway_cache_hits_total", Help: "Cache hits of verified blocks and opened metadata.",
			}, func() float64 { h, _ := cacheStats(); return float64(h) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "mycdn_gateway_cache_misses_total", Help: "Cache misses of verified blocks and opened metadata.",
			}, func() float64 { _, m := cacheStats(); return float64(m) }),
		)
	}
	return m
}

func (m *Metrics) observeRequest(method string, code int, bytes int64) {
	m.requests.WithLabelValues(method, strconv.Itoa(code)).Inc()
	m.bytes.Add(float64(bytes))
}

// ObserveShardRead records one shard read; give it to fetch.Options.Observe.
func (m *Metrics) ObserveShardRead(loc meta.ShardLocation, took time.Duration, err error) {
	store := loc.Host.String()
	if err != nil {
		m.shardErrors.WithLabelValues(store).Inc()
		return
	}
	m.shardReads.WithLabelValues(store).Observe(took.Seconds())
}
