package model

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"trainer/data"
	"trainer/internal/durable"
)

func testFile(t *testing.T) *File {
	t.Helper()
	c := Config{VocabSize: 5, EmbedDim: 3, Hidden: 4, Layers: 2, Bidirectional: true, Pool: PoolMean}
	params := make([]float32, NewLayout(c).Size())
	InitParams(c, params, 9)
	return &File{
		Version: FileVersion, Config: c, Params: params,
		Vocab:   []string{"<pad>", "<unk>", "good", "bad", "ünïcode"},
		MaxLen:  256,
		Metrics: map[string]float64{"accuracy": 0.91, "loss": math.NaN(), "inf": math.Inf(1)},
		Extra:   map[string]string{"train": "train.ft.txt"},
	}
}

func TestFileRoundTrip(t *testing.T) {
	f := testFile(t)
	f.Preprocess.Lowercase = true
	f.Preprocess.Tokenizer = "split"
	path := filepath.Join(t.TempDir(), "model.bin")
	if err := Save(path, f); err != nil {
		t.Fatal(err)
	}
	g, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(g.Metrics["loss"]) || !math.IsInf(g.Metrics["inf"], 1) {
		t.Errorf("non-finite metrics lost: %v", g.Metrics)
	}
	f.Metrics["loss"], g.Metrics["loss"] = 0, 0 // NaN != NaN
	if !reflect.DeepEqual(f, g) {
		t.Errorf("round trip changed the file:\n got %+v\nwant %+v", g, f)
	}
	// Saving again over the file replaces it and leaves no temporary files.
	if err := Save(path, g); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries after two saves, want 1", len(entries))
	}
}

// TestFileRoundTripNgrams saves and loads a model with the wide n-gram
// path: the configuration keeps its n-gram settings and the weights their
// wide table. A model without the path writes no n-gram keys at all, so
// its file and digest are what they were before the path existed.
func TestFileRoundTripNgrams(t *testing.T) {
	for _, tc := range []struct{ ngrams, buckets int }{{0, 0}, {1, 0}, {3, 11}} {
		t.Run(fmt.Sprintf("ngrams%d", tc.ngrams), func(t *testing.T) {
			f := testFile(t)
			f.Config.Ngrams, f.Config.Buckets = tc.ngrams, tc.buckets
			f.Params = make([]float32, NewLayout(f.Config).Size())
			InitParams(f.Config, f.Params, 9)
			for i, wide := 0, NewLayout(f.Config).Wide(f.Params); i < len(wide); i++ {
				wide[i] = float32(i) - 0.5
			}
			path := filepath.Join(t.TempDir(), "model.bin")
			if err := Save(path, f); err != nil {
				t.Fatal(err)
			}
			g, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if g.Config != f.Config || !reflect.DeepEqual(g.Params, f.Params) {
				t.Errorf("round trip changed the model: config %+v, want %+v", g.Config, f.Config)
			}
			js, err := json.Marshal(f.Config)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(js), `"ngrams"`) != (tc.ngrams > 0) || strings.Contains(string(js), `"buckets"`) != (tc.buckets > 0) {
				t.Errorf("config JSON %s: want the n-gram keys only where set", js)
			}
		})
	}
}

func TestFileLoadRejects(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.bin")
	if err := Save(good, testFile(t)); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), raw...)) }
	tests := []struct {
		name    string
		content []byte
		want    string
	}{
		{"flipped byte in weights", mutate(func(b []byte) []byte { b[len(b)-7] ^= 0x10; return b }), "damaged: checksum mismatch"},
		{"flipped byte in header json", mutate(func(b []byte) []byte { b[durable.HeaderSize+10] ^= 1; return b }), "checksum mismatch"},
		{"truncated body", raw[:len(raw)-100], fmt.Sprintf("truncated: header says %d bytes, file has %d", len(raw), len(raw)-100)},
		{"truncated header", raw[:20], "truncated"},
		{"empty", nil, "not a trainer model file"},
		{"text file", []byte("__label__1 this is not a model\n"), "not a trainer model file"},
		{"random bytes", mutate(func(b []byte) []byte {
			for i := range b {
				b[i] = byte(i*7919 + 13)
			}
			return b
		}), "not a trainer model file"},
		{"future version", mutate(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[8:], FileVersion+1); return b }), "written by a newer version 3 of the trainer model file format"},
		{"trailing bytes", append(append([]byte(nil), raw...), 0), "unexpected bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
			if err := os.WriteFile(path, tc.content, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			if err == nil {
				t.Fatal("Load accepted a bad file")
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("error %q should name %s and say %q", err, path, tc.want)
			}
		})
	}
	if _, err := Load(filepath.Join(dir, "missing.bin")); err == nil || !strings.Contains(err.Error(), "missing.bin") {
		t.Errorf("missing file: error %v should name the path", err)
	}
}

func TestSaveRejectsInconsistentFile(t *testing.T) {
	f := testFile(t)
	f.Params = f.Params[:10]
	path := filepath.Join(t.TempDir(), "m.bin")
	if err := Save(path, f); err == nil || !strings.Contains(err.Error(), "parameters") {
		t.Errorf("Save with short params: error %v", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("a failed Save left %s behind", path)
	}
}

func TestLoadReadsFormatVersion1(t *testing.T) {
	// testdata/model-v1.bin was written by the build before the shared
	// framing: a SHA-256 header of its own and a data.Preprocess record.
	f, err := Load("testdata/model-v1.bin")
	if err != nil {
		t.Fatal(err)
	}
	want := testFile(t)
	if f.Version != 1 || f.Config != want.Config || !reflect.DeepEqual(f.Params, want.Params) || !reflect.DeepEqual(f.Vocab, want.Vocab) {
		t.Fatalf("version %d, config %+v: not the file that was written", f.Version, f.Config)
	}
	if p := (Preprocess{Lowercase: true, RemoveSpecial: true, CollapseSpace: true, Tokenizer: "split"}); f.Preprocess != p {
		t.Errorf("preprocess %+v, want %+v", f.Preprocess, p)
	}
	if f.LabelMap != nil || f.Metrics["accuracy"] != 0.91 {
		t.Errorf("label map %v, metrics %v", f.LabelMap, f.Metrics)
	}
	raw, _ := os.ReadFile("testdata/model-v1.bin")
	for _, c := range []struct {
		name string
		raw  []byte
		want string
	}{
		{"flipped weight", func() []byte { b := bytes.Clone(raw); b[len(b)-5] ^= 1; return b }(), "trainer model file format version 1: damaged: checksum mismatch"},
		{"cut", raw[:len(raw)-10], fmt.Sprintf("format version 1: truncated: header says %d bytes, file has %d", len(raw), len(raw)-10)},
		{"cut in the header", raw[:30], "format version 1: truncated: 30 bytes"},
	} {
		if _, err := decode(c.raw); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}

func TestLoadRejectsNonFiniteWeights(t *testing.T) {
	layout := NewLayout(testFile(t).Config)
	cases := []struct {
		view  string
		i     int
		value float32
	}{
		{"embed", 4, float32(math.NaN())},
		{"lstm.1.bwd.w_hh", 0, float32(math.Inf(1))},
		{"head.b", 0, float32(math.Inf(-1))},
	}
	for _, c := range cases {
		t.Run(c.view, func(t *testing.T) {
			f := testFile(t)
			path := filepath.Join(t.TempDir(), "model.bin")
			if err := Save(path, f); err != nil {
				t.Fatal(err)
			}
			// Craft the file as a careless tool would: valid framing and
			// checksum around a bad weight.
			raw, _ := os.ReadFile(path)
			_, body, _ := fileFormat.Decode(raw)
			jl := int(binary.LittleEndian.Uint32(body))
			off := 4 + jl + 4*(layout.View(c.view).Offset+c.i)
			body = bytes.Clone(body)
			binary.LittleEndian.PutUint32(body[off:], math.Float32bits(c.value))
			os.WriteFile(path, fileFormat.Append(nil, body), 0o644)
			_, err := Load(path)
			want := fmt.Sprintf("weight %d of %s is %v: the weights are not finite", c.i, c.view, c.value)
			if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("error %v, want one naming %s and %q", err, path, want)
			}
			// Save refuses to write such a file in the first place.
			f.Params[layout.View(c.view).Offset+c.i] = c.value
			if err := Save(path, f); err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("Save: error %v, want %q", err, want)
			}
		})
	}
}

func TestLabelMapRoundTrip(t *testing.T) {
	cases := []struct {
		spec string
		want map[string]int
	}{
		{"1=neg 2=pos", map[string]int{"1": ClassNegative, "2": ClassPositive}},
		{"2=neg 1=pos", map[string]int{"2": ClassNegative, "1": ClassPositive}}, // inverted
		{"1,2=neg 4,5=pos 3=drop", map[string]int{"1": 0, "2": 0, "3": ClassDropped, "4": 1, "5": 1}},
	}
	for _, c := range cases {
		t.Run(c.spec, func(t *testing.T) {
			m, err := data.ParseLabelMap(c.spec)
			if err != nil {
				t.Fatal(err)
			}
			f := testFile(t)
			f.LabelMap = LabelMapOf(m)
			if !reflect.DeepEqual(f.LabelMap, c.want) {
				t.Fatalf("LabelMapOf = %v, want %v", f.LabelMap, c.want)
			}
			path := filepath.Join(t.TempDir(), "model.bin")
			if err := Save(path, f); err != nil {
				t.Fatal(err)
			}
			g, err := Load(path)
			if err != nil || !reflect.DeepEqual(g.LabelMap, c.want) {
				t.Fatalf("loaded %v (%v), want %v", g.LabelMap, err, c.want)
			}
			back, ok, err := g.DataLabelMap()
			if err != nil || !ok || back.String() != m.String() {
				t.Fatalf("DataLabelMap = %q, %v, %v; want %q", back.String(), ok, err, m.String())
			}
		})
	}
	if _, ok, err := testFile(t).DataLabelMap(); ok || err != nil {
		t.Errorf("file without a map: ok %v, err %v", ok, err)
	}
	for _, bad := range []map[string]int{{"1": 2}, {"": 0}, {"a b": 1}, {"1,2": 0}} {
		f := testFile(t)
		f.LabelMap = bad
		if err := Save(filepath.Join(t.TempDir(), "m.bin"), f); err == nil || !strings.Contains(err.Error(), "label map") {
			t.Errorf("label map %v: error %v", bad, err)
		}
	}
}

// The model file's preprocessing record converts to and from the data
// package's settings; this stops compiling if their fields drift apart.
func TestPreprocessConvertsToData(t *testing.T) {
	for _, p := range []data.Preprocess{data.DefaultPreprocess(), {Tokenizer: data.TokenizerTreebank, Lowercase: true}} {
		if back := data.Preprocess(Preprocess(p)); back != p {
			t.Errorf("%+v became %+v", p, back)
		}
	}
	mj, _ := json.Marshal(Preprocess(data.DefaultPreprocess()))
	dj, _ := json.Marshal(data.DefaultPreprocess())
	if string(mj) != string(dj) {
		t.Errorf("JSON differs: model %s, data %s", mj, dj)
	}
}

// FuzzLoadModel feeds the model file reader arbitrary bytes: it must return
// a file or an error, never panic or allocate without bound, and whatever
// it accepts must save and load again unchanged.
func FuzzLoadModel(f *testing.F) {
	dir := f.TempDir()
	good := filepath.Join(dir, "model.bin")
	tf := &File{Config: Config{VocabSize: 3, EmbedDim: 2, Hidden: 2, Layers: 1, Pool: PoolLast},
		Vocab: []string{"<pad>", "<unk>", "w"}, LabelMap: map[string]int{"1": 0, "2": 1}}
	tf.Params = make([]float32, NewLayout(tf.Config).Size())
	if err := Save(good, tf); err != nil {
		f.Fatal(err)
	}
	raw, _ := os.ReadFile(good)
	f.Add(raw)
	f.Add(raw[:len(raw)/2])
	if v1, err := os.ReadFile("testdata/model-v1.bin"); err == nil {
		f.Add(v1)
	}
	f.Add([]byte("TRNRMDL\x00\x09\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := decode(raw)
		if err != nil {
			return
		}
		var body bytes.Buffer
		if err := m.writeBody(&body); err != nil {
			t.Fatalf("an accepted file does not encode: %v", err)
		}
		again, err := decode(fileFormat.Append(nil, body.Bytes()))
		if err != nil {
			t.Fatalf("an accepted file does not decode after encoding: %v", err)
		}
		if len(again.Params) != len(m.Params) || again.Config != m.Config || len(again.LabelMap) != len(m.LabelMap) {
			t.Fatalf("re-encoding changed the file: %+v, then %+v", m.Config, again.Config)
		}
	})
}
