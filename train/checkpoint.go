package train

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"

	"trainer/internal/durable"
	"trainer/train/device"
)

// CheckpointName is the checkpoint's file name inside a run directory.
const CheckpointName = "checkpoint.bin"

// checkpointVersion changes whenever the body's layout does. Version 1
// (before the files a run keeps shared internal/durable's framing: the same
// body between a magic and version of its own and a CRC-32C trailer) is
// still read, so a run interrupted by the previous build resumes.
const checkpointVersion = 2

// checkpointFormat frames every checkpoint; see internal/durable.
var checkpointFormat = durable.Format{
	Name:    "trainer checkpoint",
	Magic:   "TRNCKPT\x00",
	Version: checkpointVersion,
	Older:   unframeCheckpointV1,
}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Checkpoint is everything needed to continue a run exactly where it
// stopped: batches are a pure function of (seed, epoch), so the position is
// the epoch and the number of its batches already applied.
type Checkpoint struct {
	Step    int64             `json:"step"`  // optimizer steps applied so far
	Epoch   int               `json:"epoch"` // 0-based epoch in progress
	Batch   int               `json:"batch"` // batches of Epoch already applied
	Seed    uint64            `json:"seed"`
	Workers int               `json:"workers"`
	Model   json.RawMessage   `json:"model"` // model configuration
	Run     json.RawMessage   `json:"run"`   // run settings that must match on resume
	Loop    LoopState         `json:"loop"`
	Optim   device.OptimState `json:"optim"`
	// Scalers is the state of each loss scaler of LoopConfig.Scalers.
	Scalers []device.LossScalerState `json:"loss_scalers,omitempty"`
	// Epochs is the number of epochs the run was started for. The
	// learning-rate schedule ends at its last step, so a run resumed for a
	// different number would match neither run: CheckResume refuses it.
	Epochs int `json:"epochs,omitempty"`
	// Inputs are the digests of the data the run trains and evaluates on,
	// so that a resume can prove the files are still the same bytes.
	Inputs []InputDigest `json:"inputs,omitempty"`
	Params []float32     `json:"-"`
}

// InputDigest identifies one input of a run by the digest of its whole
// content.
type InputDigest struct {
	Role   string `json:"role"`   // "train", "dev" or "test"
	Path   string `json:"path"`   // as given on the command line
	Digest string `json:"digest"` // e.g. "xxh3-128:..." of the whole file (data.FileDigest)
}

// ErrResumeMismatch marks a resume refused because the run asked for now
// is not the run the checkpoint belongs to.
var ErrResumeMismatch = errors.New("cannot resume")

// CheckResume proves that a run asked for with epochs and inputs continues
// the run of checkpoint c: the same number of epochs and, role by role, the
// same input bytes. A checkpoint that records neither (an older trainer's)
// cannot prove anything and is refused too. Every error wraps
// ErrResumeMismatch and says what differs in one line.
func CheckResume(c *Checkpoint, epochs int, inputs []InputDigest) error {
	if c.Epochs == 0 && len(c.Inputs) == 0 {
		return fmt.Errorf("%w: the checkpoint records neither its epochs nor its input digests (an older trainer wrote it), so the data cannot be proven the same; start a new run", ErrResumeMismatch)
	}
	if c.Epochs != epochs {
		return fmt.Errorf("%w: --epochs %d, but the run was started with --epochs %d and its learning-rate schedule ends there; resume with --epochs %d or start a new run",
			ErrResumeMismatch, epochs, c.Epochs, c.Epochs)
	}
	byRole := func(ds []InputDigest) map[string]InputDigest {
		m := make(map[string]InputDigest, len(ds))
		for _, d := range ds {
			m[d.Role] = d
		}
		return m
	}
	was, now := byRole(c.Inputs), byRole(inputs)
	for _, role := range []string{"train", "dev", "test"} {
		w, inWas := was[role]
		n, inNow := now[role]
		switch {
		case !inWas && !inNow:
		case !inWas:
			return fmt.Errorf("%w: this run has a %s file (%s) that the interrupted run did not", ErrResumeMismatch, role, n.Path)
		case !inNow:
			return fmt.Errorf("%w: the interrupted run had a %s file (%s) that this run lacks", ErrResumeMismatch, role, w.Path)
		case w.Digest != n.Digest:
			was := w.Digest
			if w.Path != n.Path {
				was += " (" + w.Path + ")"
			}
			return fmt.Errorf("%w: %s data changed since the checkpoint: %s has digest %s, the run used %s",
				ErrResumeMismatch, role, n.Path, n.Digest, was)
		}
	}
	return nil
}

// LoopState is the training loop's own progress: early stopping and the
// running totals of the epoch in progress.
type LoopState struct {
	BestAccuracy float64 `json:"best_accuracy"`
	BestEpoch    int     `json:"best_epoch"` // 1-based; 0 = none yet
	BadEpochs    int     `json:"bad_epochs"` // epochs since the best
	Stopped      bool    `json:"stopped"`    // early stopping fired
	EpochLoss    float64 `json:"epoch_loss"` // summed loss of this epoch so far
	EpochRows    int     `json:"epoch_rows"`
	EpochCorrect int     `json:"epoch_correct"`
	EpochTokens  int64   `json:"epoch_tokens"`
	EpochSeconds float64 `json:"epoch_seconds"`
	TotalSeconds float64 `json:"total_seconds"`
	// BestDev and BestTest are the evaluation of the best epoch, so that a
	// resumed run can report it without reading the model file back.
	BestDev  *Metrics `json:"best_dev,omitempty"`
	BestTest *Metrics `json:"best_test,omitempty"`
}

// SaveCheckpoint writes c to path atomically: a temporary file in the same
// directory, fsynced, renamed over path, and the directory fsynced, so that a
// crash at any moment leaves either the old checkpoint or the new one.
func SaveCheckpoint(path string, c *Checkpoint) error {
	if err := checkpointFormat.Write(path, func(w io.Writer) error { return encodeCheckpoint(w, c) }); err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	return nil
}

// encodeCheckpoint writes the body: uint64 JSON header length, the JSON
// header, uint32 array count, and per array a uint64 length and
// little-endian float32s (the parameters, then the optimizer's slots).
func encodeCheckpoint(w io.Writer, c *Checkpoint) error {
	head, err := json.Marshal(c)
	if err != nil {
		return err
	}
	arrays := append([][]float32{c.Params}, c.Optim.Slots...)
	var buf [8]byte
	binary.LittleEndian.PutUint64(buf[:], uint64(len(head)))
	if _, err := w.Write(buf[:]); err != nil {
		return err
	}
	if _, err := w.Write(head); err != nil {
		return err
	}
	binary.LittleEndian.PutUint32(buf[:4], uint32(len(arrays)))
	if _, err := w.Write(buf[:4]); err != nil {
		return err
	}
	for _, a := range arrays {
		if err := writeFloats(w, a); err != nil {
			return err
		}
	}
	return nil
}

func writeFloats(w io.Writer, a []float32) error {
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(a)))
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	return durable.WriteFloat32s(w, a)
}

// LoadCheckpoint reads and verifies a checkpoint file; a truncated,
// damaged, foreign or newer-version file is a clear error naming the path.
func LoadCheckpoint(path string) (*Checkpoint, error) {
	_, body, err := checkpointFormat.Read(path)
	if err != nil {
		return nil, fmt.Errorf("read checkpoint: %w", err)
	}
	c, err := decodeCheckpointBody(body)
	if err != nil {
		return nil, fmt.Errorf("read checkpoint: %s: %w", path, err)
	}
	return c, nil
}

// decodeCheckpoint verifies and parses a whole checkpoint file held in
// memory.
func decodeCheckpoint(raw []byte) (*Checkpoint, error) {
	_, body, err := checkpointFormat.Decode(raw)
	if err != nil {
		return nil, err
	}
	return decodeCheckpointBody(body)
}

// unframeCheckpointV1 verifies a format version 1 checkpoint (magic,
// version, body, CRC-32C of everything before it) and returns its body.
func unframeCheckpointV1(version uint32, raw []byte) ([]byte, error) {
	const head, trailer = 8 + 4, 4
	if version != 1 {
		return nil, fmt.Errorf("unknown version; this build reads versions 1 to %d", checkpointVersion)
	}
	if len(raw) < head+trailer {
		return nil, fmt.Errorf("truncated: %d bytes", len(raw))
	}
	if crc32.Checksum(raw[:len(raw)-trailer], crcTable) != binary.LittleEndian.Uint32(raw[len(raw)-trailer:]) {
		return nil, errors.New("damaged or truncated: checksum mismatch")
	}
	return raw[head : len(raw)-trailer], nil
}

func decodeCheckpointBody(p []byte) (*Checkpoint, error) {
	if len(p) < 8 {
		return nil, errors.New("body too short for its header")
	}
	hl := binary.LittleEndian.Uint64(p)
	p = p[8:]
	if hl > uint64(len(p)) {
		return nil, errors.New("header runs past the end")
	}
	c := &Checkpoint{}
	if err := json.Unmarshal(p[:hl], c); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	p = p[hl:]
	if len(p) < 4 {
		return nil, errors.New("truncated before arrays")
	}
	na := int(binary.LittleEndian.Uint32(p))
	p = p[4:]
	if na < 1 || na > 8 {
		return nil, fmt.Errorf("%d arrays, want 1 to 8", na)
	}
	arrays := make([][]float32, na)
	for i := range arrays {
		if len(p) < 8 {
			return nil, fmt.Errorf("array %d: truncated", i)
		}
		n := binary.LittleEndian.Uint64(p)
		p = p[8:]
		if n > uint64(len(p)/4) {
			return nil, fmt.Errorf("array %d: %d values run past the end", i, n)
		}
		a := make([]float32, n)
		for j := range a {
			a[j] = math.Float32frombits(binary.LittleEndian.Uint32(p[4*j:]))
		}
		arrays[i] = a
		p = p[4*n:]
	}
	if len(p) != 0 {
		return nil, fmt.Errorf("%d stray bytes after the arrays", len(p))
	}
	c.Params, c.Optim.Slots = arrays[0], arrays[1:]
	return c, nil
}
