// Package serve is `trainer serve`: an HTTP prediction service around a
// model file. Requests are encoded on their own goroutines, coalesced by a
// micro-batcher into batches of up to MaxBatch reviews, and scored by
// internal/predict, the same inference path as `trainer predict`, on
// Workers scorer goroutines. Limits answer with JSON errors, Prometheus
// metrics describe traffic, batches and the model, the model file can be
// reloaded while serving (a damaged file keeps the old model), and a stop
// drains the requests already accepted.
package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"trainer/internal/predict"
)

// Options configure a server. Zero values take the defaults below.
type Options struct {
	ModelPath   string
	Int8        bool          // 8-bit recurrent products where the CPU allows (as predict's --precision int8)
	Workers     int           // scorer goroutines; default the number of CPUs
	MaxBatch    int           // reviews per scored batch; default 64
	MaxDelay    time.Duration // longest a review waits for company in a batch; default 2 ms
	MaxBody     int64         // bytes per request body; default 1 MiB
	MaxTexts    int           // reviews per request; default 1000
	MaxInflight int           // prediction requests answered at once; default 1024
	Timeout     time.Duration // per prediction request; default 10 s
	Drain       time.Duration // longest a stop waits for accepted requests; default 30 s
	Watch       time.Duration // poll the model file this often and reload on change; 0 = only on SIGHUP
	Logger      *slog.Logger  // default: discard
}

// Defaults for Options.
const (
	DefaultMaxBatch    = 64
	DefaultMaxDelay    = 2 * time.Millisecond
	DefaultMaxBody     = 1 << 20
	DefaultMaxTexts    = 1000
	DefaultMaxInflight = 1024
	DefaultTimeout     = 10 * time.Second
	DefaultDrain       = 30 * time.Second
)

func (o Options) withDefaults(cpus int) Options {
	set := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	set(&o.Workers, cpus)
	set(&o.MaxBatch, DefaultMaxBatch)
	set(&o.MaxTexts, DefaultMaxTexts)
	set(&o.MaxInflight, DefaultMaxInflight)
	if o.MaxDelay < 0 {
		o.MaxDelay = 0
	} else if o.MaxDelay == 0 {
		o.MaxDelay = DefaultMaxDelay
	}
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Drain <= 0 {
		o.Drain = DefaultDrain
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Server answers prediction requests with the model in service.
type Server struct {
	opt      Options
	log      *slog.Logger
	model    atomic.Pointer[loaded]
	reloadMu sync.Mutex // one reload at a time
	stamp    fileStamp  // the loaded file's size and time, for Watch (under reloadMu)
	batch    *batcher
	metrics  *metrics
	slots    chan struct{} // one per prediction request in flight
	scored   atomic.Int64  // reviews scored, for the rate gauge
	draining atomic.Bool
	scorers  sync.WaitGroup
	stopOnce sync.Once
	closeMu  sync.RWMutex // submit holds it for reading; Close for writing
	closed   bool
}

// New loads the model and starts the batcher and scorers. Close stops them.
func New(opt Options) (*Server, error) {
	opt = opt.withDefaults(runtime.NumCPU())
	s := &Server{opt: opt, log: opt.Logger, metrics: newMetrics(), slots: make(chan struct{}, opt.MaxInflight)}
	l, err := loadModel(opt.ModelPath, s.predictOptions())
	if err != nil {
		return nil, err
	}
	s.stamp, _ = stampOf(opt.ModelPath)
	s.publish(l)
	s.batch = newBatcher(opt.MaxBatch, opt.MaxDelay, opt.MaxInflight)
	go s.batch.run()
	for range opt.Workers {
		s.scorers.Add(1)
		go s.scoreLoop()
	}
	return s, nil
}

// predictOptions are the inference settings of every model this server
// loads: one goroutine per call (the scorers give the parallelism) and a
// worker set kept for each scorer.
func (s *Server) predictOptions() predict.Options {
	return predict.Options{Workers: 1, Int8: s.opt.Int8, BatchSize: max(s.opt.MaxBatch, predict.DefaultBatch), Sets: s.opt.Workers}
}

func (s *Server) publish(l *loaded) {
	s.model.Store(l)
	s.metrics.setModel(l, s.opt.ModelPath)
}

// Model returns the digest of the model in service.
func (s *Server) Model() (digest string, loadedAt time.Time) {
	l := s.model.Load()
	return l.digest, l.loadedAt
}

// Reload loads the model file again beside the one in service and swaps
// it in atomically once it has loaded, verified and scored a probe.
// Requests already batched finish on the old model. On any error the old
// model keeps serving; the error is returned and logged.
func (s *Server) Reload() error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	stamp, _ := stampOf(s.opt.ModelPath)
	l, err := loadModel(s.opt.ModelPath, s.predictOptions())
	if err != nil {
		s.metrics.reloads.WithLabelValues("failed").Inc()
		s.log.Error("reload failed; the previous model keeps serving", "model", s.opt.ModelPath, "err", err,
			"serving_digest", s.model.Load().digest)
		return err
	}
	s.stamp = stamp
	old := s.model.Load()
	if old.digest == l.digest {
		s.metrics.reloads.WithLabelValues("unchanged").Inc()
		s.log.Info("reload: model file unchanged", "model", s.opt.ModelPath, "digest", l.digest)
		return nil
	}
	s.publish(l)
	s.metrics.reloads.WithLabelValues("ok").Inc()
	s.log.Info("model reloaded", "model", s.opt.ModelPath, "digest", l.digest, "previous_digest", old.digest,
		"load_seconds", l.loadTook.Seconds(), "precision", l.m.Precision())
	return nil
}

// changed reports whether the model file's size or time differ from the
// loaded one's.
func (s *Server) changed() bool {
	st, err := stampOf(s.opt.ModelPath)
	if err != nil {
		return false // a missing file is a reload failure only when asked for
	}
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	return st != s.stamp
}

// scoreLoop scores batches until the batcher closes.
func (s *Server) scoreLoop() {
	defer s.scorers.Done()
	for b := range s.batch.out {
		s.score(b)
	}
}

// score runs one batch through the model and hands every piece its logits.
// Pieces of requests that have already given up are not scored.
func (s *Server) score(b *batch) {
	ids := make([][]int32, 0, b.n)
	live := b.pieces[:0:0]
	for _, p := range b.pieces {
		if err := p.j.ctx.Err(); err != nil {
			p.j.finish(p.hi-p.lo, err)
			continue
		}
		ids = append(ids, p.j.ids[p.lo:p.hi]...)
		live = append(live, p)
	}
	if len(ids) == 0 {
		return
	}
	logits, err := b.model.m.Logits(ids)
	k := 0
	for _, p := range live {
		if err == nil {
			copy(p.j.logits[p.lo:p.hi], logits[k:k+p.hi-p.lo])
		}
		k += p.hi - p.lo
		p.j.finish(p.hi-p.lo, err)
	}
	s.metrics.batchSize.Observe(float64(len(ids)))
	s.metrics.reviews.Add(float64(len(ids)))
	s.scored.Add(int64(len(ids)))
}

// Close stops the batcher and scorers after the requests already submitted
// are scored. Call it after the HTTP server has stopped taking requests.
func (s *Server) Close() {
	s.stopOnce.Do(func() {
		s.closeMu.Lock()
		s.closed = true
		close(s.batch.in)
		s.closeMu.Unlock()
		s.scorers.Wait()
	})
}

// errClosed is what a request submitted after Close gets.
var errClosed = errors.New("server is shutting down")

// submit queues a job; it fails only once Close has begun.
func (s *Server) submit(j *job) error {
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		return errClosed
	}
	s.batch.in <- j // the batcher drains the queue, so this returns
	return nil
}

// Run serves on addr until ctx is done (SIGTERM or SIGINT in the command),
// then stops accepting connections, drains the requests already accepted
// and returns nil. SIGHUP reloads the model; so does a change of the file
// when Options.Watch is set. ready, when not nil, receives the address
// listened on once the server accepts connections.
func (s *Server) Run(ctx context.Context, addr string, ready func(net.Addr)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	var conns atomic.Int64 // connections open: accepted and not yet closed
	hs := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		ConnState: func(c net.Conn, st http.ConnState) {
			switch st {
			case http.StateNew:
				conns.Add(1)
				// At debug level every accepted connection is logged, so
				// that a client's failed request can be told apart:
				// accepted and lost, or never accepted (reset in the
				// listen backlog as the server stops).
				s.log.Debug("connection accepted", "remote", c.RemoteAddr().String())
			case http.StateClosed, http.StateHijacked:
				conns.Add(-1)
			}
		}}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	bg, stopBG := context.WithCancel(context.Background())
	defer stopBG()
	go s.background(bg, hup)

	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	l := s.model.Load()
	s.log.Info("serving", "addr", ln.Addr().String(), "model", s.opt.ModelPath, "digest", l.digest,
		"precision", l.m.Precision(), "workers", s.opt.Workers, "max_batch", s.opt.MaxBatch, "max_delay", s.opt.MaxDelay)
	if ready != nil {
		ready(ln.Addr())
	}
	select {
	case err := <-served:
		s.Close()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.draining.Store(true)
	s.log.Info("stopping: draining requests in flight", "inflight", len(s.slots), "connections", conns.Load())
	if err := s.drain(hs, ln, served, &conns); err != nil {
		s.Close()
		return fmt.Errorf("serve: drain: %w", err)
	}
	s.Close()
	s.log.Info("stopped")
	return nil
}

// drain stops accepting and waits until every accepted connection has been
// answered and closed. http.Server.Shutdown is not used: a request it finds
// read on a connection accepted just before the listener closed is dropped
// unanswered, and every accepted request must be answered. Instead keep-alives
// are turned off (answers say Connection: close and idle connections are
// closed), the listener is closed, and the open connections are counted down.
func (s *Server) drain(hs *http.Server, ln net.Listener, served <-chan error, conns *atomic.Int64) error {
	hs.SetKeepAlivesEnabled(false)
	ln.Close()
	<-served // the accept loop has ended: no connection is accepted after this
	deadline := time.Now().Add(s.opt.Drain)
	for conns.Load() > 0 {
		if time.Now().After(deadline) {
			hs.Close()
			return fmt.Errorf("%d connections still open after %v", conns.Load(), s.opt.Drain)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return hs.Close()
}

// background reloads on SIGHUP and on file changes (Watch), and keeps the
// reviews-per-second gauge current.
func (s *Server) background(ctx context.Context, hup <-chan os.Signal) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var watch <-chan time.Time
	if s.opt.Watch > 0 {
		w := time.NewTicker(s.opt.Watch)
		defer w.Stop()
		watch = w.C
	}
	var rate rateMeter
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			s.log.Info("SIGHUP: reloading the model", "model", s.opt.ModelPath)
			_ = s.Reload() // logged; the old model keeps serving
		case <-watch:
			if s.changed() {
				s.log.Info("model file changed: reloading", "model", s.opt.ModelPath)
				_ = s.Reload()
			}
		case <-tick.C:
			s.metrics.rate.Set(rate.tick(float64(s.scored.Load())))
		}
	}
}
