package onnx

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	pb "github.com/advancedclimatesystems/gonnx/onnx"
	"google.golang.org/protobuf/proto"

	"trainer/data"
	"trainer/model"
)

func testFile(t *testing.T, cfg model.Config) *model.File {
	t.Helper()
	words := []string{data.PadWord, data.UnkWord, "great", "awful", "product"}
	cfg.VocabSize = len(words)
	f := &model.File{Version: model.FileVersion, Config: cfg, Params: make([]float32, model.NewLayout(cfg).Size()),
		Vocab: words, Preprocess: model.Preprocess(data.DefaultPreprocess()), MaxLen: 7}
	model.InitParams(cfg, f.Params, 11)
	return f
}

// decodeModel parses raw with the generated ONNX types, which the
// exporter does not link.
func decodeModel(t *testing.T, raw []byte) *pb.ModelProto {
	t.Helper()
	var m pb.ModelProto
	if err := proto.Unmarshal(raw, &m); err != nil {
		t.Fatalf("the encoded model does not parse as ONNX: %v", err)
	}
	return &m
}

func initializer(t *testing.T, m *pb.ModelProto, name string) *pb.TensorProto {
	t.Helper()
	for _, x := range m.Graph.Initializer {
		if x.Name == name {
			return x
		}
	}
	t.Fatalf("no initializer %q", name)
	return nil
}

func floatsOf(x *pb.TensorProto) []float32 {
	v := make([]float32, len(x.RawData)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(x.RawData[4*i:]))
	}
	return v
}

// TestGraphShapes builds every model shape and checks that the graph is
// well formed (each node's inputs defined before it, outputs produced),
// that the weights are where ONNX's LSTM expects them, gates reordered,
// and that the metadata can rebuild the encoder.
func TestGraphShapes(t *testing.T) {
	for _, layers := range []int{1, 2} {
		for _, bi := range []bool{false, true} {
			for _, pool := range []string{model.PoolLast, model.PoolMean, model.PoolMax} {
				cfg := model.Config{EmbedDim: 6, Hidden: 5, Layers: layers, Bidirectional: bi, Pool: pool}
				t.Run(fmt.Sprintf("layers=%d/bi=%v/%s", layers, bi, pool), func(t *testing.T) {
					f := testFile(t, cfg)
					built, err := Build(f)
					if err != nil {
						t.Fatal(err)
					}
					// Every check reads the model back through generated
					// ONNX types: the hand encoder is checked against them.
					m := decodeModel(t, built.Marshal())
					if m.OpsetImport[0].Version < 17 || m.IrVersion != IRVersion {
						t.Errorf("opset %d, IR %d", m.OpsetImport[0].Version, m.IrVersion)
					}
					defined := map[string]bool{InputIDs: true, InputLengths: true}
					for _, x := range m.Graph.Initializer {
						defined[x.Name] = true
					}
					lstms := 0
					for _, n := range m.Graph.Node {
						for _, in := range n.Input {
							if !defined[in] {
								t.Errorf("node %s reads %q before it is defined", n.Name, in)
							}
						}
						for _, out := range n.Output {
							defined[out] = true
						}
						if n.OpType == "LSTM" {
							lstms++
						}
					}
					if !defined[OutputProb] || !defined[OutputLogit] || lstms != layers {
						t.Errorf("outputs defined: prob %v logit %v; %d LSTM nodes, want %d", defined[OutputProb], defined[OutputLogit], lstms, layers)
					}
					lay := model.NewLayout(f.Config)
					h, dirs := cfg.Hidden, cfg.Dirs()
					for l := range layers {
						w := initializer(t, m, fmt.Sprintf("lstm%d_W", l))
						r := initializer(t, m, fmt.Sprintf("lstm%d_R", l))
						b := initializer(t, m, fmt.Sprintf("lstm%d_B", l))
						in := cfg.InDim(l)
						if fmt.Sprint(w.Dims) != fmt.Sprint([]int64{int64(dirs), int64(4 * h), int64(in)}) ||
							fmt.Sprint(r.Dims) != fmt.Sprint([]int64{int64(dirs), int64(4 * h), int64(h)}) ||
							fmt.Sprint(b.Dims) != fmt.Sprint([]int64{int64(dirs), int64(8 * h)}) {
							t.Fatalf("layer %d: W %v R %v B %v", l, w.Dims, r.Dims, b.Dims)
						}
						wv, bv := floatsOf(w), floatsOf(b)
						for d := range dirs {
							ours := lay.LSTM(f.Params, l, d)
							// ONNX gate blocks i, o, f, c are trainer's i, f, g, o blocks 0, 3, 1, 2.
							for onnxGate, ourGate := range []int{0, 3, 1, 2} {
								got := wv[(d*4+onnxGate)*h*in : (d*4+onnxGate+1)*h*in]
								want := ours.Wih[ourGate*h*in : (ourGate+1)*h*in]
								if fmt.Sprint(got) != fmt.Sprint(want) {
									t.Errorf("layer %d dir %d ONNX gate %d: W is not trainer's gate %d", l, d, onnxGate, ourGate)
								}
								gotB := bv[d*8*h+onnxGate*h : d*8*h+(onnxGate+1)*h]
								if fmt.Sprint(gotB) != fmt.Sprint(ours.B[ourGate*h:(ourGate+1)*h]) {
									t.Errorf("layer %d dir %d ONNX gate %d: bias is not trainer's gate %d", l, d, onnxGate, ourGate)
								}
							}
							for _, v := range bv[d*8*h+4*h : (d+1)*8*h] {
								if v != 0 {
									t.Fatal("recurrent bias must be zero: trainer has one bias per gate")
								}
							}
						}
					}
					meta := map[string]string{}
					for _, kv := range m.MetadataProps {
						meta[kv.Key] = kv.Value
					}
					if meta["trainer.vocab"] != strings.Join(f.Vocab, "\n") || meta["trainer.max_len"] != "7" ||
						!strings.Contains(meta["trainer.preprocess"], `"tokenizer"`) {
						t.Errorf("metadata %v", meta)
					}
				})
			}
		}
	}
}

func TestWriteReadsBack(t *testing.T) {
	f := testFile(t, model.Config{EmbedDim: 4, Hidden: 3, Layers: 1, Pool: model.PoolMean})
	path := filepath.Join(t.TempDir(), "model.onnx")
	if err := Write(path, f); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := decodeModel(t, raw)
	if got := floatsOf(initializer(t, m, "embed")); len(got) != 5*4 || got[7] != f.Params[7] {
		t.Error("embedding did not survive the round trip")
	}
}

// TestExport: the model file becomes DIR/model.onnx, the directory made
// on the way; a missing model file writes nothing.
func TestExport(t *testing.T) {
	dir := t.TempDir()
	modelPath := filepath.Join(dir, "model.bin")
	if err := model.Save(modelPath, testFile(t, model.Config{EmbedDim: 4, Hidden: 3, Layers: 1, Pool: model.PoolMean})); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "new", "export")
	path, err := Export(modelPath, out)
	if err != nil || path != filepath.Join(out, FileName) {
		t.Fatalf("Export = %q, %v", path, err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	decodeModel(t, raw)
	if _, err := Export(filepath.Join(dir, "missing.bin"), filepath.Join(dir, "none")); err == nil || !strings.HasPrefix(err.Error(), "export: ") {
		t.Errorf("missing model: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "none")); !os.IsNotExist(err) {
		t.Errorf("a failed export made its directory: %v", err)
	}
}

func TestBuildRejectsBadFiles(t *testing.T) {
	f := testFile(t, model.Config{EmbedDim: 4, Hidden: 3, Layers: 1, Pool: model.PoolMean})
	short := *f
	short.Params = f.Params[:10]
	pool := *f
	pool.Config.Pool = "median"
	for name, bad := range map[string]*model.File{"short params": &short, "unknown pool": &pool} {
		if _, err := Build(bad); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestNgramGraph: a model with the wide n-gram path gets the ngram_ids
// input, its table as an initializer and the n-gram metadata; one without
// keeps exactly the two inputs it always had. The numbers are checked
// against predict by TestONNXRuntimeMatchesPredict.
func TestNgramGraph(t *testing.T) {
	cases := []struct {
		name   string
		cfg    model.Config
		inputs string
	}{
		{"off", model.Config{Ngrams: 0}, "[ids lengths]"},
		{"unigrams", model.Config{Ngrams: 1}, "[ids lengths ngram_ids]"},
		{"bigrams", model.Config{Ngrams: 2, Buckets: 8, Bidirectional: true, Pool: model.PoolMax}, "[ids lengths ngram_ids]"},
		{"trigrams", model.Config{Ngrams: 3, Buckets: 16, Layers: 2, Pool: model.PoolLast}, "[ids lengths ngram_ids]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.EmbedDim, cfg.Hidden, cfg.Layers = 4, 3, max(cfg.Layers, 1)
			f := testFile(t, cfg)
			lay := model.NewLayout(f.Config)
			wide := lay.Wide(f.Params)
			for i := range wide {
				wide[i] = float32(i+1) / 64 // InitParams leaves the table zero: make it tell rows apart
			}
			built, err := Build(f)
			if err != nil {
				t.Fatal(err)
			}
			m := decodeModel(t, built.Marshal())
			var inputs []string
			for _, in := range m.Graph.Input {
				inputs = append(inputs, in.Name)
			}
			if fmt.Sprint(inputs) != tc.inputs {
				t.Fatalf("inputs %v, want %s", inputs, tc.inputs)
			}
			checkWellFormed(t, m, inputs)
			meta := map[string]string{}
			for _, kv := range m.MetadataProps {
				meta[kv.Key] = kv.Value
			}
			if cfg.Ngrams == 0 {
				for _, x := range m.Graph.Initializer {
					if x.Name == "wide" {
						t.Error("a model without n-grams has a wide table")
					}
				}
				if _, ok := meta["trainer.ngram_pad"]; ok || m.Graph.DocString != graphDocument {
					t.Errorf("a model without n-grams has n-gram metadata or documentation: %q", m.Graph.DocString)
				}
				return
			}
			got := floatsOf(initializer(t, m, "wide"))
			if fmt.Sprint(got) != fmt.Sprint(wide) || len(got) != f.Config.VocabSize+cfg.Buckets {
				t.Errorf("wide initializer has %d values, not the model's %d table values", len(got), len(wide))
			}
			if meta["trainer.ngram_pad"] != "-1" || !strings.Contains(meta["trainer.wide_gain"], "model.WideWeight") ||
				!strings.Contains(meta["trainer.ngram_features"], "model.NgramFeatures") || !strings.Contains(meta["trainer.inputs"], "ngram_ids") {
				t.Errorf("n-gram metadata %v", meta)
			}
		})
	}
}

// checkWellFormed fails t unless every node of m reads only the inputs,
// initializers and earlier nodes' outputs, and the outputs are produced.
func checkWellFormed(t *testing.T, m *pb.ModelProto, inputs []string) {
	t.Helper()
	defined := map[string]bool{}
	for _, in := range inputs {
		defined[in] = true
	}
	for _, x := range m.Graph.Initializer {
		defined[x.Name] = true
	}
	for _, n := range m.Graph.Node {
		for _, in := range n.Input {
			if !defined[in] {
				t.Errorf("node %s reads %q before it is defined", n.Name, in)
			}
		}
		for _, out := range n.Output {
			defined[out] = true
		}
	}
	if !defined[OutputProb] || !defined[OutputLogit] {
		t.Errorf("outputs defined: prob %v logit %v", defined[OutputProb], defined[OutputLogit])
	}
}
