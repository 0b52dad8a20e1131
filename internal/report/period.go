package report

import (
	"fmt"
	"time"
)

// Period lengths a report can aggregate by.
const (
	Week    = "week"
	Month   = "month"
	Quarter = "quarter"
)

// periodIndex numbers the period that Unix time t falls in, so that
// consecutive periods get consecutive numbers: ISO weeks from the Monday
// before the epoch, months and quarters from year 0. Times are in UTC.
func periodIndex(kind string, t int64) int32 {
	switch kind {
	case Week:
		days := floorDiv(t, 86400) + 3 // 1970-01-01 was a Thursday: day 3 of its ISO week
		return int32(floorDiv(days, 7))
	case Quarter:
		u := time.Unix(t, 0).UTC()
		return int32(u.Year()*4 + (int(u.Month())-1)/3)
	default:
		u := time.Unix(t, 0).UTC()
		return int32(u.Year()*12 + int(u.Month()) - 1)
	}
}

// periodLabel writes period i as YYYY-Www (ISO week), YYYY-MM or YYYY-Qn.
func periodLabel(kind string, i int32) string {
	switch kind {
	case Week:
		monday := time.Unix((int64(i)*7-3)*86400, 0).UTC()
		y, w := monday.ISOWeek()
		return fmt.Sprintf("%04d-W%02d", y, w)
	case Quarter:
		return fmt.Sprintf("%04d-Q%d", floorDiv(int64(i), 4), mod(int64(i), 4)+1)
	default:
		return fmt.Sprintf("%04d-%02d", floorDiv(int64(i), 12), mod(int64(i), 12)+1)
	}
}

// ParsePeriod reads a period label of the given kind (as periodLabel writes
// it, or YYYY-MM for any kind, meaning the period that month starts in) and
// returns its index.
func ParsePeriod(kind, s string) (int32, error) {
	var y, n int
	switch {
	case kind == Week:
		if _, err := fmt.Sscanf(s, "%4d-W%2d", &y, &n); err == nil && n >= 1 && n <= 53 {
			// Jan 4 is always in ISO week 1.
			jan4 := time.Date(y, 1, 4, 0, 0, 0, 0, time.UTC)
			return periodIndex(Week, jan4.Unix()) + int32(n-1), nil
		}
	case kind == Quarter:
		if _, err := fmt.Sscanf(s, "%4d-Q%1d", &y, &n); err == nil && n >= 1 && n <= 4 {
			return int32(y*4 + n - 1), nil
		}
	}
	if _, err := fmt.Sscanf(s, "%4d-%2d", &y, &n); err == nil && n >= 1 && n <= 12 && len(s) == 7 {
		return periodIndex(kind, time.Date(y, time.Month(n), 1, 0, 0, 0, 0, time.UTC).Unix()), nil
	}
	return 0, fmt.Errorf("period %q: want YYYY-MM, YYYY-Www or YYYY-Qn", s)
}

// ValidPeriod reports whether kind is week, month or quarter.
func ValidPeriod(kind string) bool { return kind == Week || kind == Month || kind == Quarter }

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func mod(a, b int64) int64 { return a - floorDiv(a, b)*b }
