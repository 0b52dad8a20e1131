package train

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"trainer/data"
	"trainer/model"
	"trainer/train/device"
)

// TestEngineFreezeRows: a frozen table keeps its weights bit for bit while
// the other parameters train, over 1 and several workers, dense and lazy,
// and the workers still agree with one.
func TestEngineFreezeRows(t *testing.T) {
	const vocab = 40
	d := synthDataset(40, vocab, 3)
	batches := []data.Batch{batchOf(d, 0, 7), batchOf(d, 7, 18), batchOf(d, 18, 40)}
	init := newBowParams(vocab)
	for _, opt := range []device.OptimConfig{{}, {Kind: "sgd", Momentum: 0.9, WeightDecay: 0.01}} {
		for _, lazy := range []bool{false, true} {
			ref, _ := runBow(t, bowRun{workers: 1, optim: opt, sparse: true, lazy: lazy, freeze: true, clip: 0.05}, batches)
			for _, w := range []int{1, 3} {
				got, _ := runBow(t, bowRun{workers: w, optim: opt, sparse: true, lazy: lazy, freeze: true, clip: 0.05}, batches)
				if !sameBits(got[:vocab], init[:vocab]) {
					t.Fatalf("%s lazy %v, %d workers: the frozen table changed", opt.Kind, lazy, w)
				}
				if got[vocab] == init[vocab] {
					t.Fatalf("%s lazy %v, %d workers: the bias did not train", opt.Kind, lazy, w)
				}
				if d := math.Abs(float64(got[vocab] - ref[vocab])); d > 1e-6 {
					t.Fatalf("%s lazy %v: %d workers give bias %v, 1 worker %v", opt.Kind, lazy, w, got[vocab], ref[vocab])
				}
			}
		}
	}
	// Unfrozen, the same steps move the table: the check above can fail.
	if got := runSteps(t, 1, batches, 0); sameBits(got[:vocab], init[:vocab]) {
		t.Fatal("the table did not train without the freeze")
	}
}

func TestEngineFreezeRowsNeedsSparsity(t *testing.T) {
	params := newBowParams(4)
	opt, _ := NewOptimizer(device.DefaultOptimConfig(), len(params))
	e, err := NewEngine(params, []device.Replica{bowReplica{vocab: 4}}, opt, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := e.FreezeRows(); err == nil {
		t.Fatal("froze rows that SetSparsity never marked")
	}
}

// TestAssembleFreezeEmbedding trains the LSTM with its embedding frozen on
// every host shape: the embedding ends bit-identical to its initial
// weights, and everything else trained.
func TestAssembleFreezeEmbedding(t *testing.T) {
	init := make([]float32, model.NewLayout(assembleModel).Size())
	model.InitParams(assembleModel, init, 9)
	emb := model.NewLayout(assembleModel).View("embed")
	cpu := device.Spec{Kind: "cpu"}
	shapes := map[string]Devices{
		"1 worker":           {Device: cpu, CPUWorkers: 1},
		"3 workers":          {Device: cpu, CPUWorkers: 3},
		"hybrid":             {Device: cpu, CPUWorkers: 2, Hybrid: true},
		"2 pipeline stages":  {Device: cpu, CPUWorkers: 2, Pipeline: PipelineOptions{Stages: 2}},
		"2 pipelines of two": {Device: cpu, CPUWorkers: 4, Pipeline: PipelineOptions{Stages: 2}},
	}
	for name, devs := range shapes {
		for _, lazy := range []bool{false, true} {
			got, _, err := assembleRunWith(t, t.TempDir(), devs, nil, 0, func(c *RunConfig, _ *data.BatchOptions) {
				c.Optim.FreezeEmbedding, c.Optim.LazyEmbedding = true, lazy
			})
			if err != nil {
				t.Fatal(err)
			}
			if !sameBits(emb.Slice(got), emb.Slice(init)) {
				t.Fatalf("%s, lazy %v: the frozen embedding changed", name, lazy)
			}
			if sameBits(got[emb.Offset+emb.Len:], init[emb.Offset+emb.Len:]) {
				t.Fatalf("%s, lazy %v: the layers after the embedding did not train", name, lazy)
			}
		}
	}
	got, _, err := assembleRun(t, t.TempDir(), shapes["1 worker"], nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if sameBits(emb.Slice(got), emb.Slice(init)) {
		t.Fatal("the embedding did not train without the freeze")
	}
}

// TestAssembleFreezeRefusedByResident: a device that steps its own weights
// cannot honour the freeze and must say so before training.
func TestAssembleFreezeRefusedByResident(t *testing.T) {
	oc := device.DefaultOptimConfig()
	oc.FreezeEmbedding = true
	_, err := Assemble(RunConfig{Model: assembleModel, Seed: 1, Optim: oc,
		Devices: Devices{Device: device.Spec{Kind: "cpuresident"}}, Loop: LoopConfig{Epochs: 1, Dir: t.TempDir(), Schedule: LRSchedule{Base: 0.01, Decay: "constant", Total: 4}}})
	if err == nil || !strings.Contains(err.Error(), "cannot freeze the embedding") {
		t.Fatalf("error %v, want the resident device to refuse the freeze", err)
	}
}

// vectorsData is a run's data over a small vocabulary: "good" twice,
// "bad" once and the unknown word once among the training tokens.
func vectorsData(t *testing.T) *Data {
	t.Helper()
	v, err := data.NewVocabFromWords([]string{data.PadWord, data.UnkWord, "good", "bad", "movie"})
	if err != nil {
		t.Fatal(err)
	}
	return &Data{Vocab: v, Train: &data.Dataset{Tokens: []int32{2, 3, 2, 1, 4}, Offsets: []int64{0, 3, 5}, Labels: []uint8{1, 0}}}
}

func writeVectors(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "v.vec")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadVectors(t *testing.T) {
	d := vectorsData(t)
	tests := []struct {
		name         string
		content      string
		fold         bool
		words        int
		tokens       int64
		found, blank []int32 // ids with and without a vector
	}{
		{"exact words", "good 1 2\nbad 3 4\nother 5 6\n", false, 2, 3, []int32{2, 3}, []int32{0, 1, 4}},
		{"reserved words never match", "<pad> 1 1\n<unk> 2 2\nmovie 3 3\n", false, 1, 1, []int32{4}, []int32{0, 1, 2, 3}},
		{"case folded", "Good 1 2\nMOVIE 3 4\n", true, 2, 3, []int32{2, 4}, []int32{0, 1, 3}},
		{"no folding for mixed-case vocabularies", "Good 1 2\n", false, 0, 0, nil, []int32{0, 1, 2, 3, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := LoadVectors(writeVectors(t, tt.content), d, 2, tt.fold)
			if err != nil {
				t.Fatal(err)
			}
			want := Coverage{Words: tt.words, VocabWords: 3, Tokens: tt.tokens, TrainTokens: 5}
			if v.Coverage != want {
				t.Errorf("coverage %+v, want %+v", v.Coverage, want)
			}
			for _, id := range tt.found {
				if !v.Found[id] {
					t.Errorf("word %d has no vector", id)
				}
			}
			for _, id := range tt.blank {
				if v.Found[id] {
					t.Errorf("word %d has a vector", id)
				}
			}
		})
	}
	if _, err := LoadVectors(writeVectors(t, "good 1 2 3\n"), d, 2, false); err == nil || !strings.Contains(err.Error(), "vectors of 3 values, want 2") {
		t.Fatalf("error %v, want the dimension refused", err)
	}
}

// TestAssembleVectors: the embedding starts from the vectors found, the
// other rows (padding among them) from the random initialisation.
func TestAssembleVectors(t *testing.T) {
	c := assembleModel
	c.VocabSize, c.EmbedDim = 5, 2
	v, err := LoadVectors(writeVectors(t, "good 1 2\nmovie 3 4\n"), vectorsData(t), 2, false)
	if err != nil {
		t.Fatal(err)
	}
	init := make([]float32, model.NewLayout(c).Size())
	model.InitParams(c, init, 9)
	hooks := LoopHooks{Train: data.NewBatcher(synthDataset(20, c.VocabSize, 1), data.BatchOptions{BatchSize: 5, MaxLen: 10, Seed: 1})}
	run, err := Assemble(RunConfig{Model: c, Seed: 9, Optim: device.DefaultOptimConfig(), Vectors: v, Hooks: hooks,
		Devices: Devices{Device: device.Spec{Kind: "cpu"}, CPUWorkers: 1}, Loop: LoopConfig{Epochs: 1, Dir: t.TempDir(), Schedule: LRSchedule{Base: 0.01, Decay: "constant", Total: 4}}})
	if err != nil {
		t.Fatal(err)
	}
	defer run.Close()
	w, err := run.Weights()
	if err != nil {
		t.Fatal(err)
	}
	emb := model.NewLayout(c).View("embed")
	got, want := emb.Slice(w), append([]float32(nil), emb.Slice(init)...)
	copy(want[2*2:], []float32{1, 2})
	copy(want[4*2:], []float32{3, 4})
	if !sameBits(got, want) {
		t.Fatalf("embedding %v, want %v", got, want)
	}
	if end := emb.Offset + emb.Len; !sameBits(w[end:], init[end:]) || !sameBits(w[:emb.Offset], init[:emb.Offset]) {
		t.Fatal("the vectors changed weights outside the embedding")
	}
	c.EmbedDim = 3
	if _, err := Assemble(RunConfig{Model: c, Optim: device.DefaultOptimConfig(), Vectors: v, Hooks: hooks,
		Devices: Devices{Device: device.Spec{Kind: "cpu"}, CPUWorkers: 1}, Loop: LoopConfig{Epochs: 1, Dir: t.TempDir(), Schedule: LRSchedule{Base: 0.01, Decay: "constant", Total: 4}}}); err == nil || !strings.Contains(err.Error(), "5 words of 2 values for an embedding of 5 x 3") {
		t.Fatalf("error %v, want 2-value vectors refused by a 3-wide embedding", err)
	}
}

// TestLearnVectorsBudget checks how the learning fits its budget: every
// pass when they fit, fewer passes, then a sample of whole reviews of at
// least the budget's tokens; and that coverage counts all the training
// tokens whichever were read.
func TestLearnVectorsBudget(t *testing.T) {
	const vocab = 30
	ds := synthDataset(400, vocab, 5)
	words := []string{data.PadWord, data.UnkWord}
	for i := 2; i < vocab; i++ {
		words = append(words, "w"+strconv.Itoa(i))
	}
	v, err := data.NewVocabFromWords(words)
	if err != nil {
		t.Fatal(err)
	}
	d := &Data{Vocab: v, Train: ds}
	n := int64(len(ds.Tokens))
	cases := []struct {
		name    string
		budget  int64
		passes  int
		sampled bool
	}{
		{"all passes", 5 * n, 5, false},
		{"fewer passes", 2*n + n/2, 2, false},
		{"one pass", n, 1, false},
		{"a sample", n / 3, 1, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			vecs, err := learnVectors(context.Background(), d, 8, 5, 1, c.budget, nil)
			if err != nil {
				t.Fatal(err)
			}
			l := vecs.Learned
			if l.Passes != c.passes {
				t.Errorf("%d passes, want %d", l.Passes, c.passes)
			}
			if !c.sampled && (l.Tokens != n || l.Reviews != int64(ds.Len())) {
				t.Errorf("read %d reviews and %d tokens, want all %d and %d", l.Reviews, l.Tokens, ds.Len(), n)
			}
			// The longest review of synthDataset has 12 tokens.
			if c.sampled && (l.Tokens < c.budget || l.Tokens >= c.budget+12 || l.Reviews >= int64(ds.Len())) {
				t.Errorf("sample of %d reviews and %d tokens for a budget of %d", l.Reviews, l.Tokens, c.budget)
			}
			if vecs.Coverage.TrainTokens != n || vecs.Coverage.Tokens == 0 || vecs.Coverage.Tokens > n {
				t.Errorf("coverage %+v over %d training tokens", vecs.Coverage, n)
			}
			if vecs.Found[data.PadID] || vecs.Found[data.UnkID] {
				t.Error("padding or the unknown word got a vector")
			}
		})
	}
}
