package onnx

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"trainer/data"
	"trainer/internal/predict"
	"trainer/model"
)

// ortDir is where scripts/onnx-check.sh installs onnxruntime-node.
func ortDir() string {
	if d := os.Getenv("ORT_DIR"); d != "" {
		return d
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(cache, "trainer", "onnxruntime-node")
}

// TestONNXRuntimeMatchesPredict runs every model shape, with and without
// the wide n-gram path, exported, in ONNX
// Runtime on 1,000 real reviews and compares P(positive) with
// internal/predict's float32 path at full precision (trainer predict
// prints 4 decimals, which hides differences under 5e-5 from
// scripts/onnx-check.sh). Freshly initialised models agree to about 1e-7
// (float32 rounding), so the tolerance is 2e-6: a misplaced gate, step or
// padded position is off by far more. (Weights scaled up until the states
// saturate drift to a few 1e-5 over two layers and 48 steps, float32
// rounding amplified, not an error.) It needs node and onnxruntime-node
// (installed by scripts/onnx-check.sh) and skips without them.
func TestONNXRuntimeMatchesPredict(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed (scripts/onnx-check.sh installs it)")
	}
	ort := filepath.Join(ortDir(), "node_modules")
	if _, err := os.Stat(filepath.Join(ort, "onnxruntime-node", "package.json")); err != nil {
		t.Skipf("onnxruntime-node not in %s (scripts/onnx-check.sh installs it)", ort)
	}
	raw, err := os.ReadFile("../../../shared/data/amazon_polarity/dev.ft.txt")
	if err != nil {
		t.Skipf("real reviews not available: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")[:1000]
	texts := make([]string, len(lines))
	counts := map[string]int64{}
	tok := data.NewTokenizer(data.DefaultPreprocess())
	for i, l := range lines {
		texts[i] = l[strings.IndexByte(l, ' ')+1:]
		for _, w := range tok.Tokens(texts[i]) {
			counts[string(w)]++
		}
	}
	vocab := testVocab(t, counts, 3000, 2)
	var cfgs []model.Config
	for _, layers := range []int{1, 2} {
		for _, bi := range []bool{false, true} {
			for _, pool := range []string{model.PoolLast, model.PoolMean, model.PoolMax} {
				cfgs = append(cfgs, model.Config{Layers: layers, Bidirectional: bi, Pool: pool})
			}
		}
	}
	// The wide n-gram path: the default model's bigrams, and uni- and
	// trigrams on unidirectional shapes; few buckets so that hashed
	// n-grams collide, as they may in a real table.
	cfgs = append(cfgs,
		model.Config{Layers: 1, Bidirectional: true, Pool: model.PoolMax, Ngrams: 2, Buckets: 1 << 10},
		model.Config{Layers: 1, Pool: model.PoolMean, Ngrams: 1},
		model.Config{Layers: 2, Pool: model.PoolLast, Ngrams: 3, Buckets: 1 << 10},
	)
	for _, cfg := range cfgs {
		cfg.VocabSize, cfg.EmbedDim, cfg.Hidden = vocab.Size(), 16, 16
		t.Run(fmt.Sprintf("layers=%d/bi=%v/%s/ngrams=%d", cfg.Layers, cfg.Bidirectional, cfg.Pool, cfg.Ngrams), func(t *testing.T) {
			dir := t.TempDir()
			f := &model.File{Version: model.FileVersion, Config: cfg, Params: make([]float32, model.NewLayout(cfg).Size()),
				Vocab: vocab.Words(), Preprocess: model.Preprocess(data.DefaultPreprocess()), MaxLen: 48}
			model.InitParams(cfg, f.Params, uint64(cfg.Layers*10+len(cfg.Pool)))
			// InitParams starts the wide table at zero; values of +-0.02
			// make the wide term move the logit by about 1, as a trained
			// table does, so that a wrong feature, pad or gain shows.
			for i, w := 0, model.NewLayout(cfg).Wide(f.Params); i < len(w); i++ {
				w[i] = float32((i*7919)%41-20) / 1000
			}
			path := filepath.Join(dir, "model.bin")
			if err := model.Save(path, f); err != nil {
				t.Fatal(err)
			}
			m, err := predict.Load(path, predict.Options{Workers: 2})
			if err != nil {
				t.Fatal(err)
			}
			prob, err := m.Score(texts)
			if err != nil {
				t.Fatal(err)
			}
			var ids, preds strings.Builder
			var feats []int32
			for i, row := range m.Inputs(texts) {
				writeInts(&ids, row)
				if cfg.Ngrams > 0 {
					// As trainer encode prints them: a tab, then the features.
					feats = model.NgramFeatures(row, cfg, feats)
					ids.WriteByte('\t')
					writeInts(&ids, feats)
				}
				ids.WriteByte('\n')
				b, _ := json.Marshal(map[string]float64{"prob": prob[i]})
				preds.Write(append(b, '\n'))
			}
			os.WriteFile(filepath.Join(dir, "ids.txt"), []byte(ids.String()), 0o644)
			os.WriteFile(filepath.Join(dir, "predict.jsonl"), []byte(preds.String()), 0o644)
			if err := Write(filepath.Join(dir, "model.onnx"), f); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(node, "../../scripts/onnx/check.js", filepath.Join(dir, "model.onnx"),
				filepath.Join(dir, "ids.txt"), filepath.Join(dir, "predict.jsonl"), "2e-6")
			cmd.Env = append(os.Environ(), "NODE_PATH="+ort)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("ONNX Runtime differs from predict: %v\n%s", err, out)
			}
			t.Log(strings.TrimSpace(string(out)))
		})
	}
}

// writeInts writes v space-separated.
func writeInts(b *strings.Builder, v []int32) {
	for k, x := range v {
		if k > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.Itoa(int(x)))
	}
}

// testVocab is the vocabulary prep would build from counts: the size-2
// most frequent words with at least minCount occurrences, ties by byte
// order, after the padding and unknown words.
func testVocab(t *testing.T, counts map[string]int64, size, minCount int) *data.Vocab {
	t.Helper()
	var words []string
	for w, n := range counts {
		if n >= int64(minCount) {
			words = append(words, w)
		}
	}
	sort.Slice(words, func(i, j int) bool {
		if counts[words[i]] != counts[words[j]] {
			return counts[words[i]] > counts[words[j]]
		}
		return words[i] < words[j]
	})
	words = words[:min(len(words), size-2)]
	v, err := data.NewVocabFromWords(append([]string{data.PadWord, data.UnkWord}, words...))
	if err != nil {
		t.Fatal(err)
	}
	return v
}
