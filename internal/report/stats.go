package report

import (
	"math"
	"slices"
)

// z95 is the two-sided 95% standard normal quantile.
const z95 = 1.959963984540054

// Wilson returns the 95% Wilson score interval for k successes in n trials.
// Unlike the normal approximation it stays inside [0, 1] and is honest for
// the small counts a single product or week often has. n = 0 gives [0, 1].
func Wilson(k, n int64) (lo, hi float64) {
	if n <= 0 {
		return 0, 1
	}
	nf := float64(n)
	p := float64(k) / nf
	z2 := z95 * z95
	den := 1 + z2/nf
	mid := (p + z2/(2*nf)) / den
	half := z95 * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf)) / den
	return max(0, mid-half), min(1, mid+half)
}

// TwoProportion is the pooled two-proportion z-test of k1/n1 against k2/n2:
// z > 0 when the second share is larger, and the two-sided p-value. When
// both samples are all successes or all failures there is no evidence of a
// difference and p = 1.
func TwoProportion(k1, n1, k2, n2 int64) (z, p float64) {
	if n1 <= 0 || n2 <= 0 {
		return 0, 1
	}
	p1, p2 := float64(k1)/float64(n1), float64(k2)/float64(n2)
	pool := float64(k1+k2) / float64(n1+n2)
	se := math.Sqrt(pool * (1 - pool) * (1/float64(n1) + 1/float64(n2)))
	if se == 0 {
		return 0, 1
	}
	z = (p2 - p1) / se
	return z, math.Erfc(math.Abs(z) / math.Sqrt2)
}

// BenjaminiHochberg returns the q-value (BH-adjusted p-value) of each
// p-value: rejecting every test with q <= alpha keeps the expected share of
// false discoveries at or below alpha (Benjamini & Hochberg 1995).
func BenjaminiHochberg(p []float64) []float64 {
	m := len(p)
	order := make([]int, m)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case p[a] < p[b]:
			return -1
		case p[a] > p[b]:
			return 1
		}
		return 0
	})
	q := make([]float64, m)
	run := 1.0
	for r := m - 1; r >= 0; r-- {
		i := order[r]
		run = min(run, p[i]*float64(m)/float64(r+1))
		q[i] = run
	}
	return q
}

// LogOdds is the weighted log-odds ratio with an informative Dirichlet prior
// (Monroe, Colaresi & Quinn 2008, "Fightin' Words", eq. 16 and 22) of a term
// seen yi times among ni tokens of group i and yj times among nj tokens of
// group j, with prior count alpha for the term and a0 for all terms. It
// returns the z-score delta/sigma: positive when the term leans to group i.
// The prior shrinks the estimates of rare terms towards the background, so
// that a word seen twice does not top the list.
func LogOdds(yi, ni, yj, nj, alpha, a0 float64) float64 {
	if alpha <= 0 {
		return 0
	}
	di := math.Log((yi+alpha)/(ni+a0-yi-alpha)) - math.Log((yj+alpha)/(nj+a0-yj-alpha))
	v := 1/(yi+alpha) + 1/(yj+alpha)
	return di / math.Sqrt(v)
}
