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

// TestONNXRuntimeMatchesPredict runs every model shape, exported, in ONNX
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
	for _, layers := range []int{1, 2} {
		for _, bi := range []bool{false, true} {
			for _, pool := range []string{model.PoolLast, model.PoolMean, model.PoolMax} {
				cfg := model.Config{VocabSize: vocab.Size(), EmbedDim: 16, Hidden: 16, Layers: layers, Bidirectional: bi, Pool: pool}
				t.Run(fmt.Sprintf("layers=%d/bi=%v/%s", layers, bi, pool), func(t *testing.T) {
					dir := t.TempDir()
					f := &model.File{Version: model.FileVersion, Config: cfg, Params: make([]float32, model.NewLayout(cfg).Size()),
						Vocab: vocab.Words(), Preprocess: model.Preprocess(data.DefaultPreprocess()), MaxLen: 48}
					model.InitParams(cfg, f.Params, uint64(layers*10+len(pool)))
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
					for i, row := range m.Inputs(texts) {
						for k, id := range row {
							if k > 0 {
								ids.WriteByte(' ')
							}
							ids.WriteString(strconv.Itoa(int(id)))
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
