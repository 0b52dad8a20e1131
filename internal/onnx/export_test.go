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

// TestBuildRefusesNgrams: a model with the wide n-gram path is refused
// with one line that names the flag, not exported without the path.
func TestBuildRefusesNgrams(t *testing.T) {
	f := testFile(t, model.Config{EmbedDim: 4, Hidden: 3, Layers: 1, Pool: model.PoolMean, Ngrams: 2, Buckets: 8})
	_, err := Build(f)
	if err == nil || !strings.Contains(err.Error(), "--ngrams is not supported by the ONNX export") {
		t.Fatalf("Build of an n-gram model: error %v", err)
	}
}
