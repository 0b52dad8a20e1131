// Command servebench is the load benchmark of `trainer serve`. It starts
// the server on a free 127.0.0.1 port (never another host), sends bounded
// loops of requests of 1 and 64 reviews from 1, 16 and 64 concurrent
// clients, and prints throughput and p50/p95/p99 latency per cell; then
// single-review requests paced at half the 64x64 cell's review rate (the
// latency at half load); and `trainer predict --file` throughput on the
// same reviews in the same run, for the served/predict ratio.
//
//	go build -o bin/trainer ./cmd/trainer
//	go run ./internal/serve/servebench --trainer bin/trainer --model runs/x/model.bin
//
// Run it on an otherwise idle machine: its figures are timings.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "servebench: %v\n", err)
		os.Exit(1)
	}
}

type config struct {
	trainer, model, reviews string
	clients, sizes          []int
	requests                int           // per cell, at most
	duration                time.Duration // per cell, at most
	serveArgs               []string
}

func run() error {
	var c config
	var clients, sizes, serveArgs string
	flag.StringVar(&c.trainer, "trainer", "bin/trainer", "trainer binary")
	flag.StringVar(&c.model, "model", "", "model file (required)")
	flag.StringVar(&c.reviews, "reviews", "../shared/data/amazon_polarity/dev.ft.txt", "reviews, one a line (fastText labels are ignored)")
	flag.StringVar(&clients, "clients", "1,16,64", "concurrent clients per cell")
	flag.StringVar(&sizes, "sizes", "1,64", "reviews per request per cell")
	flag.IntVar(&c.requests, "requests", 2000, "most requests per cell")
	flag.DurationVar(&c.duration, "duration", 20*time.Second, "longest time per cell")
	flag.StringVar(&serveArgs, "serve-args", "", "extra flags for trainer serve, space separated")
	flag.Parse()
	if c.model == "" {
		return errors.New("--model is required")
	}
	var err error
	if c.clients, err = intList(clients); err != nil {
		return err
	}
	if c.sizes, err = intList(sizes); err != nil {
		return err
	}
	c.serveArgs = strings.Fields(serveArgs)
	texts, err := readTexts(c.reviews)
	if err != nil {
		return err
	}

	srv, err := startServe(c)
	if err != nil {
		return err
	}
	defer srv.stop()
	fmt.Printf("trainer serve on %s, model %s, %d distinct reviews; at most %d requests or %v per cell\n\n",
		srv.url, c.model, len(texts), c.requests, c.duration)
	fmt.Println("| reviews/request | clients | requests | reviews/s | p50 ms | p95 ms | p99 ms | errors |")
	fmt.Println("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	var full cell
	for _, size := range c.sizes {
		for _, n := range c.clients {
			r := closedLoop(srv.url, texts, size, n, c.requests, c.duration)
			r.print(fmt.Sprint(n))
			if size == slices.Max(c.sizes) && n == slices.Max(c.clients) {
				full = r
			}
		}
	}
	if full.reviewsPerSec > 0 {
		rate := full.reviewsPerSec / 2
		r := paced(srv.url, texts, rate, slices.Max(c.clients), c.requests, c.duration)
		r.print(fmt.Sprintf("paced %.0f/s", rate))
	}

	// predict --file on the reviews the largest cell sent, in one process.
	n := max(full.reviews, len(texts))
	file, err := os.CreateTemp("", "servebench-*.txt")
	if err != nil {
		return err
	}
	defer os.Remove(file.Name())
	w := bufio.NewWriter(file)
	for i := range n {
		w.WriteString(texts[i%len(texts)] + "\n")
	}
	if err := errors.Join(w.Flush(), file.Close()); err != nil {
		return err
	}
	start := time.Now()
	cmd := exec.Command(c.trainer, "predict", "--model", c.model, "--file", file.Name())
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("predict: %v: %s", err, stderr.Bytes())
	}
	perSec := float64(n) / time.Since(start).Seconds()
	fmt.Printf("\npredict --file: %d reviews, %.0f reviews/s (process wall time, model load included)\n", n, perSec)
	if full.reviewsPerSec > 0 {
		fmt.Printf("served/predict at %d reviews/request from %d clients: %.0f%%\n",
			slices.Max(c.sizes), slices.Max(c.clients), 100*full.reviewsPerSec/perSec)
	}
	return nil
}

// cell is the outcome of one load pattern.
type cell struct {
	size, requests, reviews, errors int
	reviewsPerSec                   float64
	latencies                       []time.Duration
}

func (r cell) print(clients string) {
	q := func(p float64) string {
		if len(r.latencies) == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f", float64(r.latencies[int(p*float64(len(r.latencies)-1))])/1e6)
	}
	fmt.Printf("| %d | %s | %d | %.0f | %s | %s | %s | %d |\n", r.size, clients, r.requests, r.reviewsPerSec, q(.50), q(.95), q(.99), r.errors)
}

// closedLoop runs clients that each send a request as soon as the last is
// answered, until maxReq requests are sent or maxDur has passed.
func closedLoop(url string, texts []string, size, clients, maxReq int, maxDur time.Duration) cell {
	var sent atomic.Int64
	deadline := time.Now().Add(maxDur)
	return measure(url, texts, size, clients, func() bool {
		return sent.Add(1) <= int64(maxReq) && time.Now().Before(deadline)
	})
}

// paced sends single-review requests at rate reviews per second (open
// loop, from up to clients goroutines), so latency is measured at a known
// load rather than at saturation.
func paced(url string, texts []string, rate float64, clients, maxReq int, maxDur time.Duration) cell {
	interval := time.Duration(float64(time.Second) / rate)
	var sent atomic.Int64
	start := time.Now()
	deadline := start.Add(maxDur)
	return measure(url, texts, 1, clients, func() bool {
		k := sent.Add(1)
		if k > int64(maxReq) {
			return false
		}
		time.Sleep(time.Until(start.Add(time.Duration(k-1) * interval)))
		return time.Now().Before(deadline)
	})
}

// measure runs clients goroutines that send size-review requests while
// more() allows, and collects latencies.
func measure(url string, texts []string, size, clients int, more func() bool) cell {
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
	client := &http.Client{Transport: tr, Timeout: time.Minute}
	defer tr.CloseIdleConnections()
	var (
		mu        sync.Mutex
		lat       []time.Duration
		errs, rev int
		next      atomic.Int64
		wg        sync.WaitGroup
	)
	start := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for more() {
				lo := int(next.Add(int64(size))-int64(size)) % len(texts)
				batch := make([]string, size)
				for i := range batch {
					batch[i] = texts[(lo+i)%len(texts)]
				}
				body, _ := json.Marshal(map[string][]string{"texts": batch})
				t0 := time.Now()
				resp, err := client.Post(url+"/v1/predict", "application/json", bytes.NewReader(body))
				ok := err == nil && resp.StatusCode == 200
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				d := time.Since(t0)
				mu.Lock()
				if ok {
					lat = append(lat, d)
					rev += size
				} else {
					errs++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	slices.Sort(lat)
	return cell{size: size, requests: len(lat) + errs, reviews: rev, errors: errs, reviewsPerSec: float64(rev) / el.Seconds(), latencies: lat}
}

// server is the trainer serve process under test.
type server struct {
	cmd *exec.Cmd
	url string
}

func startServe(c config) (*server, error) {
	args := append([]string{"serve", "--model", c.model, "--addr", "127.0.0.1:0", "--log-format", "json"}, c.serveArgs...)
	cmd := exec.Command(c.trainer, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		var rec struct{ Msg, Addr string }
		if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "serving" {
			go io.Copy(io.Discard, stderr)
			if !strings.HasPrefix(rec.Addr, "127.0.0.1:") {
				cmd.Process.Kill()
				return nil, fmt.Errorf("serve listens on %s, not loopback", rec.Addr)
			}
			return &server{cmd: cmd, url: "http://" + rec.Addr}, nil
		}
	}
	cmd.Wait()
	return nil, fmt.Errorf("%s serve exited before serving", filepath.Base(c.trainer))
}

func (s *server) stop() {
	s.cmd.Process.Signal(os.Interrupt)
	s.cmd.Wait()
}

func readTexts(path string) ([]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var texts []string
	for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		if strings.HasPrefix(l, "__label__") {
			if i := strings.IndexByte(l, ' '); i >= 0 {
				l = l[i+1:]
			}
		}
		texts = append(texts, l)
	}
	if len(texts) == 0 {
		return nil, fmt.Errorf("%s: no reviews", path)
	}
	return texts, nil
}

func intList(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q: want positive integers separated by commas", s)
		}
		out = append(out, n)
	}
	return out, nil
}
