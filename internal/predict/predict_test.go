package predict

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"trainer/data"
	"trainer/model"
	"trainer/train"
)

// testModel writes a small randomly initialised model over a fixed
// vocabulary and returns its path.
func testModel(t *testing.T) string {
	t.Helper()
	return testModelOf(t, model.Config{EmbedDim: 8, Hidden: 6, Layers: 1, Pool: model.PoolMean})
}

// testModelOf is testModel for the shape of cfg (its VocabSize is filled
// in), with a wide n-gram table of random values when cfg has one, scaled
// so that the wide term is about one logit.
func testModelOf(t *testing.T, cfg model.Config) string {
	t.Helper()
	v, err := data.NewVocabFromWords([]string{data.PadWord, data.UnkWord, "great", "awful", "product", "broken", "love"})
	if err != nil {
		t.Fatal(err)
	}
	cfg.VocabSize = v.Size()
	f := &model.File{Version: model.FileVersion, Config: cfg, Params: make([]float32, model.NewLayout(cfg).Size()),
		Vocab: v.Words(), Preprocess: model.Preprocess(data.DefaultPreprocess()), MaxLen: 4}
	model.InitParams(cfg, f.Params, 7)
	rng := rand.New(rand.NewPCG(7, 1))
	for i, wide := 0, model.NewLayout(cfg).Wide(f.Params); i < len(wide); i++ {
		wide[i] = float32(rng.NormFloat64() / model.WideScale)
	}
	path := filepath.Join(t.TempDir(), "model.bin")
	if err := model.Save(path, f); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestScoreNgramModel checks that scoring a model with the wide n-gram path
// adds its term as training does: the probabilities equal the training
// forward pass's, within float32 rounding, or within the 8-bit error where
// the CPU scores in 8 bits.
func TestScoreNgramModel(t *testing.T) {
	path := testModelOf(t, model.Config{EmbedDim: 16, Hidden: 16, Layers: 1, Bidirectional: true, Pool: model.PoolMax, Ngrams: 3, Buckets: 13})
	texts := []string{"Great product, love it!", "awful awful broken product", "love", "broken great broken great"}
	for _, eightBit := range []bool{false, true} {
		m, err := Load(path, Options{Workers: 2, BatchSize: 3, Int8: eightBit})
		if err != nil {
			t.Fatal(err)
		}
		tol := 1e-5
		if m.Precision() == Int8 {
			tol = 5e-3
		}
		prob, err := m.Score(texts)
		if err != nil {
			t.Fatal(err)
		}
		ws := model.NewWorkspace(m.File.Config)
		for i, row := range m.Encode(texts) {
			b := data.MakeBatch([][]int32{row}, []uint8{0}, m.MaxLen())
			logit := make([]float32, 1)
			ws.Forward(m.File.Params, b, logit)
			if want := train.Sigmoid(float64(logit[0])); math.Abs(prob[i]-want) > tol {
				t.Errorf("%s text %d: P(pos) %g, training forward %g", m.Precision(), i, prob[i], want)
			}
		}
	}
}

func TestScoreMatchesReferenceForward(t *testing.T) {
	path := testModel(t)
	for _, workers := range []int{1, 3} {
		m, err := Load(path, Options{Workers: workers, BatchSize: 2})
		if err != nil {
			t.Fatal(err)
		}
		texts := []string{"Great product, love it!", "", "awful awful broken product great great love", "unseenword"}
		prob, err := m.Score(texts)
		if err != nil {
			t.Fatal(err)
		}
		ids := m.Encode(texts)
		// The training workspace's forward pass is the oracle: one review
		// at a time, no batching, no inference table.
		ws := model.NewWorkspace(m.File.Config)
		for i, row := range ids {
			if len(row) == 0 {
				t.Fatalf("text %d encoded to no tokens", i)
			}
			b := data.MakeBatch([][]int32{row}, []uint8{0}, m.MaxLen())
			logit := make([]float32, 1)
			ws.Forward(m.File.Params, b, logit)
			want := train.Sigmoid(float64(logit[0]))
			if d := prob[i] - want; d > 1e-5 || d < -1e-5 {
				t.Errorf("workers %d text %d: P(pos) %g, reference %g", workers, i, prob[i], want)
			}
		}
		if ids[1][0] != data.UnkID || len(ids[1]) != 1 {
			t.Errorf("empty text encoded to %v, want one unknown word", ids[1])
		}
	}
}

func TestScoreConcurrentCalls(t *testing.T) {
	m, err := Load(testModel(t), Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{"great", "awful broken", "love this product"}
	want, err := m.Score(texts)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := m.Score(texts)
			if err != nil {
				t.Error(err)
				return
			}
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("concurrent score %d: %g, alone %g", i, got[i], want[i])
				}
			}
		}()
	}
	wg.Wait()
}

func TestLoadRejectsMissingFile(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "none.bin"), Options{}); err == nil {
		t.Fatal("loading a missing model file succeeded")
	}
}

func TestInputsAreEncodeCutToMaxLen(t *testing.T) {
	m, err := Load(testModel(t), Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{"great great great great great awful", "love", "", "great product broken awful"}
	enc, in := m.Encode(texts), m.Inputs(texts)
	for i := range texts {
		want := enc[i][:min(len(enc[i]), m.MaxLen())]
		if !slices.Equal(in[i], want) {
			t.Errorf("text %d: inputs %v, want %v (encode %v cut to %d)", i, in[i], want, enc[i], m.MaxLen())
		}
	}
	if len(in[0]) != m.MaxLen() {
		t.Errorf("a %d-word text gave %d inputs, max len %d", len(enc[0]), len(in[0]), m.MaxLen())
	}
}
