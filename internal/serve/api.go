package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"strings"
	"time"

	"trainer/data"
	"trainer/model"
	"trainer/train"
)

// Routes the server answers.
const (
	RoutePredict = "/v1/predict"
	RouteModel   = "/v1/model"
	RouteHealth  = "/healthz"
	RouteReady   = "/readyz"
	RouteMetrics = "/metrics"
)

// PredictRequest is the JSON body of POST /v1/predict: Texts, or one Text.
type PredictRequest struct {
	Texts []string `json:"texts,omitempty"`
	Text  *string  `json:"text,omitempty"`
}

// Prediction is one review's answer, as `trainer predict` gives it: label
// "pos" when P(positive) > 0.5, else "neg".
type Prediction struct {
	Label string  `json:"label"`
	Prob  float64 `json:"prob"` // P(positive)
}

// PredictResponse answers POST /v1/predict, one prediction per review in
// request order, with the model that scored them.
type PredictResponse struct {
	Predictions []Prediction `json:"predictions"`
	Model       string       `json:"model"` // the model file's SHA-256
	Precision   string       `json:"precision"`
}

// ErrorResponse is the body of every error answer.
type ErrorResponse struct {
	Error string `json:"error"`
}

// ModelInfo answers GET /v1/model.
type ModelInfo struct {
	Path        string           `json:"path"`
	Digest      string           `json:"digest"` // SHA-256 of the model file
	LoadedAt    time.Time        `json:"loaded_at"`
	LoadSeconds float64          `json:"load_seconds"`
	Precision   string           `json:"precision"`
	Config      model.Config     `json:"config"`
	VocabSize   int              `json:"vocab_size"`
	MaxLen      int              `json:"max_len"`
	Preprocess  model.Preprocess `json:"preprocess"`
	Metrics     map[string]any   `json:"metrics"` // training metrics; a non-finite value is given as a string
}

// Handler routes the server's endpoints, each answer counted in /metrics.
// Every error, unknown routes and methods included, is a JSON ErrorResponse.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	route := func(path, method string, h http.HandlerFunc) {
		mux.Handle(path, s.instrument(path, func(w http.ResponseWriter, r *http.Request) {
			if r.Method != method && !(method == http.MethodGet && r.Method == http.MethodHead) {
				w.Header().Set("Allow", method)
				writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s %s: use %s", r.Method, path, method))
				return
			}
			h(w, r)
		}))
	}
	route(RoutePredict, http.MethodPost, s.predict)
	route(RouteModel, http.MethodGet, s.modelInfo)
	route(RouteHealth, http.MethodGet, func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	route(RouteReady, http.MethodGet, func(w http.ResponseWriter, _ *http.Request) {
		if s.draining.Load() {
			writeError(w, http.StatusServiceUnavailable, "shutting down")
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready", "model": s.model.Load().digest})
	})
	mux.Handle(RouteMetrics, s.instrument(RouteMetrics, s.metrics.handler().ServeHTTP))
	mux.Handle("/", s.instrument("other", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no such endpoint %s (see %s, %s, %s, %s, %s)",
			r.URL.Path, RoutePredict, RouteModel, RouteHealth, RouteReady, RouteMetrics))
	}))
	return mux
}

// statusWriter remembers the status code written.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// instrument counts and times every answer of route, and logs it at debug
// level (a log line per request at info would cost more than the scoring).
func (s *Server) instrument(route string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h(sw, r)
		if sw.code == 0 {
			sw.code = http.StatusOK
		}
		took := time.Since(start)
		s.metrics.observe(route, sw.code, took)
		s.log.Debug("request", "method", r.Method, "path", r.URL.Path, "code", sw.code, "seconds", took.Seconds(), "remote", r.RemoteAddr)
	})
}

// predict answers POST /v1/predict.
func (s *Server) predict(w http.ResponseWriter, r *http.Request) {
	// A request read during a drain is still answered: a stop closes the
	// listener first, and whatever was accepted before is served.
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	default:
		s.metrics.rejected.WithLabelValues("inflight").Inc()
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("too many requests in flight (limit %d): retry later", s.opt.MaxInflight))
		return
	}
	s.metrics.inflight.Inc()
	defer s.metrics.inflight.Dec()

	texts, code, err := s.readTexts(w, r)
	if err != nil {
		s.metrics.rejected.WithLabelValues(reasonOf(code)).Inc()
		writeError(w, code, err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.opt.Timeout)
	defer cancel()
	l := s.model.Load()
	j := newJob(ctx, l, l.m.Encode(texts))
	if err := s.submit(j); err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	select {
	case <-j.done:
	case <-ctx.Done():
		s.metrics.rejected.WithLabelValues("timeout").Inc()
		writeError(w, http.StatusGatewayTimeout, fmt.Sprintf("not scored within %v", s.opt.Timeout))
		return
	}
	if j.err != nil {
		if errors.Is(j.err, context.DeadlineExceeded) || errors.Is(j.err, context.Canceled) {
			s.metrics.rejected.WithLabelValues("timeout").Inc()
			writeError(w, http.StatusGatewayTimeout, fmt.Sprintf("not scored within %v", s.opt.Timeout))
			return
		}
		writeError(w, http.StatusInternalServerError, "scoring: "+j.err.Error())
		return
	}
	resp := PredictResponse{Predictions: make([]Prediction, len(texts)), Model: l.digest, Precision: l.m.Precision()}
	for i, z := range j.logits {
		p := train.Sigmoid(float64(z))
		label := "neg"
		if p > 0.5 {
			label = "pos"
		}
		resp.Predictions[i] = Prediction{Label: label, Prob: p}
	}
	writeJSON(w, http.StatusOK, resp)
}

// reasonOf names a refusal for the rejected-requests counter.
func reasonOf(code int) string {
	switch code {
	case http.StatusRequestEntityTooLarge:
		return "too_large"
	case http.StatusUnsupportedMediaType:
		return "media_type"
	}
	return "bad_request"
}

// readTexts reads the reviews of a prediction request: a JSON
// PredictRequest, or with Content-Type text/plain one review per line (a
// leading fastText label is ignored, as predict --file does). It returns
// the HTTP status to answer with when the request is refused.
func (s *Server) readTexts(w http.ResponseWriter, r *http.Request) ([]string, int, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opt.MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("request body over %d bytes", s.opt.MaxBody)
		}
		return nil, http.StatusBadRequest, fmt.Errorf("reading the request body: %v", err)
	}
	mt := "application/json"
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err = mime.ParseMediaType(ct); err != nil {
			return nil, http.StatusUnsupportedMediaType, fmt.Errorf("content type %q: %v", ct, err)
		}
	}
	var texts []string
	switch mt {
	case "application/json":
		if texts, err = parseJSON(body); err != nil {
			return nil, http.StatusBadRequest, err
		}
	case "text/plain":
		texts = parseLines(body)
	default:
		return nil, http.StatusUnsupportedMediaType, fmt.Errorf("content type %q: send application/json or text/plain", mt)
	}
	switch {
	case len(texts) == 0:
		return nil, http.StatusBadRequest, errors.New(`no texts: send {"texts": [...]}, {"text": "..."} or text/plain lines`)
	case len(texts) > s.opt.MaxTexts:
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("%d reviews in one request, the limit is %d", len(texts), s.opt.MaxTexts)
	}
	return texts, 0, nil
}

// parseJSON decodes a PredictRequest strictly: unknown fields, both text
// and texts, or anything after the object are errors.
func parseJSON(body []byte) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var req PredictRequest
	if err := dec.Decode(&req); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty body: send {\"texts\": [...]}")
		}
		return nil, fmt.Errorf("malformed JSON: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("malformed JSON: data after the request object")
	}
	if req.Text != nil {
		if req.Texts != nil {
			return nil, errors.New(`give "text" or "texts", not both`)
		}
		return []string{*req.Text}, nil
	}
	return req.Texts, nil
}

// parseLines splits a text/plain body into reviews, one per line, as
// predict --file reads a file: a final newline does not start another
// review, a blank line is an (empty) review, and only an empty body has none.
func parseLines(body []byte) []string {
	if len(body) == 0 {
		return nil
	}
	lines := strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
	for i, l := range lines {
		lines[i] = data.StripFastTextLabel(strings.TrimSuffix(l, "\r"))
	}
	return lines
}

// modelInfo answers GET /v1/model.
func (s *Server) modelInfo(w http.ResponseWriter, _ *http.Request) {
	l := s.model.Load()
	f := l.m.File
	info := ModelInfo{Path: s.opt.ModelPath, Digest: l.digest, LoadedAt: l.loadedAt.UTC(), LoadSeconds: l.loadTook.Seconds(),
		Precision: l.m.Precision(), Config: f.Config, VocabSize: l.m.Vocab.Size(), MaxLen: f.MaxLen,
		Preprocess: f.Preprocess, Metrics: map[string]any{}}
	for k, v := range f.Metrics {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			info.Metrics[k] = fmt.Sprint(v)
		} else {
			info.Metrics[k] = v
		}
	}
	writeJSON(w, http.StatusOK, info)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v) // a client gone away is not the server's error
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, ErrorResponse{Error: msg})
}
