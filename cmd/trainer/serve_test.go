package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	pmodel "github.com/prometheus/common/model"

	"trainer/data"
	"trainer/internal/serve"
)

const realReviews = "../../../shared/data/amazon_polarity"

// buildTrainer builds this command into dir: signals need a real process.
func buildTrainer(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "trainer")
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// trainTiny trains a small model on 400 real reviews and returns its path.
func trainTiny(t *testing.T, bin, dir, name string, flags ...string) string {
	t.Helper()
	out := filepath.Join(dir, name)
	args := append([]string{"train", "--train", filepath.Join(dir, "head.ft.txt"), "--epochs", "1", "--embed-dim", "16",
		"--hidden", "16", "--max-len", "64", "--vocab-size", "3000", "--cpu-workers", "1",
		"--cache-dir", filepath.Join(dir, "cache"), "--out", out}, flags...)
	if b, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("train %s: %v\n%s", name, err, b)
	}
	return filepath.Join(out, "model.bin")
}

// server is a running `trainer serve` process.
type server struct {
	cmd  *exec.Cmd
	url  string
	mu   sync.Mutex
	logs []map[string]any
	done chan error
}

// startServe starts `trainer serve` on a free loopback port (logged by the
// server as it starts) with JSON logs.
func startServe(t *testing.T, bin string, args ...string) *server {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--log-format", "json"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, done: make(chan error, 1)}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var rec map[string]any
			if json.Unmarshal(sc.Bytes(), &rec) != nil {
				rec = map[string]any{"msg": sc.Text()}
			}
			s.mu.Lock()
			s.logs = append(s.logs, rec)
			s.mu.Unlock()
			if rec["msg"] == "serving" {
				addr <- rec["addr"].(string)
			}
		}
		s.done <- cmd.Wait()
	}()
	t.Cleanup(func() { cmd.Process.Kill() })
	select {
	case a := <-addr:
		s.url = "http://" + a
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not start: %v", s.logs)
	}
	return s
}

// logged waits up to 10 s for a log record whose message contains msg.
func (s *server) logged(msg string) bool {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		s.mu.Lock()
		for _, r := range s.logs {
			if m, _ := r["msg"].(string); strings.Contains(m, msg) {
				s.mu.Unlock()
				return true
			}
		}
		s.mu.Unlock()
	}
	return false
}

// inflight reads the server's gauge of prediction requests in flight.
func (s *server) inflight(t *testing.T) float64 {
	t.Helper()
	resp, err := http.Get(s.url + serve.RouteMetrics)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(pmodel.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams["trainer_inflight_requests"].Metric[0].Gauge.GetValue()
}

func (s *server) digest(t *testing.T) string {
	t.Helper()
	resp, err := http.Get(s.url + serve.RouteModel)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var info serve.ModelInfo
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		t.Fatal(err)
	}
	return info.Digest
}

// predictCLI runs `trainer predict --json` on the reviews in file and
// returns the probabilities.
func predictCLI(t *testing.T, bin, modelPath, file string) []float64 {
	t.Helper()
	out, err := exec.Command(bin, "predict", "--model", modelPath, "--json", "--file", file).Output()
	if err != nil {
		t.Fatalf("predict: %v", err)
	}
	var probs []float64
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var p struct{ Prob float64 }
		if err := json.Unmarshal([]byte(l), &p); err != nil {
			t.Fatal(err)
		}
		probs = append(probs, p.Prob)
	}
	return probs
}

// round4 is predict's presentation of a probability.
func round4(p float64) float64 { return float64(int64(p*10000+0.5)) / 10000 }

func post(client *http.Client, url string, texts []string) (serve.PredictResponse, int, error) {
	b, _ := json.Marshal(serve.PredictRequest{Texts: texts})
	resp, err := client.Post(url+serve.RoutePredict, "application/json", bytes.NewReader(b))
	if err != nil {
		return serve.PredictResponse{}, 0, err
	}
	defer resp.Body.Close()
	var pr serve.PredictResponse
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == 200 {
		err = json.Unmarshal(body, &pr)
	} else {
		err = fmt.Errorf("status %d: %s", resp.StatusCode, body)
	}
	return pr, resp.StatusCode, err
}

// TestServeEndToEnd runs `trainer serve` as a process against `trainer
// predict` on 1,000 real reviews: equal probabilities under 32 concurrent
// clients, every refusal with its status and a JSON error, Prometheus
// metrics, SIGHUP swaps (a damaged file keeps the old model) with no failed
// request, and SIGTERM under load loses no accepted request.
func TestServeEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	headLines(t, filepath.Join(realReviews, "train.ft.txt"), dir, 400)
	raw, err := os.ReadFile(filepath.Join(realReviews, "dev.ft.txt"))
	if err != nil {
		t.Skipf("real reviews not available: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")[:1000]
	reviewsFile := filepath.Join(dir, "reviews.txt")
	os.WriteFile(reviewsFile, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	texts := make([]string, len(lines))
	for i, l := range lines {
		texts[i] = data.StripFastTextLabel(l)
	}

	bin := buildTrainer(t, dir)
	first := trainTiny(t, bin, dir, "first")
	second := trainTiny(t, bin, dir, "second", "--bidirectional", "--pool", "max", "--seed", "2")
	live := filepath.Join(dir, "live.bin")
	copyFile(t, first, live)
	wantFirst := predictCLI(t, bin, first, reviewsFile)
	wantSecond := predictCLI(t, bin, second, reviewsFile)

	s := startServe(t, bin, "--model", live, "--max-body", "65536", "--max-texts", "100", "--max-inflight", "40", "--workers", "2", "--log-level", "debug")

	t.Run("equals predict under 32 concurrent clients", func(t *testing.T) {
		var next atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for c := range 32 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					size := int64(1 + (c*7)%40) // 1 to 40 reviews a request
					lo := next.Add(size) - size
					if lo >= int64(len(texts)) {
						return
					}
					hi := min(lo+size, int64(len(texts)))
					pr, _, err := post(http.DefaultClient, s.url, texts[lo:hi])
					if err != nil {
						errs <- err
						return
					}
					for k, p := range pr.Predictions {
						i := int(lo) + k
						if round4(p.Prob) != wantFirst[i] || (p.Label == "pos") != (p.Prob > 0.5) {
							errs <- fmt.Errorf("review %d: served %v (%s), predict %v", i+1, p.Prob, p.Label, wantFirst[i])
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
	})

	t.Run("bad requests", func(t *testing.T) {
		many, _ := json.Marshal(serve.PredictRequest{Texts: texts[:101]})
		cases := []struct {
			name, ctype, body string
			code              int
		}{
			{"malformed JSON", "application/json", `{"texts": ["a",`, 400},
			{"no texts", "application/json", `{"texts": []}`, 400},
			{"body over --max-body", "text/plain", strings.Repeat("great product ", 6000), 413},
			{"over --max-texts", "application/json", string(many), 413},
		}
		for _, c := range cases {
			resp, err := http.Post(s.url+serve.RoutePredict, c.ctype, strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			var e serve.ErrorResponse
			jerr := json.NewDecoder(resp.Body).Decode(&e)
			resp.Body.Close()
			if resp.StatusCode != c.code || jerr != nil || e.Error == "" {
				t.Errorf("%s: status %d, JSON error %q (%v); want %d", c.name, resp.StatusCode, e.Error, jerr, c.code)
			}
		}
		// Over --max-inflight: 40 requests hold every slot while their
		// bodies are still arriving; the 41st is refused with Retry-After.
		var held []net.Conn
		for range 40 {
			conn, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\ngre", serve.RoutePredict)
			held = append(held, conn)
		}
		for deadline := time.Now().Add(10 * time.Second); s.inflight(t) < 40; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%v requests in flight, want the 40 held ones", s.inflight(t))
			}
		}
		resp, err := http.Post(s.url+serve.RoutePredict, "text/plain", strings.NewReader("great"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("over --max-inflight: status %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
		for _, conn := range held {
			conn.Write([]byte("at\n"))
			r, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil || r.StatusCode != 200 {
				t.Errorf("a held request, once complete: %v %v", r, err)
			}
			conn.Close()
		}
	})

	t.Run("timeout", func(t *testing.T) {
		// A batch that waits an hour for company: the request times out.
		slow := startServe(t, bin, "--model", live, "--max-delay", "1h", "--max-batch", "1000", "--timeout", "100ms")
		resp, err := http.Post(slow.url+serve.RoutePredict, "text/plain", strings.NewReader("great"))
		if err != nil {
			t.Fatal(err)
		}
		var e serve.ErrorResponse
		json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != http.StatusGatewayTimeout || e.Error == "" {
			t.Errorf("status %d %q, want 504 with a JSON error", resp.StatusCode, e.Error)
		}
		slow.cmd.Process.Signal(syscall.SIGTERM)
		<-slow.done
	})

	t.Run("metrics", func(t *testing.T) {
		resp, err := http.Get(s.url + serve.RouteMetrics)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		p := expfmt.NewTextParser(pmodel.UTF8Validation)
		fams, err := p.TextToMetricFamilies(resp.Body)
		if err != nil {
			t.Fatalf("/metrics is not Prometheus text: %v", err)
		}
		for _, name := range []string{"trainer_http_requests_total", "trainer_http_request_duration_seconds", "trainer_batch_reviews",
			"trainer_reviews_scored_total", "trainer_reviews_per_second", "trainer_model_info", "trainer_model_loaded_timestamp_seconds",
			"trainer_model_load_duration_seconds"} {
			if fams[name] == nil {
				t.Errorf("no %s", name)
			}
		}
		if got := fams["trainer_reviews_scored_total"].Metric[0].Counter.GetValue(); got < 1000 {
			t.Errorf("%v reviews scored, want at least 1000", got)
		}
	})

	t.Run("SIGHUP swaps with no failed request", func(t *testing.T) {
		old := s.digest(t)
		stop := loadLoop(s.url, texts[:8], 8, false)
		time.Sleep(100 * time.Millisecond)
		copyFile(t, second, live+".tmp")
		os.Rename(live+".tmp", live)
		s.cmd.Process.Signal(syscall.SIGHUP)
		swapped := false
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && !swapped; time.Sleep(10 * time.Millisecond) {
			swapped = s.digest(t) != old
		}
		time.Sleep(100 * time.Millisecond)
		n, fails := stop()
		if !swapped {
			t.Fatal("SIGHUP did not swap the model")
		}
		for _, f := range fails {
			t.Errorf("request failed during the swap: %v", f)
		}
		if n == 0 {
			t.Error("no request ran during the swap")
		}
		pr, _, err := post(http.DefaultClient, s.url, texts[:50])
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range pr.Predictions {
			if round4(p.Prob) != wantSecond[i] {
				t.Fatalf("after the swap, review %d: %v, the new model's predict %v", i+1, p.Prob, wantSecond[i])
			}
		}
	})

	t.Run("SIGHUP with a damaged file keeps the old model", func(t *testing.T) {
		before := s.digest(t)
		b, _ := os.ReadFile(second)
		b[len(b)/2] ^= 0x55
		os.WriteFile(live+".tmp", b, 0o644)
		os.Rename(live+".tmp", live)
		s.cmd.Process.Signal(syscall.SIGHUP)
		if !s.logged("reload failed") {
			t.Fatal("no reload failure logged")
		}
		if d := s.digest(t); d != before {
			t.Errorf("digest changed to %s after a damaged reload", d)
		}
		pr, code, err := post(http.DefaultClient, s.url, texts[:5])
		if err != nil || code != 200 || round4(pr.Predictions[0].Prob) != wantSecond[0] {
			t.Errorf("after a damaged reload: %d %v %v", code, err, pr.Predictions)
		}
	})

	t.Run("SIGTERM under load loses no accepted request", func(t *testing.T) {
		stop := loadLoop(s.url, texts[:16], 16, true)
		time.Sleep(200 * time.Millisecond)
		s.cmd.Process.Signal(syscall.SIGTERM)
		var exitErr error
		select {
		case exitErr = <-s.done:
		case <-time.After(30 * time.Second):
			t.Fatal("serve did not exit after SIGTERM")
		}
		n, fails := stop()
		if exitErr != nil {
			t.Errorf("serve exited with %v, want status 0", exitErr)
		}
		// A failed request is lost only if the server had accepted its
		// connection (logged at debug level); connections still in the
		// listen backlog when the listener closes are reset by the kernel
		// and were never the server's.
		accepted := map[string]bool{}
		s.mu.Lock()
		for _, r := range s.logs {
			if r["msg"] == "connection accepted" {
				accepted[r["remote"].(string)] = true
			}
		}
		s.mu.Unlock()
		refused := 0
		for _, f := range fails {
			if local := localAddr(f); local == "" && strings.Contains(f.Error(), "dial tcp") || local != "" && !accepted[local] {
				refused++
				continue
			}
			t.Errorf("accepted request lost: %v", f)
		}
		t.Logf("%d requests answered during the stop; %d connections reset before the server accepted them", n, refused)
		if n == 0 || !s.logged("stopped") {
			t.Errorf("%d requests answered; stop logged: %v", n, s.logged("stopped"))
		}
	})
}

// loadLoop runs clients that post texts until stopped. stop returns how
// many requests were answered 200 and every failure. With fresh each
// request has its own connection, so that a request the server never
// accepted shows as a refused connection, which is not a failure.
func loadLoop(url string, texts []string, clients int, fresh bool) (stop func() (int64, []error)) {
	var (
		quit = make(chan struct{})
		wg   sync.WaitGroup
		ok   atomic.Int64
		mu   sync.Mutex
		errs []error
	)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: fresh, MaxIdleConnsPerHost: clients}}
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-quit:
					return
				default:
				}
				_, code, err := post(client, url, texts)
				switch {
				case err == nil:
					ok.Add(1)
				case code == 0 && errors.Is(err, syscall.ECONNREFUSED):
					return // the server has stopped accepting: not an accepted request
				default:
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					if code == 0 {
						return
					}
				}
			}
		}()
	}
	return func() (int64, []error) {
		close(quit)
		wg.Wait()
		return ok.Load(), errs
	}
}

// clientAddr finds the client side of the connection in an HTTP client
// error ("read tcp 127.0.0.1:PORT->..."); the transport's errors do not all
// keep the net.OpError.
var clientAddr = regexp.MustCompile(`tcp (127\.0\.0\.1:\d+)->`)

// localAddr is the client address of the connection a request failed on,
// or "" when it failed before connecting.
func localAddr(err error) string {
	if m := clientAddr.FindStringSubmatch(err.Error()); m != nil {
		return m[1]
	}
	return ""
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
