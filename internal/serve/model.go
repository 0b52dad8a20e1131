package serve

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"trainer/internal/predict"
)

// probeTexts are scored by every model before it is put in service: a file
// that loads but cannot score (or scores NaN) must never replace a working one.
var probeTexts = []string{"great product, works perfectly", "broke after two days", ""}

// loaded is one model in service: what requests are scored with, and what
// /v1/model and /metrics say about it. It never changes once published.
type loaded struct {
	m        *predict.Model
	digest   string    // SHA-256 of the whole model file, hex
	loadedAt time.Time // when it went into service
	loadTook time.Duration
}

// loadModel reads, verifies and probes the model file at path. The digest
// is taken before and after the load; a file replaced in between is read
// again, so the digest always names the bytes that were loaded.
func loadModel(path string, opt predict.Options) (*loaded, error) {
	start := time.Now()
	for attempt := 0; ; attempt++ {
		before, err := fileDigest(path)
		if err != nil {
			return nil, err
		}
		m, err := predict.Load(path, opt)
		if err != nil {
			return nil, err
		}
		after, err := fileDigest(path)
		if err != nil {
			return nil, err
		}
		if before != after {
			if attempt < 3 {
				continue
			}
			return nil, fmt.Errorf("model %s: the file kept changing while it was read", path)
		}
		if err := probe(m); err != nil {
			return nil, fmt.Errorf("model %s: %w", path, err)
		}
		return &loaded{m: m, digest: after, loadedAt: time.Now(), loadTook: time.Since(start)}, nil
	}
}

// probe scores a few fixed texts and rejects a model whose scores are not
// probabilities.
func probe(m *predict.Model) error {
	prob, err := m.Score(probeTexts)
	if err != nil {
		return fmt.Errorf("probe scoring: %w", err)
	}
	for i, p := range prob {
		if math.IsNaN(p) || p < 0 || p > 1 {
			return fmt.Errorf("probe scoring: text %d scored %v, not a probability", i, p)
		}
	}
	if len(prob) != len(probeTexts) {
		return errors.New("probe scoring: wrong number of scores")
	}
	return nil
}

// fileDigest is the hex SHA-256 of the file at path.
func fileDigest(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("load model: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("load model %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// fileStamp identifies a version of a file cheaply, for --watch.
type fileStamp struct {
	size int64
	mod  time.Time
}

func stampOf(path string) (fileStamp, error) {
	st, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{size: st.Size(), mod: st.ModTime()}, nil
}
