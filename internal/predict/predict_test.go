package predict

import (
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
	v, err := data.NewVocabFromWords([]string{data.PadWord, data.UnkWord, "great", "awful", "product", "broken", "love"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := model.Config{VocabSize: v.Size(), EmbedDim: 8, Hidden: 6, Layers: 1, Pool: model.PoolMean}
	f := &model.File{Version: model.FileVersion, Config: cfg, Params: make([]float32, model.NewLayout(cfg).Size()),
		Vocab: v.Words(), Preprocess: model.Preprocess(data.DefaultPreprocess()), MaxLen: 4}
	model.InitParams(cfg, f.Params, 7)
	path := filepath.Join(t.TempDir(), "model.bin")
	if err := model.Save(path, f); err != nil {
		t.Fatal(err)
	}
	return path
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
