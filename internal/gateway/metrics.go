package gateway

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mycdn/mycdn/internal/fetch"
	"github.com/mycdn/mycdn/internal/registry"
	"github.com/mycdn/mycdn/meta"
)

// maxStoreLabels bounds the stores named in metric labels: metadata can
// name any store, and each name would be a new series. Reads of stores
// beyond the first maxStoreLabels seen are counted under "other".
const maxStoreLabels = 256

// Metrics are the gateway's Prometheus metrics. A nil *Metrics counts
// nothing.
type Metrics struct {
	requests       *prometheus.CounterVec
	bytes          prometheus.Counter
	aborted        prometheus.Counter
	body           prometheus.Gauge
	shardReads     *prometheus.HistogramVec
	shardErrors    *prometheus.CounterVec
	registryReads  prometheus.Histogram
	registryErrors *prometheus.CounterVec

	fetcher atomic.Pointer[fetch.Fetcher]
	mu      sync.Mutex
	stores  map[string]bool
}

// NewMetrics registers the gateway's metrics with reg. caches, when not nil,
// are reported too: hits, misses and sizes. The corrupt shards found are
// those of the Fetcher of the Server the Metrics are given to.
func NewMetrics(reg prometheus.Registerer, caches *Caches) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mycdn_gateway_requests_total", Help: "HTTP requests by method and status.",
		}, []string{"method", "code"}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mycdn_gateway_response_bytes_total", Help: "Bytes of response bodies sent.",
		}),
		aborted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mycdn_gateway_responses_aborted_total", Help: "Responses cut by aborting the connection, after a failure mid-body.",
		}),
		body: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mycdn_gateway_body_memory_bytes", Help: "Memory reserved by the blocks of response bodies being fetched.",
		}),
		shardReads: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "mycdn_gateway_shard_read_seconds", Help: "Latency of successful shard reads by store.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"store"}),
		shardErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mycdn_gateway_shard_read_errors_total", Help: "Failed shard reads by store (reads cancelled once a block was rebuilt are not counted).",
		}, []string{"store"}),
		registryReads: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "mycdn_gateway_registry_read_seconds", Help: "Latency of metadata reads from the registry.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
		registryErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mycdn_gateway_registry_read_errors_total", Help: "Failed metadata reads by kind (not_found or error).",
		}, []string{"kind"}),
		stores: map[string]bool{},
	}
	reg.MustRegister(m.requests, m.bytes, m.aborted, m.body, m.shardReads, m.shardErrors, m.registryReads, m.registryErrors)
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "mycdn_gateway_corrupt_shards_total", Help: "Corrupt shards found: repair or replace their stores.",
	}, func() float64 {
		if f := m.fetcher.Load(); f != nil {
			return float64(f.CorruptShards())
		}
		return 0
	}))
	if caches != nil {
		registerCacheMetrics(reg, caches)
	}
	return m
}

func registerCacheMetrics(reg prometheus.Registerer, c *Caches) {
	for _, k := range []struct {
		cache                string
		hits, misses, bytesF func(CacheStats) int64
	}{
		{"block", func(s CacheStats) int64 { return s.BlockHits }, func(s CacheStats) int64 { return s.BlockMisses }, func(s CacheStats) int64 { return s.BlockBytes }},
		{"metadata", func(s CacheStats) int64 { return s.MetadataHits }, func(s CacheStats) int64 { return s.MetadataMisses }, func(s CacheStats) int64 { return s.MetadataBytes }},
		{"disk", func(s CacheStats) int64 { return s.DiskHits }, func(s CacheStats) int64 { return s.DiskMisses }, func(s CacheStats) int64 { return s.DiskBytes }},
	} {
		labels := prometheus.Labels{"cache": k.cache}
		reg.MustRegister(
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "mycdn_gateway_cache_hits_total", Help: "Cache hits by cache (block and metadata in memory, disk).", ConstLabels: labels,
			}, func() float64 { return float64(k.hits(c.Stats())) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "mycdn_gateway_cache_misses_total", Help: "Cache misses by cache (block and metadata in memory, disk).", ConstLabels: labels,
			}, func() float64 { return float64(k.misses(c.Stats())) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "mycdn_gateway_cache_bytes", Help: "Bytes held by each cache.", ConstLabels: labels,
			}, func() float64 { return float64(k.bytesF(c.Stats())) }),
		)
	}
}

func (m *Metrics) observeRequest(method string, code int, bytes int64, aborted bool) {
	switch method {
	case "GET", "HEAD":
	default:
		method = "other" // any token is a method: keep the series bounded
	}
	m.requests.WithLabelValues(method, strconv.Itoa(code)).Inc()
	m.bytes.Add(float64(bytes))
	if aborted {
		m.aborted.Inc()
	}
}

func (m *Metrics) bodyMemory(delta int64) {
	if m != nil {
		m.body.Add(float64(delta))
	}
}

// ObserveShardRead records one shard read; give it to fetch.Options.Observe.
func (m *Metrics) ObserveShardRead(loc meta.ShardLocation, took time.Duration, err error) {
	store := m.storeLabel(loc)
	switch {
	case err == nil:
		m.shardReads.WithLabelValues(store).Observe(took.Seconds())
	case !errors.Is(err, context.Canceled): // a hedge no longer needed
		m.shardErrors.WithLabelValues(store).Inc()
	}
}

func (m *Metrics) storeLabel(loc meta.ShardLocation) string {
	store := loc.Host.String() + "/" + strconv.Itoa(int(loc.DB))
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.stores[store] {
		if len(m.stores) >= maxStoreLabels {
			return "other"
		}
		m.stores[store] = true
	}
	return store
}

// Registry wraps r so that its reads are timed and their errors counted;
// give the result to fetch.Options.Registry.
func (m *Metrics) Registry(r fetch.MetadataReader) fetch.MetadataReader {
	return &timedRegistry{r, m}
}

type timedRegistry struct {
	fetch.MetadataReader
	m *Metrics
}

func (t *timedRegistry) Get(ctx context.Context, lookup meta.Hash) ([]byte, error) {
	start := time.Now()
	b, err := t.MetadataReader.Get(ctx, lookup)
	switch {
	case err == nil:
		t.m.registryReads.Observe(time.Since(start).Seconds())
	case errors.Is(err, registry.ErrNotFound):
		t.m.registryErrors.WithLabelValues("not_found").Inc()
	case !errors.Is(err, context.Canceled):
		t.m.registryErrors.WithLabelValues("error").Inc()
	}
	return b, err
}
