package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"trainer/data"
	"trainer/internal/predict"
	tmodel "trainer/model"
)

var testWords = []string{"great", "awful", "product", "broken", "love", "cheap", "works", "never", "again", "perfect"}

// writeModel saves a small randomly initialised model (seeded) and returns
// its path.
func writeModel(t *testing.T, path string, cfg tmodel.Config, seed uint64) string {
	t.Helper()
	v, err := data.NewVocabFromWords(append([]string{data.PadWord, data.UnkWord}, testWords...))
	if err != nil {
		t.Fatal(err)
	}
	cfg.VocabSize = v.Size()
	f := &tmodel.File{Version: tmodel.FileVersion, Config: cfg, Params: make([]float32, tmodel.NewLayout(cfg).Size()),
		Vocab: v.Words(), Preprocess: tmodel.Preprocess(data.DefaultPreprocess()), MaxLen: 6, Metrics: map[string]float64{"dev_accuracy": 0.5}}
	tmodel.InitParams(cfg, f.Params, seed)
	if err := tmodel.Save(path, f); err != nil {
		t.Fatal(err)
	}
	return path
}

var smallConfig = tmodel.Config{EmbedDim: 8, Hidden: 16, Layers: 1, Pool: tmodel.PoolMean}

// randomTexts makes n reviews of 0 to 11 words from the vocabulary and
// unknown words, seeded.
func randomTexts(n int, seed int) []string {
	texts := make([]string, n)
	x := uint32(seed*7919 + 1)
	next := func() int { x = x*1664525 + 1013904223; return int(x >> 8) }
	for i := range texts {
		var b strings.Builder
		for range next() % 12 {
			if next()%5 == 0 {
				b.WriteString("zzunknown ")
			} else {
				b.WriteString(testWords[next()%len(testWords)] + "! ")
			}
		}
		texts[i] = b.String()
	}
	return texts
}

func newTestServer(t *testing.T, opt Options) (*Server, *httptest.Server) {
	t.Helper()
	if opt.ModelPath == "" {
		opt.ModelPath = writeModel(t, filepath.Join(t.TempDir(), "model.bin"), smallConfig, 1)
	}
	s, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() { hs.Close(); s.Close() })
	return s, hs
}

func postJSON(t *testing.T, url string, v any) (*http.Response, []byte) {
	t.Helper()
	b, _ := json.Marshal(v)
	resp, err := http.Post(url+RoutePredict, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

func TestPredictEqualsPredictPackageUnderConcurrency(t *testing.T) {
	for _, int8 := range []bool{false, true} {
		t.Run(fmt.Sprintf("int8=%v", int8), func(t *testing.T) {
			path := writeModel(t, filepath.Join(t.TempDir(), "model.bin"), tmodel.Config{EmbedDim: 8, Hidden: 16, Layers: 2, Bidirectional: true, Pool: tmodel.PoolMax}, 3)
			s, hs := newTestServer(t, Options{ModelPath: path, Int8: int8, Workers: 3, MaxBatch: 7})
			ref, err := predict.Load(path, predict.Options{Workers: 2, Int8: int8})
			if err != nil {
				t.Fatal(err)
			}
			texts := randomTexts(400, 1)
			want, err := ref.Score(texts)
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			errs := make(chan error, 16)
			for c := range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for lo := c * 25; lo < (c+1)*25; lo += 5 {
						b, _ := json.Marshal(PredictRequest{Texts: texts[lo : lo+5]})
						resp, err := http.Post(hs.URL+RoutePredict, "application/json", bytes.NewReader(b))
						if err != nil {
							errs <- err
							return
						}
						var pr PredictResponse
						err = json.NewDecoder(resp.Body).Decode(&pr)
						resp.Body.Close()
						if err != nil || resp.StatusCode != 200 || len(pr.Predictions) != 5 {
							errs <- fmt.Errorf("status %d, %d predictions, %v", resp.StatusCode, len(pr.Predictions), err)
							return
						}
						for k, p := range pr.Predictions {
							if p.Prob != want[lo+k] {
								errs <- fmt.Errorf("text %d %q: served %v, predict %v", lo+k, texts[lo+k], p.Prob, want[lo+k])
							}
							if (p.Label == "pos") != (want[lo+k] > 0.5) {
								errs <- fmt.Errorf("text %d: label %s for P(pos) %v", lo+k, p.Label, want[lo+k])
							}
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if d, _ := s.Model(); len(d) != 64 {
				t.Errorf("digest %q is not a hex SHA-256", d)
			}
		})
	}
}

func TestTextPlainAndSingleText(t *testing.T) {
	_, hs := newTestServer(t, Options{})
	resp, err := http.Post(hs.URL+RoutePredict, "text/plain; charset=utf-8", strings.NewReader("__label__2 great product\r\nawful\n\n"))
	if err != nil {
		t.Fatal(err)
	}
	var plain PredictResponse
	json.NewDecoder(resp.Body).Decode(&plain)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(plain.Predictions) != 3 {
		t.Fatalf("text/plain: status %d, %d predictions, want 3 (a blank line is a review, as in predict --file)", resp.StatusCode, len(plain.Predictions))
	}
	one := "great product"
	_, body := postJSON(t, hs.URL, PredictRequest{Text: &one})
	var single PredictResponse
	if err := json.Unmarshal(body, &single); err != nil || len(single.Predictions) != 1 {
		t.Fatalf("single text: %s", body)
	}
	if single.Predictions[0] != plain.Predictions[0] {
		t.Errorf("the same text scored %v as JSON and %v as text/plain with a label", single.Predictions[0], plain.Predictions[0])
	}
}

func TestBadRequestsGetStatusAndJSONError(t *testing.T) {
	_, hs := newTestServer(t, Options{MaxBody: 200, MaxTexts: 3})
	cases := []struct {
		name, method, path, ctype, body string
		code                            int
	}{
		{"malformed JSON", "POST", RoutePredict, "application/json", `{"texts": [`, 400},
		{"wrong type", "POST", RoutePredict, "application/json", `{"texts": "one"}`, 400},
		{"unknown field", "POST", RoutePredict, "application/json", `{"reviews": ["a"]}`, 400},
		{"no texts", "POST", RoutePredict, "application/json", `{"texts": []}`, 400},
		{"empty object", "POST", RoutePredict, "application/json", `{}`, 400},
		{"empty body", "POST", RoutePredict, "application/json", ``, 400},
		{"both text and texts", "POST", RoutePredict, "application/json", `{"text": "a", "texts": ["b"]}`, 400},
		{"trailing data", "POST", RoutePredict, "application/json", `{"texts": ["a"]} {}`, 400},
		{"empty text/plain", "POST", RoutePredict, "text/plain", ``, 400},
		{"body too large", "POST", RoutePredict, "application/json", `{"texts": ["` + strings.Repeat("a", 300) + `"]}`, 413},
		{"too many reviews", "POST", RoutePredict, "application/json", `{"texts": ["a", "b", "c", "d"]}`, 413},
		{"too many lines", "POST", RoutePredict, "text/plain", "a\nb\nc\nd\n", 413},
		{"media type", "POST", RoutePredict, "application/xml", `<texts/>`, 415},
		{"method", "GET", RoutePredict, "", ``, 405},
		{"unknown route", "GET", "/v2/nothing", "", ``, 404},
		{"post to model", "POST", RouteModel, "application/json", `{}`, 405},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, hs.URL+c.path, strings.NewReader(c.body))
			if c.ctype != "" {
				req.Header.Set("Content-Type", c.ctype)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var e ErrorResponse
			if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || e.Error == "" {
				t.Errorf("body is not a JSON error: %v", err)
			}
			if resp.StatusCode != c.code {
				t.Errorf("status %d (%s), want %d", resp.StatusCode, e.Error, c.code)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
}

func TestInflightLimitAnswers503WithRetryAfter(t *testing.T) {
	s, hs := newTestServer(t, Options{MaxInflight: 1})
	// The first request holds the only slot while its body is still coming.
	pr, pw := io.Pipe()
	first := make(chan int, 1)
	go func() {
		resp, err := http.Post(hs.URL+RoutePredict, "application/json", pr)
		if err != nil {
			first <- -1
			return
		}
		resp.Body.Close()
		first <- resp.StatusCode
	}()
	pw.Write([]byte(`{"texts": [`))
	for deadline := time.Now().Add(5 * time.Second); len(s.slots) < 1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the first request never took its slot")
		}
	}
	resp, body := postJSON(t, hs.URL, PredictRequest{Texts: []string{"great"}})
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("second request: status %d, Retry-After %q, body %s; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	pw.Write([]byte(`"great"]}`))
	pw.Close()
	if code := <-first; code != 200 {
		t.Errorf("the request holding the slot got %d", code)
	}
}

func TestTimeoutAnswers504(t *testing.T) {
	// A batch that never fills and never expires: the request times out.
	_, hs := newTestServer(t, Options{MaxBatch: 1000, MaxDelay: time.Hour, Timeout: 50 * time.Millisecond})
	resp, body := postJSON(t, hs.URL, PredictRequest{Texts: []string{"great"}})
	if resp.StatusCode != http.StatusGatewayTimeout || !strings.Contains(string(body), "error") {
		t.Fatalf("status %d body %s, want 504 with a JSON error", resp.StatusCode, body)
	}
}

func TestMetricsParseAsPrometheusText(t *testing.T) {
	s, hs := newTestServer(t, Options{})
	postJSON(t, hs.URL, PredictRequest{Texts: []string{"great", "awful product"}})
	postJSON(t, hs.URL, PredictRequest{})
	resp, err := http.Get(hs.URL + RouteMetrics)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics is not Prometheus text: %v", err)
	}
	count := func(name string, labels map[string]string) float64 {
		f := fams[name]
		if f == nil {
			t.Fatalf("no metric %s", name)
		}
	next:
		for _, m := range f.Metric {
			for _, lp := range m.Label {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount())
			}
		}
		return 0
	}
	digest, _ := s.Model()
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"trainer_http_requests_total", map[string]string{"route": RoutePredict, "code": "200"}, 1},
		{"trainer_http_requests_total", map[string]string{"route": RoutePredict, "code": "400"}, 1},
		{"trainer_http_request_duration_seconds", map[string]string{"route": RoutePredict}, 2},
		{"trainer_batch_reviews", nil, 1},
		{"trainer_reviews_scored_total", nil, 2},
		{"trainer_model_info", map[string]string{"digest": digest}, 1},
		{"trainer_rejected_requests_total", map[string]string{"reason": "bad_request"}, 1},
	}
	for _, c := range checks {
		if got := count(c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if count("trainer_model_loaded_timestamp_seconds", nil) < 1e9 {
		t.Error("model load time not set")
	}
}

func TestModelInfo(t *testing.T) {
	s, hs := newTestServer(t, Options{})
	resp, err := http.Get(hs.URL + RouteModel)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var info ModelInfo
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		t.Fatal(err)
	}
	digest, _ := s.Model()
	if info.Digest != digest || info.VocabSize != len(testWords)+2 || info.Config.Hidden != smallConfig.Hidden ||
		info.MaxLen != 6 || info.Preprocess != tmodel.Preprocess(data.DefaultPreprocess()) || info.Metrics["dev_accuracy"] != 0.5 {
		t.Errorf("model info %+v", info)
	}
}

func TestReloadSwapsAndKeepsOldOnDamage(t *testing.T) {
	dir := t.TempDir()
	path := writeModel(t, filepath.Join(dir, "model.bin"), smallConfig, 1)
	s, hs := newTestServer(t, Options{ModelPath: path})
	oldDigest, _ := s.Model()
	texts := randomTexts(20, 2)
	score := func() []Prediction {
		resp, body := postJSON(t, hs.URL, PredictRequest{Texts: texts})
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		var pr PredictResponse
		json.Unmarshal(body, &pr)
		return pr.Predictions
	}
	before := score()

	// Requests keep flowing while the model is swapped: none may fail.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	failures := make(chan string, 100)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, body := postJSON(t, hs.URL, PredictRequest{Texts: texts[:3]})
				if resp.StatusCode != 200 {
					failures <- fmt.Sprintf("%d %s", resp.StatusCode, body)
				}
			}
		}()
	}
	writeModel(t, filepath.Join(dir, "next.bin"), smallConfig, 2)
	if err := os.Rename(filepath.Join(dir, "next.bin"), path); err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	close(stop)
	wg.Wait()
	close(failures)
	for f := range failures {
		t.Errorf("request failed during the swap: %s", f)
	}
	newDigest, _ := s.Model()
	after := score()
	if newDigest == oldDigest || after[0] == before[0] {
		t.Fatalf("reload did not swap the model: digest %s -> %s", oldDigest, newDigest)
	}

	// A damaged file: the reload fails and the new model keeps serving.
	raw, _ := os.ReadFile(path)
	raw[len(raw)-3] ^= 0xff
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	err := s.Reload()
	if err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("reload of a damaged file: %v, want a checksum error", err)
	}
	if d, _ := s.Model(); d != newDigest {
		t.Error("a damaged file replaced the model in service")
	}
	if got := score(); got[0] != after[0] {
		t.Error("scores changed after a failed reload")
	}
}

func TestWatchReloadsOnChange(t *testing.T) {
	dir := t.TempDir()
	path := writeModel(t, filepath.Join(dir, "model.bin"), smallConfig, 1)
	s, err := New(Options{ModelPath: path, Watch: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, "127.0.0.1:0", func(net.Addr) {}) }()
	old, _ := s.Model()
	writeModel(t, filepath.Join(dir, "next.bin"), tmodel.Config{EmbedDim: 4, Hidden: 16, Layers: 1, Pool: tmodel.PoolLast}, 5)
	os.Rename(filepath.Join(dir, "next.bin"), path)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if d, _ := s.Model(); d != old {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if d, _ := s.Model(); d == old {
		t.Error("--watch did not reload a changed model file")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestRunDrainsAcceptedRequests(t *testing.T) {
	path := writeModel(t, filepath.Join(t.TempDir(), "model.bin"), smallConfig, 1)
	// Batches wait up to 200 ms, so requests are in flight when the stop comes.
	s, err := New(Options{ModelPath: path, MaxDelay: 200 * time.Millisecond, MaxBatch: 1000})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, "127.0.0.1:0", func(a net.Addr) { addrc <- a }) }()
	url := "http://" + (<-addrc).String()
	var wg sync.WaitGroup
	codes := make(chan int, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, _ := postJSON(t, url, PredictRequest{Texts: []string{"great"}})
			codes <- resp.StatusCode
		}()
	}
	time.Sleep(50 * time.Millisecond) // all 8 accepted and waiting in the batch
	cancel()
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 200 {
			t.Errorf("a request accepted before the stop got %d", c)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(url + RouteHealth); err == nil {
		t.Error("still accepting connections after Run returned")
	}
}
