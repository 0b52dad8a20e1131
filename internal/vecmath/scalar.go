// Package vecmath is float32 exp, sigmoid and tanh for the LSTM gate math:
// scalar functions, and in-place slice versions that use AVX2 + FMA
// assembly on amd64 (eight lanes at a time) when the CPU has it.
//
// math.Exp works in float64 and costs several times more than the whole
// gate update around it. These follow Cephes' expf and tanhf (range
// reduction plus a minimax polynomial) and stay within a few float32 ulps:
// relative error below 1e-6 everywhere, tested against package math.
// The assembly lives here rather than in package model because a Go
// package cannot have both cgo (model's BLAS link) and assembly files.
package vecmath

import "math"

const (
	expHi   = 88.0  // Exp32 saturates above: e^88 is near float32's max
	expLo   = -87.0 // and below: results would be denormal
	log2e   = 1.44269504088896341
	ln2Hi   = 0.693359375 // ln 2 split so that n*ln2Hi is exact
	ln2Lo   = -2.12194440e-4
	roundUp = 12582912 // 1.5 * 2^23: adding it rounds a float32 to an integer
)

// Exp32 is e^x for float32, clamped to [e^-87, e^88].
func Exp32(x float32) float32 {
	if x > expHi {
		x = expHi
	} else if x < expLo {
		x = expLo
	}
	// n = round(x / ln 2); r = x - n ln 2, |r| <= ln2/2.
	t := float32(x*log2e) + roundUp
	n := t - roundUp
	r := x - n*ln2Hi - n*ln2Lo
	p := float32(1.9875691500e-4)
	p = p*r + 1.3981999507e-3
	p = p*r + 8.3334519073e-3
	p = p*r + 4.1665795894e-2
	p = p*r + 1.6666665459e-1
	p = p*r + 5.0000001201e-1
	p = p*r*r + r + 1
	// 2^n built from its exponent bits; n is in [-126, 127] after the clamp.
	return p * math.Float32frombits(uint32(int32(n)+127)<<23)
}

// Sigmoid32 is 1 / (1 + e^-x).
func Sigmoid32(x float32) float32 { return 1 / (1 + Exp32(-x)) }

// Tanh32 is tanh(x): a polynomial near zero, where 1 - 2/(e^2x + 1) would
// lose relative accuracy, and the exponential form elsewhere.
func Tanh32(x float32) float32 {
	a := x
	if a < 0 {
		a = -a
	}
	if a < 0.625 {
		z := x * x
		p := float32(-5.70498872745e-3)
		p = p*z + 2.06390887954e-2
		p = p*z - 5.37397155531e-2
		p = p*z + 1.33314422036e-1
		p = p*z - 3.33332819422e-1
		return p*z*x + x
	}
	if a > 9.1 { // tanh rounds to 1 in float32
		a = 1
	} else {
		a = 1 - 2/(Exp32(2*a)+1)
	}
	if x < 0 {
		return -a
	}
	return a
}
