package httpapi

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// sourceRow is one intake source's counts over the dashboard's window.
type sourceRow struct {
	Source                              string
	Accepted, Resent, Refused, Unusable int
}

// intakeSources are the ways reports come in, always shown even at zero.
var intakeSources = []string{"json", "fhir", "hl7v2-http", "hl7v2-mllp"}

func sourceRows(a *activityView) []sourceRow {
	var rows []sourceRow
	for _, src := range intakeSources {
		n := a.Sources[src]
		rows = append(rows, sourceRow{Source: src, Accepted: n["accepted"], Resent: n["resent"], Refused: n["refused"], Unusable: n["unavailable"]})
	}
	known := len(rows)
	for src, n := range a.Sources { // any other source a future intake adds
		if !slices.Contains(intakeSources, src) {
			rows = append(rows, sourceRow{Source: src, Accepted: n["accepted"], Resent: n["resent"], Refused: n["refused"], Unusable: n["unavailable"]})
		}
	}
	sort.SliceStable(rows[known:], func(i, j int) bool { return rows[known+i].Source < rows[known+j].Source })
	return rows
}

// chart is a server-drawn SVG bar chart: no script, no library.
type chart struct {
	Width, Height int
	Bars          []bar
	Labels        []chartLabel
	Max           int
}

type bar struct {
	X, Y, W, H int
	Class      string // in, refused, out
	Title      string
}

type chartLabel struct {
	X    int
	Text string
}

// throughputChart draws, per hour of the window, messages in (accepted or
// resent, with refused stacked on top) beside deliveries out.
func throughputChart(a *activityView) chart {
	const hourW, plotH, top = 28, 120, 10
	byHour := map[time.Time]map[string]int{}
	for _, h := range a.Hours {
		byHour[h.Hour] = h.Counts
	}
	type slot struct {
		at               time.Time
		in, refused, out int
	}
	var slots []slot
	most := 1
	for at := a.From; !at.After(a.To); at = at.Add(time.Hour) {
		hour := []gateway.ActivityHour{{Hour: at, Counts: byHour[at]}}
		sl := slot{at: at}
		for k, n := range gateway.Sum(hour, "received|") {
			switch {
			case strings.HasSuffix(k, "|refused"):
				sl.refused += n
			case strings.HasSuffix(k, "|accepted"), strings.HasSuffix(k, "|resent"):
				sl.in += n
			}
		}
		for k, n := range gateway.Sum(hour, "finished|") {
			if strings.HasSuffix(k, "|delivered") {
				sl.out += n
			}
		}
		most = max(most, sl.in+sl.refused, sl.out)
		slots = append(slots, sl)
	}
	c := chart{Width: len(slots)*hourW + 10, Height: plotH + top + 20, Max: most}
	scale := func(n int) int { return n * plotH / most }
	for i, sl := range slots {
		x := 5 + i*hourW
		base := top + plotH
		label := sl.at.Format("15:04")
		if h := scale(sl.in); h > 0 {
			c.Bars = append(c.Bars, bar{X: x, Y: base - h, W: 11, H: h, Class: "in", Title: fmt.Sprintf("%s: %d accepted", label, sl.in)})
		}
		if h := scale(sl.refused); h > 0 {
			c.Bars = append(c.Bars, bar{X: x, Y: base - scale(sl.in) - h, W: 11, H: h, Class: "refused", Title: fmt.Sprintf("%s: %d refused", label, sl.refused)})
		}
		if h := scale(sl.out); h > 0 {
			c.Bars = append(c.Bars, bar{X: x + 12, Y: base - h, W: 11, H: h, Class: "out", Title: fmt.Sprintf("%s: %d delivered", label, sl.out)})
		}
		if i%3 == 0 {
			c.Labels = append(c.Labels, chartLabel{X: x, Text: label})
		}
	}
	return c
}
