package console

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/cloakroom/cloakroom/internal/audit"
	"github.com/cloakroom/cloakroom/resolver"
)

//go:embed templates/*.html
var templateFS embed.FS

// pages are the parsed templates: each page file with the layout and the shared
// parts. Templates are constants of the binary: a broken one fails every test.
var pages = parsePages("login", "approvals", "feed", "request", "stats", "setup", "error")

func parsePages(names ...string) map[string]*template.Template {
	base := template.Must(template.New("").Funcs(template.FuncMap{
		"join": strings.Join,
	}).ParseFS(templateFS, "templates/layout.html", "templates/parts.html"))
	out := make(map[string]*template.Template, len(names))
	for _, n := range names {
		out[n] = template.Must(template.Must(base.Clone()).ParseFS(templateFS, "templates/"+n+".html"))
	}
	return out
}

// view is what every page template gets.
type view struct {
	Title string
	// Page names the page, for the navigation.
	Page string
	// CSRF is the session's token, for the forms; empty before login.
	CSRF  string
	Flash string
	Data  any
}

// render executes a page (entry "layout") or a fragment of it into w.
func (h *Handler) render(w http.ResponseWriter, status int, page, entry string, v any) {
	var buf bytes.Buffer
	if err := pages[page].ExecuteTemplate(&buf, entry, v); err != nil {
		h.log.Error("console page failed", "page", page, "err", err)
		http.Error(w, "the console could not render this page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (h *Handler) errorPage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	h.render(w, status, "error", "layout", view{Title: http.StatusText(status), Page: "error", Data: msg})
}

// ---- login

type loginView struct {
	Nonce string
	Error string
}

func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) {
	if h.sessions.from(r) != nil {
		http.Redirect(w, r, Prefix+"approvals", http.StatusSeeOther)
		return
	}
	h.showLogin(w, r, http.StatusOK, "")
}

func (h *Handler) showLogin(w http.ResponseWriter, r *http.Request, status int, msg string) {
	nonce := randomText()
	http.SetCookie(w, cookie(r, loginCookie, nonce, Prefix+"login", 600))
	w.Header().Set("Cache-Control", "no-store")
	h.render(w, status, "login", "layout", view{Title: "Sign in", Page: "login", Data: loginView{Nonce: nonce, Error: msg}})
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := h.origin.Check(r); err != nil {
		h.errorPage(w, r, http.StatusForbidden, "Cross-origin requests are refused.")
		return
	}
	// The login form's own CSRF value: the cookie set with the form must come back
	// with the same value in the form.
	c, err := r.Cookie(loginCookie)
	nonce := r.PostFormValue("nonce")
	if err != nil || nonce == "" || !(&session{csrf: c.Value}).csrfOK(nonce) {
		h.showLogin(w, r, http.StatusForbidden, "The sign-in form expired: try again.")
		return
	}
	if !h.limit.allowed(clientAddr(r), h.cfg.Now()) {
		h.showLogin(w, r, http.StatusTooManyRequests, "Too many failed sign-ins: wait a minute.")
		return
	}
	if !h.tokenOK(r.PostFormValue("token")) {
		h.limit.fail(clientAddr(r))
		h.log.Warn("console sign-in with a wrong admin token", "client", r.RemoteAddr)
		h.showLogin(w, r, http.StatusUnauthorized, "That is not the admin token.")
		return
	}
	id, _ := h.sessions.create()
	http.SetCookie(w, cookie(r, loginCookie, "", Prefix+"login", -1))
	http.SetCookie(w, cookie(r, sessionCookie, id, Prefix, int(h.cfg.SessionTTL/time.Second)))
	h.log.Info("console sign-in", "client", r.RemoteAddr)
	http.Redirect(w, r, Prefix+"approvals", http.StatusSeeOther)
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request, _ *session) {
	h.sessions.end(r)
	http.SetCookie(w, cookie(r, sessionCookie, "", Prefix, -1))
	http.Redirect(w, r, Prefix+"login", http.StatusSeeOther)
}

// ---- approvals

// grantDurations are the durations the queue offers besides once.
var grantDurations = []string{"15m", "1h", "8h"}

type approvalRow struct {
	ID, Age, Expires, Principal, Client, Token, Class, Rule string
	Destination, Description, Reason, Status, DecidedBy     string
}

type approvalsView struct {
	CSRF      string
	Pending   []approvalRow
	Recent    []approvalRow
	Error     string
	Durations []string
}

func (h *Handler) approvalsData(r *http.Request, s *session) approvalsView {
	v := approvalsView{CSRF: s.csrf, Durations: grantDurations}
	if h.cfg.Approvals == nil {
		v.Error = "There is no approval store: every decision that asks for an approval is a refusal."
		return v
	}
	all, err := h.cfg.Approvals.List(r.Context(), "")
	if err != nil {
		h.log.Error("console: listing approvals failed", "err", err)
		v.Error = "The approval store did not answer."
		return v
	}
	now := h.cfg.Now()
	sort.SliceStable(all, func(i, j int) bool { return all[i].Created.After(all[j].Created) })
	for _, a := range all {
		row := approvalRow{
			ID: a.ID, Age: since(now, a.Created), Principal: a.Principal, Client: a.Client,
			Token: a.Token, Class: a.Class, Rule: a.Rule, Description: a.Description, Reason: a.Reason,
			Destination: strings.TrimSpace(a.Method + " " + a.Host + a.Path), Status: string(a.Status),
			DecidedBy: a.DecidedBy,
		}
		if a.Status == resolver.Pending && now.Before(a.Expires) {
			row.Expires = until(now, a.Expires)
			v.Pending = append(v.Pending, row)
		} else if len(v.Recent) < maxRecent {
			if a.Status == resolver.Pending {
				row.Status = string(resolver.Expired)
			}
			v.Recent = append(v.Recent, row)
		}
	}
	return v
}

// maxRecent bounds the decided approvals listed under the queue.
const maxRecent = 20

func (h *Handler) approvalsPage(w http.ResponseWriter, r *http.Request, s *session) {
	h.render(w, http.StatusOK, "approvals", "layout", view{
		Title: "Approvals", Page: "approvals", CSRF: s.csrf, Flash: flash(r.URL.Query()),
		Data: h.approvalsData(r, s),
	})
}

func (h *Handler) approvalsRows(w http.ResponseWriter, r *http.Request, s *session) {
	h.render(w, http.StatusOK, "approvals", "approvalRows", h.approvalsData(r, s))
}

// approvalID matches the ids the stores make (apr_ and hex); anything else is
// not echoed back.
var approvalID = regexp.MustCompile(`^apr_[0-9a-f]{1,64}$`)

func (h *Handler) decide(grant bool) pageHandler {
	return func(w http.ResponseWriter, r *http.Request, s *session) {
		id := r.PathValue("id")
		if h.cfg.Approvals == nil {
			h.errorPage(w, r, http.StatusNotFound, "There is no approval store.")
			return
		}
		if !approvalID.MatchString(id) {
			h.errorPage(w, r, http.StatusNotFound, "No approval has that id.")
			return
		}
		var dur time.Duration
		if f := r.PostFormValue("for"); f != "" && grant {
			d, err := time.ParseDuration(f)
			if err != nil || d <= 0 || d > resolver.MaxGrant {
				h.errorPage(w, r, http.StatusBadRequest, "A grant lasts a positive duration up to 720h, like 15m or 8h.")
				return
			}
			dur = d
		}
		note := strings.TrimSpace(r.PostFormValue("note"))
		if len(note) > 500 {
			note = note[:500]
		}
		_, err := h.cfg.Approvals.Decide(r.Context(), id, grant, dur, "console", note)
		done := "granted"
		switch {
		case err == nil && !grant:
			done = "denied"
		case err == nil && dur > 0:
			done = "granted-for"
		case errors.Is(err, resolver.ErrApprovalNotFound):
			done = "notfound"
		case errors.Is(err, resolver.ErrNotPending):
			done = "gone"
		case err != nil:
			h.log.Error("console: deciding an approval failed", "approval", id, "err", err)
			done = "error"
		}
		q := url.Values{"done": {done}, "id": {id}}
		if dur > 0 {
			q.Set("for", dur.String())
		}
		if err == nil {
			h.log.Info("console decided an approval", "approval", id, "grant", grant, "for", dur.String(), "client", r.RemoteAddr)
		}
		http.Redirect(w, r, Prefix+"approvals?"+q.Encode(), http.StatusSeeOther)
	}
}

// flash turns the redirect's query after a decision into a message.
func flash(q url.Values) string {
	id := q.Get("id")
	if !approvalID.MatchString(id) {
		return ""
	}
	switch q.Get("done") {
	case "granted":
		return "Granted " + id + " for one use."
	case "granted-for":
		d, err := time.ParseDuration(q.Get("for"))
		if err != nil {
			return "Granted " + id + "."
		}
		return "Granted " + id + " for " + humanDuration(d) + "."
	case "denied":
		return "Denied " + id + "."
	case "notfound":
		return "No approval has the id " + id + "."
	case "gone":
		return id + " is no longer pending (decided elsewhere or expired)."
	case "error":
		return "The approval store did not answer: " + id + " is undecided."
	}
	return ""
}

// ---- feed

// maxFeedRows bounds the rows of the feed table.
const maxFeedRows = 200

type feedRow struct {
	ID, Time, Principal, Client, Host, Method, Path, API, Model string
	Decision, Error, Approval, Detections, Latency, Kind        string
	Status, Injected                                            int
}

type feedFilter struct {
	Principal, Host, Decision string
}

type feedView struct {
	Filter                       feedFilter
	Principals, Hosts, Decisions []string
	Rows                         []feedRow
	Shown, Matched, Total        int
	RowsURL                      string
	Capture                      bool
}

func (h *Handler) feedData(r *http.Request) feedView {
	q := r.URL.Query()
	f := feedFilter{Principal: q.Get("principal"), Host: q.Get("host"), Decision: q.Get("decision")}
	recs := h.cfg.Feed.Requests()
	v := feedView{Filter: f, Total: len(recs), Capture: h.cfg.Captures != nil}
	principals, hosts, decisions := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, rec := range recs {
		principals[rec.Principal], hosts[rec.Host], decisions[rec.Outcome()] = true, true, true
		if (f.Principal != "" && rec.Principal != f.Principal) || (f.Host != "" && rec.Host != f.Host) ||
			(f.Decision != "" && rec.Outcome() != f.Decision) {
			continue
		}
		v.Matched++
		if len(v.Rows) < maxFeedRows {
			v.Rows = append(v.Rows, rowOf(rec))
		}
	}
	v.Shown = len(v.Rows)
	v.Principals, v.Hosts, v.Decisions = keys(principals), keys(hosts), keys(decisions)
	fq := url.Values{}
	for k, val := range map[string]string{"principal": f.Principal, "host": f.Host, "decision": f.Decision} {
		if val != "" {
			fq.Set(k, val)
		}
	}
	v.RowsURL = Prefix + "feed/rows"
	if len(fq) > 0 {
		v.RowsURL += "?" + fq.Encode()
	}
	return v
}

func rowOf(rec audit.Record) feedRow {
	row := feedRow{
		ID: rec.ID, Time: rec.Time.UTC().Format("15:04:05"), Principal: rec.Principal, Client: rec.Client,
		Host: rec.Host, Method: rec.Method, Path: rec.Path, API: rec.API, Model: rec.Model,
		Decision: rec.Outcome(), Error: rec.Error, Approval: rec.Approval, Status: rec.Status, Injected: rec.Injected,
		Detections: detectionSummary(rec.Detections), Latency: fmt.Sprintf("%.0f ms", rec.TotalMS),
	}
	switch row.Decision {
	case "forwarded":
		row.Kind = "ok"
	case "refused":
		row.Kind = "refused"
	default:
		row.Kind = "error"
	}
	return row
}

// detectionSummary counts detections by class: "aws ×2, github ×1".
func detectionSummary(ds []audit.Detection) string {
	if len(ds) == 0 {
		return ""
	}
	n := map[string]int{}
	for _, d := range ds {
		n[d.Class]++
	}
	parts := make([]string, 0, len(n))
	for _, c := range keys(n) {
		parts = append(parts, fmt.Sprintf("%s ×%d", c, n[c]))
	}
	return strings.Join(parts, ", ")
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (h *Handler) feedPage(w http.ResponseWriter, r *http.Request, s *session) {
	h.render(w, http.StatusOK, "feed", "layout", view{Title: "Live feed", Page: "feed", CSRF: s.csrf, Data: h.feedData(r)})
}

func (h *Handler) feedRows(w http.ResponseWriter, r *http.Request, _ *session) {
	h.render(w, http.StatusOK, "feed", "feedRows", h.feedData(r))
}

// ---- one request

// maxPromptShown bounds the captured prompt a page shows.
const maxPromptShown = 512 << 10

type requestView struct {
	Row        feedRow
	Record     audit.Record
	Decisions  []decisionRow
	Capture    bool // capture is on
	Prompt     string
	HasPrompt  bool
	Truncated  int // bytes left out
	PromptSize int
}

type decisionRow struct {
	Time, Event, Direction, Host, Token, Rule, Reason, Approval, By string
}

func (h *Handler) requestPage(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	rec, decs, ok := h.cfg.Feed.Request(id)
	if !ok {
		h.render(w, http.StatusNotFound, "error", "layout", view{Title: "Not found", Page: "feed", CSRF: s.csrf,
			Data: "The feed no longer holds that request (it keeps the most recent ones, in memory)."})
		return
	}
	v := requestView{Row: rowOf(rec), Record: rec, Capture: h.cfg.Captures != nil}
	for _, d := range decs {
		v.Decisions = append(v.Decisions, decisionRow{
			Time: d.Time.UTC().Format("15:04:05"), Event: d.Event, Direction: d.Direction, Host: d.Host,
			Token: d.Token, Rule: d.Rule, Reason: d.Reason,
			Approval: d.Approval, By: d.By,
		})
	}
	if h.cfg.Captures != nil {
		if body, ok := h.cfg.Captures.Get(id); ok {
			v.HasPrompt, v.PromptSize = true, len(body)
			v.Prompt, v.Truncated = promptText(body)
		}
	}
	h.render(w, http.StatusOK, "request", "layout", view{Title: "Request " + id, Page: "feed", CSRF: s.csrf, Data: v})
}

// promptText shows a captured body: JSON indented, cut at maxPromptShown.
func promptText(body []byte) (string, int) {
	cut := 0
	if len(body) > maxPromptShown {
		cut = len(body) - maxPromptShown
		body = body[:maxPromptShown]
	} else if pretty := indentJSON(body); pretty != nil {
		body = pretty
	}
	return strings.ToValidUTF8(string(body), "\uFFFD"), cut
}

// indentJSON returns body indented when it is JSON, else nil.
func indentJSON(body []byte) []byte {
	if !json.Valid(body) {
		return nil
	}
	var buf bytes.Buffer
	if json.Indent(&buf, body, "", "  ") != nil {
		return nil
	}
	return buf.Bytes()
}

// ---- stats

func (h *Handler) statsPage(w http.ResponseWriter, r *http.Request, s *session) {
	h.render(w, http.StatusOK, "stats", "layout", view{Title: "Statistics", Page: "stats", CSRF: s.csrf, Data: h.charts()})
}

func (h *Handler) statsCharts(w http.ResponseWriter, r *http.Request, _ *session) {
	h.render(w, http.StatusOK, "stats", "charts", h.charts())
}

// ---- time

// since says how long ago t was: "42s", "3m 12s", "2h 5m".
func since(now, t time.Time) string { return humanDuration(now.Sub(t)) }

// until says how long until t.
func until(now, t time.Time) string { return humanDuration(t.Sub(now)) }

func humanDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	d = d.Round(time.Second)
	two := func(n1 int, u1 string, n2 int, u2 string) string {
		if n2 == 0 {
			return fmt.Sprintf("%d%s", n1, u1)
		}
		return fmt.Sprintf("%d%s %d%s", n1, u1, n2, u2)
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return two(int(d/time.Minute), "m", int(d%time.Minute/time.Second), "s")
	case d < 48*time.Hour:
		return two(int(d/time.Hour), "h", int(d%time.Hour/time.Minute), "m")
	}
	return two(int(d/(24*time.Hour)), "d", int(d%(24*time.Hour)/time.Hour), "h")
}
