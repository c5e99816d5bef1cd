package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cloakroom/cloakroom/bench"
	"github.com/cloakroom/cloakroom/internal/fakeapi"
)

// memLimit is the proxy's body limit in the memory runs: above the largest body.
const memLimit = 96 << 20

// memSends is how many times the large body is sent to one proxy process.
const memSends = 2

// memResult is the resident memory of one cloakroom process around large bodies.
type memResult struct {
	mib       int   // body size asked of the corpus, MiB
	bodyBytes int   // exact body length
	idleKiB   int64 // VmHWM after warm-up with small bodies
	peakKiB   int64 // VmHWM after the large bodies
}

// measureMemory starts the cloakroom binary intercepting 127.0.0.1 (where fake
// listens), warms it up with small corpus bodies, reads its VmHWM, sends a corpus
// body of mib MiB memSends times, and reads VmHWM again.
func measureMemory(ctx context.Context, t *tb, bin string, fake *fakeapi.Server, c *bench.Corpus, mib int) (memResult, error) {
	dir := t.TempDir()
	caFile := filepath.Join(dir, "fake-ca.pem")
	if err := os.WriteFile(caFile, fake.CAPEM, 0o600); err != nil {
		return memResult{}, err
	}
	data := filepath.Join(dir, "data")
	cmd := exec.CommandContext(ctx, bin, "serve", "--data-dir", data,
		// Two ephemeral ports; spelled differently since serve refuses equal addresses.
		"--listen", "127.0.0.1:0", "--admin", "localhost:0",
		"--intercept", "127.0.0.1", "--upstream-ca", caFile,
		"--max-body-bytes", strconv.Itoa(memLimit), "--log-format", "json",
		"--audit-log", filepath.Join(dir, "audit.jsonl"))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return memResult{}, err
	}
	if err := cmd.Start(); err != nil {
		return memResult{}, err
	}
	defer stopProcess(cmd)
	addr, err := proxyAddr(stderr)
	if err != nil {
		return memResult{}, err
	}
	go func() { _, _ = io.Copy(io.Discard, stderr) }()

	caPEM, err := os.ReadFile(filepath.Join(data, "ca.pem"))
	if err != nil {
		return memResult{}, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return memResult{}, errors.New("no certificate in the data dir's ca.pem")
	}
	tr := &http.Transport{Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: addr}), TLSClientConfig: &tls.Config{RootCAs: pool}}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 2 * time.Minute}
	target := "https://" + fake.Addr + "/v1/messages"

	small := c.Request(10<<10, false)
	for range 3 {
		if err := memSend(ctx, client, target, fake, c, small); err != nil {
			return memResult{}, fmt.Errorf("warm up: %w", err)
		}
	}
	idle, err := vmHWM(cmd.Process.Pid)
	if err != nil {
		return memResult{}, err
	}
	body := c.Request(mib<<20, false)
	for range memSends {
		if err := memSend(ctx, client, target, fake, c, body); err != nil {
			return memResult{}, err
		}
	}
	peak, err := vmHWM(cmd.Process.Pid)
	if err != nil {
		return memResult{}, err
	}
	return memResult{mib: mib, bodyBytes: len(body), idleKiB: idle, peakKiB: peak}, nil
}

// memSend posts body through the proxy and checks that it went through redacted.
func memSend(ctx context.Context, client *http.Client, target string, fake *fakeapi.Server, c *bench.Corpus, body []byte) error {
	defer fake.Reset()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("anthropic-version", "2023-06-01")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d (X-Cloakroom-Error %q)", resp.StatusCode, resp.Header.Get("X-Cloakroom-Error"))
	}
	got := fake.Last().Body
	if len(got) == 0 {
		return errors.New("the request did not reach the fake upstream")
	}
	if bytes.Contains(got, []byte(c.Secrets.GitHub)) || !bytes.Contains(got, []byte("cloak_")) {
		return errors.New("the request reached the upstream unredacted: is 127.0.0.1 intercepted?")
	}
	return nil
}

// proxyAddr reads the JSON log on r up to the "cloakroom serving" line and returns
// its proxy address.
func proxyAddr(r io.Reader) (string, error) {
	sc := bufio.NewScanner(r)
	var last string
	for sc.Scan() {
		if s := strings.TrimSpace(sc.Text()); s != "" {
			last = s
		}
		var line struct {
			Msg   string `json:"msg"`
			Proxy string `json:"proxy"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "cloakroom serving" && line.Proxy != "" {
			return line.Proxy, nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("cloakroom exited before serving; its last words: %q", last)
}

// vmHWM returns the peak resident set size of process pid, in KiB.
func vmHWM(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return parseVmHWM(b)
}

func parseVmHWM(status []byte) (int64, error) {
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		}
	}
	return 0, errors.New("no VmHWM line in /proc/<pid>/status")
}

// stopProcess interrupts cmd and waits for it, killing it after 10 seconds.
func stopProcess(cmd *exec.Cmd) {
	_ = cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

func writeMemory(w io.Writer, rows []memResult) {
	fmt.Fprintf(w, "\nPeak RSS of the cloakroom process (VmHWM), %d sends of the body, --max-body-bytes %d MiB\n\n", memSends, memLimit>>20)
	fmt.Fprintln(w, "| body | VmHWM after warm-up | VmHWM peak | peak per MiB of body | (peak − warm-up) per MiB of body |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, r := range rows {
		bodyMiB := float64(r.bodyBytes) / (1 << 20)
		fmt.Fprintf(w, "| %d MiB (%d B) | %.0f MiB | %.0f MiB | %.1f MiB | %.1f MiB |\n", r.mib, r.bodyBytes,
			float64(r.idleKiB)/1024, float64(r.peakKiB)/1024,
			float64(r.peakKiB)/1024/bodyMiB, float64(r.peakKiB-r.idleKiB)/1024/bodyMiB)
	}
}
