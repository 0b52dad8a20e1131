package console

import "trainer/data"

// Stages shows data.Prepare's events on l: a meter per stage
// (stages may overlap), warnings as warning lines. Call done when Prepare
// returns, with whether it succeeded: the meters still open end with their
// totals, or without them after a failure.
func (l *Logger) Stages() (progress func(data.ProgressEvent), done func(ok bool)) {
	meters := map[string]*Meter{}
	var order []*Meter // for done, in the order the stages began
	progress = func(e data.ProgressEvent) {
		if e.Warning != "" {
			l.Warnf("%s", e.Warning)
			return
		}
		m := meters[e.Stage]
		if m == nil {
			m = l.Meter(e.Stage, e.Total, true, "reviews")
			meters[e.Stage] = m
			order = append(order, m)
		}
		m.Update(e.Done, e.Reviews)
		if e.Final {
			m.Finish()
		}
	}
	return progress, func(ok bool) {
		for _, m := range order {
			if ok {
				m.Finish()
			} else {
				m.Abort()
			}
		}
	}
}
