package serve

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's Prometheus series, on a registry of its own so
// that two servers in one process (tests) never share counters.
type metrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec   // by route and status code
	latency   *prometheus.HistogramVec // by route
	batchSize prometheus.Histogram
	reviews   prometheus.Counter
	rate      prometheus.Gauge // reviews per second over the last rateWindow
	inflight  prometheus.Gauge
	rejected  *prometheus.CounterVec // requests refused before scoring, by reason
	modelInfo *prometheus.GaugeVec   // 1 for the model in service, labelled with its digest
	loadTime  prometheus.Gauge
	loadTook  prometheus.Gauge
	reloads   *prometheus.CounterVec // by result
}

// rateWindow is the span the reviews-per-second gauge averages over.
const rateWindow = 10 * time.Second

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "trainer_http_requests_total",
			Help: "HTTP requests answered, by route and status code."}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "trainer_http_request_duration_seconds",
			Help:    "Time from a request's arrival to its answer, by route.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .2, .5, 1, 2, 5, 10}}, []string{"route"}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "trainer_batch_reviews",
			Help:    "Reviews per scored batch (requests coalesced by the batcher).",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024}}),
		reviews: prometheus.NewCounter(prometheus.CounterOpts{Name: "trainer_reviews_scored_total",
			Help: "Reviews scored."}),
		rate: prometheus.NewGauge(prometheus.GaugeOpts{Name: "trainer_reviews_per_second",
			Help: "Reviews scored per second, averaged over the last 10 seconds."}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "trainer_inflight_requests",
			Help: "Prediction requests being answered now."}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "trainer_rejected_requests_total",
			Help: "Prediction requests refused, by reason."}, []string{"reason"}),
		modelInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "trainer_model_info",
			Help: "The model in service (value 1), with its file's SHA-256 and precision."}, []string{"digest", "path", "precision"}),
		loadTime: prometheus.NewGauge(prometheus.GaugeOpts{Name: "trainer_model_loaded_timestamp_seconds",
			Help: "Unix time the model in service was loaded."}),
		loadTook: prometheus.NewGauge(prometheus.GaugeOpts{Name: "trainer_model_load_duration_seconds",
			Help: "Time the model in service took to load, verify and probe."}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "trainer_model_reloads_total",
			Help: "Model reloads, by result (ok, failed, unchanged)."}, []string{"result"}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.batchSize, m.reviews, m.rate, m.inflight, m.rejected,
		m.modelInfo, m.loadTime, m.loadTook, m.reloads,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, r := range []string{"ok", "failed", "unchanged"} {
		m.reloads.WithLabelValues(r)
	}
	return m
}

// setModel publishes l as the model in service.
func (m *metrics) setModel(l *loaded, path string) {
	m.modelInfo.Reset()
	m.modelInfo.WithLabelValues(l.digest, path, l.m.Precision()).Set(1)
	m.loadTime.Set(float64(l.loadedAt.UnixNano()) / 1e9)
	m.loadTook.Set(l.loadTook.Seconds())
}

// handler serves the registry in the Prometheus text format.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// observe counts one answered request.
func (m *metrics) observe(route string, code int, took time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
	m.latency.WithLabelValues(route).Observe(took.Seconds())
}

// rateMeter turns the scored-reviews count into a per-second gauge over a
// sliding window of one-second samples.
type rateMeter struct {
	samples []float64 // cumulative counts, one per second, oldest first
}

// tick records the cumulative count now and returns the rate over the
// window.
func (r *rateMeter) tick(total float64) float64 {
	r.samples = append(r.samples, total)
	if n := int(rateWindow/time.Second) + 1; len(r.samples) > n {
		r.samples = r.samples[len(r.samples)-n:]
	}
	if len(r.samples) < 2 {
		return 0
	}
	return (total - r.samples[0]) / float64(len(r.samples)-1)
}
