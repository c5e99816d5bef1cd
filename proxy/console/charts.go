package console

import (
	"fmt"
	"sort"
	"time"
)

// Chart geometry, in SVG user units.
const (
	chartW, chartH             = 720, 180
	plotL, plotR, plotT, plotB = 44, 8, 10, 22
	maxSeriesShown             = 6
)

// palette colours the series of a chart in order; "other" is grey.
var palette = []string{"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1", "#edc948"}

const otherFill = "#bab0ac"

// fixedFills keeps the colours of well-known series stable between charts.
var fixedFills = map[string]string{
	"forwarded": "#59a14f", "refused": "#f28e2b", "upstream_error": "#e15759",
	"allow": "#59a14f", "deny": "#e15759", "granted": "#4e79a7", "denied": "#b07aa1",
	"approval_requested": "#f28e2b", "expired": "#bab0ac", "grant_used": "#76b7b2",
}

// chart is one stacked bar chart, laid out for the template.
type chart struct {
	ID, Title, Unit string
	Width, Height   int
	Bars            []bar
	Legend          []legendItem
	Max, Total      int
	// Axis: the plot's corners and labels.
	PlotLeft, PlotRight, PlotTop, PlotBottom int
	CenterX, CenterY                         int
	YLabels                                  []label
	XLabels                                  []label
}

type bar struct {
	X, Y, W, H float64
	Fill, Tip  string
}

type legendItem struct {
	Name, Fill string
	Total      int
}

type label struct {
	X, Y float64
	Text string
	// Anchor is the label's CSS class: start, middle or end.
	Anchor string
}

type chartsView struct {
	Charts []chart
	Since  string
	Step   string
}

func (h *Handler) charts() chartsView {
	st := h.cfg.Feed.Stats(h.cfg.Now())
	if st.Step <= 0 {
		st.Step = time.Minute
	}
	v := chartsView{Step: humanDuration(st.Step)}
	if st.Step == time.Minute {
		v.Step = "minute"
	}
	sets := []struct {
		id, title, unit string
		series          []Series
	}{
		{"requests", "Requests by outcome", "requests", st.Requests},
		{"rules", "Detections by rule", "detections", st.Rules},
		{"principals", "Detections by principal", "detections", st.Principals},
		{"decisions", "Decisions by event", "decisions", st.Decisions},
	}
	for _, s := range sets {
		c := buildChart(s.id, s.title, s.unit, s.series, st.End, st.Step)
		v.Charts = append(v.Charts, c)
		if n := bucketsOf(s.series); n > 0 && v.Since == "" {
			v.Since = st.End.Add(-time.Duration(n) * st.Step).UTC().Format("15:04")
		}
	}
	if v.Since == "" {
		v.Since = st.End.Add(-time.Hour).UTC().Format("15:04")
	}
	return v
}

func bucketsOf(ss []Series) int {
	n := 0
	for _, s := range ss {
		n = max(n, len(s.Counts))
	}
	return n
}

// buildChart stacks the largest series (by total) and folds the rest into "other".
func buildChart(id, title, unit string, ss []Series, end time.Time, step time.Duration) chart {
	c := chart{ID: id, Title: title, Unit: unit, Width: chartW, Height: chartH,
		PlotLeft: plotL, PlotRight: chartW - plotR, PlotTop: plotT, PlotBottom: chartH - plotB,
		CenterX: (plotL + chartW - plotR) / 2, CenterY: (plotT + chartH - plotB) / 2}
	n := bucketsOf(ss)
	if n == 0 {
		n = 60
	}
	type totalled struct {
		Series
		total int
	}
	ts := make([]totalled, 0, len(ss))
	for _, s := range ss {
		t := 0
		for _, x := range s.Counts {
			t += x
		}
		if t > 0 {
			ts = append(ts, totalled{s, t})
		}
	}
	sort.SliceStable(ts, func(i, j int) bool {
		if ts[i].total != ts[j].total {
			return ts[i].total > ts[j].total
		}
		return ts[i].Name < ts[j].Name
	})
	folded := len(ts) > maxSeriesShown
	if folded {
		other := totalled{Series: Series{Name: "other", Counts: make([]int, n)}}
		for _, s := range ts[maxSeriesShown-1:] {
			for i, x := range s.Counts {
				if i < n {
					other.Counts[i] += x
				}
			}
			other.total += s.total
		}
		ts = append(ts[:maxSeriesShown-1], other)
	}
	fills := make([]string, len(ts))
	next := 0
	for i, s := range ts {
		switch f, ok := fixedFills[s.Name]; {
		case folded && i == len(ts)-1:
			fills[i] = otherFill
		case ok:
			fills[i] = f
		default:
			fills[i] = palette[next%len(palette)]
			next++
		}
		c.Legend = append(c.Legend, legendItem{Name: s.Name, Fill: fills[i], Total: s.total})
		c.Total += s.total
	}
	// The tallest stack sets the scale.
	for i := range n {
		sum := 0
		for _, s := range ts {
			if i < len(s.Counts) {
				sum += s.Counts[i]
			}
		}
		c.Max = max(c.Max, sum)
	}
	plotW := float64(c.PlotRight - c.PlotLeft)
	plotH := float64(c.PlotBottom - c.PlotTop)
	slot := plotW / float64(n)
	start := end.Add(-time.Duration(n) * step)
	if c.Max > 0 {
		for i := range n {
			y := float64(c.PlotBottom)
			at := start.Add(time.Duration(i) * step).UTC().Format("15:04")
			for k, s := range ts {
				if i >= len(s.Counts) || s.Counts[i] == 0 {
					continue
				}
				hgt := float64(s.Counts[i]) / float64(c.Max) * plotH
				y -= hgt
				c.Bars = append(c.Bars, bar{
					X: round1(float64(c.PlotLeft) + float64(i)*slot + slot*0.1), Y: round1(y),
					W: round1(slot * 0.8), H: round1(hgt), Fill: fills[k],
					Tip: fmt.Sprintf("%s UTC · %s: %d %s", at, s.Name, s.Counts[i], unit),
				})
			}
		}
	}
	top := max(c.Max, 1)
	c.YLabels = []label{
		{X: float64(c.PlotLeft - 6), Y: float64(c.PlotTop + 4), Text: fmt.Sprint(top)},
		{X: float64(c.PlotLeft - 6), Y: float64(c.PlotBottom), Text: "0"},
	}
	for k, i := range []int{0, n / 2, n} {
		c.XLabels = append(c.XLabels, label{
			X: round1(float64(c.PlotLeft) + float64(i)*slot), Y: float64(chartH - 6),
			Text:   start.Add(time.Duration(i) * step).UTC().Format("15:04"),
			Anchor: [...]string{"start", "middle", "end"}[k],
		})
	}
	return c
}

func round1(f float64) float64 { return float64(int(f*10+0.5)) / 10 }
