// Package testutil holds test helpers shared by cloakroom's packages: a throwaway
// redis-server per test.
package testutil

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisReadyTimeout bounds the wait for a started redis-server to answer PING.
const redisReadyTimeout = 10 * time.Second

// Redis returns a client to a real Redis for the test, and a key prefix unique to the
// test. It uses REDIS_ADDR if set (and deletes the test's keys at cleanup); otherwise
// it starts a throwaway redis-server from PATH on a free loopback port, without
// persistence, and stops it at cleanup. Without redis-server it skips the test, or
// fails it when CI=true, so CI can never pass without Redis.
func Redis(t testing.TB) (client *redis.Client, prefix string) {
	t.Helper()
	prefix = keyPrefix(t)
	if addr := os.Getenv("REDIS_ADDR"); addr != "" {
		client = redis.NewClient(&redis.Options{Addr: addr})
		t.Cleanup(func() {
			deleteKeys(t, client, prefix)
			_ = client.Close()
		})
		if err := client.Ping(context.Background()).Err(); err != nil {
			t.Fatalf("REDIS_ADDR=%s: %v", addr, err)
		}
		return client, prefix
	}
	srv := startServer(t)
	return srv.Client(t), prefix
}

// RedisServer starts a throwaway redis-server like Redis does (ignoring REDIS_ADDR,
// since the test needs to stop and start it) and returns its handle, a client to it
// and a unique key prefix. The server is stopped at cleanup.
func RedisServer(t testing.TB) (srv *Server, client *redis.Client, prefix string) {
	t.Helper()
	srv = startServer(t)
	return srv, srv.Client(t), keyPrefix(t)
}

// Server is a redis-server process that a test can stop and start again on the same
// port, to simulate an outage. It keeps no data across Stop: restart means empty. It
// is safe for concurrent use.
type Server struct {
	t    testing.TB
	bin  string
	addr string
	dir  string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd exits
}

// Addr returns the server's host:port.
func (s *Server) Addr() string { return s.addr }

// Client returns a new client to the server, closed at the end of the test.
func (s *Server) Client(t testing.TB) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.addr})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Stop kills the server and waits for it to exit. Stopping a stopped server does
// nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// Start starts the server again on its port and waits until it answers PING. It
// fails the test if it cannot. Starting a running server does nothing.
func (s *Server) Start() {
	s.t.Helper()
	if err := s.start(); err != nil {
		s.t.Fatalf("restart redis-server on %s: %v", s.addr, err)
	}
}

func startServer(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis-server not in PATH (install it or set REDIS_ADDR); CI=true: Redis tests must run")
		}
		t.Skip("redis-server not in PATH (install it or set REDIS_ADDR)")
	}
	var last error
	for range 3 { // a free port can be taken between finding and binding it
		port, err := freePort()
		if err != nil {
			t.Fatalf("find a free port: %v", err)
		}
		s := &Server{t: t, bin: bin, addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), dir: t.TempDir()}
		if last = s.start(); last == nil {
			t.Cleanup(s.Stop)
			return s
		}
	}
	t.Fatalf("start redis-server: %v", last)
	return nil
}

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return nil
	}
	_, port, _ := net.SplitHostPort(s.addr)
	cmd := exec.Command(s.bin,
		"--port", port, "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no",
		"--dir", s.dir, "--loglevel", "warning")
	out := new(bytes.Buffer) // read only after the process exits
	cmd.Stdout = out
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	if err := waitReady(s.addr, done); err != nil {
		_ = cmd.Process.Kill()
		<-done
		return errors.New(err.Error() + ": " + strings.TrimSpace(out.String()))
	}
	s.cmd, s.done = cmd, done
	return nil
}

// waitReady sends PING until the server answers PONG, it exits, or the wait times out.
func waitReady(addr string, exited <-chan struct{}) error {
	deadline := time.Now().Add(redisReadyTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errors.New("redis-server exited")
		default:
		}
		if ping(addr) {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return errors.New("redis-server did not answer PING in time")
}

func ping(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "+PONG")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// keyPrefix returns "test:<name>:<random>:" with the test name reduced to
// characters that are neither glob metacharacters nor Cluster hash-tag braces.
func keyPrefix(t testing.TB) string {
	name := []byte(t.Name())
	for i, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '/') {
			name[i] = '_'
		}
	}
	var r [6]byte
	_, _ = rand.Read(r[:])
	return "test:" + string(name) + ":" + hex.EncodeToString(r[:]) + ":"
}

// deleteKeys removes every key under prefix (for a shared REDIS_ADDR server).
func deleteKeys(t testing.TB, c *redis.Client, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		_ = c.Del(ctx, iter.Val()).Err()
	}
	if err := iter.Err(); err != nil {
		t.Logf("clean up redis keys under %s: %v", prefix, err)
	}
}
