package shardserver

import (
	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	accepted prometheus.Counter
	rejected *prometheus.CounterVec
	commands *prometheus.CounterVec
	seconds  *prometheus.HistogramVec
	bytes    *prometheus.CounterVec
	logins   *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, conns func() float64) *metrics {
	m := &metrics{
		accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mycdn_shard_connections_accepted_total",
			Help: "Connections accepted.",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mycdn_shard_connections_rejected_total",
			Help: "Connections refused at accept, by reason.",
		}, []string{"reason"}),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mycdn_shard_commands_total",
			Help: "Commands served, by command and result (ok or error).",
		}, []string{"command", "result"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "mycdn_shard_command_seconds",
			Help:    "Time to serve a command, without reading it, by command.",
			Buckets: prometheus.ExponentialBuckets(50e-6, 4, 10),
		}, []string{"command"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mycdn_shard_value_bytes_total",
			Help: "Value bytes stored (in) and served (out).",
		}, []string{"direction"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mycdn_shard_logins_total",
			Help: "AUTH and TOKEN attempts, by method (token, secret, challenge) and result (ok or fail).",
		}, []string{"method", "result"}),
	}
	if reg != nil {
		reg.MustRegister(m.accepted, m.rejected, m.commands, m.seconds, m.bytes, m.logins,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "mycdn_shard_connections",
				Help: "Open connections.",
			}, conns))
	}
	return m
}
