// Package onnx exports a trained model as an ONNX graph that ONNX Runtime
// (or any runtime with opset 17) runs without trainer: the embedding as a
// Gather, each LSTM layer as ONNX's LSTM operator (gates reordered from
// trainer's i, f, g, o to ONNX's i, o, f, c), pooling over the real steps
// only, the linear head, the wide n-gram path's term (when the model has
// one) and a sigmoid.
//
// Inputs: "ids", int64 [batch, time], the token ids `trainer encode`
// prints, padded with 0 after each review's end; "lengths", int64 [batch],
// each review's number of ids. A model with the wide n-gram path
// (Config.Ngrams) has a third input, "ngram_ids", int64 [batch, features]:
// each review's model.NgramFeatures (also printed by `trainer encode`),
// padded with NgramPad. Outputs: "prob" float [batch], P(positive), and
// "logit" float [batch]. The vocabulary, preprocessing settings and max
// length ride along as metadata, so a runtime can also encode text itself.
//
// The protobuf is written by proto.go with protowire; the tests read it
// back with the ONNX message types generated from the ONNX schema.
package onnx

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"trainer/internal/atomicfile"
	"trainer/model"
)

// Opset is the ONNX operator set the graph uses; IRVersion is the ONNX IR
// version of the file (8 is the one that goes with opset 17).
const (
	Opset     = 17
	IRVersion = 8
)

// Names of the graph's inputs and outputs.
const (
	InputIDs      = "ids"
	InputLengths  = "lengths"
	InputNgramIDs = "ngram_ids"
	OutputProb    = "prob"
	OutputLogit   = "logit"
	metaPrefix    = "trainer."
	producerName  = "trainer"
	graphDocument = "Sentiment classifier exported by trainer: ids int64 [batch, time] (trainer encode's ids, 0-padded) and lengths int64 [batch] in; prob = P(positive) float [batch] out."
)

// NgramPad pads a review's row of ngram_ids after its features. The graph
// masks out every negative entry, so a pad needs no table row of its own
// and stays the same whatever the table's size.
const NgramPad = -1

// ngramDocument is graphDocument for a model with the wide n-gram path.
const ngramDocument = "Sentiment classifier exported by trainer: ids int64 [batch, time] (trainer encode's ids, 0-padded), lengths int64 [batch] and ngram_ids int64 [batch, features] (trainer encode's n-gram features, -1-padded) in; prob = P(positive) float [batch] out."

// gateOrder maps ONNX's gate blocks (i, o, f, c) to trainer's (i, f, g, o):
// ONNX block k is trainer block gateOrder[k].
var gateOrder = [4]int{0, 3, 1, 2}

// Build returns the ONNX model of f.
func Build(f *model.File) (*ModelProto, error) {
	c := f.Config
	if err := c.Validate(); err != nil {
		return nil, err
	}
	lay := model.NewLayout(c)
	if len(f.Params) != lay.Size() {
		return nil, fmt.Errorf("%d parameters, the configuration needs %d", len(f.Params), lay.Size())
	}
	doc := graphDocument
	if c.Ngrams > 0 {
		doc = ngramDocument
	}
	g := &graph{GraphProto: &GraphProto{Name: "trainer_sentiment", DocString: doc}}
	g.Input = []*ValueInfoProto{
		valueInfo(InputIDs, tensorInt64, "batch", "time"),
		valueInfo(InputLengths, tensorInt64, "batch"),
	}
	if c.Ngrams > 0 {
		g.Input = append(g.Input, valueInfo(InputNgramIDs, tensorInt64, "batch", "features"))
	}
	g.Output = []*ValueInfoProto{
		valueInfo(OutputProb, tensorFloat, "batch"),
		valueInfo(OutputLogit, tensorFloat, "batch"),
	}
	h, dirs, d := c.Hidden, c.Dirs(), c.OutDim()

	ev := lay.View("embed")
	g.floats("embed", ev.Slice(f.Params), int64(c.VocabSize), int64(c.EmbedDim))
	g.node("Gather", []string{"embed", InputIDs}, []string{"embedded"}) // [B, T, E]
	g.node("Transpose", []string{"embedded"}, []string{"x0"}, ints("perm", 1, 0, 2))
	g.node("Cast", []string{InputLengths}, []string{"seq_lens"}, intAttr("to", int64(tensorInt32)))

	direction := "forward"
	if c.Bidirectional {
		direction = "bidirectional"
	}
	g.int64s("shape_tbd", []int64{0, 0, int64(d)}, 1)
	x, lastH := "x0", ""
	for l := range c.Layers {
		in := int64(c.InDim(l))
		w := make([]float32, 0, dirs*4*h*int(in))
		r := make([]float32, 0, dirs*4*h*h)
		b := make([]float32, 0, dirs*8*h)
		for dir := range dirs {
			lw := lay.LSTM(f.Params, l, dir)
			w = appendGates(w, lw.Wih, h, int(in))
			r = appendGates(r, lw.Whh, h, h)
			b = appendGates(b, lw.B, h, 1)
			b = append(b, make([]float32, 4*h)...) // recurrent bias: trainer has one bias per gate
		}
		p := fmt.Sprintf("lstm%d_", l)
		g.floats(p+"W", w, int64(dirs), int64(4*h), in)
		g.floats(p+"R", r, int64(dirs), int64(4*h), int64(h))
		g.floats(p+"B", b, int64(dirs), int64(8*h))
		g.node("LSTM", []string{x, p + "W", p + "R", p + "B", "seq_lens"}, []string{p + "Y", p + "Y_h"},
			intAttr("hidden_size", int64(h)), strAttr("direction", direction))
		// Y [T, dirs, B, H] -> [T, B, dirs*H]: the next layer's input, the
		// directions side by side as trainer concatenates them.
		g.node("Transpose", []string{p + "Y"}, []string{p + "Yt"}, ints("perm", 0, 2, 1, 3))
		x = fmt.Sprintf("x%d", l+1)
		g.node("Reshape", []string{p + "Yt", "shape_tbd"}, []string{x})
		lastH = p + "Y_h"
	}

	switch c.Pool {
	case model.PoolLast, "":
		// Y_h [dirs, B, H] is each direction's final state at the row's own
		// length: the forward direction's last token, the reverse one's first.
		g.node("Transpose", []string{lastH}, []string{"last_bdh"}, ints("perm", 1, 0, 2))
		g.int64s("shape_bd", []int64{0, int64(d)}, 1)
		g.node("Reshape", []string{"last_bdh", "shape_bd"}, []string{"pooled"})
	case model.PoolMean, model.PoolMax:
		g.realSteps() // "mask" [T, B, 1]: true on a row's real steps
		if c.Pool == model.PoolMean {
			g.node("Cast", []string{"mask"}, []string{"maskf"}, intAttr("to", int64(tensorFloat)))
			g.node("Mul", []string{x, "maskf"}, []string{"masked"})
			g.int64s("axis0", []int64{0}, 1)
			g.node("ReduceSum", []string{"masked", "axis0"}, []string{"summed"}, intAttr("keepdims", 0))
			g.node("Cast", []string{InputLengths}, []string{"lengths_f"}, intAttr("to", int64(tensorFloat)))
			g.int64s("axis1", []int64{1}, 1)
			g.node("Unsqueeze", []string{"lengths_f", "axis1"}, []string{"lengths_b1"})
			g.node("Div", []string{"summed", "lengths_b1"}, []string{"pooled"})
		} else {
			g.floats("neg_inf", []float32{float32(math.Inf(-1))})
			g.node("Where", []string{"mask", x, "neg_inf"}, []string{"masked"})
			g.node("ReduceMax", []string{"masked"}, []string{"pooled"}, ints("axes", 0), intAttr("keepdims", 0))
		}
	default:
		return nil, fmt.Errorf("pooling %q has no ONNX export", c.Pool)
	}

	hw := lay.View("head.w").Slice(f.Params)
	g.floats("head_w", hw, int64(d), 1) // [1, D] transposed is the same numbers as [D, 1]
	g.floats("head_b", []float32{f.Params[lay.View("head.b").Offset]}, 1)
	g.node("MatMul", []string{"pooled", "head_w"}, []string{"head_mm"})
	g.node("Add", []string{"head_mm", "head_b"}, []string{"logit_b1"})
	g.int64s("axis1_out", []int64{1}, 1)
	if c.Ngrams > 0 {
		g.node("Squeeze", []string{"logit_b1", "axis1_out"}, []string{"lstm_logit"})
		g.wide(lay.Wide(f.Params))
		g.node("Add", []string{"lstm_logit", "wide_term"}, []string{OutputLogit})
	} else {
		g.node("Squeeze", []string{"logit_b1", "axis1_out"}, []string{OutputLogit})
	}
	g.node("Sigmoid", []string{OutputLogit}, []string{OutputProb})

	meta, err := metadata(f)
	if err != nil {
		return nil, err
	}
	return &ModelProto{
		IrVersion:     IRVersion,
		OpsetImport:   []*OperatorSetIdProto{{Domain: "", Version: Opset}},
		ProducerName:  producerName,
		Graph:         g.GraphProto,
		DocString:     doc,
		MetadataProps: meta,
	}, nil
}

// Write builds f's ONNX model and writes it to path atomically.
func Write(path string, f *model.File) error {
	m, err := Build(f)
	if err != nil {
		return fmt.Errorf("export onnx %s: %w", path, err)
	}
	if err := atomicfile.WriteBytes(path, m.Marshal()); err != nil {
		return fmt.Errorf("export onnx: %w", err)
	}
	return nil
}

// metadata is what a runtime needs to turn text into the graph's inputs.
func metadata(f *model.File) ([]*StringStringEntryProto, error) {
	pre, err := json.Marshal(f.Preprocess)
	if err != nil {
		return nil, err
	}
	cfg, err := json.Marshal(f.Config)
	if err != nil {
		return nil, err
	}
	kv := [][2]string{
		{"vocab", strings.Join(f.Vocab, "\n")},
		{"preprocess", string(pre)},
		{"config", string(cfg)},
		{"max_len", strconv.Itoa(f.MaxLen)},
		{"pad_id", "0"},
		{"unk_id", "1"},
		{"inputs", "ids: token ids as `trainer encode` prints them, 0-padded; lengths: ids per review (at least 1)"},
	}
	if f.Config.Ngrams > 0 {
		kv[len(kv)-1][1] += "; ngram_ids: the review's n-gram features as `trainer encode` prints them (model.NgramFeatures of its ids), padded with -1"
		kv = append(kv,
			[2]string{"ngram_pad", strconv.Itoa(NgramPad)},
			[2]string{"ngram_features", fmt.Sprintf("model.NgramFeatures of the review's ids: the ids themselves, then for each n in 2..%d every run of n consecutive ids as %d + ngramHash(run) mod %d "+
				"(64-bit FNV-1a over the ids as uint32 words, started from the offset basis xor n, then h ^= h >> 32)", f.Config.Ngrams, f.Config.VocabSize, f.Config.Buckets)},
			[2]string{"wide_gain", fmt.Sprintf("model.WideWeight: logit += %d / sqrt(n) * sum of wide[f] over the row's features, n = its number of features (non-negative entries of ngram_ids), computed in the graph", model.WideScale)},
		)
	}
	out := make([]*StringStringEntryProto, len(kv))
	for i, e := range kv {
		out[i] = &StringStringEntryProto{Key: metaPrefix + e[0], Value: e[1]}
	}
	return out, nil
}

// appendGates appends a [4H, cols] block matrix (trainer's gate order) to
// dst in ONNX's gate order.
func appendGates(dst, src []float32, h, cols int) []float32 {
	for _, k := range gateOrder {
		dst = append(dst, src[k*h*cols:(k+1)*h*cols]...)
	}
	return dst
}

// graph adds nodes and initializers to a GraphProto.
type graph struct {
	*GraphProto
}

// wide adds "wide_term", float [B]: the wide n-gram path's share of the
// logit, model.WideWeight(n) times the sum of the table's values at the
// row's features, n being how many it has. Padding (any negative id) is
// masked out of both; n is floored at 1 only so that a row with no
// features, whose sum is 0, gets 0 rather than 0 * Inf.
func (g *graph) wide(table []float32) {
	g.floats("wide", table, int64(len(table)))
	g.int64s("zero_ng", []int64{0}, 0)
	g.node("GreaterOrEqual", []string{InputNgramIDs, "zero_ng"}, []string{"ngram_real"}) // [B, F]
	// Gather takes a negative index as counted from the end: clamp the
	// pads to row 0 so that every index is in range, then mask them.
	g.node("Max", []string{InputNgramIDs, "zero_ng"}, []string{"ngram_idx"})
	g.node("Gather", []string{"wide", "ngram_idx"}, []string{"ngram_vals"}) // [B, F]
	g.floats("zero_f", []float32{0})
	g.node("Where", []string{"ngram_real", "ngram_vals", "zero_f"}, []string{"ngram_masked"})
	g.int64s("axis1_ng", []int64{1}, 1)
	g.node("ReduceSum", []string{"ngram_masked", "axis1_ng"}, []string{"wide_sum"}, intAttr("keepdims", 0))
	g.node("Cast", []string{"ngram_real"}, []string{"ngram_realf"}, intAttr("to", int64(tensorFloat)))
	g.node("ReduceSum", []string{"ngram_realf", "axis1_ng"}, []string{"ngram_n"}, intAttr("keepdims", 0))
	g.floats("one_f", []float32{1})
	g.node("Max", []string{"ngram_n", "one_f"}, []string{"ngram_n1"})
	g.node("Sqrt", []string{"ngram_n1"}, []string{"ngram_sqrt"})
	g.floats("wide_scale", []float32{model.WideScale})
	g.node("Div", []string{"wide_scale", "ngram_sqrt"}, []string{"wide_gain"})
	g.node("Mul", []string{"wide_sum", "wide_gain"}, []string{"wide_term"})
}

// realSteps adds "mask", bool [T, B, 1], true where step t < the row's length.
func (g *graph) realSteps() {
	g.node("Shape", []string{InputIDs}, []string{"ids_shape"})
	g.int64s("one_i", []int64{1}, 0)
	g.int64s("zero_i", []int64{0}, 0)
	g.node("Gather", []string{"ids_shape", "one_i"}, []string{"steps"}) // scalar T
	g.node("Range", []string{"zero_i", "steps", "one_i"}, []string{"step_ids"})
	g.int64s("axis1_mask", []int64{1}, 1)
	g.node("Unsqueeze", []string{"step_ids", "axis1_mask"}, []string{"step_ids_t1"}) // [T, 1]
	g.node("Less", []string{"step_ids_t1", InputLengths}, []string{"mask_tb"})       // [T, B]
	g.int64s("axis2_mask", []int64{2}, 1)
	g.node("Unsqueeze", []string{"mask_tb", "axis2_mask"}, []string{"mask"})
}

func (g *graph) node(op string, in, out []string, attrs ...*AttributeProto) {
	g.Node = append(g.Node, &NodeProto{OpType: op, Name: fmt.Sprintf("%s_%d", op, len(g.Node)), Input: in, Output: out, Attribute: attrs})
}

// floats adds a float32 initializer; no dims makes a scalar.
func (g *graph) floats(name string, v []float32, dims ...int64) {
	raw := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(x))
	}
	g.Initializer = append(g.Initializer, &TensorProto{Name: name, DataType: tensorFloat, Dims: dims, RawData: raw})
}

// int64s adds an int64 initializer: a scalar when rank is 0, else a vector.
func (g *graph) int64s(name string, v []int64, rank int) {
	var dims []int64
	if rank > 0 {
		dims = []int64{int64(len(v))}
	}
	g.Initializer = append(g.Initializer, &TensorProto{Name: name, DataType: tensorInt64, Dims: dims, Int64Data: v})
}

func valueInfo(name string, elem int32, dims ...string) *ValueInfoProto {
	return &ValueInfoProto{Name: name, ElemType: elem, DimNames: dims}
}

func intAttr(name string, v int64) *AttributeProto {
	return &AttributeProto{Name: name, Type: attrInt, I: v}
}

func ints(name string, v ...int64) *AttributeProto {
	return &AttributeProto{Name: name, Type: attrInts, Ints: v}
}

func strAttr(name, v string) *AttributeProto {
	return &AttributeProto{Name: name, Type: attrString, S: []byte(v)}
}

// FileName is the graph's name in the directory Export writes.
const FileName = "model.onnx"

// Export writes the model file at modelPath as dir/model.onnx, creating
// dir, and returns the path written: `trainer export`.
func Export(modelPath, dir string) (string, error) {
	f, err := model.Load(modelPath)
	if err != nil {
		return "", fmt.Errorf("export: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("export: %w", err)
	}
	path := filepath.Join(dir, FileName)
	if err := Write(path, f); err != nil {
		return "", err
	}
	return path, nil
}
