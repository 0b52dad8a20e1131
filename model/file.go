package model

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"

	"trainer/data"
	"trainer/internal/atomicfile"
)

// FileVersion is the model file format this build writes and reads.
const FileVersion = 1

// fileMagic opens every model file.
var fileMagic = [8]byte{'T', 'R', 'N', 'R', 'M', 'D', 'L', 0}

// headerSize is magic, version, reserved, body length and SHA-256.
const headerSize = 8 + 4 + 4 + 8 + sha256.Size

// File is everything a trained model needs to be used again: the network,
// its weights, how text becomes token ids, and how well it did.
//
// On disk: magic "TRNRMDL\0", version (uint32 LE), reserved (uint32),
// body length (uint64 LE), SHA-256 of the body, then the body: a JSON
// header's length (uint32 LE), the JSON header (everything but Params),
// and the parameters as little-endian float32.
type File struct {
	Version    int
	Config     Config
	Params     []float32
	Vocab      []string // words by id; ids 0 and 1 are pad and unk
	Preprocess data.Preprocess
	MaxLen     int
	Metrics    map[string]float64
	Extra      map[string]string
}

// fileHeader is the JSON part of the body.
type fileHeader struct {
	Config     Config               `json:"config"`
	NumParams  int                  `json:"num_params"`
	Vocab      []string             `json:"vocab"`
	Preprocess data.Preprocess      `json:"preprocess"`
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

// check reports what makes f unusable, if anything.
func (f *File) check() error {
	if err := f.Config.Validate(); err != nil {
		return err
	}
	if want := NewLayout(f.Config).Size(); len(f.Params) != want {
		return fmt.Errorf("%d parameters, the configuration needs %d", len(f.Params), want)
	}
	if len(f.Vocab) != f.Config.VocabSize {
		return fmt.Errorf("vocabulary has %d words, the configuration says %d", len(f.Vocab), f.Config.VocabSize)
	}
	return nil
}

// Save writes f to path atomically: a temporary file in the same
// directory is written, synced and renamed over path, and the directory is
// synced, so a crash leaves either the old file or the new one.
func Save(path string, f *File) error {
	if err := f.check(); err != nil {
		return fmt.Errorf("save model %s: %w", path, err)
	}
	h := fileHeader{Config: f.Config, NumParams: len(f.Params), Vocab: f.Vocab, Preprocess: f.Preprocess,
		MaxLen: f.MaxLen, Extra: f.Extra}
	if len(f.Metrics) > 0 {
		h.Metrics = make(map[string]jsonFloat, len(f.Metrics))
		for k, v := range f.Metrics {
			h.Metrics[k] = jsonFloat(v)
		}
	}
	js, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("save model %s: %w", path, err)
	}
	body := make([]byte, 4+len(js)+4*len(f.Params))
	binary.LittleEndian.PutUint32(body, uint32(len(js)))
	copy(body[4:], js)
	pb := body[4+len(js):]
	for i, v := range f.Params {
		binary.LittleEndian.PutUint32(pb[4*i:], math.Float32bits(v))
	}
	sum := sha256.Sum256(body)
	var head [headerSize]byte
	copy(head[:8], fileMagic[:])
	binary.LittleEndian.PutUint32(head[8:], FileVersion)
	binary.LittleEndian.PutUint64(head[16:], uint64(len(body)))
	copy(head[24:], sum[:])
	if err := atomicfile.WriteBytes(path, head[:], body); err != nil {
		return fmt.Errorf("save model: %w", err)
	}
	return nil
}

// Load reads and verifies a model file written by Save. A file that is
// not a model file, comes from another format version, is truncated or
// fails its checksum is rejected with an error naming path and the problem.
func Load(path string) (*File, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	f, err := decode(raw)
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", path, err)
	}
	return f, nil
}

// decode parses and verifies a whole model file.
func decode(raw []byte) (*File, error) {
	n := min(len(raw), len(fileMagic))
	if !bytes.Equal(raw[:n], fileMagic[:n]) {
		return nil, errors.New("not a trainer model file (wrong magic bytes)")
	}
	if len(raw) < headerSize {
		return nil, fmt.Errorf("truncated: %d bytes, shorter than the %d-byte header", len(raw), headerSize)
	}
	if v := binary.LittleEndian.Uint32(raw[8:]); v != FileVersion {
		return nil, fmt.Errorf("model file format version %d, this build reads version %d", v, FileVersion)
	}
	bodyLen := binary.LittleEndian.Uint64(raw[16:])
	body := raw[headerSize:]
	if uint64(len(body)) < bodyLen {
		return nil, fmt.Errorf("truncated: header announces %d body bytes, file has %d", bodyLen, len(body))
	}
	if uint64(len(body)) > bodyLen {
		return nil, fmt.Errorf("%d unexpected bytes after the body", uint64(len(body))-bodyLen)
	}
	if sum := sha256.Sum256(body); !bytes.Equal(sum[:], raw[24:headerSize]) {
		return nil, errors.New("checksum mismatch: the file is corrupted")
	}
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
	if uint64(len(pb)) != 4*uint64(h.NumParams) {
		return nil, fmt.Errorf("header announces %d parameters, body holds %d bytes of them", h.NumParams, len(pb))
	}
	f := &File{Version: FileVersion, Config: h.Config, Params: make([]float32, h.NumParams), Vocab: h.Vocab,
		Preprocess: h.Preprocess, MaxLen: h.MaxLen, Extra: h.Extra}
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
