package cuda

import "fmt"

// Precision is the arithmetic of activations and matrix multiplies. Master
// weights, gradients and optimizer state are fp32 in every mode.
type Precision int

// The precisions: FP32 everywhere; FP16 tensor-core GEMMs with fp32
// accumulation and dynamic loss scaling; BF16 likewise without loss
// scaling (bf16 has fp32's exponent range).
const (
	FP32 Precision = iota
	FP16
	BF16
)

// ParsePrecision reads an --amp value: "" or "off" (FP32), "fp16" or "on"
// (FP16), "bf16".
func ParsePrecision(s string) (Precision, error) {
	switch s {
	case "", "off", "fp32", "false":
		return FP32, nil
	case "fp16", "on", "true":
		return FP16, nil
	case "bf16":
		return BF16, nil
	}
	return FP32, fmt.Errorf("unknown mixed-precision mode %q (want auto, fp32, fp16 or bf16)", s)
}

// ResolvePrecision turns a requested precision into the one that runs on a
// device of compute capability major.minor: "auto" (and "") is BF16 on 8.0
// and newer, whose tensor cores run bf16 at fp16's rate without loss
// scaling, and FP32 before; anything else is what ParsePrecision reads.
func ResolvePrecision(req string, major, minor int) (Precision, error) {
	if req == "auto" || req == "" {
		if major >= 8 {
			return BF16, nil
		}
		return FP32, nil
	}
	p, err := ParsePrecision(req)
	if err != nil {
		return FP32, err
	}
	if p == BF16 && major < 8 {
		return FP32, fmt.Errorf("bf16 needs compute capability 8.0 or newer, this device has %d.%d (use --amp fp16 or fp32)", major, minor)
	}
	return p, nil
}

// String is the --amp spelling of p.
func (p Precision) String() string {
	switch p {
	case FP16:
		return "fp16"
	case BF16:
		return "bf16"
	}
	return "fp32"
}

// NeedsLossScaling reports whether gradients must be scaled to stay within
// the format's range.
func (p Precision) NeedsLossScaling() bool { return p == FP16 }

// lowBytes is the size of one activation element.
func (p Precision) lowBytes() int {
	if p == FP32 {
		return 4
	}
	return 2
}

// suffix names the kernel variant for p.
func (p Precision) suffix() string {
	switch p {
	case FP16:
		return "_f16"
	case BF16:
		return "_bf16"
	}
	return "_f32"
}
