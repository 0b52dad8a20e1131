package job

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"trainer/model"
	"trainer/train"
	"trainer/train/device"
)

// The fakegpu backend stands for a GPU in the device checks, which only
// ask whether a kind is registered; nothing here opens one.
func init() {
	device.Register("fakegpu", func(device.Spec, device.Request) (*device.Set, error) {
		return nil, errors.New("fakegpu: not for opening")
	})
}

// bigramModel has the n-gram path a GPU leaves out by default.
var bigramModel = model.Config{VocabSize: 100, EmbedDim: 8, Hidden: 8, Layers: 1, Pool: model.PoolMax, Ngrams: 2, Buckets: 64}

func TestCheckDevice(t *testing.T) {
	cases := []struct {
		name                    string
		o                       Options
		workersSet, scheduleSet bool
		workers                 int
		device, split, err      string
	}{
		{"cpu even", Options{Device: "cpu", Workers: 2, AMP: AMPOff, Streams: 1, Split: SplitEven}, true, false, 2, "cpu", SplitEven, ""},
		{"cpu hybrid", Options{Device: "cpu", Workers: 2, AMP: AMPOff, Streams: 1, Split: SplitHybrid}, true, true, 2, "cpu", SplitHybrid, ""},
		{"gpu alone by default", Options{Device: "fakegpu:1", Workers: 12, AMP: AMPFP16, Streams: 2, Split: SplitEven}, false, false, 0, "fakegpu:1", SplitEven, ""},
		{"bare kind is ordinal 0", Options{Device: "fakegpu", Workers: 1, AMP: AMPOff, Streams: 1, Split: SplitEven}, false, false, 0, "fakegpu:0", SplitEven, ""},
		{"gpu + cpu is hybrid", Options{Device: "fakegpu:0", Workers: 3, AMP: AMPBF16, Streams: 1, Split: SplitEven}, true, false, 3, "fakegpu:0", SplitHybrid, ""},
		{"gpu + cpu even refused", Options{Device: "fakegpu:0", Workers: 3, AMP: AMPOff, Streams: 1, Split: SplitEven}, true, true, 0, "", "", "GPU + CPU runs use --schedule hybrid"},
		{"gpu + 0 cpu", Options{Device: "fakegpu:0", Workers: 0, AMP: AMPOff, Streams: 1, Split: SplitHybrid}, true, true, 0, "fakegpu:0", SplitEven, ""},
		{"bad ordinal", Options{Device: "fakegpu:x", Workers: 1, AMP: AMPOff, Streams: 1, Split: SplitEven}, false, false, 0, "", "", "want fakegpu:N"},
		{"unknown kind", Options{Device: "tpu:0", Workers: 1, AMP: AMPOff, Streams: 1, Split: SplitEven}, false, false, 0, "", "", `unknown device kind "tpu"`},
		{"amp on cpu", Options{Device: "cpu", Workers: 1, AMP: AMPBF16, Streams: 1, Split: SplitEven}, false, false, 0, "", "", "--amp bf16 needs a GPU"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := c.o
			err := o.checkDevice(Given{Workers: c.workersSet, Split: c.scheduleSet})
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.Workers != c.workers || o.Device != c.device || o.Split != c.split {
				t.Fatalf("workers %d, device %s, split %s; want %d, %s, %s", o.Workers, o.Device, o.Split, c.workers, c.device, c.split)
			}
		})
	}
}

// TestCheckDeviceAMP: --amp auto is fp32 on a CPU (recorded as off) and
// left to a GPU to resolve; an explicit low precision needs a GPU.
func TestCheckDeviceAMP(t *testing.T) {
	cases := []struct {
		device, amp, want, err string
	}{
		{"cpu", AMPAuto, AMPOff, ""},
		{"cpu", AMPOff, AMPOff, ""},
		{"cpu", AMPBF16, "", "needs a GPU"},
		{"fakegpu:0", AMPAuto, AMPAuto, ""},
		{"fakegpu:0", AMPFP16, AMPFP16, ""},
		{"fakegpu:0", "fp8", "", `--amp "fp8": want auto, fp16, bf16 or off`},
	}
	for _, c := range cases {
		t.Run(c.device+" "+c.amp, func(t *testing.T) {
			o := Options{Device: c.device, Workers: 1, AMP: c.amp, Streams: 1, Split: SplitEven, Model: bigramModel}
			err := o.checkDevice(Given{Workers: true})
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one with %q", err, c.err)
				}
				return
			}
			if err != nil || o.AMP != c.want {
				t.Fatalf("amp %q, error %v; want %q", o.AMP, err, c.want)
			}
		})
	}
}

// TestCheckDeviceNgrams: the default n-gram path stays on for every
// device, the GPU included, with no note.
func TestCheckDeviceNgrams(t *testing.T) {
	for _, dev := range []string{"cpu", "fakegpu:0"} {
		t.Run(dev, func(t *testing.T) {
			o := Options{Device: dev, Workers: 1, AMP: AMPOff, Streams: 1, Split: SplitEven, Model: bigramModel}
			if err := o.checkDevice(Given{}); err != nil {
				t.Fatal(err)
			}
			if o.Model != bigramModel || len(o.Notes) != 0 {
				t.Fatalf("model %+v with notes %q, want %+v and none", o.Model, o.Notes, bigramModel)
			}
		})
	}
}

// TestValidate: every refusal is a UsageError naming the flag at fault,
// and a valid run passes with the device's defaults settled.
func TestValidate(t *testing.T) {
	valid := func() Options {
		o := Options{Model: bigramModel, Device: "cpu", Workers: 2, AMP: AMPOff, Streams: 1, Split: SplitEven, Epochs: 2,
			Out: "run", Schedule: train.LRSchedule{Base: 1e-3}, Pipeline: train.PipelineOptions{Stages: 1}}
		o.Data.Prep.Train, o.Data.DevFraction = "reviews.txt", 0.1
		o.Model.Layers = 2
		return o
	}
	cases := []struct {
		name string
		edit func(*Options)
		err  string
	}{
		{"valid", func(*Options) {}, ""},
		{"no dev fraction", func(o *Options) { o.Data.DevFraction = 0 }, "train: --dev-fraction 0: want in (0, 1) when --dev is not given"},
		{"dev fraction 1", func(o *Options) { o.Data.DevFraction = 1 }, "--dev-fraction 1: want in (0, 1)"},
		{"dev file", func(o *Options) { o.Data.DevFraction, o.Data.Dev = 0, "dev.txt" }, ""},
		{"NaN beside a dev file", func(o *Options) { o.Data.DevFraction, o.Data.Dev = math.NaN(), "dev.txt" }, "--dev-fraction NaN: want"},
		{"infinite", func(o *Options) { o.Data.DevFraction = math.Inf(1) }, "--dev-fraction +Inf: want"},
		{"no train", func(o *Options) { o.Data.Prep.Train = "" }, "--train FILE is required"},
		{"resume without train", func(o *Options) { o.Data.Prep.Train, o.Resume = "", true }, ""},
		{"no out", func(o *Options) { o.Out = "" }, "--out DIR is required"},
		{"no epochs", func(o *Options) { o.Epochs = 0 }, "--epochs must be at least 1, got 0"},
		{"no workers", func(o *Options) { o.Workers = 0 }, "--cpu-workers must be at least 1"},
		{"negative patience", func(o *Options) { o.Patience = -1 }, "--patience and --checkpoint-every must be >= 0"},
		{"bad decay", func(o *Options) { o.Schedule.Decay = "step" }, `unknown lr decay "step"`},
		{"pipeline", func(o *Options) { o.Pipeline.Stages = 2 }, ""},
		{"too many stages", func(o *Options) { o.Pipeline.Stages = 5 }, "--pipeline-stages 5: a model of 2 LSTM layers splits into at most 4 stages"},
		{"stages and hybrid", func(o *Options) { o.Pipeline.Stages, o.Split = 2, SplitHybrid }, "does not combine with --schedule hybrid"},
		{"stages and workers", func(o *Options) { o.Pipeline.Stages, o.Workers = 2, 3 }, "--cpu-workers 3 must be a multiple of --pipeline-stages 2"},
		{"stages on a gpu", func(o *Options) { o.Pipeline.Stages, o.Device = 2, "fakegpu:0" }, "does not combine with --device fakegpu:0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := valid()
			c.edit(&o)
			err := o.Validate(Given{Workers: true})
			if c.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.As(err, new(UsageError)) || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("error %v (%T), want a UsageError with %q", err, err, c.err)
			}
		})
	}
}

// TestStatVectors: a vectors file is named by its absolute path, size and
// UTC modification time; a missing file or a directory is refused.
func TestStatVectors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "vectors.vec")
	if err := os.WriteFile(path, []byte("2 1\na 0.5\nb 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	when := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.FixedZone("CEST", 2*3600))
	if err := os.Chtimes(path, when, when); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	src, err := StatVectors("vectors.vec")
	if err != nil {
		t.Fatal(err)
	}
	want := VectorsSource{Path: path, Size: 14, ModTime: "2024-05-06T05:08:09.123456789Z"}
	if *src != want {
		t.Fatalf("got %+v, want %+v", *src, want)
	}
	for name, p := range map[string]string{"missing": filepath.Join(dir, "gone.vec"), "directory": dir} {
		if _, err := StatVectors(p); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
