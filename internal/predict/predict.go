// Package predict scores review text with a trained model file: the one
// inference path behind `trainer predict`, `eval`, `serve` and `report`, so
// that the same text gets the same probability whichever surface asks.
//
// Text goes through the model's own preprocessing and vocabulary (the
// settings stored in the model file), reviews are grouped by length into
// batches, and the batches are spread over CPU workers that share one
// inference table (model.Inference).
package predict

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"trainer/data"
	"trainer/model"
	"trainer/train"
	"trainer/train/device"
)

// Precisions a model can score in: the arithmetic of the recurrent products.
const (
	FP32 = "fp32"
	Int8 = "int8" // 8-bit weights and activations, on CPUs with AVX-512 VNNI
)

// DefaultBatch is the number of reviews per forward batch when Options
// leaves it unset: long enough to keep every worker's products dense, small
// enough that a length bucket stays tight.
const DefaultBatch = 256

// Options say how a model scores.
type Options struct {
	Workers   int  // goroutines scoring batches; < 1 means 1
	Int8      bool // 8-bit recurrent products where the CPU has AVX-512 VNNI (fp32 elsewhere)
	BatchSize int  // reviews per forward batch; < 1 means DefaultBatch
	// Sets is how many worker sets are kept between calls, for callers
	// that score from several goroutines at once (a server's scorers):
	// a call that finds every kept set busy makes a new one and lets it go
	// afterwards. < 1 means 1.
	Sets int
}

// Model is a model file ready to score text. It is safe for concurrent use:
// each call to Score or Logits takes the workers it needs for its duration.
type Model struct {
	Path  string
	File  *model.File
	Vocab *data.Vocab

	batch int
	int8  bool
	pool  chan []device.Forwarder // one set of workers per concurrent call
	fws   int
	inf   *model.Inference
}

// Load reads a model file and prepares its workers.
func Load(path string, opt Options) (*Model, error) {
	f, err := model.Load(path)
	if err != nil {
		return nil, err
	}
	return New(path, f, opt)
}

// New prepares workers for a model file already loaded from path.
func New(path string, f *model.File, opt Options) (*Model, error) {
	v, err := data.NewVocabFromWords(f.Vocab)
	if err != nil {
		return nil, fmt.Errorf("model %s: vocabulary: %w", path, err)
	}
	if v.Size() != f.Config.VocabSize {
		return nil, fmt.Errorf("model %s: vocabulary has %d words, the network %d", path, v.Size(), f.Config.VocabSize)
	}
	inf, err := model.NewInferenceWith(f.Config, f.Params, model.InferenceOptions{Int8: opt.Int8})
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", path, err)
	}
	m := &Model{Path: path, File: f, Vocab: v, batch: opt.BatchSize, int8: inf.Int8(), inf: inf,
		fws: max(opt.Workers, 1), pool: make(chan []device.Forwarder, max(opt.Sets, 1))}
	if m.batch < 1 {
		m.batch = DefaultBatch
	}
	m.pool <- m.newWorkers()
	return m, nil
}

// newWorkers makes one set of forward workers over the shared inference
// table; each has its own scratch workspace.
func (m *Model) newWorkers() []device.Forwarder {
	fw := make([]device.Forwarder, m.fws)
	for i := range fw {
		fw[i] = worker{inf: m.inf, ws: model.NewWorkspace(m.File.Config)}
	}
	return fw
}

// take returns a free set of workers, making one when every set is busy;
// give puts it back for the next call.
func (m *Model) take() []device.Forwarder {
	select {
	case fw := <-m.pool:
		return fw
	default:
		return m.newWorkers()
	}
}

func (m *Model) give(fw []device.Forwarder) {
	select {
	case m.pool <- fw:
	default: // a set is already waiting: let this one go
	}
}

// Precision names the arithmetic the model scores in (FP32 or Int8).
func (m *Model) Precision() string {
	if m.int8 {
		return Int8
	}
	return FP32
}

// Workers is the number of goroutines one call scores on.
func (m *Model) Workers() int { return m.fws }

// BatchSize is the number of reviews per forward batch.
func (m *Model) BatchSize() int { return m.batch }

// MaxLen is the number of tokens a review is cut to, as in training.
func (m *Model) MaxLen() int { return m.File.MaxLen }

// Encode maps texts to the token ids the model reads, through the model's
// preprocessing and vocabulary, on the model's workers. A text with no
// words left after cleaning becomes a single unknown word, so every text
// gets a score.
func (m *Model) Encode(texts []string) [][]int32 {
	ids := make([][]int32, len(texts))
	workers := min(m.fws, max(len(texts), 1))
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := data.ShardRange(len(texts), w, workers)
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok := data.NewTokenizer(data.Preprocess(m.File.Preprocess))
			var buf []int32
			for i := lo; i < hi; i++ {
				buf = m.Vocab.Encode(tok, texts[i], buf[:0])
				if len(buf) == 0 {
					buf = append(buf, data.UnkID)
				}
				ids[i] = slices.Clone(buf)
			}
		}()
	}
	wg.Wait()
	return ids
}

// Inputs are the token ids the network actually reads for each text:
// Encode's ids cut to MaxLen as the forward batches cut them. They are what
// `trainer encode` prints, so that another runtime (an exported ONNX model)
// can be fed exactly what predict scores.
func (m *Model) Inputs(texts []string) [][]int32 {
	ids := m.Encode(texts)
	if n := m.File.MaxLen; n > 0 {
		for i, row := range ids {
			ids[i] = row[:min(len(row), n)]
		}
	}
	return ids
}

// Score returns P(positive) for every text, in input order.
func (m *Model) Score(texts []string) ([]float64, error) {
	logits, err := m.Logits(m.Encode(texts))
	if err != nil {
		return nil, err
	}
	prob := make([]float64, len(logits))
	for i, z := range logits {
		prob[i] = train.Sigmoid(float64(z))
	}
	return prob, nil
}

// Logits scores encoded reviews (as Encode returns them), in input order.
// Reviews of similar length are batched together: little padding, and the
// recurrence's shrinking active set stays dense.
func (m *Model) Logits(ids [][]int32) ([]float32, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	for i, row := range ids {
		if len(row) == 0 {
			return nil, fmt.Errorf("review %d has no tokens", i)
		}
	}
	order := make([]int32, len(ids))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortStableFunc(order, func(a, b int32) int { return len(ids[a]) - len(ids[b]) })
	var batches []data.Batch
	labels := make([]uint8, m.batch)
	for lo := 0; lo < len(order); lo += m.batch {
		hi := min(lo+m.batch, len(order))
		rows := make([][]int32, hi-lo)
		for k, i := range order[lo:hi] {
			rows[k] = ids[i]
		}
		batches = append(batches, data.MakeBatch(rows, labels[:hi-lo], m.File.MaxLen))
	}
	fw := m.take()
	defer m.give(fw)
	out, err := train.ForwardAll(fw, m.File.Params, batches)
	if err != nil {
		return nil, err
	}
	logits := make([]float32, len(ids))
	k := 0
	for _, l := range out {
		for _, z := range l {
			logits[order[k]] = z
			k++
		}
	}
	if k != len(ids) {
		return nil, errors.New("predict: scored a different number of reviews than given")
	}
	return logits, nil
}

// Evaluate scores labelled batches (as a data.Batcher cuts them) and
// returns the metrics.
func (m *Model) Evaluate(batches []data.Batch) (train.Metrics, error) {
	fw := m.take()
	defer m.give(fw)
	return train.Evaluate(fw, m.File.Params, batches)
}

// worker scores batches through the model's inference path, which
// tabulates the first layer's input projection per vocabulary word once and
// so skips a third of the forward arithmetic. The table is shared by all
// workers; each has its own scratch workspace.
type worker struct {
	inf *model.Inference
	ws  *model.Workspace
}

// Forward ignores params: the Inference was built from the model's own.
func (w worker) Forward(_ []float32, b data.Batch, logits []float32) error {
	w.ws.Predict(w.inf, b, logits)
	return nil
}
