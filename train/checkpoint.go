package train

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"trainer/internal/atomicfile"
	"trainer/train/device"
)

// checkpointMagic opens every checkpoint file; checkpointVersion changes
// whenever the layout below does, and older files are then refused.
const (
	checkpointMagic   = "TRNCKPT\x00"
	checkpointVersion = 1
	// CheckpointName is the checkpoint's file name inside a run directory.
	CheckpointName = "checkpoint.bin"
)

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
	Params  []float32                `json:"-"`
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
	return atomicfile.Write(path, func(w io.Writer) error { return encodeCheckpoint(w, c) })
}

// crcWriter checksums everything written through it.
type crcWriter struct {
	w   io.Writer
	crc uint32
}

func (c *crcWriter) Write(p []byte) (int, error) {
	c.crc = crc32.Update(c.crc, crcTable, p)
	return c.w.Write(p)
}

// Layout: magic, uint32 version, uint64 header length, JSON header, uint32
// array count, per array uint64 length + little-endian float32s, and a
// CRC-32C of all preceding bytes.
func encodeCheckpoint(w io.Writer, c *Checkpoint) error {
	head, err := json.Marshal(c)
	if err != nil {
		return err
	}
	cw := &crcWriter{w: w}
	arrays := append([][]float32{c.Params}, c.Optim.Slots...)
	var buf [12]byte
	if _, err := io.WriteString(cw, checkpointMagic); err != nil {
		return err
	}
	binary.LittleEndian.PutUint32(buf[:4], checkpointVersion)
	binary.LittleEndian.PutUint64(buf[4:12], uint64(len(head)))
	if _, err := cw.Write(buf[:12]); err != nil {
		return err
	}
	if _, err := cw.Write(head); err != nil {
		return err
	}
	binary.LittleEndian.PutUint32(buf[:4], uint32(len(arrays)))
	if _, err := cw.Write(buf[:4]); err != nil {
		return err
	}
	for _, a := range arrays {
		if err := writeFloats(cw, a); err != nil {
			return err
		}
	}
	binary.LittleEndian.PutUint32(buf[:4], cw.crc)
	_, err = w.Write(buf[:4])
	return err
}

func writeFloats(w io.Writer, a []float32) error {
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(a)))
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	buf := make([]byte, 0, 1<<16)
	for _, v := range a {
		buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		if len(buf) == cap(buf) {
			if _, err := w.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	_, err := w.Write(buf)
	return err
}

// LoadCheckpoint reads and verifies a checkpoint file; a truncated,
// corrupted or foreign file is a clear error naming the path.
func LoadCheckpoint(path string) (*Checkpoint, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read checkpoint: %w", err)
	}
	c, err := decodeCheckpoint(raw)
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	return c, nil
}

func decodeCheckpoint(raw []byte) (*Checkpoint, error) {
	if len(raw) < len(checkpointMagic) || !bytes.Equal(raw[:len(checkpointMagic)], []byte(checkpointMagic)) {
		return nil, errors.New("not a trainer checkpoint (bad magic)")
	}
	if len(raw) < len(checkpointMagic)+12+4 {
		return nil, errors.New("truncated")
	}
	body, sum := raw[:len(raw)-4], binary.LittleEndian.Uint32(raw[len(raw)-4:])
	p := raw[len(checkpointMagic):]
	if v := binary.LittleEndian.Uint32(p); v != checkpointVersion {
		return nil, fmt.Errorf("format version %d, this trainer reads version %d", v, checkpointVersion)
	}
	if crc32.Checksum(body, crcTable) != sum {
		return nil, errors.New("checksum mismatch (truncated or corrupted)")
	}
	p = body[len(checkpointMagic)+4:]
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
