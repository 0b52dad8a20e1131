package model

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"trainer/internal/durable"
)

// FileVersion is the model file format this build writes, and the newest it
// reads. Version 1 (a SHA-256 header of its own, before the files a run
// keeps shared internal/durable's framing) is still read.
const FileVersion = 2

// fileFormat frames every model file; see internal/durable for the header.
var fileFormat = durable.Format{
	Name:    "trainer model file",
	Magic:   "TRNRMDL\x00",
	Version: FileVersion,
	Older:   unframeV1,
}

// File is everything a trained model needs to be used again: the network,
// its weights, how text becomes token ids, which raw labels are which
// class, and how well it did.
//
// On disk: internal/durable's 32-byte header (magic "TRNRMDL\0"), then the
// body: a JSON header's length (uint32 LE), the JSON header (everything but
// Params), and the parameters as little-endian float32.
type File struct {
	// Version is the format version the file was read from (FileVersion
	// for a file about to be saved).
	Version    int
	Config     Config
	Params     []float32
	Vocab      []string // words by id; ids 0 and 1 are pad and unk
	Preprocess Preprocess
	// LabelMap maps each raw label of the training data (the text after
	// "__label__", a CSV's first field) to its class: ClassNegative,
	// ClassPositive or ClassDropped. Empty in files written before it
	// was recorded; then the labels were the Amazon polarity convention
	// unless the run said otherwise.
	LabelMap map[string]int
	MaxLen   int
	Metrics  map[string]float64
	Extra    map[string]string
}

// Classes a raw label maps to in File.LabelMap.
const (
	ClassNegative = 0
	ClassPositive = 1
	// ClassDropped marks a raw label whose records were dropped (and
	// counted) rather than learnt from.
	ClassDropped = -1
)

// Preprocess is how review text was cleaned and tokenized for the model:
// the model file's own record of data.Preprocess, so that the file format
// does not follow the data package's types. The two have the same fields,
// so each converts to the other with a plain conversion
// (data.Preprocess(f.Preprocess), model.Preprocess(p)), which stops
// compiling if they drift apart.
type Preprocess struct {
	Lowercase     bool   `json:"lowercase"`
	RemoveSpecial bool   `json:"remove_special"`
	CollapseSpace bool   `json:"collapse_space"`
	Tokenizer     string `json:"tokenizer"`
}

// fileHeader is the JSON part of the body.
type fileHeader struct {
	Config     Config               `json:"config"`
	NumParams  int                  `json:"num_params"`
	Vocab      []string             `json:"vocab"`
	Preprocess Preprocess           `json:"preprocess"`
	LabelMap   map[string]int       `json:"label_map,omitempty"`
	MaxLen     int                  `json:"max_len"`
	Metrics    map[string]jsonFloat `json:"metrics,omitempty"`
	Extra      map[string]string    `json:"extra,omitempty"`
}

// jsonFloat is a float64 that also survives JSON as NaN or ±Inf (a
// diverged run's loss must not make its model unsavable).
type jsonFloat float64

func (f jsonFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return json.Marshal(strconv.FormatFloat(v, 'g', -1, 64))
	}
	return json.Marshal(v)
}

func (f *jsonFloat) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		v, err := strconv.ParseFloat(s, 64)
		*f = jsonFloat(v)
		return err
	}
	var v float64
	err := json.Unmarshal(b, &v)
	*f = jsonFloat(v)
	return err
}

// check reports what makes f unusable, if anything. Non-finite weights
// are refused: a NaN or an infinity in a matrix turns every prediction into
// garbage (a probability of NaN, a logit of -9e14) without a word.
func (f *File) check() error {
	if err := f.Config.Validate(); err != nil {
		return err
	}
	layout := NewLayout(f.Config)
	if want := layout.Size(); len(f.Params) != want {
		return fmt.Errorf("%d parameters, the configuration needs %d", len(f.Params), want)
	}
	if len(f.Vocab) != f.Config.VocabSize {
		return fmt.Errorf("vocabulary has %d words, the configuration says %d", len(f.Vocab), f.Config.VocabSize)
	}
	for _, v := range layout.Views() {
		for i, w := range v.Slice(f.Params) {
			if math.IsNaN(float64(w)) || math.IsInf(float64(w), 0) {
				return fmt.Errorf("weight %d of %s is %v: the weights are not finite", i, v.Name, w)
			}
		}
	}
	for raw, class := range f.LabelMap {
		if raw == "" || strings.ContainsAny(raw, " \t,;=") {
			return fmt.Errorf("label map: raw label %q is empty or holds a separator (space, tab , ; =)", raw)
		}
		if class != ClassNegative && class != ClassPositive && class != ClassDropped {
			return fmt.Errorf("label map: raw label %q maps to %d (want %d, %d or %d)", raw, class, ClassNegative, ClassPositive, ClassDropped)
		}
	}
	return nil
}

// Save writes f to path atomically (see internal/atomicfile and
// internal/durable): a crash leaves either the old file or the new one.
func Save(path string, f *File) error {
	if err := f.check(); err != nil {
		return fmt.Errorf("save model %s: %w", path, err)
	}
	if err := fileFormat.Write(path, f.writeBody); err != nil {
		return fmt.Errorf("save model: %w", err)
	}
	return nil
}

// writeBody writes the body of f's file: the JSON header's length, the
// header, the parameters.
func (f *File) writeBody(w io.Writer) error {
	h := fileHeader{Config: f.Config, NumParams: len(f.Params), Vocab: f.Vocab, Preprocess: f.Preprocess,
		LabelMap: f.LabelMap, MaxLen: f.MaxLen, Extra: f.Extra}
	if len(f.Metrics) > 0 {
		h.Metrics = make(map[string]jsonFloat, len(f.Metrics))
		for k, v := range f.Metrics {
			h.Metrics[k] = jsonFloat(v)
		}
	}
	js, err := json.Marshal(h)
	if err != nil {
		return err
	}
	var n [4]byte
	binary.LittleEndian.PutUint32(n[:], uint32(len(js)))
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	if _, err := w.Write(js); err != nil {
		return err
	}
	return durable.WriteFloat32s(w, f.Params)
}

// Load reads and verifies a model file written by Save (or by a build that
// wrote format version 1). A file that is not a model file, comes from a
// newer format version, is truncated, fails its checksum or holds
// inconsistent or non-finite contents is rejected with an error naming path
// and the problem.
func Load(path string) (*File, error) {
	version, body, err := fileFormat.Read(path)
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	f, err := decodeBody(body)
	if err != nil {
		return nil, fmt.Errorf("load model: %s: %w", path, err)
	}
	f.Version = int(version)
	return f, nil
}

// decode parses and verifies a whole model file held in memory.
func decode(raw []byte) (*File, error) {
	version, body, err := fileFormat.Decode(raw)
	if err != nil {
		return nil, err
	}
	f, err := decodeBody(body)
	if err != nil {
		return nil, err
	}
	f.Version = int(version)
	return f, nil
}

// decodeBody parses the body shared by every format version.
func decodeBody(body []byte) (*File, error) {
	if len(body) < 4 {
		return nil, errors.New("body too short for its header")
	}
	jl := uint64(binary.LittleEndian.Uint32(body))
	if jl > uint64(len(body)-4) {
		return nil, fmt.Errorf("header length %d exceeds the body", jl)
	}
	var h fileHeader
	if err := json.Unmarshal(body[4:4+jl], &h); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	pb := body[4+jl:]
	if h.NumParams < 0 || uint64(len(pb)) != 4*uint64(h.NumParams) {
		return nil, fmt.Errorf("header announces %d parameters, body holds %d bytes of them", h.NumParams, len(pb))
	}
	f := &File{Config: h.Config, Params: make([]float32, h.NumParams), Vocab: h.Vocab,
		Preprocess: h.Preprocess, LabelMap: h.LabelMap, MaxLen: h.MaxLen, Extra: h.Extra}
	for i := range f.Params {
		f.Params[i] = math.Float32frombits(binary.LittleEndian.Uint32(pb[4*i:]))
	}
	if len(h.Metrics) > 0 {
		f.Metrics = make(map[string]float64, len(h.Metrics))
		for k, v := range h.Metrics {
			f.Metrics[k] = float64(v)
		}
	}
	if err := f.check(); err != nil {
		return nil, err
	}
	return f, nil
}

// v1HeaderSize is format version 1's header: magic, version, reserved,
// body length and SHA-256 of the body.
const v1HeaderSize = 8 + 4 + 4 + 8 + sha256.Size

// unframeV1 verifies a format version 1 file and returns its body, which
// is laid out as today's.
func unframeV1(version uint32, raw []byte) ([]byte, error) {
	if version != 1 {
		return nil, fmt.Errorf("unknown version; this build reads versions 1 to %d", FileVersion)
	}
	if len(raw) < v1HeaderSize {
		return nil, fmt.Errorf("truncated: %d bytes, shorter than the %d-byte header", len(raw), v1HeaderSize)
	}
	n := binary.LittleEndian.Uint64(raw[16:])
	have := uint64(len(raw) - v1HeaderSize)
	switch {
	case have < n:
		return nil, fmt.Errorf("truncated: header says %d bytes, file has %d", n+v1HeaderSize, len(raw))
	case have > n:
		return nil, fmt.Errorf("%d unexpected bytes at the end: header says %d bytes, file has %d", have-n, n+v1HeaderSize, len(raw))
	}
	body := raw[v1HeaderSize:]
	if sum := sha256.Sum256(body); !bytes.Equal(sum[:], raw[24:v1HeaderSize]) {
		return nil, errors.New("damaged: checksum mismatch")
	}
	return body, nil
}
